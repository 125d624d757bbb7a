"""Margin-aware Data Selection: generate, score, select and emit training instructions with reference ladders.

Stages (``writing-rl select run|generate|score|select|emit``), each resumable from the work dir:
``generate`` (every model answers every instruction), ``score`` (a pointwise judge grades each
response 1-10 per dimension), ``select`` (p = best competitor score - policy score; drop failed and
too-hard instructions; keep the top k) and ``emit`` (rows for ``writing-rl data build``).
"""

from .models import ModelsConfig, ModelSpec, SelectionError, load_models
from .pipeline import Options, SelectionRun
from .select import Candidate, rank

__all__ = ["Candidate", "ModelSpec", "ModelsConfig", "Options", "SelectionError", "SelectionRun", "load_models",
           "rank"]

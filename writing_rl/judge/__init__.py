"""The pairwise LLM judge: settings, the async client, templates, verdict parsing, comparisons."""

from .client import ChatResult, JudgeClient, get_client
from .compare import OUTCOMES, STRATEGIES, Judgment, PairwiseJudge, compare
from .criteria import format_criteria
from .errors import JudgeConfigError, JudgeError, JudgeInputError, TemplateError
from .settings import JudgeSettings

__all__ = [
    "OUTCOMES",
    "STRATEGIES",
    "ChatResult",
    "JudgeClient",
    "JudgeConfigError",
    "JudgeError",
    "JudgeInputError",
    "JudgeSettings",
    "Judgment",
    "PairwiseJudge",
    "TemplateError",
    "compare",
    "format_criteria",
    "get_client",
]

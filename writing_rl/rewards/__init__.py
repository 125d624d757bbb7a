"""LongWriter-Zero style reward components (length, format, repetition, pairwise) and their combination.

Each component maps (instruction, response, ground truth) to a :class:`ComponentResult` with a
score in [0, 1]; :mod:`.combine` weights them or normalizes them within GRPO groups. Everything
here is a pure function: no verl, no network.
"""

from .base import ComponentResult, RewardConfigError
from .combine import (
    KNOWN,
    MODES,
    combine_group_normalized,
    combine_weighted,
    normalize_group,
    parse_components,
)
from .config import RewardConfig, local_scores
from .format import LAYOUTS, answer_text, format_reward, split_think_answer
from .length import LengthTarget, length_reward, length_target, parse_number
from .repetition import repetition_reward

__all__ = [
    "KNOWN", "LAYOUTS", "MODES", "ComponentResult", "LengthTarget", "RewardConfig", "RewardConfigError",
    "answer_text", "combine_group_normalized", "combine_weighted", "format_reward", "length_reward",
    "length_target", "local_scores", "normalize_group", "parse_components", "parse_number",
    "repetition_reward", "split_think_answer",
]

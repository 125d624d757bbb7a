"""LongBench-Write length measure: the published word count, the length score S_l and length buckets.

Words are counted by :func:`writing_rl.textstats.count_words` (the LongBench-Write definition).

Length score, with x the required length and y the output length:
S_l = 100·max(0, 1 − (y/x − 1)/3) when y > x, else 100·max(0, 1 − (x/y − 1)/2).
For y = 0 the second branch divides by zero; an empty output scores 0 (the limit of the formula).
"""

from __future__ import annotations

from ..textstats import count_words

__all__ = ["BUCKETS", "count_words", "length_bucket", "length_score"]

# Required-length buckets of the LongBench-Write paper: [lo, hi) in words.
BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("<500", 0, 500),
    ("500-2k", 500, 2000),
    ("2k-4k", 2000, 4000),
    (">=4k", 4000, float("inf")),
)


def length_score(required: float, output: float) -> float:
    """S_l in [0, 100] for required length ``required`` (> 0) and output length ``output`` (>= 0)."""
    if required <= 0:
        raise ValueError(f"the required length must be positive, got {required}")
    if output < 0:
        raise ValueError(f"the output length cannot be negative, got {output}")
    if output == 0:
        return 0.0
    if output > required:
        return 100.0 * max(0.0, 1.0 - (output / required - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (required / output - 1.0) / 2.0)


def length_bucket(required: float) -> str:
    """The name of the required-length bucket: ``<500``, ``500-2k``, ``2k-4k`` or ``>=4k``."""
    for name, lo, hi in BUCKETS:
        if lo <= required < hi:
            return name
    raise ValueError(f"no bucket for required length {required}")

"""Evaluation harness: generate answers, score LongBench-Write, criteria and pairwise win rates, report.

Modules: ``lengths`` (word count, S_l), ``data`` (benchmark and responses files), ``generate``,
``scoring`` (strict pointwise judge scores with a resumable log), ``longbench``, ``criteria``,
``pairwise``, ``report`` (JSON, Markdown, PNG charts, run comparison). The CLI is
``writing-rl eval`` (``writing_rl/cli/eval_cmd.py``).
"""

from .lengths import count_words, length_bucket, length_score

__all__ = ["count_words", "length_bucket", "length_score"]

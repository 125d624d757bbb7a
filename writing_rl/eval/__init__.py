"""Evaluation harness: generate answers, score LongBench-Write, criteria and pairwise win rates, report.

Modules: ``lengths`` (S_l and length buckets; the word count is ``writing_rl.textstats``), ``data``
(benchmark rows and responses files), ``generate``, ``scoring`` (pointwise judge scores with a
resumable log), ``longbench``, ``criteria``, ``pairwise``, ``report`` (JSON, Markdown, PNG charts,
run comparison). Calling models, logs, the runner and strict scores are the shared stack in
``writing_rl.calls``. The CLI is ``writing-rl eval`` (``writing_rl/cli/eval_cmd.py``).
"""

from .lengths import count_words, length_bucket, length_score

__all__ = ["count_words", "length_bucket", "length_score"]

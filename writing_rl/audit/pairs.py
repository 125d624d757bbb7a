"""Ladder pairs for the judge audit: rows with two or more references, sampled and paired.

A row's references are sorted worst first, so in every pair (i, j) with i < j reference j is the
stronger one. Each sampled row gives its adjacent pairs (k, k+1) and, with three or more
references, its extreme pair (0, last). Rows with fewer than two references have no ladder and are
skipped; a pair whose two ``reference_scores`` are equal is no step up and is skipped too. Both are
counted in the report. The data is a training folder (its ``train.parquet``), a parquet file, or a
JSON-lines file in the ``writing-rl data build`` input format.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.schema import split_path
from ..eval.data import EvalInputError, Item, load_benchmark

SKIP_FEW_REFS = "rows with fewer than two references"
SKIP_EQUAL_SCORES = "pairs with equal reference_scores"


@dataclass(frozen=True)
class LadderPair:
    """References i < j of one row: ``stronger`` is reference j, ``weaker`` reference i."""

    row: str
    i: int
    j: int
    n_refs: int
    question: str
    weaker: str
    stronger: str
    criteria: Any = None
    source: str | None = None
    domain: str | None = None

    @property
    def id(self) -> str:
        return f"{self.row}:{self.i}-{self.j}"

    @property
    def distance(self) -> int:
        return self.j - self.i

    @property
    def kind(self) -> str:
        return "adjacent" if self.distance == 1 else "extreme"


@dataclass
class AuditData:
    path: str
    rows: int
    ladder_rows: int
    sampled_rows: int
    pairs: list[LadderPair]
    skipped: dict[str, int] = field(default_factory=dict)


def resolve_data(path: str | Path, split: str = "train") -> Path:
    """A folder means its ``<split>.parquet``; a file is used as it is."""
    p = Path(path)
    if p.is_dir():
        f = split_path(p, split)
        if not f.is_file():
            raise EvalInputError(f"{p} has no {f.name}; give a folder built by `writing-rl data build` or a file")
        return f
    if not p.is_file():
        raise EvalInputError(f"--data {p} does not exist; give a training folder, a parquet file or a JSONL file")
    return p


def _scores(item: Item, n: int) -> list[float] | None:
    scores = item.fields.get("reference_scores")
    if isinstance(scores, (list, tuple)) and len(scores) == n:
        return [float(s) for s in scores]
    return None


def _text(value: Any) -> str | None:
    return str(value) if value is not None and str(value).strip() else None


def row_pairs(item: Item, with_criteria: bool = True) -> tuple[list[LadderPair], int]:
    """The audit pairs of one row and the number of pairs skipped for equal scores."""
    refs = item.references or []
    n = len(refs)
    if n < 2:
        return [], 0
    spans = [(k, k + 1) for k in range(n - 1)] + ([(0, n - 1)] if n > 2 else [])
    scores = _scores(item, n)
    keep = [(i, j) for i, j in spans if scores is None or scores[j] > scores[i]]
    common = {"row": item.id, "n_refs": n, "question": item.question,
              "criteria": item.criteria if with_criteria else None,
              "source": _text(item.fields.get("data_source")),
              "domain": _text(item.fields.get("domain1", item.fields.get("domain")))}
    return [LadderPair(i=i, j=j, weaker=refs[i], stronger=refs[j], **common) for i, j in keep], len(spans) - len(keep)


def _subset(values: list, k: int, rng: random.Random) -> list:
    """``k`` of ``values`` drawn at random, kept in their original order."""
    return [values[i] for i in sorted(rng.sample(range(len(values)), k))]


def load_pairs(
    path: str | Path,
    *,
    split: str = "train",
    samples: int | None = None,
    max_pairs: int | None = None,
    seed: int = 0,
    with_criteria: bool = True,
) -> AuditData:
    """Sample ``samples`` ladder rows (all when None) and, when ``max_pairs`` is set, that many of their pairs."""
    for name, value in (("--samples", samples), ("--max-pairs", max_pairs)):
        if value is not None and value < 1:
            raise EvalInputError(f"{name} must be at least 1, got {value}")
    f = resolve_data(path, split)
    items = load_benchmark(f)
    ladder = [it for it in items if len(it.references or []) >= 2]
    if not ladder:
        raise EvalInputError(
            f"{f}: none of its {len(items)} rows has two or more references, so there is no ladder to check the "
            "judge on; give rows their references worst first ('references' in `writing-rl data build` input)")
    rng = random.Random(seed)
    chosen = ladder if samples is None or samples >= len(ladder) else _subset(ladder, samples, rng)
    pairs: list[LadderPair] = []
    equal = 0
    for it in chosen:
        got, skipped = row_pairs(it, with_criteria)
        pairs += got
        equal += skipped
    if max_pairs is not None and len(pairs) > max_pairs:
        pairs = _subset(pairs, max_pairs, rng)
    if not pairs:
        raise EvalInputError(f"{f}: every sampled pair has equal reference_scores; no pair is a step up the ladder")
    skipped = {SKIP_FEW_REFS: len(items) - len(ladder), SKIP_EQUAL_SCORES: equal}
    return AuditData(str(f), len(items), len(ladder), len(chosen), pairs, skipped)

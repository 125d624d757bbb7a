"""The training parquet schema that the reward manager reads, and helpers to write and read it.

One row per writing instruction::

    data_source: str
    prompt: [{"role": "system", "content": str}, {"role": "user", "content": str}]
    ability: "writing"
    reward_model: {"style": "model", "ground_truth": {"prompt": str, "target": [str, ...],
                   "criteria": str | null, "id": int, "reference_scores": [float, ...] | null}}
    extra_info: {"index": int, "split": "train" | "test"}

``target`` holds the references sorted by increasing quality; structured criteria are JSON text.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import current_umask
from ..errors import WritingRLError
from ..judge.criteria import format_criteria
from ..judge.errors import JudgeInputError
from ..textstats import CJK_SCRIPTS

SPLITS = ("train", "test")
COLUMNS = ("data_source", "prompt", "ability", "reward_model", "extra_info")
GROUND_TRUTH_FIELDS = ("prompt", "target", "criteria", "id", "reference_scores")
GT = "reward_model.ground_truth"
DEFAULT_DATA_SOURCE = "writing_rl"
ABILITY = "writing"
REWARD_STYLE = "model"

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
GROUND_TRUTH_TYPE = pa.struct([
    ("prompt", pa.string()),
    ("target", pa.list_(pa.string())),
    ("criteria", pa.string()),
    ("id", pa.int64()),
    ("reference_scores", pa.list_(pa.float64())),
])
SCHEMA = pa.schema([
    ("data_source", pa.string()),
    ("prompt", pa.list_(_MESSAGE)),
    ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", GROUND_TRUTH_TYPE)])),
    ("extra_info", pa.struct([("index", pa.int64()), ("split", pa.string())])),
])

_CJK = re.compile(f"[{CJK_SCRIPTS}]")


class DataError(WritingRLError):
    """Unusable input or data directory; ``problems`` lists every problem found, one line each."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        full = message if not self.problems else message + "\n" + "\n".join(f"  {p}" for p in self.problems)
        super().__init__(full)


class GroundTruthError(DataError):
    """One sample's ``reward_model.ground_truth`` is unusable; ``field`` names the field at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class GroundTruth:
    """One sample's ``reward_model.ground_truth``: its references (``target``) sorted by increasing quality."""

    prompt: str
    target: list[str]
    criteria: Any  # text, structured criteria (a list or JSON text of one), or None
    id: Any
    reference_scores: list[float] | None
    raw: dict[str, Any]  # the row's field as read, for the reward components that look at more

    @classmethod
    def parse(cls, value: Any, index: Any = None) -> GroundTruth:
        """The ground truth of one row (a dict, or JSON text of one); ``index`` (``extra_info.index``) names
        a sample without an id. Every problem raises ``GroundTruthError`` naming the sample and the field."""
        gt = as_dict(value)
        if not isinstance(gt, dict):
            raise GroundTruthError(f"sample (extra_info.index={index}) has no ground_truth object with "
                                   "prompt/target/id; build the data with `writing-rl data build`", GT)
        raw_id = gt.get("id", None)
        if raw_id is None:
            raise GroundTruthError(f"sample (extra_info.index={index}) has no {GT}.id", f"{GT}.id")
        key = str(raw_id)
        target = gt.get("target")
        if isinstance(target, str):
            targets = [target]
        elif target is None:
            targets = []
        elif isinstance(target, (dict, bytes)) or not hasattr(target, "__iter__"):
            raise GroundTruthError(f"sample {key}: {GT}.target must be a list of reference texts, got "
                                   f"{type(target).__name__}; rebuild the data with `writing-rl data build`",
                                   f"{GT}.target")
        else:
            targets = list(target)
        for j, t in enumerate(targets):  # never judge the text form of a number, a dict or None
            if not isinstance(t, str):
                raise GroundTruthError(f"sample {key}: {GT}.target[{j}] must be text, got {type(t).__name__}; "
                                       "fix the data (`writing-rl data check` lists every such row)",
                                       f"{GT}.target[{j}]")
        if not targets or any(not t.strip() for t in targets):
            raise GroundTruthError(f"sample {key}: {GT}.target is empty or has an empty reference", f"{GT}.target")
        prompt = gt.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise GroundTruthError(f"sample {key}: {GT}.prompt is missing or empty", f"{GT}.prompt")
        criteria = as_list(gt.get("criteria"))  # a list column read through numpy
        if criteria is not None:
            try:
                format_criteria(criteria)
            except JudgeInputError as e:
                raise GroundTruthError(f"sample {key}: {GT}.criteria: {e}", f"{GT}.criteria") from None
        scores = as_list(gt.get("reference_scores"))
        return cls(prompt, targets, criteria, raw_id, scores, gt)

    def to_dict(self) -> dict[str, Any]:
        """The parquet form (``GROUND_TRUTH_TYPE``)."""
        return {name: getattr(self, name) for name in GROUND_TRUTH_FIELDS}


def has_cjk(text: str) -> bool:
    """Whether the text contains Chinese, Japanese or Korean characters."""
    return bool(_CJK.search(text))


def is_int(x: Any) -> bool:
    """An int, not a bool."""
    return isinstance(x, int) and not isinstance(x, bool)


def is_number(x: Any) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def split_path(data_dir: str | Path, split: str) -> Path:
    return Path(data_dir) / f"{split}.parquet"


def as_dict(value: Any) -> Any:
    """A struct field as pyarrow or pandas gives it back: a dict, or JSON text of one."""
    if isinstance(value, (str, bytes)):
        try:
            decoded = json.loads(value)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return value
        return decoded if isinstance(decoded, dict) else value
    return value


def as_list(value: Any) -> Any:
    """A list field as pyarrow (list) or pandas (numpy array) gives it back, as a list."""
    if value is not None and not isinstance(value, (list, str, bytes, dict)) and hasattr(value, "tolist"):
        return value.tolist()
    return value


def iter_rows(path: Path, batch_size: int = 1024):
    """Yield the rows of a parquet file as plain Python dicts, a batch at a time."""
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()


def write_parquet_atomic(tables: dict[Path, pa.Table]) -> None:
    """Write each table to a temp file beside its target (fsynced), then move them all into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for target, table in tables.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            staged.append((tmp, target))
            os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the usual file mode
            with os.fdopen(fd, "wb") as f:
                pq.write_table(table, f)
                f.flush()
                os.fsync(f.fileno())
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)

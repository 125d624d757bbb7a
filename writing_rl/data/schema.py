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
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import current_umask
from ..errors import WritingRLError

SPLITS = ("train", "test")
COLUMNS = ("data_source", "prompt", "ability", "reward_model", "extra_info")
GROUND_TRUTH_FIELDS = ("prompt", "target", "criteria", "id", "reference_scores")
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

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


class DataError(WritingRLError):
    """Unusable input or data directory; ``problems`` lists every problem found, one line each."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        full = message if not self.problems else message + "\n" + "\n".join(f"  {p}" for p in self.problems)
        super().__init__(full)


def has_cjk(text: str) -> bool:
    """Whether the text contains Chinese, Japanese or Korean characters."""
    return bool(_CJK.search(text))


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

"""Read a built training parquet: ground truths by id, and each sample's last reference level."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .schema import DataError, as_dict, as_list, is_int, iter_rows, split_path


def load_ground_truths(data_dir: str | Path, split: str = "train") -> dict[int, dict]:
    """Map id -> ground truth (``target`` and ``reference_scores`` as lists) for one split."""
    return read_ground_truths(split_path(data_dir, split))


def read_ground_truths(path: Path) -> dict[int, dict]:
    """Map id -> ground truth (``target`` and ``reference_scores`` as lists) for one parquet file."""
    if not path.is_file():
        raise DataError(f"{path} does not exist; build it with `writing-rl data build`")
    out: dict[int, dict] = {}
    for i, row in enumerate(iter_rows(path)):
        rm = as_dict(row.get("reward_model"))
        gt = as_dict(rm.get("ground_truth")) if isinstance(rm, dict) else None
        if not isinstance(gt, dict) or not is_int(gt.get("id")):
            raise DataError(f"{path}: row {i} has no usable reward_model.ground_truth.id; "
                            "run `writing-rl data check` on it")
        if gt["id"] in out:
            raise DataError(f"{path}: row {i} repeats id {gt['id']}; run `writing-rl data check` on it")
        gt = dict(gt)
        gt["target"] = as_list(gt.get("target"))
        gt["reference_scores"] = as_list(gt.get("reference_scores"))
        out[gt["id"]] = gt
    return out


def load_ladders(path: str | Path) -> dict[str, int]:
    """Each sample's last reference level (its number of references - 1), keyed by id as in the index file.

    ``path`` is a training parquet built by ``writing-rl data build`` (``reward_model.ground_truth.id``
    and ``.target``), or its folder (``train.parquet``). Only those two columns are read, a batch at a
    time. Raises ``DataError`` naming the file and row for a missing id, a repeated id or no references.
    """
    p = Path(path)
    if p.is_dir():
        p = split_path(p, "train")
    if not p.is_file():
        raise DataError(f"{p} does not exist; build it with `writing-rl data build`")
    out: dict[str, int] = {}
    row = 0
    try:
        batches = pq.ParquetFile(p).iter_batches(
            batch_size=8192, columns=["reward_model.ground_truth.id", "reward_model.ground_truth.target"])
        for batch in batches:
            gt = batch.column("reward_model").field("ground_truth")
            counts = pc.list_value_length(gt.field("target")).to_pylist()
            for sid, n in zip(gt.field("id").to_pylist(), counts, strict=True):
                if sid is None:
                    raise DataError(f"{p}: row {row} has no reward_model.ground_truth.id; run `writing-rl data check`")
                key = str(sid)
                if key in out:
                    raise DataError(f"{p}: row {row} repeats id {sid}; run `writing-rl data check` on it")
                if not n:
                    raise DataError(f"{p}: row {row} (id {sid}) has no references in reward_model.ground_truth.target")
                out[key] = n - 1
                row += 1
    except (KeyError, TypeError, ValueError, pa.ArrowException):  # not data build's schema: read it the general way
        try:
            gts = load_ground_truths(p.parent, split=p.stem)
        except (KeyError, TypeError, ValueError, pa.ArrowException) as e:
            raise DataError(f"{p} is not a readable training parquet ({type(e).__name__}: {str(e)[:200]}); "
                            "build it with `writing-rl data build`") from None
        out = {}
        for sid, gt in gts.items():
            refs = gt.get("target")
            n = 1 if isinstance(refs, str) else len(refs or [])
            if not n:
                raise DataError(f"{p}: sample {sid} has no references in reward_model.ground_truth.target") from None
            out[str(sid)] = n - 1
    return out

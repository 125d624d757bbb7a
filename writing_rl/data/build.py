"""Build train/test parquet files for RL training from a JSONL file of instructions and references.

Input rows (one JSON object per line)::

    {"prompt": str, "references": [str, ...], "criteria": optional, "reference_scores": optional, "id": optional}

``query`` is accepted for ``prompt``, ``target`` for ``references`` (a single string is one fixed
reference). References are sorted by increasing quality; ``reference_scores`` (one number each,
non-decreasing) declares it. ``criteria`` is text, a list of strings, or WritingBench-style
checklist dicts (stored as JSON text). Every bad row is reported at once and nothing is written.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..judge.criteria import criteria_problems
from ..judge.templates import PROMPTS_DIR, read_text_file
from .schema import (
    ABILITY,
    DEFAULT_DATA_SOURCE,
    REWARD_STYLE,
    SCHEMA,
    DataError,
    GroundTruth,
    has_cjk,
    is_number,
    split_path,
    write_parquet_atomic,
)

SYSTEM_PROMPTS = {"default": "system_default.txt", "think": "system_think.txt"}


def _pick(raw: dict, name: str, alias: str, problems: list[str]) -> Any:
    if name in raw and alias in raw:
        problems.append(f"has both '{name}' and its alias '{alias}'; keep one")
    return raw[name] if name in raw else raw.get(alias)


def _criteria(value: Any, problems: list[str]) -> str | None:
    """Criteria as stored: text as is, structured criteria as JSON text, nothing as None."""
    if value is None or value == []:
        return None
    if isinstance(value, str):
        return value.strip() or None
    problems.extend(criteria_problems(value))
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else None


def normalize_row(raw: Any) -> tuple[dict | None, list[str]]:
    """Check one input row; return ``(row, [])`` with canonical fields, or ``(None, problems)``."""
    if not isinstance(raw, dict):
        return None, [f"expected a JSON object, got {type(raw).__name__}"]
    problems: list[str] = []
    prompt = _pick(raw, "prompt", "query", problems)
    if prompt is None:
        problems.append("missing 'prompt' (or 'query'): the writing instruction")
    elif not isinstance(prompt, str):
        problems.append(f"'prompt' must be text, got {type(prompt).__name__}")
    elif not prompt.strip():
        problems.append("'prompt' is empty")

    refs = _pick(raw, "references", "target", problems)
    if isinstance(refs, str) and "references" not in raw:
        refs = [refs]  # a single `target` string: one fixed reference
    if refs is None:
        problems.append("missing 'references' (or 'target'): a list of reference texts, worst first")
    elif not isinstance(refs, list):
        problems.append(f"'references' must be a list of strings, got {type(refs).__name__}")
    elif not refs:
        problems.append("'references' is empty; give at least one reference text")
    else:
        for j, r in enumerate(refs):
            if not isinstance(r, str):
                problems.append(f"references[{j}] must be a string, got {type(r).__name__}")
            elif not r.strip():
                problems.append(f"references[{j}] is empty")

    scores = raw.get("reference_scores")
    if scores is not None:
        if not isinstance(scores, list) or not all(is_number(s) for s in scores):
            problems.append("'reference_scores' must be a list of finite numbers, one per reference")
        else:
            if isinstance(refs, list) and len(scores) != len(refs):
                problems.append(f"'reference_scores' has {len(scores)} scores for {len(refs)} references")
            for j in range(1, len(scores)):
                if scores[j] < scores[j - 1]:
                    problems.append(
                        f"references are not sorted by increasing quality: reference_scores[{j}]={scores[j]} < "
                        f"reference_scores[{j - 1}]={scores[j - 1]}; order references (and scores) worst first"
                    )
                    break
            scores = [float(s) for s in scores]

    criteria = _criteria(raw.get("criteria"), problems)
    rid = raw.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (int, str))):
        problems.append(f"'id' must be an integer or a string, got {type(rid).__name__}")
    if problems:
        return None, problems
    return {"prompt": prompt, "references": list(refs), "criteria": criteria, "reference_scores": scores,
            "id": rid}, []


def _validate(rows: list[Any], labels: list[str]) -> list[dict]:
    """Normalize every row; raise one DataError listing every problem in every row."""
    out: list[dict] = []
    problems: list[str] = []
    seen: dict[Any, str] = {}
    for raw, label in zip(rows, labels, strict=True):
        row, errs = normalize_row(raw)
        rid = raw.get("id") if isinstance(raw, dict) else None
        where = f"{label} (id {rid!r})" if rid is not None else label
        if row is not None and rid is not None:
            key = (type(rid).__name__, rid)
            if key in seen:
                errs.append(f"duplicate id {rid!r} (first at {seen[key]}); ids must be unique")
            else:
                seen[key] = label.rsplit(": ", 1)[-1]
        problems.extend(f"{where}: {e}" for e in errs)
        if row is not None:
            out.append(row)
    if problems:
        raise DataError(f"{len(problems)} problem(s) in the input; nothing was written:", problems)
    if not out:
        raise DataError("the input has no rows")
    return out


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(row: Any) -> bool:
    """Whether every text in ``row`` can be written as UTF-8 (JSON escapes can smuggle in lone surrogates)."""
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def read_jsonl(path: str | Path) -> tuple[list[Any], list[str]]:
    """Parse a JSONL file (blank lines skipped) into rows and their labels ("FILE: line N")."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"input file {p} does not exist")
    rows: list[Any] = []
    labels: list[str] = []
    problems: list[str] = []
    with p.open("rb") as f:
        for n, line in enumerate(f, start=1):
            try:
                text = line.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                problems.append(f"{p}: line {n}: not valid UTF-8 (byte {e.start}); re-save the file as UTF-8")
                continue
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as e:
                problems.append(f"{p}: line {n}: not valid JSON ({e.msg} at column {e.colno})")
                continue
            except RecursionError:
                problems.append(f"{p}: line {n}: nested too deeply to read (thousands of brackets); flatten it")
                continue
            except ValueError as e:  # e.g. Python's limit on the digits of an integer
                problems.append(f"{p}: line {n}: {str(e).split(';')[0]}; write long numbers as text")
                continue
            if _LONE_SURROGATE.search(text) and not _encodable(row):
                problems.append(f"{p}: line {n}: holds an unpaired surrogate escape (e.g. \\ud800), which is not "
                                "a character; remove it or write the full pair")
                continue
            rows.append(row)
            labels.append(f"{p}: line {n}")
    if problems:
        raise DataError(f"{len(problems)} unreadable line(s) in {p}; nothing was written:", problems)
    if not rows:
        raise DataError(f"input file {p} has no rows")
    return rows, labels


def load_input_rows(path: str | Path) -> list[dict]:
    """Read and check a JSONL input file; every bad line is reported at once (with its line number)."""
    rows, labels = read_jsonl(path)
    _validate(rows, labels)
    return rows


def resolve_system_prompt(spec: str | None) -> tuple[str | None, str]:
    """``default``/``think`` (packaged files), ``none``, or a path -> (text or None, where from)."""
    if spec is None or spec == "none":
        return None, "none"
    if spec in SYSTEM_PROMPTS:
        path = PROMPTS_DIR / SYSTEM_PROMPTS[spec]
    else:
        path = Path(spec)
        if not path.is_file():
            raise DataError(f"system prompt {spec!r} is neither default, think, none nor an existing file")
    try:
        text = read_text_file(path, "system prompt file").strip()
    except Exception as e:  # not UTF-8
        raise DataError(str(e)) from None
    if not text:
        raise DataError(f"system prompt file {path} is empty")
    return text, spec if spec in SYSTEM_PROMPTS else str(path)


def _record(row: dict, idx: int, split: str, system: str | None, data_source: str) -> dict:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": row["prompt"]}]
    return {
        "data_source": data_source,
        "prompt": messages,
        "ability": ABILITY,
        "reward_model": {"style": REWARD_STYLE, "ground_truth": GroundTruth(
            row["prompt"], row["references"], row["criteria"], idx, row["reference_scores"], {}).to_dict()},
        "extra_info": {"index": idx, "split": split},
    }


def _stats(values: list[int]) -> dict[str, float]:
    return {"min": min(values), "mean": round(sum(values) / len(values), 2), "max": max(values)}


def build_dataset(
    rows: list[dict],
    out_dir: str | Path,
    *,
    test_size: int = 0,
    system_prompt: str | None = "default",
    seed: int = 0,
    data_source: str = DEFAULT_DATA_SOURCE,
    labels: list[str] | None = None,
) -> dict:
    """Validate ``rows``, write ``train.parquet`` (and ``test.parquet`` when ``test_size`` > 0); return a summary.

    ``test_size`` rows, picked by a shuffle with ``seed``, go to the test split; both splits keep
    the input order and number their rows 0..n-1. ``labels`` name the rows in error messages.
    """
    if not isinstance(data_source, str) or not data_source.strip():
        raise DataError("--data-source must be a non-empty name")
    labels = labels or [f"rows[{i}]" for i in range(len(rows))]
    if len(labels) != len(rows):
        raise ValueError(f"{len(labels)} labels for {len(rows)} rows")
    good = _validate(rows, labels)
    n = len(good)
    if not isinstance(test_size, int) or isinstance(test_size, bool) or test_size < 0:
        raise DataError(f"--test-size must be a whole number >= 0, got {test_size!r}")
    if test_size >= n:
        raise DataError(f"--test-size {test_size} leaves no training rows out of {n}; use at most {n - 1}")
    system, system_source = resolve_system_prompt(system_prompt)

    order = list(range(n))
    random.Random(seed).shuffle(order)
    test_idx = set(order[:test_size])
    splits = {"train": [r for i, r in enumerate(good) if i not in test_idx],
              "test": [r for i, r in enumerate(good) if i in test_idx]}
    out = Path(out_dir)
    tables = {split_path(out, s): pa.Table.from_pylist(
        [_record(r, i, s, system, data_source) for i, r in enumerate(part)], schema=SCHEMA)
        for s, part in splits.items() if part}
    write_parquet_atomic(tables)
    stale = split_path(out, "test")
    removed_stale = False
    if not test_size and stale.exists():
        stale.unlink()  # an old test split would no longer match this build
        removed_stale = True

    refs = [r["references"] for r in good]
    with_criteria = sum(r["criteria"] is not None for r in good)
    return {
        "out_dir": str(out),
        "files": {s: str(split_path(out, s)) if splits[s] else None for s in splits},
        "rows": n,
        "train_rows": len(splits["train"]),
        "test_rows": len(splits["test"]),
        "references_per_row": _stats([len(r) for r in refs]),
        "reference_chars": _stats([len(x) for r in refs for x in r]),
        "with_criteria": with_criteria,
        "without_criteria": n - with_criteria,
        "with_reference_scores": sum(r["reference_scores"] is not None for r in good),
        "cjk_rows": sum(has_cjk(r["prompt"]) or any(has_cjk(x) for x in r["references"]) for r in good),
        "system_prompt": system_source,
        "data_source": data_source,
        "seed": seed,
        "removed_stale_test": removed_stale,
    }

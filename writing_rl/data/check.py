"""Validate a built data directory (train.parquet, test.parquet) and report every problem by file, row and field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm import tqdm

from ..judge.criteria import format_criteria
from ..judge.errors import JudgeInputError
from .read import load_ground_truths, load_ladders
from .schema import (
    COLUMNS,
    GT,
    SPLITS,
    DataError,
    GroundTruth,
    GroundTruthError,
    as_dict,
    as_list,
    is_int,
    is_number,
    iter_rows,
    split_path,
)

__all__ = ["Problem", "check_dataset", "load_ground_truths", "load_ladders"]

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Problem:
    """One problem: ``row`` is the 0-based row in ``file`` (None for the whole file)."""

    file: str
    row: int | None
    field: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _messages(prompt: Any, err) -> list[dict] | None:
    """Check the chat prompt; return the messages when they are usable."""
    prompt = as_list(prompt)
    if not isinstance(prompt, list):
        err("prompt", f"must be a list of chat messages, got {type(prompt).__name__}")
        return None
    ok = True
    for j, m in enumerate(prompt):
        if not isinstance(m, dict):
            err(f"prompt[{j}]", f"must be a message object, got {type(m).__name__}")
            ok = False
            continue
        if m.get("role") not in ROLES:
            err(f"prompt[{j}].role", f"must be one of {', '.join(ROLES)}, got {m.get('role')!r}")
            ok = False
        if not isinstance(m.get("content"), str):
            err(f"prompt[{j}].content", f"must be text, got {type(m.get('content')).__name__}")
            ok = False
    if not ok:
        return None
    if not prompt or prompt[-1]["role"] != "user":
        err("prompt", "must end with the user message holding the instruction")
        return None
    if not prompt[-1]["content"].strip():
        err(f"prompt[{len(prompt) - 1}].content", "empty prompt: the user message has no text")
        return None
    return prompt


def _check_ground_truth(value: Any, err, warn, judge_max_chars: int | None) -> Any:
    """Check one ground truth, every field at once; return its id when it is an integer.

    The field checks report every problem; a ground truth that passes them must also pass
    ``GroundTruth.parse``, the reader training uses, so check and training never disagree.
    """
    errors: list[str] = []

    def err(field: str, msg: str, _err=err) -> None:
        errors.append(field)
        _err(field, msg)

    gt = as_dict(value)
    if not isinstance(gt, dict):
        err(GT, f"must be an object (or JSON text of one), got {type(gt).__name__}")
        return None
    for name in ("prompt", "target", "id"):
        if name not in gt:
            err(f"{GT}.{name}", "missing field")
    prompt = gt.get("prompt")
    if "prompt" in gt and (not isinstance(prompt, str) or not prompt.strip()):
        err(f"{GT}.prompt", "empty prompt" if isinstance(prompt, str) else f"must be text, got {type(prompt).__name__}")
    target = as_list(gt.get("target"))
    if "target" in gt:
        if not isinstance(target, list):
            err(f"{GT}.target", f"must be a list of reference texts, got {type(target).__name__}")
            target = None
        elif not target:
            err(f"{GT}.target", "empty reference list; give at least one reference")
        for j, ref in enumerate(target or []):
            if not isinstance(ref, str):
                err(f"{GT}.target[{j}]", f"must be text, got {type(ref).__name__}")
            elif not ref.strip():
                err(f"{GT}.target[{j}]", "empty reference")
            elif judge_max_chars and len(ref) > judge_max_chars:
                warn(f"{GT}.target[{j}]", f"{len(ref)} characters, over the judge budget of {judge_max_chars} "
                     "(--judge-max-chars); the judge will see it truncated middle-out")
    criteria = gt.get("criteria")
    if criteria is not None and not isinstance(criteria, str):
        err(f"{GT}.criteria", f"must be text or null (structured criteria as JSON text), got {type(criteria).__name__}")
    elif criteria is not None:
        try:  # the check GroundTruth.parse makes when training reads the row
            format_criteria(criteria)
        except JudgeInputError as e:
            err(f"{GT}.criteria", str(e))
    scores = as_list(gt.get("reference_scores"))
    if scores is not None:
        if not isinstance(scores, list) or not all(is_number(s) for s in scores):
            err(f"{GT}.reference_scores", "must be a list of finite numbers or null")
        else:
            if isinstance(target, list) and len(scores) != len(target):
                err(f"{GT}.reference_scores", f"{len(scores)} scores for {len(target)} references")
            for j in range(1, len(scores)):
                if scores[j] < scores[j - 1]:
                    err(f"{GT}.target", f"references not sorted by increasing quality: reference_scores[{j}]="
                        f"{scores[j]} < reference_scores[{j - 1}]={scores[j - 1]}")
                    break
    rid = gt.get("id")
    if "id" in gt and not is_int(rid):
        err(f"{GT}.id", f"must be an integer, got {rid!r}")
        return None
    if not errors:
        try:
            GroundTruth.parse(value)
        except GroundTruthError as e:
            err(e.field, str(e))
    return rid


def _check_file(path: Path, split: str, tok: Any, max_len: int | None, judge_max_chars: int | None,
                show_progress: bool = True) -> list[Problem]:
    name = path.name
    problems: list[Problem] = []
    try:
        names = pq.ParquetFile(path).schema_arrow.names
    except Exception as e:
        return [Problem(name, None, "", f"cannot be read as parquet: {e}")]
    missing = [c for c in COLUMNS if c not in names]
    problems += [Problem(name, None, c, "missing column") for c in missing]

    ids: dict[int, list[int]] = {}
    to_tokenize: list[tuple[int, list[dict]]] = []
    n = 0
    for i, row in enumerate(iter_rows(path)):
        n += 1

        def err(field: str, msg: str, _i: int = i) -> None:
            problems.append(Problem(name, _i, field, msg, "error"))

        def warn(field: str, msg: str, _i: int = i) -> None:
            problems.append(Problem(name, _i, field, msg, "warning"))

        for col in ("data_source", "ability"):
            if col in names and (not isinstance(row[col], str) or not row[col].strip()):
                err(col, f"must be a non-empty string, got {row[col]!r}")
        if "prompt" in names:
            messages = _messages(row["prompt"], err)
            if messages is not None and tok is not None:
                to_tokenize.append((i, messages))
        rid = None
        if "reward_model" in names:
            rm = as_dict(row["reward_model"])
            if not isinstance(rm, dict):
                err("reward_model", f"must be an object, got {type(rm).__name__}")
            else:
                if rm.get("style") != "model":
                    err("reward_model.style", f"must be 'model' (the LLM judge), got {rm.get('style')!r}")
                if "ground_truth" not in rm:
                    err(GT, "missing field")
                else:
                    rid = _check_ground_truth(rm["ground_truth"], err, warn, judge_max_chars)
        if rid is not None:
            ids.setdefault(rid, []).append(i)
        if "extra_info" in names:
            extra = as_dict(row["extra_info"])
            if not isinstance(extra, dict):
                err("extra_info", f"must be an object (or JSON text of one), got {type(extra).__name__}")
            else:
                if extra.get("split") != split:
                    err("extra_info.split", f"must be {split!r} in {name}, got {extra.get('split')!r}")
                index = extra.get("index")
                if not is_int(index):
                    err("extra_info.index", f"must be an integer, got {index!r}")
                elif rid is not None and index != rid:
                    err("extra_info.index", f"{index} differs from {GT}.id {rid}")

    if n == 0:
        problems.append(Problem(name, None, "", "has no rows"))
    for rid, rows in ids.items():
        for r in rows[1:]:
            problems.append(Problem(name, r, f"{GT}.id", f"duplicate id {rid} (first at row {rows[0]})"))
        if not 0 <= rid < n:
            problems += [Problem(name, r, f"{GT}.id", f"id {rid} is outside 0..{n - 1}; ids must be 0..N-1")
                         for r in rows]
    gaps = [k for k in range(n) if k not in ids]
    if ids and gaps:
        shown = ", ".join(map(str, gaps[:10])) + (f" and {len(gaps) - 10} more" if len(gaps) > 10 else "")
        problems.append(Problem(name, None, f"{GT}.id", f"ids are not contiguous 0..{n - 1}: missing {shown}"))
    if to_tokenize:
        problems += _check_lengths(name, to_tokenize, tok, max_len, show_progress)
    problems.sort(key=lambda p: (-1 if p.row is None else p.row))
    return problems


def _check_lengths(name: str, items: list[tuple[int, list[dict]]], tok: Any, max_len: int,
                   show_progress: bool = True) -> list[Problem]:
    """Prompt length in tokens exactly as verl builds it: chat template + generation prompt, no extra specials."""
    out = []
    for start in tqdm(range(0, len(items), 256), desc=f"tokenizing {name}", unit="batch",
                      disable=None if show_progress else True):
        chunk = items[start:start + 256]
        texts = [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for _, m in chunk]
        for (i, _), ids in zip(chunk, tok(texts, add_special_tokens=False)["input_ids"], strict=True):
            if len(ids) > max_len:
                out.append(Problem(name, i, "prompt", f"{len(ids)} tokens under the chat template, over "
                                   f"--max-prompt-length {max_len}; shorten it or raise data.max_prompt_length"))
    return out


def _load_tokenizer(path: str) -> Any:
    try:
        from transformers import AutoTokenizer  # heavy: loaded only when a tokenizer is asked for

        tok = AutoTokenizer.from_pretrained(path)
    except Exception as e:
        first = (str(e).splitlines() or [""])[0]
        raise DataError(f"cannot load the tokenizer from {path}: {type(e).__name__}: {first}") from None
    if not getattr(tok, "chat_template", None):
        raise DataError(f"the tokenizer at {path} has no chat template; use the policy model's tokenizer")
    return tok


def check_dataset(
    data_dir: str | Path,
    *,
    tokenizer_path: str | None = None,
    max_prompt_length: int | None = None,
    judge_max_chars: int | None = 48000,
    show_progress: bool = True,
) -> list[Problem]:
    """Check train.parquet (required) and test.parquet (if present); an empty list means clean.

    Prompt lengths are checked only when both ``tokenizer_path`` and ``max_prompt_length`` are given;
    references over ``judge_max_chars`` characters are warnings (None or 0 turns that off).
    """
    d = Path(data_dir)
    if not d.is_dir():
        raise DataError(f"data directory {d} does not exist")
    if (tokenizer_path is None) != (max_prompt_length is None):
        raise DataError("--tokenizer and --max-prompt-length go together; give both or neither")
    if max_prompt_length is not None and max_prompt_length < 1:
        raise DataError(f"--max-prompt-length must be positive, got {max_prompt_length}")
    tok = _load_tokenizer(tokenizer_path) if tokenizer_path else None
    problems: list[Problem] = []
    if not split_path(d, "train").is_file():
        problems.append(Problem("train.parquet", None, "", f"missing in {d}; build it with `writing-rl data build`"))
    for split in SPLITS:
        path = split_path(d, split)
        if path.is_file():
            problems += _check_file(path, split, tok, max_prompt_length, judge_max_chars, show_progress)
    return problems

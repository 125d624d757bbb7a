"""Preflight checks for a training run: data, index file, judge, cost estimate, launch arithmetic, GPUs, wandb.

Each check yields a row (name, status, detail, fix). ``FAIL`` rows are blocking; ``WARN`` rows are
shown but do not stop the run. Nothing here prints or stores an API key.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .curriculum.index_file import IndexFileError, read_index, sample_key
from .data.check import check_dataset, load_ground_truths
from .launch_check import LaunchPlan, check
from .preflight_judge import check_audit, check_judge, estimate, judge_cache_and_cost
from .preflight_report import FAIL, INFO, OK, WARN, Report

__all__ = ["FAIL", "INFO", "OK", "WARN", "Report", "count_gpus", "launch_plan", "run_preflight", "wandb_state"]


def _check_data(rep: Report, args: Any) -> dict[int, dict] | None:
    judge_chars = int(os.environ.get("JUDGE_MAX_CHARS") or 48000)
    try:
        problems = check_dataset(args.data_dir, tokenizer_path=args.tokenizer if args.max_prompt_length else None,
                                 max_prompt_length=args.max_prompt_length if args.tokenizer else None,
                                 judge_max_chars=judge_chars)
    except Exception as e:  # unreadable folder and the like
        rep.add("data", FAIL, str(e), f"build it with `writing-rl data build --out {args.data_dir}`")
        return None
    errors = [p for p in problems if p.severity == "error"]
    warns = [p for p in problems if p.severity != "error"]
    if errors:
        first = errors[0]
        rep.add("data", FAIL, f"{len(errors)} problem(s); first: {first.file} row {first.row} {first.field}: "
                f"{first.message}", f"run `writing-rl data check {args.data_dir}` for the full list")
        return None
    gts = load_ground_truths(args.data_dir, split="train")
    if len(gts) < args.train_batch_size:
        # trainer/ppo/v1/trainer_base.py: the training dataloader has drop_last=True
        rep.add("data", FAIL, f"{len(gts)} training samples in {args.data_dir}, fewer than TRAIN_BATCH_SIZE="
                f"{args.train_batch_size}: verl drops the incomplete last batch, so no training step would run",
                f"set TRAIN_BATCH_SIZE<={len(gts)} or add data")
        return gts
    rep.add("data", WARN if warns else OK, f"{len(gts)} training samples in {args.data_dir}"
            + (f"; {len(warns)} warning(s), e.g. {warns[0].message}" if warns else ""))
    return gts


def _check_index(rep: Report, args: Any, gts: dict[int, dict] | None) -> None:
    try:
        levels = read_index(args.index_file)
    except IndexFileError as e:
        rep.add("index file", FAIL, str(e), "the launcher creates it; or run scripts/create_index_file.py")
        return
    if gts is None:
        rep.add("index file", WARN, f"{len(levels)} samples; not compared with the data (data check failed)")
        return
    ids = {sample_key(i) for i in gts}
    missing, extra = ids - set(levels), set(levels) - ids
    bad = [k for k, v in levels.items() if k in ids and v >= max(1, len(gts[int(k)]["target"]))]
    if missing or extra or bad:
        parts = []
        if missing:
            parts.append(f"{len(missing)} data id(s) missing, e.g. {sorted(missing, key=int)[:3]}")
        if extra:
            parts.append(f"{len(extra)} id(s) not in the data, e.g. {sorted(extra, key=int)[:3]}")
        if bad:
            parts.append(f"{len(bad)} level(s) beyond the sample's last reference, e.g. sample {bad[0]}")
        rep.add("index file", FAIL, f"{args.index_file}: " + "; ".join(parts),
                "it belongs to other data: recreate it with scripts/create_index_file.py --data ... --force, "
                "or use a new EXPERIMENT_NAME")
        return
    moved = sum(1 for v in levels.values() if v > 0)
    rep.add("index file", OK, f"{len(levels)} samples match the data; {moved} above level 0")


def count_gpus() -> int:
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
            return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
        except (OSError, subprocess.TimeoutExpired):
            return 0
    return 0


def launch_plan(args: Any) -> LaunchPlan:
    """The launch arithmetic's view of the preflight arguments (``writing_rl.launch_check.LaunchPlan``)."""
    return LaunchPlan.for_launcher(
        args.algo, token_len=args.token_len, model=args.model, nnodes=args.nnodes, gpus_per_node=args.n_gpus or 1,
        train_batch_size=args.train_batch_size, mini_batch_size=args.mini_batch_size, rollout_n=args.rollout_n,
        max_prompt_length=args.max_prompt_length or 1024, max_response_length=args.max_response_length,
        rollout_tp=args.rollout_tp, rollout_gpu_util=args.rollout_gpu_util,
        local_judge_gpu_util=args.local_judge_gpu_util, max_model_len=args.max_model_len,
    )


def _check_launch(rep: Report, args: Any) -> None:
    for f in check(launch_plan(args)):
        rep.add(f.check, f.status, f.detail, f.fix)


def _check_gpus(rep: Report, args: Any) -> None:
    found = count_gpus()
    want = args.n_gpus
    total = f"; the run needs {want * args.nnodes} in total (NNODES={args.nnodes} x N_GPUS_PER_NODE={want})" \
        if want else ""
    if found == 0:
        rep.add("GPUs", FAIL if args.require_gpu else WARN, "no NVIDIA GPU found on this machine" + total,
                "training needs GPUs (vLLM rollout, FSDP); run on a GPU node, or use --dry-run to check the setup")
    elif want and found < want:
        rep.add("GPUs", FAIL, f"{found} GPU(s) found on this node, N_GPUS_PER_NODE={want}{total}",
                f"set N_GPUS_PER_NODE={found} or use a bigger node")
    else:
        rep.add("GPUs", OK, f"{found} GPU(s) found on this node" + (f", N_GPUS_PER_NODE={want}{total}" if want else ""))


def wandb_state() -> str:
    if os.environ.get("WANDB_MODE") in ("disabled", "offline"):
        return f"WANDB_MODE={os.environ['WANDB_MODE']}"
    if os.environ.get("WANDB_API_KEY"):
        return "key set in the environment"
    netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        if netrc.is_file() and "api.wandb.ai" in netrc.read_text():
            return "logged in (~/.netrc)"
    except OSError:
        pass
    return "not logged in"


def _check_wandb(rep: Report) -> None:
    state = wandb_state()
    ok = state.startswith(("key", "logged in"))
    rep.add("wandb", OK if ok else INFO, state + ("" if ok else ": logging to console only"))


def run_preflight(args: Any) -> Report:
    rep = Report()
    gts = _check_data(rep, args)
    _check_index(rep, args, gts)
    probe = check_judge(rep, args, gts)
    check_audit(rep, args, gts, probe)
    estimate(rep, args, gts, probe)
    judge_cache_and_cost(rep, args, gts, probe)
    _check_launch(rep, args)
    _check_gpus(rep, args)
    _check_wandb(rep)
    return rep

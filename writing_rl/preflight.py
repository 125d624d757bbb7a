"""Preflight checks for a training run: data, index file, judge, cost estimate, launch arithmetic, GPUs, wandb.

Each check yields a row (name, status, detail, fix). ``FAIL`` rows are blocking; ``WARN`` rows are
shown but do not stop the run. Nothing here prints or stores an API key.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .redact import public_url, scrub

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "info"


@dataclass
class Row:
    check: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    estimates: dict[str, Any] = field(default_factory=dict)

    def add(self, *args: str) -> None:
        self.rows.append(Row(*(scrub(a) for a in args)))  # a server may echo the key into an error

    @property
    def ok(self) -> bool:
        return not any(r.status == FAIL for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(r) for r in self.rows], "estimates": self.estimates}

    def table(self) -> str:
        w = max(len(r.check) for r in self.rows) if self.rows else 5
        lines = [f"{'check':<{w}}  status  detail", f"{'-' * w}  ------  {'-' * 50}"]
        for r in self.rows:
            lines.append(f"{r.check:<{w}}  {r.status:<6}  {r.detail}")
            if r.fix and r.status in (FAIL, WARN):
                lines.append(f"{'':<{w}}          fix: {r.fix}")
        lines.append("preflight: " + ("passed" if self.ok else "FAILED (fix the rows marked FAIL)"))
        return "\n".join(lines)


def _check_data(rep: Report, args: Any) -> dict[int, dict] | None:
    from .data.check import check_dataset, load_ground_truths

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
    from .curriculum.index_file import IndexFileError, read_index, sample_key

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


def _check_judge(rep: Report, args: Any, gts: dict[int, dict] | None) -> dict[str, float] | None:
    from .judge import JudgeConfigError, JudgeError, JudgeSettings, PairwiseJudge

    try:
        settings = JudgeSettings.from_env()
        settings.api_key()
        # one probe call: a short retry budget so an unreachable judge is reported in seconds
        settings = settings.replace(max_retries=min(settings.max_retries, 2), backoff_max_s=4.0)
        judge = PairwiseJudge(settings)
    except (JudgeConfigError, JudgeError, FileNotFoundError) as e:
        rep.add("judge config", FAIL, str(e), "set JUDGE_MODEL / JUDGE_BASE_URL / the API key variable")
        return None
    where = public_url(settings.base_url) or settings.backend
    rep.add("judge config", OK, f"model {settings.model} via {settings.backend} ({where}), "
            f"API_PARALLEL={settings.concurrency}")
    if args.skip_judge:
        rep.add("judge call", WARN, "skipped (--skip-judge)", "run without --skip-judge before training")
        return None
    if gts:
        gt = gts[min(gts)]
        refs = gt["target"]  # a checked list (load_ground_truths)
        question, reference, response = gt["prompt"], refs[0], refs[-1]
    else:
        question, reference = "Write two sentences about autumn.", "Autumn comes. Leaves fall."
        response = "Autumn arrives quietly, in the smell of woodsmoke. The maples let go one red leaf at a time."
    t0 = time.monotonic()

    async def probe() -> Any:
        async with judge.session() as j:
            return await j.compare(question, reference, response, gts[min(gts)].get("criteria") if gts else None,
                                   "position-disadvantage")

    try:
        j = asyncio.run(probe())
    except JudgeConfigError as e:
        rep.add("judge call", FAIL, str(e), "fix the setting it names")
        return None
    latency = time.monotonic() - t0
    if j.outcome == "failed":
        fix = ("the reply has no 'VERDICT: A|B|TIE' line: check JUDGE_MODEL and JUDGE_TEMPLATE "
               "(try `writing-rl judge --show-prompt ...`)") if "VERDICT" in (j.reason or "") else \
            "the judge is unreachable or failing: check JUDGE_BASE_URL, the network and the provider status"
        rep.add("judge call", FAIL, f"one comparison failed: {j.reason}", fix)
        return None
    status = WARN if latency > args.slow_judge_s else OK
    rep.add("judge call", status, f"one real comparison parsed ({j.outcome}) in {latency:.2f}s, "
            f"{j.prompt_tokens}+{j.completion_tokens} tokens",
            f"the judge is slow ({latency:.0f}s per comparison): raise API_PARALLEL or add endpoints")
    return {"latency_s": latency, "prompt_tokens": j.prompt_tokens, "completion_tokens": j.completion_tokens}


def _check_audit(rep: Report, args: Any, gts: dict[int, dict] | None, probe: dict[str, float] | None) -> None:
    """A small judge audit (PREFLIGHT_AUDIT_PAIRS, default 8): a warning at worst, never a failure."""
    if gts is None or probe is None:  # no usable data or no working judge: the rows above say why
        return
    from .audit.quick import quick_audit_row

    rep.add("judge audit", *quick_audit_row(args.data_dir))


def _estimate(rep: Report, args: Any, gts: dict[int, dict] | None, probe: dict[str, float] | None) -> None:
    n = len(gts) if gts else 0
    per_cmp = 2 if args.strategy == "both-orders" else 1
    calls = args.train_batch_size * args.rollout_n * per_cmp
    steps = args.total_steps or args.epochs * (n // args.train_batch_size)  # verl drops the last partial batch
    est: dict[str, Any] = {"judge_calls_per_step": calls, "steps": steps, "judge_calls_per_run": calls * steps}
    if probe:
        tok = probe["prompt_tokens"] + probe["completion_tokens"]
        est["tokens_per_call"] = tok
        est["judge_tokens_per_step"] = tok * calls
        est["judge_tokens_per_run"] = tok * calls * steps
        conc = int(os.environ.get("API_PARALLEL") or 64)
        est["judge_seconds_per_step_at_api_parallel"] = round(math.ceil(calls / conc) * probe["latency_s"], 1)
    rep.estimates = est
    detail = f"{calls} judge calls/step x {steps} steps = {calls * steps} calls"
    if probe:
        detail += f"; ~{est['judge_tokens_per_step']:,.0f} tokens/step, ~{est['judge_tokens_per_run']:,.0f} per run"
    rep.add("judge budget", INFO, detail)


def _judge_cache_and_cost(rep: Report, args: Any, gts: dict[int, dict] | None, probe: dict[str, float] | None) -> None:
    """Expected cacheable share of judge prompt tokens for ROLLOUT_N and the strategy; cost with JUDGE_PRICE_*."""
    from .curriculum.index_file import read_index, sample_key
    from .judge import JudgeSettings, PairwiseJudge
    from .judge.cost import cacheable_share, layouts, prices_from_env

    est = rep.estimates
    n, strategy = max(1, int(args.rollout_n)), args.strategy
    if gts:
        try:
            judge = PairwiseJudge(JudgeSettings.from_env())
            try:
                levels = read_index(args.index_file)
            except Exception:  # reported by the index check; level 0 stands in
                levels = {}
            ids = sorted(gts)
            ids = ids[:: max(1, len(ids) // 500)]  # an even spread of at most ~500 samples is plenty
            samples = []
            for i in ids:
                refs = gts[i]["target"]
                ref = refs[min(max(0, int(levels.get(sample_key(i), 0))), len(refs) - 1)]
                # the response is assumed to be as long as the reference it is judged against
                samples.append(layouts(judge, gts[i]["prompt"], ref, ref, gts[i].get("criteria")))
            share, prefix = cacheable_share(strategy, n, samples)
        except Exception as e:  # a broken judge setting is reported by the judge rows
            rep.add("judge cache", INFO, f"not estimated: {e}")
            share = None
        else:
            est["cacheable_share"], est["shared_prefix_share"] = round(share, 4), round(prefix, 4)
            rep.add("judge cache", INFO, f"expected cacheable share of judge prompt tokens within a step: {share:.0%} "
                    f"(ROLLOUT_N={n}, {strategy}; the part before the response is {prefix:.0%} of a prompt, "
                    "responses assumed as long as their reference)")
    else:
        share = None
    try:
        prices = prices_from_env()
    except ValueError as e:
        rep.add("judge cost", WARN, str(e), "set JUDGE_PRICE_INPUT, JUDGE_PRICE_CACHED_INPUT and JUDGE_PRICE_OUTPUT "
                "to the judge's prices per million tokens, e.g. JUDGE_PRICE_INPUT=0.15")
        return
    if prices is None:
        return
    if not probe or "judge_tokens_per_step" not in est:
        rep.add("judge cost", INFO, "not estimated: it needs the token counts of one real judge call")
        return
    calls, steps = est["judge_calls_per_step"], est["steps"]
    prompt, completion = probe["prompt_tokens"] * calls, probe["completion_tokens"] * calls
    cached = prompt * (share or 0.0)
    per_step, without = prices.cost(prompt, cached, completion), prices.cost(prompt, 0, completion)
    est["judge_cached_tokens_per_step"] = round(cached)
    est["judge_cost_per_step"], est["judge_cost_per_run"] = round(per_step, 6), round(per_step * steps, 4)
    est["judge_cost_per_step_without_cache"] = round(without, 6)
    est["prices_per_million_tokens"] = {"input": prices.input, "cached_input": prices.cached_input,
                                        "output": prices.output}
    rep.add("judge cost", INFO, f"~{per_step:.4f} per step, ~{per_step * steps:.2f} per run ({steps} steps) at the "
            f"expected cache share; {without:.4f} per step without caching (JUDGE_PRICE_* per million tokens)")


def count_gpus() -> int:
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
            return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
        except (OSError, subprocess.TimeoutExpired):
            return 0
    return 0


def launch_plan(args: Any) -> Any:
    """The launch arithmetic's view of the preflight arguments (``writing_rl.launch_check.LaunchPlan``)."""
    from .launch_check import LaunchPlan

    return LaunchPlan.for_launcher(
        args.algo, token_len=args.token_len, model=args.model, nnodes=args.nnodes, gpus_per_node=args.n_gpus or 1,
        train_batch_size=args.train_batch_size, mini_batch_size=args.mini_batch_size, rollout_n=args.rollout_n,
        max_prompt_length=args.max_prompt_length or 1024, max_response_length=args.max_response_length,
        rollout_tp=args.rollout_tp, rollout_gpu_util=args.rollout_gpu_util,
        local_judge_gpu_util=args.local_judge_gpu_util, max_model_len=args.max_model_len,
    )


def _check_launch(rep: Report, args: Any) -> None:
    from .launch_check import check

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
    probe = _check_judge(rep, args, gts)
    _check_audit(rep, args, gts, probe)
    _estimate(rep, args, gts, probe)
    _judge_cache_and_cost(rep, args, gts, probe)
    _check_launch(rep, args)
    _check_gpus(rep, args)
    _check_wandb(rep)
    return rep

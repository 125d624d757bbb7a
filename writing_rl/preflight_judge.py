"""The preflight's judge rows: settings, one real comparison, a small audit, the budget, cache share and cost."""

from __future__ import annotations

import asyncio
import math
import os
import time
from typing import Any

from .audit.quick import quick_audit_row
from .curriculum.index_file import read_index, sample_key
from .judge import JudgeConfigError, JudgeError, JudgeSettings, PairwiseJudge
from .judge.cost import cacheable_share, layouts, prices_from_env
from .preflight_report import FAIL, INFO, OK, WARN, Report
from .redact import public_url


def check_judge(rep: Report, args: Any, gts: dict[int, dict] | None) -> dict[str, float] | None:
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


def check_audit(rep: Report, args: Any, gts: dict[int, dict] | None, probe: dict[str, float] | None) -> None:
    """A small judge audit (PREFLIGHT_AUDIT_PAIRS, default 8): a warning at worst, never a failure."""
    if gts is None or probe is None:  # no usable data or no working judge: the rows above say why
        return
    rep.add("judge audit", *quick_audit_row(args.data_dir))


def estimate(rep: Report, args: Any, gts: dict[int, dict] | None, probe: dict[str, float] | None) -> None:
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


def judge_cache_and_cost(rep: Report, args: Any, gts: dict[int, dict] | None, probe: dict[str, float] | None) -> None:
    """Expected cacheable share of judge prompt tokens for ROLLOUT_N and the strategy; cost with JUDGE_PRICE_*."""
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

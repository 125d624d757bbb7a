"""Pre-launch arithmetic: GPUs, batches, token budgets, context length and GPU memory against verl 0.9.1.

verl checks most of these only at run time, after a full rollout-and-judge pass: the mini-batch
divisibility at the first actor update, the token budgets at the first log-prob pass. The launcher
(through ``writing_rl.launch_plan``) and ``writing-rl preflight`` run the same checks before anything
starts; every FAIL names the variables and the nearest valid values. The verl source each check
mirrors is named beside it (paths relative to the ``verl`` package); ``tests/test_launch_arithmetic.py``
proves with verl's own code that every accepted combination passes.

Assumes the launcher's engine settings: FSDP without Ulysses sequence parallelism (data-parallel size =
total GPUs), dynamic batch size everywhere (``use_dynamic_bsz=True``).
"""

from __future__ import annotations

import math
from typing import Any

from .launch_spec import FAIL, INFO, MEMORY_CEILING, OK, WARN, Finding, LaunchPlan

__all__ = ["FAIL", "INFO", "OK", "WARN", "Finding", "LaunchPlan", "check", "failures"]

def _near(valid: list[int], value: int) -> list[int]:
    """The valid values just below and just above ``value``."""
    below = [v for v in valid if v < value]
    above = [v for v in valid if v > value]
    return ([max(below)] if below else []) + ([min(above)] if above else [])


def _or(values: list[Any]) -> str:
    return " or ".join(str(v) for v in values)


def _gpus(p: LaunchPlan) -> str:
    return f"{p.total_gpus} GPU(s) (NNODES={p.nnodes} x N_GPUS_PER_NODE={p.gpus_per_node})"


def _check_counts(p: LaunchPlan) -> list[Finding]:
    bad = [f"{name}={v}" for name, v in (("NNODES", p.nnodes), ("N_GPUS_PER_NODE", p.gpus_per_node),
                                         ("TRAIN_BATCH_SIZE", p.train_batch_size),
                                         ("PPO_MINI_BATCH_SIZE", p.mini_batch_size), ("ROLLOUT_N", p.rollout_n),
                                         ("ROLLOUT_TP", p.rollout_tp), ("MAX_PROMPT_LENGTH", p.max_prompt_length),
                                         ("MAX_RESPONSE_LENGTH", p.max_response_length)) if v < 1]
    if bad:
        return [Finding("GPUs and batches", FAIL, f"{', '.join(bad)}: must be at least 1", "set each to 1 or more")]
    return []


def _check_tp(p: LaunchPlan) -> Finding:
    # workers/engine_workers.py:659  world_size % (tp * dp * pp) == 0  (rollout dp = pp = 1 here)
    # workers/rollout/replica.py:114 world_size % min(gpus_per_node, world_size) == 0  (a replica spans whole nodes)
    def valid(tp: int) -> bool:
        return p.total_gpus % tp == 0 and tp % min(p.gpus_per_node, tp) == 0

    heads = p.num_attention_heads
    if valid(p.rollout_tp) and (not heads or heads % p.rollout_tp == 0):
        return Finding("rollout TP", OK, f"ROLLOUT_TP={p.rollout_tp}: {p.total_gpus // p.rollout_tp} vLLM "
                       f"replica(s) on {_gpus(p)}")
    options = [t for t in range(1, p.total_gpus + 1) if valid(t) and (not heads or heads % t == 0)]
    if not valid(p.rollout_tp):
        why = (f"ROLLOUT_TP={p.rollout_tp} does not divide {_gpus(p)}" if p.total_gpus % p.rollout_tp else
               f"a ROLLOUT_TP={p.rollout_tp} replica must fill whole nodes of N_GPUS_PER_NODE={p.gpus_per_node}")
        where = "workers/engine_workers.py, workers/rollout/replica.py"
    else:
        why = f"the model's {heads} attention heads are not divisible by ROLLOUT_TP={p.rollout_tp}"
        where = "vllm/config/model.py verify_with_parallel_config"
    return Finding("rollout TP", FAIL, f"{why} (verl/vLLM assert it when the rollout starts: {where})",
                   f"set ROLLOUT_TP={_or(_near(options, p.rollout_tp))}")


def _mini_batch_fix(p: LaunchPlan, mini: int, name: str) -> str:
    step = p.total_gpus // math.gcd(p.total_gpus, p.rollout_n)  # mini * n % G == 0  <=>  mini % step == 0
    fits = list(range(step, p.train_batch_size + 1, step))
    if fits:
        return f"{name}={_or(_near(fits, mini))}"
    return f"{name}={step} with TRAIN_BATCH_SIZE>={step}"


def _gpu_options(p: LaunchPlan, mini: int) -> list[str]:
    per_node = [g for g in range(p.gpus_per_node - 1, 0, -1) if (mini * p.rollout_n) % (p.nnodes * g) == 0]
    return [f"N_GPUS_PER_NODE={per_node[0]} ({p.nnodes * per_node[0]} GPUs)"] if per_node else []


def _check_mini_batch(p: LaunchPlan) -> list[Finding]:
    # trainer/ppo/v1/trainer_base.py:1829-1830 (actor), :1806-1807 (critic): mini_batch_size = ppo_mini_batch_size * n
    # workers/engine_workers.py:267 assert mini_batch_size % engine.get_data_parallel_size() == 0
    # workers/engine/fsdp/transformer_impl.py:652 data-parallel size = world size // ulysses size (= total GPUs)
    # verl/utils/config.py:103 skips its own batch check when use_dynamic_bsz is on, so nothing catches it earlier.
    out = []
    roles = [("actor", p.mini_batch_size, "PPO_MINI_BATCH_SIZE")]
    if p.critic_mini_batch_size is not None and p.critic_mini_batch_size != p.mini_batch_size:
        roles.append(("critic", p.critic_mini_batch_size, "critic.ppo_mini_batch_size"))
    for role, mini, name in roles:
        rollouts = mini * p.rollout_n
        if rollouts % p.total_gpus == 0:
            continue
        fixes = [_mini_batch_fix(p, mini, name), *_gpu_options(p, mini)]
        out.append(Finding(
            "mini-batch", FAIL,
            f"{name}={mini} x ROLLOUT_N={p.rollout_n} = {rollouts} rollouts per {role} mini-batch is not divisible by "
            f"{_gpus(p)}: verl asserts it at the first {role} update (workers/engine_workers.py), after a whole "
            "rollout-and-judge pass", "set " + ", or ".join(fixes)))
    if not out:
        out.append(Finding("mini-batch", OK, f"PPO_MINI_BATCH_SIZE={p.mini_batch_size} x ROLLOUT_N={p.rollout_n} = "
                           f"{p.mini_batch_size * p.rollout_n} rollouts split evenly over {p.total_gpus} GPU(s)"))
    return out


def _check_batch(p: LaunchPlan) -> Finding:
    # workers/config/actor.py:225 (train_batch_size >= ppo_mini_batch_size) is skipped under dynamic batch size;
    # with a larger mini-batch every step would be padded up to it with no-op samples instead.
    if p.mini_batch_size > p.train_batch_size:
        return Finding("batch", FAIL, f"PPO_MINI_BATCH_SIZE={p.mini_batch_size} is larger than TRAIN_BATCH_SIZE="
                       f"{p.train_batch_size}: each step would be padded with no-op samples up to one mini-batch",
                       f"set PPO_MINI_BATCH_SIZE<={p.train_batch_size} or TRAIN_BATCH_SIZE>={p.mini_batch_size}")
    # trainer/ppo/v1/trainer_base.py:1589-1606 (_get_required_batch_multiple) and
    # trainer/ppo/padding_utils.py:144 (upsample_batch_to_divisible_size)
    multiple = math.lcm(p.total_gpus, p.mini_batch_size * p.rollout_n)
    if p.critic_mini_batch_size is not None:
        multiple = math.lcm(multiple, p.critic_mini_batch_size * p.rollout_n)
    rollouts = p.train_batch_size * p.rollout_n
    if rollouts % multiple:
        padded = -(-rollouts // multiple) * multiple
        step = multiple // math.gcd(multiple, p.rollout_n)  # prompts per step must be a multiple of this
        sizes = list(range(step, p.train_batch_size + 2 * step, step))
        return Finding("batch", WARN, f"TRAIN_BATCH_SIZE={p.train_batch_size} x ROLLOUT_N={p.rollout_n} = {rollouts} "
                       f"rollouts is not a multiple of {multiple}: verl pads every step to {padded} with no-op samples",
                       f"set TRAIN_BATCH_SIZE={_or(_near(sizes, p.train_batch_size))}")
    return Finding("batch", OK, f"TRAIN_BATCH_SIZE={p.train_batch_size} x ROLLOUT_N={p.rollout_n} = {rollouts} "
                   f"rollouts per step, {rollouts // (p.mini_batch_size * p.rollout_n)} actor mini-batch(es)")


def _check_tokens(p: LaunchPlan) -> Finding:
    # utils/seqlen_balancing.py:384 assert max_token_len >= max_seq_len (each micro-batch holds whole sequences);
    # workers/engine/utils.py:111 max_token_len = max_token_len_per_gpu * ulysses size (1 here).
    # Which budget each role uses: workers/engine_workers.py:552 (ref), :620-626 (actor),
    # trainer/ppo/v1/trainer_base.py:267-268 (critic: critic.ppo_infer_max_token_len_per_gpu for both passes).
    longest = p.max_prompt_length + p.max_response_length
    short = {role: v for role, v in p.token_lens.items() if v < longest}
    if short:
        roles = ", ".join(f"{role} {v}" for role, v in short.items())
        low = min(short.values())
        fix = f"set PPO_MAX_TOKEN_LEN_PER_GPU>={longest} (unset, it defaults to max(16384, prompt + response))"
        if low > p.max_prompt_length:
            fix += f", or MAX_RESPONSE_LENGTH<={low - p.max_prompt_length}"
        return Finding("token budget", FAIL, f"per-GPU token budget below one full sequence (MAX_PROMPT_LENGTH="
                       f"{p.max_prompt_length} + MAX_RESPONSE_LENGTH={p.max_response_length} = {longest}): {roles}; "
                       "verl asserts it at the first log-prob pass (utils/seqlen_balancing.py)", fix)
    budgets = sorted(set(p.token_lens.values())) or [0]
    return Finding("token budget", OK, f"{'/'.join(map(str, budgets))} tokens per GPU for "
                   f"{', '.join(p.token_lens) or 'no role'} >= {longest} (prompt + response)")


def _check_context(p: LaunchPlan) -> Finding:
    # workers/rollout/vllm_rollout/vllm_async_server.py:1104-1111: max_model_len None -> max_position_embeddings,
    #   larger than max_position_embeddings -> ValueError when the rollout starts;
    # :593-617: a request gets max_tokens = min(response_length, max_model_len - prompt_len), so a context shorter
    #   than prompt + response silently cuts responses (and a prompt as long as the context fails).
    longest = p.max_prompt_length + p.max_response_length
    mpe = p.max_position_embeddings
    if p.max_model_len is not None and mpe is not None and p.max_model_len > mpe:
        return Finding("context", FAIL, f"ROLLOUT_MAX_MODEL_LEN={p.max_model_len} exceeds the model's "
                       f"max_position_embeddings={mpe}: verl refuses to start the rollout "
                       "(workers/rollout/vllm_rollout/vllm_async_server.py)",
                       f"set ROLLOUT_MAX_MODEL_LEN<={mpe} (at least {longest})")
    context = p.max_model_len if p.max_model_len is not None else mpe
    name = "ROLLOUT_MAX_MODEL_LEN" if p.max_model_len is not None else "the model's max_position_embeddings"
    if context is None:
        return Finding("context", INFO, "not checked: the model's config.json is not on this machine "
                       f"(vLLM's context must hold {longest} tokens = prompt + response)")
    if longest > context:
        fixes = [f"MAX_RESPONSE_LENGTH<={context - p.max_prompt_length}"] if context > p.max_prompt_length else []
        if mpe is not None and longest <= mpe and p.max_model_len is not None:
            fixes.append(f"ROLLOUT_MAX_MODEL_LEN={longest}")
        return Finding("context", FAIL, f"{name} = {context} is shorter than MAX_PROMPT_LENGTH="
                       f"{p.max_prompt_length} + MAX_RESPONSE_LENGTH={p.max_response_length} = {longest}: vLLM would "
                       "cut responses short (workers/rollout/vllm_rollout/vllm_async_server.py)",
                       "set " + (" or ".join(fixes) if fixes else "a model with a longer context"))
    return Finding("context", OK, f"{name} = {context} >= {longest} (prompt + response)")


def _check_memory(p: LaunchPlan) -> Finding:
    # verl passes gpu_memory_utilization to vLLM (workers/rollout/vllm_rollout/vllm_async_server.py:340); vLLM 0.24
    # (vllm/v1/worker/utils.py request_memory) raises when the free memory at start-up is below
    # total x gpu_memory_utilization. The local judge keeps its share of the first card for the whole run, so the two
    # shares must leave room for the CUDA contexts and the FSDP trainer: at most MEMORY_CEILING together.
    shares = [("ROLLOUT_GPU_UTIL", p.rollout_gpu_util)]
    if p.local_judge_gpu_util is not None:
        shares.append(("LOCAL_JUDGE_GPU_UTIL", p.local_judge_gpu_util))
    bad = [f"{n}={v}" for n, v in shares if not 0 < v <= 1]
    if bad:
        return Finding("GPU memory", FAIL, f"{', '.join(bad)}: a vLLM memory share must be in (0, 1]",
                       "set it to a fraction such as 0.4")
    if p.local_judge_gpu_util is None:
        return Finding("GPU memory", OK, f"ROLLOUT_GPU_UTIL={p.rollout_gpu_util} of each card for vLLM")
    total = p.rollout_gpu_util + p.local_judge_gpu_util
    if total > MEMORY_CEILING + 1e-9:
        room_r = math.floor((MEMORY_CEILING - p.local_judge_gpu_util) * 100 + 1e-6) / 100
        room_j = math.floor((MEMORY_CEILING - p.rollout_gpu_util) * 100 + 1e-6) / 100
        fixes = ([f"ROLLOUT_GPU_UTIL={room_r:.2f}"] if room_r > 0 else []) + \
            ([f"LOCAL_JUDGE_GPU_UTIL={room_j:.2f}"] if room_j > 0 else [])
        return Finding("GPU memory", FAIL, f"ROLLOUT_GPU_UTIL={p.rollout_gpu_util} + LOCAL_JUDGE_GPU_UTIL="
                       f"{p.local_judge_gpu_util} = {total:.2f} of the first GPU, above {MEMORY_CEILING}: the local "
                       "judge keeps its share all run, so the rollout's vLLM (or the FSDP trainer) runs out of memory",
                       "set " + (" or ".join(fixes) if fixes else "JUDGE_BASE_URL to a judge on other GPUs"))
    return Finding("GPU memory", OK, f"ROLLOUT_GPU_UTIL={p.rollout_gpu_util} + LOCAL_JUDGE_GPU_UTIL="
                   f"{p.local_judge_gpu_util} = {total:.2f} of the first GPU (at most {MEMORY_CEILING})")


def check(plan: LaunchPlan) -> list[Finding]:
    """Every pre-launch finding for ``plan``; any ``FAIL`` means verl would stop (or silently misbehave)."""
    counts = _check_counts(plan)
    if counts:
        return counts
    return [_check_tp(plan), *_check_mini_batch(plan), _check_batch(plan), _check_tokens(plan),
            _check_context(plan), _check_memory(plan)]


def failures(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.status == FAIL]

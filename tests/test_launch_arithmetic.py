"""The pre-launch arithmetic, table-driven: every combination the launcher accepts passes verl's own checks.

For each row the real launcher (``scripts/train_writing_rl.sh --print-overrides``) is run with the row's
variables. Independently, the verl config for those variables is composed with Hydra and judged with verl
0.9.1's own code: ``validate_config``, ``RolloutReplica``'s constructor, ``prepare_micro_batches`` (the token
budget assertion), ``get_seqlen_balanced_partitions``, ``get_max_position_embeddings``, and, where verl's
assertion sits inside a GPU worker, exactly what that line computes (quoted beside it; paths relative to the
``verl`` package, vLLM 0.24.0 lines relative to ``vllm``). The launcher must accept exactly the rows verl
accepts, name every failing check, and give a fix; the two project rules that are stricter than verl (memory
head-room for a local judge, a mini-batch larger than the batch) are checked against their consequence.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from .test_launcher import launcher_env, run_script

REMOTE_JUDGE = {"OPENAI_API_KEY": "sk-FAKE-not-a-key-000000000000", "JUDGE_BASE_URL": "http://10.9.9.9:8000/v1"}
POLICY = {"batch", "GPU memory"}  # project rules stricter than verl; checked against their consequence

# (id, model, launcher variables, failing checks (empty: accepted), local judge?)
ROWS: list[tuple[str, str, dict[str, str], set[str], bool]] = [
    ("ppo-1x1-defaults", "tiny", {}, set(), False),
    ("ppo-1x2", "tiny", {"N_GPUS_PER_NODE": "2"}, set(), False),
    ("ppo-1x3", "tiny", {"N_GPUS_PER_NODE": "3"}, {"mini-batch"}, False),
    ("ppo-1x4", "tiny", {"N_GPUS_PER_NODE": "4"}, set(), False),
    ("ppo-1x6", "tiny", {"N_GPUS_PER_NODE": "6"}, {"mini-batch"}, False),
    ("ppo-1x8", "tiny", {"N_GPUS_PER_NODE": "8"}, set(), False),
    ("ppo-1x12", "heads24", {"N_GPUS_PER_NODE": "12"}, {"mini-batch"}, False),
    ("ppo-2x6", "tiny", {"NNODES": "2", "N_GPUS_PER_NODE": "6"}, {"mini-batch"}, False),
    ("ppo-2x8-old-readme", "tiny", {"NNODES": "2", "N_GPUS_PER_NODE": "8"}, {"mini-batch"}, False),
    ("ppo-2x8-m16-b32", "tiny", {"NNODES": "2", "N_GPUS_PER_NODE": "8", "PPO_MINI_BATCH_SIZE": "16",
                                 "TRAIN_BATCH_SIZE": "32"}, set(), False),
    ("ppo-2x8-m16-b16", "tiny", {"NNODES": "2", "N_GPUS_PER_NODE": "8", "PPO_MINI_BATCH_SIZE": "16"}, set(), False),
    ("ppo-4x8-m32-b64", "tiny", {"NNODES": "4", "N_GPUS_PER_NODE": "8", "PPO_MINI_BATCH_SIZE": "32",
                                 "TRAIN_BATCH_SIZE": "64"}, set(), False),
    ("ppo-1x6-m12-b24", "tiny", {"N_GPUS_PER_NODE": "6", "PPO_MINI_BATCH_SIZE": "12", "TRAIN_BATCH_SIZE": "24"},
     set(), False),
    ("ppo-1x3-m6-b12", "tiny", {"N_GPUS_PER_NODE": "3", "PPO_MINI_BATCH_SIZE": "6", "TRAIN_BATCH_SIZE": "12"},
     set(), False),
    ("ppo-1x3-n3-m1-b3", "tiny", {"N_GPUS_PER_NODE": "3", "ROLLOUT_N": "3", "PPO_MINI_BATCH_SIZE": "1",
                                  "TRAIN_BATCH_SIZE": "3"}, set(), False),
    ("grpo-1x8-n8-m2", "tiny", {"ALGO": "grpo", "N_GPUS_PER_NODE": "8", "PPO_MINI_BATCH_SIZE": "2"}, set(), False),
    ("grpo-1x8-n4-m1", "tiny", {"ALGO": "grpo", "ROLLOUT_N": "4", "N_GPUS_PER_NODE": "8", "PPO_MINI_BATCH_SIZE": "1",
                                "TRAIN_BATCH_SIZE": "8"}, {"mini-batch"}, False),
    ("grpo-2x8-n8-m2", "tiny", {"ALGO": "grpo", "NNODES": "2", "N_GPUS_PER_NODE": "8", "PPO_MINI_BATCH_SIZE": "2"},
     set(), False),
    ("grpo-2x8-n4-m2", "tiny", {"ALGO": "grpo", "ROLLOUT_N": "4", "NNODES": "2", "N_GPUS_PER_NODE": "8",
                                "PPO_MINI_BATCH_SIZE": "2"}, {"mini-batch"}, False),
    ("grpo-1x6-n8-m3-b12", "tiny", {"ALGO": "grpo", "N_GPUS_PER_NODE": "6", "PPO_MINI_BATCH_SIZE": "3",
                                    "TRAIN_BATCH_SIZE": "12"}, set(), False),
    ("grpo-1x3-n8-m3-padded", "tiny", {"ALGO": "grpo", "N_GPUS_PER_NODE": "3", "PPO_MINI_BATCH_SIZE": "3"},
     set(), False),
    ("grpo-4x8-n16-m2-b4", "tiny", {"ALGO": "grpo", "ROLLOUT_N": "16", "NNODES": "4", "N_GPUS_PER_NODE": "8",
                                    "PPO_MINI_BATCH_SIZE": "2", "TRAIN_BATCH_SIZE": "4"}, set(), False),
    ("ppo-b12-padded", "tiny", {"TRAIN_BATCH_SIZE": "12"}, set(), False),
    ("ppo-mini-above-batch", "tiny", {"TRAIN_BATCH_SIZE": "8", "PPO_MINI_BATCH_SIZE": "16"}, {"batch"}, False),
    ("ppo-1x8-tp2", "tiny", {"N_GPUS_PER_NODE": "8", "ROLLOUT_TP": "2"}, set(), False),
    ("ppo-1x8-tp3", "tiny", {"N_GPUS_PER_NODE": "8", "ROLLOUT_TP": "3"}, {"rollout TP"}, False),
    ("ppo-1x8-tp8-4-heads", "tiny", {"N_GPUS_PER_NODE": "8", "ROLLOUT_TP": "8"}, {"rollout TP"}, False),
    ("ppo-2x4-tp8-across-nodes", "ctx32k", {"NNODES": "2", "N_GPUS_PER_NODE": "4", "ROLLOUT_TP": "8"}, set(), False),
    ("ppo-2x4-tp6", "heads24", {"NNODES": "2", "N_GPUS_PER_NODE": "4", "ROLLOUT_TP": "6"}, {"rollout TP"}, False),
    ("ppo-3x4-tp6-split-replica", "heads24", {"NNODES": "3", "N_GPUS_PER_NODE": "4", "ROLLOUT_TP": "6",
                                              "PPO_MINI_BATCH_SIZE": "12", "TRAIN_BATCH_SIZE": "24"},
     {"rollout TP"}, False),
    ("ppo-r16k-default-budget", "ctx32k", {"MAX_RESPONSE_LENGTH": "16384"}, set(), False),
    ("ppo-r16k-budget-16384", "ctx32k", {"MAX_RESPONSE_LENGTH": "16384", "PPO_MAX_TOKEN_LEN_PER_GPU": "16384"},
     {"token budget"}, False),
    ("grpo-p2k-r8k-budget-8192", "ctx32k", {"ALGO": "grpo", "MAX_PROMPT_LENGTH": "2048",
                                            "MAX_RESPONSE_LENGTH": "8192", "PPO_MAX_TOKEN_LEN_PER_GPU": "8192"},
     {"token budget"}, False),
    ("grpo-r7k-fills-8k-context", "tiny", {"ALGO": "grpo", "MAX_RESPONSE_LENGTH": "7168"}, set(), False),
    ("ppo-r8k-beyond-8k-context", "tiny", {"MAX_RESPONSE_LENGTH": "8192"}, {"context"}, False),
    ("ppo-max-model-len-4096", "tiny", {"ROLLOUT_MAX_MODEL_LEN": "4096"}, {"context"}, False),
    ("ppo-max-model-len-16k-on-8k-model", "tiny", {"ROLLOUT_MAX_MODEL_LEN": "16384"}, {"context"}, False),
    ("ppo-max-model-len-5120", "tiny", {"ROLLOUT_MAX_MODEL_LEN": "5120"}, set(), False),
    ("local-judge-default-shares", "tiny", {}, set(), True),
    ("local-judge-0.6+0.35", "tiny", {"ROLLOUT_GPU_UTIL": "0.6"}, {"GPU memory"}, True),
    ("local-judge-0.7+0.35", "tiny", {"ROLLOUT_GPU_UTIL": "0.7"}, {"GPU memory"}, True),
    ("remote-judge-util-0.85", "tiny", {"ROLLOUT_GPU_UTIL": "0.85"}, set(), False),
]

# launcher variable -> the verl keys it sets (the launcher's overrides are checked against this for accepted rows)
TOKEN_KEYS = ["actor_rollout_ref.actor.ppo_max_token_len_per_gpu",
              "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu",
              "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu", "critic.ppo_max_token_len_per_gpu",
              "+critic.ppo_infer_max_token_len_per_gpu"]
VAR_KEYS = {
    "NNODES": ["trainer.nnodes"], "N_GPUS_PER_NODE": ["trainer.n_gpus_per_node"],
    "TRAIN_BATCH_SIZE": ["data.train_batch_size"],
    "PPO_MINI_BATCH_SIZE": ["actor_rollout_ref.actor.ppo_mini_batch_size"],
    "ROLLOUT_N": ["actor_rollout_ref.rollout.n"], "MAX_PROMPT_LENGTH": ["data.max_prompt_length"],
    "MAX_RESPONSE_LENGTH": ["data.max_response_length"], "PPO_MAX_TOKEN_LEN_PER_GPU": TOKEN_KEYS,
    "ROLLOUT_TP": ["actor_rollout_ref.rollout.tensor_model_parallel_size"],
    "ROLLOUT_GPU_UTIL": ["actor_rollout_ref.rollout.gpu_memory_utilization"],
    "ROLLOUT_MAX_MODEL_LEN": ["actor_rollout_ref.rollout.max_model_len"],
}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, str]:
    """Tiny local models: 4 heads / 8192 context, 16 heads / 32768, 24 heads / 8192 (no weights, no download)."""
    from writing_rl.testing.tiny_tokenizer import build_tiny_model_dir

    root = tmp_path_factory.mktemp("models")
    tiny = build_tiny_model_dir(str(root / "tiny"))
    out = {"tiny": tiny}
    for name, heads, ctx in (("ctx32k", 16, 32768), ("heads24", 24, 8192)):
        shutil.copytree(tiny, root / name)
        conf = json.loads((root / name / "config.json").read_text())
        conf.update(num_attention_heads=heads, hidden_size=96, max_position_embeddings=ctx)
        (root / name / "config.json").write_text(json.dumps(conf))
        out[name] = str(root / name)
    return out


def overrides_of(out: Any) -> list[str]:
    return [line for line in out.stdout.splitlines() if line]


def substitute(base: list[str], variables: dict[str, str]) -> list[str]:
    """The launcher's overrides for ``variables``, derived from its default overrides for the same ALGO."""
    values = dict(variables)
    p = int(values.get("MAX_PROMPT_LENGTH", 1024))
    r = int(values.get("MAX_RESPONSE_LENGTH", 4096))
    values.setdefault("PPO_MAX_TOKEN_LEN_PER_GPU", str(max(16384, p + r)))  # the documented default
    by_key = {k: values[v] for v, keys in VAR_KEYS.items() if v in values for k in keys}
    out = []
    for o in base:
        key = o.split("=", 1)[0]
        out.append(f"{key}={by_key[key]}" if key in by_key else o)
    if "ROLLOUT_MAX_MODEL_LEN" in values:
        out.append(f"actor_rollout_ref.rollout.max_model_len={values['ROLLOUT_MAX_MODEL_LEN']}")
    return out


def verl_failures(cfg: Any, local_judge_util: float | None) -> tuple[set[str], dict[str, Any]]:
    """What verl 0.9.1 (and the vLLM it drives) would reject for ``cfg``, by verl's own code; plus facts."""
    import torch
    from tensordict import TensorDict
    from transformers import AutoConfig
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils import tensordict_utils as tu
    from verl.utils.config import omega_conf_to_dataclass, validate_config
    from verl.utils.seqlen_balancing import get_seqlen_balanced_partitions
    from verl.workers.engine.utils import prepare_micro_batches
    from verl.workers.rollout.replica import RolloutReplica
    from verl.workers.rollout.utils import get_max_position_embeddings

    failed: set[str] = set()
    facts: dict[str, Any] = {}
    arr = cfg.actor_rollout_ref
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))

    world = cfg.trainer.n_gpus_per_node * cfg.trainer.nnodes
    # rollout: workers/engine_workers.py:655-659 infer_world_size = tp * dp * pp; assert world_size % it == 0
    rollout = omega_conf_to_dataclass(arr.rollout)
    infer_world = rollout.tensor_model_parallel_size * rollout.data_parallel_size * rollout.pipeline_model_parallel_size
    if world % infer_world:
        failed.add("rollout TP")
    else:

        class Replica(RolloutReplica):  # verl's constructor asserts a replica fills whole nodes (replica.py:114)
            async def launch_servers(self) -> None:  # never called
                raise NotImplementedError

        try:  # workers/rollout/llm_server.py:460 num_replicas = world_size // rollout_world_size
            for rank in range(world // infer_world):
                Replica(rank, arr.rollout, None, gpus_per_node=arr.rollout.n_gpus_per_node)
        except AssertionError:
            failed.add("rollout TP")
    hf = AutoConfig.from_pretrained(arr.model.path)
    if hf.num_attention_heads % rollout.tensor_model_parallel_size:  # vllm/config/model.py:1165 (vLLM 0.24.0)
        failed.add("rollout TP")

    # mini-batches: trainer/ppo/v1/trainer_base.py:1829-1830 (actor) / 1806-1807 (critic) pass
    # ppo_mini_batch_size * rollout.n as mini_batch_size; workers/engine_workers.py:267 asserts it % dp == 0, where
    # dp = world size // ulysses size (workers/engine/fsdp/transformer_impl.py:652)
    actor = omega_conf_to_dataclass(arr.actor)
    minis = {"actor": (arr.actor.ppo_mini_batch_size, actor.engine.ulysses_sequence_parallel_size)}
    if need_critic(cfg):
        critic = omega_conf_to_dataclass(cfg.critic)
        minis["critic"] = (cfg.critic.ppo_mini_batch_size, critic.engine.ulysses_sequence_parallel_size)
    for mini, sp in minis.values():
        if (mini * arr.rollout.n) % (world // sp):
            failed.add("mini-batch")

    # balance + padding: trainer/ppo/v1/trainer_base.py:1589-1606 (_get_required_batch_multiple), padding to a
    # multiple of it (trainer/ppo/padding_utils.py:165), then verl's own partitioning over the dp ranks
    dp = world // minis["actor"][1]
    multiple = dp
    for mini, _ in minis.values():
        multiple = math.lcm(multiple, mini * arr.rollout.n)
    rollouts = cfg.data.train_batch_size * arr.rollout.n
    padded = -(-rollouts // multiple) * multiple
    facts["padding"] = padded - rollouts
    get_seqlen_balanced_partitions([100 + i for i in range(padded)], k_partitions=dp, equal_size=True)

    # token budgets: the budget each role's engine gets (workers/engine_workers.py:552 ref, :620-626 actor,
    # trainer/ppo/v1/trainer_base.py:267-268 critic), then verl's prepare_micro_batches on the longest sequence
    # (its rearrange_micro_batches asserts max_token_len >= max_seq_len, utils/seqlen_balancing.py:384)
    longest = cfg.data.max_prompt_length + cfg.data.max_response_length
    budgets = {"actor": arr.actor.ppo_max_token_len_per_gpu,
               "actor log-prob": arr.rollout.log_prob_max_token_len_per_gpu}
    if need_reference_policy(cfg):
        budgets["ref"] = arr.ref.log_prob_max_token_len_per_gpu
    if need_critic(cfg):
        critic_engine = critic.engine
        critic_engine.infer_max_token_len_per_gpu = critic.ppo_infer_max_token_len_per_gpu
        critic_engine.max_token_len_per_gpu = critic.ppo_infer_max_token_len_per_gpu
        budgets["critic"] = critic_engine.max_token_len_per_gpu
    facts["budgets"] = budgets
    for budget in budgets.values():
        lengths = [longest, 7, 300]
        ids = torch.nested.as_nested_tensor([torch.ones(n, dtype=torch.long) for n in lengths], layout=torch.jagged)
        batch = TensorDict({"input_ids": ids}, batch_size=[len(lengths)])
        tu.assign_non_tensor(batch, use_dynamic_bsz=True, max_token_len_per_gpu=budget, sp_size=1)
        try:
            prepare_micro_batches(batch)
        except AssertionError:
            failed.add("token budget")

    # context: workers/rollout/vllm_rollout/vllm_async_server.py:1104-1111 (None -> max_position_embeddings, larger ->
    # ValueError) and :593-617 (max_tokens = min(response_length, prompt_length + response_length - len(prompt)),
    # clamped to max_model_len - len(prompt)) for a prompt of max_prompt_length tokens
    mpe = get_max_position_embeddings(hf)
    max_model_len = rollout.max_model_len if rollout.max_model_len is not None else mpe
    if max_model_len > mpe:
        failed.add("context")
    else:
        prompt_len = cfg.data.max_prompt_length
        max_tokens = min(rollout.response_length, rollout.prompt_length + rollout.response_length - prompt_len)
        max_tokens = max(1, min(max_tokens, max_model_len - prompt_len))
        facts["max_tokens"] = max_tokens
        if max_model_len - prompt_len < 1 or max_tokens < cfg.data.max_response_length:
            failed.add("context")

    # memory: vLLM raises when free memory < total x gpu_memory_utilization at start-up
    # (vllm/v1/worker/utils.py:410-414); a local judge already holds its share of the first card
    if local_judge_util is not None:
        facts["memory"] = rollout.gpu_memory_utilization + local_judge_util
        if facts["memory"] > 1:
            failed.add("GPU memory")
    return failed, facts


def launcher_failures(stderr: str) -> set[str]:
    names = {m.group(1) for m in re.finditer(r"\[writing-rl\] error: ([a-zA-Z -]+): ", stderr)}
    return {n for n in names if not n.startswith("fix the settings")}


@pytest.fixture(scope="module")
def baselines() -> dict[tuple[str, str, bool], list[str]]:
    return {}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One launch directory for every row, so the overrides of different rows compare."""
    return tmp_path_factory.mktemp("launch")


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_launcher_accepts_exactly_what_verl_accepts(workdir, models, baselines, row):
    from writing_rl.verl_config import compose

    tmp_path = workdir
    name, model, variables, expected, local = row
    env = launcher_env(tmp_path, BASE_MODEL=models[model], **variables, **({} if local else REMOTE_JUDGE))
    out = run_script(tmp_path, "--print-overrides", env=env)
    assert "Traceback" not in out.stderr
    assert launcher_failures(out.stderr) == expected, out.stderr
    assert (out.returncode == 0) == (not expected), out.stderr

    algo = variables.get("ALGO", "ppo")
    key = (algo, model, local)
    if key not in baselines:
        base_env = launcher_env(tmp_path, BASE_MODEL=models[model], ALGO=algo, **({} if local else REMOTE_JUDGE))
        base = run_script(tmp_path, "--print-overrides", env=base_env)
        assert base.returncode == 0, base.stderr
        baselines[key] = overrides_of(base)
    derived = substitute(baselines[key], variables)
    if not expected:
        assert sorted(overrides_of(out)) == sorted(derived)  # the derivation below is the launcher's own

    cfg = compose(derived)
    verl_failed, facts = verl_failures(cfg, float(env.get("LOCAL_JUDGE_GPU_UTIL", "0.35")) if local else None)
    # verl agrees on every check it makes itself
    assert verl_failed == expected - POLICY or (verl_failed == expected and expected <= POLICY), (verl_failed, facts)
    if "batch" in expected:  # verl pads the step instead: most of each actor mini-batch would be no-op samples
        assert facts["padding"] >= cfg.data.train_batch_size * cfg.actor_rollout_ref.rollout.n
    elif facts["padding"]:  # accepted with a warning that names the padded size verl computes
        padded = facts["padding"] + cfg.data.train_batch_size * cfg.actor_rollout_ref.rollout.n
        assert "warning: batch" in out.stderr and f"pads every step to {padded}" in out.stderr
    if "GPU memory" in expected:  # above the 0.9 head-room; vLLM itself fails above 1.0
        assert facts["memory"] > 0.9
    if not expected:
        assert verl_failed == set()
    for check in expected:
        line = next(ln for ln in out.stderr.splitlines() if f"error: {check}:" in ln)
        fix = out.stderr.splitlines()[out.stderr.splitlines().index(line) + 1]
        assert "fix: set" in fix and re.search(r"[A-Z_]+[=<>]+\d", fix), fix  # names a variable and a value


def test_the_table_covers_enough_combinations():
    assert len(ROWS) >= 30
    assert {r[2].get("ALGO", "ppo") for r in ROWS} == {"ppo", "grpo"}
    assert len({r[2].get("NNODES", "1") for r in ROWS}) >= 3
    assert len({r[2].get("N_GPUS_PER_NODE", "1") for r in ROWS}) >= 6
    assert sum(1 for r in ROWS if not r[3]) >= 15 and sum(1 for r in ROWS if r[3]) >= 12


def test_nearest_valid_values_are_valid():
    """Every value a FAIL suggests passes the same check."""
    from dataclasses import replace

    from writing_rl.launch_check import LaunchPlan, check

    plan = LaunchPlan.for_launcher("ppo", nnodes=2, gpus_per_node=8, train_batch_size=48, mini_batch_size=20,
                                   rollout_tp=3, max_response_length=16384, token_len=16384,
                                   rollout_gpu_util=0.7, local_judge_gpu_util=0.35)
    found = {f.check: f for f in check(plan) if f.status == "FAIL"}
    assert set(found) == {"rollout TP", "mini-batch", "token budget", "GPU memory"}
    assert "PPO_MINI_BATCH_SIZE=16 or 32" in found["mini-batch"].fix and "N_GPUS_PER_NODE=5 (10 GPUs)" in \
        found["mini-batch"].fix
    assert "ROLLOUT_TP=2 or 4" in found["rollout TP"].fix
    assert "PPO_MAX_TOKEN_LEN_PER_GPU>=17408" in found["token budget"].fix
    assert "ROLLOUT_GPU_UTIL=0.55 or LOCAL_JUDGE_GPU_UTIL=0.20" in found["GPU memory"].fix
    for fixed in (replace(plan, mini_batch_size=16), replace(plan, mini_batch_size=32),
                  replace(plan, gpus_per_node=5), replace(plan, rollout_tp=2), replace(plan, rollout_tp=4),
                  replace(plan, token_lens={k: 17408 for k in plan.token_lens}), replace(plan, rollout_gpu_util=0.55),
                  replace(plan, local_judge_gpu_util=0.2)):
        before = {f.check for f in check(plan) if f.status == "FAIL"}
        after = {f.check for f in check(fixed) if f.status == "FAIL"}
        assert len(after) == len(before) - 1, (fixed, after)


def test_preflight_reports_the_arithmetic_with_the_total_gpu_count(tmp_path):
    """`writing-rl preflight` learns NNODES, runs the same checks and fails on them."""
    import subprocess
    import sys

    from writing_rl.curriculum.index_file import create_index

    root = Path(__file__).resolve().parents[1]
    idx = tmp_path / "index.json"
    create_index(idx, range(22))
    base = [sys.executable, "-m", "writing_rl.cli.main", "preflight", "--data-dir", str(root / "data" / "sample"),
            "--index-file", str(idx), "--skip-judge", "--json", "--n-gpus-per-node", "8"]
    env = launcher_env(tmp_path, **REMOTE_JUDGE)
    one = subprocess.run([*base, "--nnodes", "1"], capture_output=True, text=True, env=env, timeout=120)
    two = subprocess.run([*base, "--nnodes", "2"], capture_output=True, text=True, env=env, timeout=120)
    rows1 = {c["check"]: c for c in json.loads(one.stdout)["checks"]}
    rows2 = {c["check"]: c for c in json.loads(two.stdout)["checks"]}
    assert rows1["mini-batch"]["status"] == "ok" and rows2["mini-batch"]["status"] == "FAIL"
    assert "16 GPU(s) (NNODES=2 x N_GPUS_PER_NODE=8)" in rows2["mini-batch"]["detail"]
    assert "PPO_MINI_BATCH_SIZE=16" in rows2["mini-batch"]["fix"]
    assert "needs 16 in total" in rows2["GPUs"]["detail"]
    assert two.returncode == 1 and not json.loads(two.stdout)["ok"]


def test_dry_run_checks_overrides_passed_through_to_verl(tmp_path, models):
    """A Hydra override given to the launcher is checked in the composed config (verl_config.check)."""
    env = launcher_env(tmp_path, BASE_MODEL=models["tiny"], N_GPUS_PER_NODE="4", **REMOTE_JUDGE)
    out = run_script(tmp_path, "--dry-run", "actor_rollout_ref.actor.ppo_mini_batch_size=6", env=env)
    assert out.returncode == 2 and "verl rejected the configuration" in out.stderr
    assert "mini-batch" in out.stdout + out.stderr and "PPO_MINI_BATCH_SIZE=4 or 8" in out.stdout + out.stderr

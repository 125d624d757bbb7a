"""The README's launch recipes, pasted as written, pass the launch arithmetic and verl's own checks.

Covers the multi-node recipe (install and keys on every node before ``ray start``), every launch line under
"GPU requirements", and the long-response table. A model a line names is replaced by a local stand-in with that
model's published attention heads and context length (no download).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .test_launch_arithmetic import verl_failures
from .test_launcher import ROOT, launcher_env, run_script

README = (ROOT / "README.md").read_text(encoding="utf-8")
FAKE_KEY = {"OPENAI_API_KEY": "sk-FAKE-recipe-not-a-key-0000000000"}
# published config.json values: (num_attention_heads, max_position_embeddings)
MODELS = {"Qwen/Qwen2.5-0.5B-Instruct": (14, 32768), "Qwen/Qwen2.5-7B-Instruct": (28, 32768),
          "meta-llama/Llama-3.1-8B-Instruct": (32, 131072)}


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start:end if end > 0 else None]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def launch_lines(text: str) -> list[str]:
    return [ln.split("#")[0].strip() for block in code_blocks(text) for ln in block.splitlines()
            if "bash scripts/train_writing_rl.sh" in ln and not ln.lstrip().startswith("#")]


def variables(line: str) -> dict[str, str]:
    words = shlex.split(line.replace("<head-ip>", "10.20.30.40"))
    out = {}
    for w in words[:words.index("bash")]:
        k, _, v = w.partition("=")
        out[k] = v
    return out


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> dict[str, str]:
    from writing_rl.testing.tiny_tokenizer import build_tiny_model_dir

    root = tmp_path_factory.mktemp("stand_ins")
    tiny = build_tiny_model_dir(str(root / "tiny"))
    out = {}
    for i, (name, (heads, ctx)) in enumerate(MODELS.items()):
        shutil.copytree(tiny, root / f"m{i}")
        conf = json.loads((root / f"m{i}" / "config.json").read_text())
        conf.update(num_attention_heads=heads, hidden_size=heads * 8, max_position_embeddings=ctx)
        (root / f"m{i}" / "config.json").write_text(json.dumps(conf))
        out[name] = str(root / f"m{i}")
    return out


def check_line(tmp_path: Path, stand_ins: dict[str, str], line: str) -> None:
    """Run the launcher with the line's variables; then verl's own checks on the config it would run."""
    from writing_rl.verl_config import compose

    values = variables(line)
    model = values.get("BASE_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")
    env = launcher_env(tmp_path, **{**values, "BASE_MODEL": stand_ins[model]}, **FAKE_KEY)
    out = run_script(tmp_path, "--print-overrides", env=env)
    assert out.returncode == 0 and "error" not in out.stderr, f"{line}\n{out.stderr}"
    cfg = compose([o for o in out.stdout.splitlines() if o])
    failed, facts = verl_failures(cfg, None)
    assert failed == set() and facts["padding"] == 0, (line, failed, facts)


def test_multi_node_recipe_installs_and_exports_keys_on_every_node_before_ray_start():
    text = section("**Many nodes.**")
    block = code_blocks(text)[0].splitlines()
    first_ray = next(i for i, ln in enumerate(block) if ln.lstrip().startswith("ray start"))
    before = block[:first_ray]
    assert any("every node, head included" in ln for ln in before)
    assert any(re.search(r"pip install -e \"?\.\[gpu\]", ln) for ln in before)
    assert any(re.match(r"\s*export \w+_API_KEY=", ln) for ln in before)
    assert not any("export" in ln for ln in block[first_ray:])  # nothing exported only on some nodes afterwards


def test_multi_node_recipe_passes_the_preflight_arithmetic(tmp_path, stand_ins):
    (line,) = launch_lines(section("**Many nodes.**"))
    values = variables(line)
    assert int(values["NNODES"]) > 1 and values["RAY_ADDRESS"] == "10.20.30.40:6379"
    check_line(tmp_path, stand_ins, line)
    # the preflight, given the same settings, agrees (its arithmetic rows, with the total GPU count)
    from writing_rl.curriculum.index_file import create_index

    idx = tmp_path / "index.json"
    create_index(idx, range(22))
    args = ["--nnodes", values["NNODES"], "--n-gpus-per-node", values["N_GPUS_PER_NODE"],
            "--mini-batch-size", values.get("PPO_MINI_BATCH_SIZE", "8"),
            "--train-batch-size", values.get("TRAIN_BATCH_SIZE", "16"),
            "--model", stand_ins["Qwen/Qwen2.5-0.5B-Instruct"]]
    out = subprocess.run([sys.executable, "-m", "writing_rl.cli.main", "preflight", "--data-dir",
                          str(ROOT / "data" / "sample"), "--index-file", str(idx), "--skip-judge", "--json", *args],
                         capture_output=True, text=True, env=launcher_env(tmp_path, **FAKE_KEY), timeout=120)
    rows = {c["check"]: c["status"] for c in json.loads(out.stdout)["checks"]}
    for check in ("rollout TP", "mini-batch", "batch", "token budget", "context", "GPU memory", "data"):
        assert rows[check] == "ok", (check, out.stdout)


def test_gpu_requirement_launch_lines_pass_as_written(tmp_path, stand_ins):
    lines = launch_lines(section("## GPU requirements"))
    assert len(lines) >= 5 and {variables(ln).get("BASE_MODEL", "Qwen/Qwen2.5-0.5B-Instruct") for ln in lines} == \
        set(MODELS)
    for line in lines:
        check_line(tmp_path, stand_ins, line)


def test_long_response_advice_agrees_with_verl(tmp_path, stand_ins):
    import torch
    from tensordict import TensorDict
    from verl.utils import tensordict_utils as tu
    from verl.workers.engine.utils import prepare_micro_batches

    text = section("## GPU requirements")
    advice = text[text.index("**Long responses.**"):]
    assert "lower `PPO_MAX_TOKEN_LEN_PER_GPU`" not in README  # the advice that crashed verl is gone
    rows = re.findall(r"^\| (\d+) \| (\d+) \((\d+)\) \| (\d+)", advice, flags=re.M)
    assert len(rows) >= 3 and any(int(r[0]) >= 16384 for r in rows)
    prompt = int(re.search(r"With `MAX_PROMPT_LENGTH=(\d+)`", advice).group(1))
    for response, default, minimum, context in (map(int, r) for r in rows):
        assert minimum == context == prompt + response
        env = launcher_env(tmp_path, BASE_MODEL=stand_ins["meta-llama/Llama-3.1-8B-Instruct"],
                           MAX_PROMPT_LENGTH=str(prompt), MAX_RESPONSE_LENGTH=str(response), **FAKE_KEY)
        out = run_script(tmp_path, "--print-overrides", env=env)
        budgets = {int(o.split("=")[1]) for o in out.stdout.split() if "max_token_len_per_gpu=" in o}
        assert out.returncode == 0 and budgets == {default}, out.stderr  # the table's default is the launcher's
        for budget, fits in ((default, True), (minimum, True), (minimum - 1, False)):
            ids = torch.nested.as_nested_tensor([torch.ones(minimum, dtype=torch.long)], layout=torch.jagged)
            batch = TensorDict({"input_ids": ids}, batch_size=[1])
            tu.assign_non_tensor(batch, use_dynamic_bsz=True, max_token_len_per_gpu=budget, sp_size=1)
            if fits:
                prepare_micro_batches(batch)  # verl's utils/seqlen_balancing.py:384 assertion holds
            else:
                with pytest.raises(AssertionError):
                    prepare_micro_batches(batch)

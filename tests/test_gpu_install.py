"""The GPU install recipe: the `gpu` extra, scripts/check_gpu_env.sh (on this CPU machine and a faked GPU node)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "check_gpu_env.sh"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def extras() -> dict[str, list[str]]:
    """setup.py's extras_require, read by setuptools itself (no install)."""
    from distutils.core import run_setup  # setuptools provides distutils on 3.12+ too

    dist = run_setup(str(ROOT / "setup.py"), stop_after="init")
    return dist.extras_require


def test_gpu_extra_leaves_flash_attn_to_verl_and_the_recipe():
    from packaging.requirements import Requirement

    gpu = [Requirement(r) for r in extras()["gpu"]]
    assert [(r.name, r.extras, str(r.specifier)) for r in gpu] == [("verl", {"vllm", "fsdp"}, "==0.9.1")]
    assert not any(r.name.replace("_", "-") == "flash-attn" for r in gpu)  # verl[fsdp] pins flash-attn==2.8.3


def test_readme_install_recipe_builds_flash_attn_against_the_installed_torch():
    block = next(b for b in re.findall(r"```bash\n(.*?)```", README, flags=re.S) if "flash-attn==" in b)
    lines = [ln.split("#")[0].strip() for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    torch_i = next(i for i, ln in enumerate(lines) if "pip install torch==2.11.0" in ln)
    fa_i = next(i for i, ln in enumerate(lines) if "flash-attn==2.8.3" in ln)
    gpu_i = next(i for i, ln in enumerate(lines) if '.[gpu]' in ln)
    assert torch_i < fa_i < gpu_i and "--no-build-isolation" in lines[fa_i]
    assert any("check_gpu_env.sh" in ln for ln in lines[gpu_i:])
    assert "| NVIDIA driver | 580 or newer |" in README and "CUDA 13.0" in README


def run_check(tmp_path: Path, bindir: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    env.update(PYTHON=sys.executable, PATH=f"{bindir}:{path}" if bindir else path)
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)


def rows(out: str) -> dict[str, tuple[str, str]]:
    table = {}
    for line in out.splitlines()[2:]:
        m = re.match(r"(\S+(?: driver)?)\s{2,}(.+?)\s{2,}(.+?)\s{2,}(\S.*)$", line)
        if m:
            table[m.group(1)] = (m.group(3).strip(), m.group(4).strip())
    return table


@pytest.mark.skipif(os.path.exists("/dev/nvidia0"), reason="this machine has a GPU")
def test_check_gpu_env_on_a_cpu_machine_reports_no_gpu_and_what_is_missing(tmp_path):
    out = run_check(tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["component", "required", "found", "status"]
    assert sum(1 for ln in lines if ln.startswith("component")) == 1  # one table
    t = rows(out.stdout)
    assert t["NVIDIA driver"][1] == "no GPU" and t["GPUs"][1] == "no GPU"
    assert t["verl"] == ("0.9.1", "ok")
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        assert t["vllm"] == ("not installed", "missing")
    if importlib.util.find_spec("flash_attn") is None:
        assert t["flash-attn"] == ("not installed", "missing")
    import torch

    if not torch.__version__.startswith("2.11.0"):
        assert t["torch"][1] == "mismatch" and torch.__version__ in t["torch"][0]
    assert "NOT ready" in lines[-1] and "NVIDIA driver" in lines[-1]


def test_check_gpu_env_reads_driver_gpus_and_compute_capability(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    smi = bindir / "nvidia-smi"
    for driver, cap, status in (("580.82.07", "9.0", "ok"), ("550.54.15", "9.0", "mismatch"),
                                ("580.82.07", "7.5", "mismatch")):
        smi.write_text(f"#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, {driver}, {cap}, 81559 MiB'\n"
                       f"echo 'NVIDIA H100 80GB HBM3, {driver}, {cap}, 81559 MiB'\n")
        smi.chmod(0o755)
        t = rows(run_check(tmp_path, bindir).stdout)
        assert t["NVIDIA driver"][0] == driver
        assert t["GPUs"][0] == f"2 x NVIDIA H100 80GB HBM3 (81559 MiB), compute cap {cap}"
        got = {"driver": t["NVIDIA driver"][1], "gpus": t["GPUs"][1]}
        if status == "ok":
            assert got == {"driver": "ok", "gpus": "ok"}
        elif driver.startswith("550"):
            assert got["driver"] == "mismatch"
        else:
            assert got["gpus"] == "mismatch"

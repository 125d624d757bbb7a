"""The switches every `writing-rl` command shares, run through the installed console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import writing_rl

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SCRIPT = Path(sys.executable).parent / "writing-rl"  # the console script pip installed beside this Python


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``writing-rl ARGS`` as a user types it (the source tree first on PYTHONPATH, as everywhere in the tests)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUDGE_", "OPENAI", "DASHSCOPE"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "writing_rl.cli.main"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=180)


def test_version_prints_the_package_version() -> None:
    out = run("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"writing-rl {writing_rl.__version__}"


@pytest.mark.parametrize("command", [
    ["judge"], ["judge", "audit"], ["index", "create"], ["index", "show"], ["index", "plot"], ["data", "build"],
    ["data", "check"], ["preflight"], ["eval", "pairwise"],
])
def test_every_command_documents_the_same_progress_switch(command: list[str]) -> None:
    out = run(*command, "--help")
    assert out.returncode == 0, out.stderr
    assert "--no-progress" in out.stdout


def test_no_progress_is_accepted_where_there_is_no_bar(tmp_path: Path) -> None:
    out = run("index", "create", "--experiment", "e", "--data-num", "2", "--dir", str(tmp_path), "--no-progress")
    assert out.returncode == 0, out.stderr
    out = run("index", "show", str(tmp_path / "index_e.json"), "--json", "--no-progress")
    assert out.returncode == 0 and json.loads(out.stdout)["samples"] == 2
    out = run("data", "check", str(SAMPLE), "--no-progress", "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == []
    assert "tokenizing" not in out.stderr


def test_index_create_json_describes_what_was_written(tmp_path: Path) -> None:
    out = run("index", "create", "--experiment", "e", "--data", str(SAMPLE), "--dir", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    written = tmp_path / "index_e.json"
    assert json.loads(out.stdout) == {"index_file": str(written), "samples": 22, "level": 0, "overwrote": False}
    assert json.loads(written.read_text()) == {str(i): 0 for i in range(22)}
    out = run("index", "create", "--experiment", "e", "--data-num", "3", "--dir", str(tmp_path), "--json", "--force")
    assert json.loads(out.stdout)["overwrote"] is True and len(json.loads(written.read_text())) == 3


@pytest.mark.parametrize("spelling", ["--data-num", "--data_num"])
def test_data_num_has_both_spellings(tmp_path: Path, spelling: str) -> None:
    out = run("index", "create", "--experiment", "e", spelling, "4", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "index_e.json").read_text()) == {"0": 0, "1": 0, "2": 0, "3": 0}
    script = subprocess.run([sys.executable, str(ROOT / "scripts" / "create_index_file.py"), "--experiment", "s",
                             spelling, "2", "--dir", str(tmp_path), "--json"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=180)
    assert script.returncode == 0, script.stderr
    assert json.loads(script.stdout)["samples"] == 2


def test_data_num_below_one_is_one_line_naming_the_option(tmp_path: Path) -> None:
    out = run("index", "create", "--experiment", "e", "--data-num", "0", "--dir", str(tmp_path))
    assert out.returncode == 2 and out.stderr.strip() == "error: --data-num must be at least 1"
    assert not (tmp_path / "index_e.json").exists()

"""Every CLI failure path through the real entry point: one line naming the file, row or setting; no traceback;
no key or URL password in any output or file, even from a server that echoes the request's headers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from writing_rl.testing.fake_judge import FakeJudgeServer, Reply

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
MARKER_KEY = "sk-MARKER16-0f3c9a7e5d1b2468ace0"  # unique: any hit anywhere is a leak
MARKER_PW = "pw-MARKER16-b7d2e9"
# A folder nobody can create files in, even root: sysfs refuses new entries.
UNWRITABLE = Path("/sys/writing_rl_test_out")


def cli(*args: str, cwd: Path, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUDGE_", "OPENAI", "DASHSCOPE"))}
    env.update({"OPENAI_API_KEY": MARKER_KEY, "DASHSCOPE_API_KEY": MARKER_KEY, **env_extra})
    return subprocess.run([sys.executable, "-m", "writing_rl.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=240)


def assert_clean_failure(out: subprocess.CompletedProcess, *needles: str) -> None:
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "Traceback" not in text, text[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr
    assert_no_secret(out.stdout, out.stderr)  # the marker key is in every run's environment


def assert_no_secret(*texts: str, folder: Path | None = None) -> None:
    for text in texts:
        assert MARKER_KEY not in text and MARKER_PW not in text, text[-2000:]
    for path in (folder.rglob("*") if folder else []):
        if path.is_file():
            data = path.read_bytes()
            assert MARKER_KEY.encode() not in data and MARKER_PW.encode() not in data, path


# ----------------------------------------------------------------------------- data build input
@pytest.mark.parametrize("line,needle", [
    ('{"prompt": "a\\ud800b", "references": ["x"]}', "unpaired surrogate"),
    ('{"prompt": "p", "references": ["x"], "n": ' + "[" * 200_000 + "]" * 200_000 + "}", "nested too deeply"),
    ('{"prompt": "p", "references": ["x"], "n": ' + "9" * 5000 + "}", "digits"),
])
def test_data_build_rejects_unreadable_json_with_its_line(tmp_path: Path, line: str, needle: str) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text('{"prompt": "fine", "references": ["r"]}\n' + line + "\n")
    out = cli("data", "build", "--input", str(src), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert_clean_failure(out, "line 2", needle)
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- unwritable destinations
@pytest.fixture
def blocked(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A destination that cannot be created: below a regular file, or in a read-only file system."""
    if request.param == "file-in-the-way":
        (tmp_path / "afile").write_text("x")
        return tmp_path / "afile" / "sub"
    return UNWRITABLE


@pytest.mark.parametrize("blocked", ["file-in-the-way", "read-only"], indirect=True)
def test_writes_into_an_unwritable_place_are_one_line(tmp_path: Path, blocked: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"prompt": "p", "references": ["a", "b"]}\n{"prompt": "q", "references": ["c"]}\n')
    out = cli("data", "build", "--input", str(rows), "--out", str(blocked), cwd=tmp_path)
    assert_clean_failure(out, f"cannot write {blocked}", "--out")
    out = cli("index", "create", "--experiment", "e", "--data_num", "3", "--dir", str(blocked), cwd=tmp_path)
    assert_clean_failure(out, "cannot write", "--dir")
    idx = tmp_path / "idx" / "index_e.json"
    assert cli("index", "create", "--experiment", "e", "--data_num", "3", "--dir", str(idx.parent),
               cwd=tmp_path).returncode == 0
    (tmp_path / "idx" / "index_e.state.json").write_text(json.dumps(
        {"step": 1, "history": [{"step": 1, "histogram": {"0": 3}, "metrics": {}}]}))
    out = cli("index", "plot", str(idx), "--history", "--out", str(blocked / "levels.png"), cwd=tmp_path)
    assert_clean_failure(out, "cannot write", "--out")


# ----------------------------------------------------------------------------- malformed sidecars
SIDECARS = {
    "list": ("[]", "must be a JSON object, got a list"),
    "null": ("null", "must be a JSON object, got null"),
    "string": ('"steps"', "must be a JSON object, got a string"),
    "max_level-list": ('{"step": 2, "max_level": [2, 2]}', "'max_level' must be an object"),
    "history-malformed": ('{"step": 2, "history": [3, {"step": "x", "histogram": []}]}', "'history' has 2 malformed"),
    "history-object": ('{"history": {"step": 1}}', "'history' must be a list"),
    "not-json": ("{step: 1", "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(SIDECARS))
def test_malformed_sidecar_is_named_by_show_and_plot_and_ignored_by_the_owner(
        tmp_path: Path, case: str,
        caplog: pytest.LogCaptureFixture) -> None:
    from writing_rl.curriculum.index_file import create_index
    from writing_rl.curriculum.state import CurriculumConfig, CurriculumState

    text, needle = SIDECARS[case]
    idx = tmp_path / "index_e.json"
    create_index(idx, range(3))
    side = tmp_path / "index_e.state.json"
    side.write_text(text)
    for args in (("index", "show", str(idx)), ("index", "plot", str(idx), "--history")):
        out = cli(*args, cwd=tmp_path)
        assert_clean_failure(out, str(side), needle)
    state = CurriculumState(CurriculumConfig(index_file=str(idx), experiment="e"))  # the owner starts anyway
    assert state.levels == {"0": 0, "1": 0, "2": 0}
    assert any(needle in r.getMessage() for r in caplog.records)
    step = state.last_finalized + 1  # the sound parts are kept (a valid 'step' among them)
    state.level_for(0, step, 2)
    state.record(0, step, "win")
    state.finalize(step)  # and writes a sound sidecar back
    assert json.loads(side.read_text())["step"] == step


# ----------------------------------------------------------------------------- non-UTF-8 index files
def test_non_utf8_index_is_named_by_show_and_preflight(tmp_path: Path) -> None:
    idx = tmp_path / "index_e.json"
    idx.write_bytes(b'{"0": 0, "1": \xff}')
    out = cli("index", "show", str(idx), cwd=tmp_path)
    assert_clean_failure(out, str(idx), "not valid UTF-8")
    out = cli("preflight", "--data-dir", str(SAMPLE), "--index-file", str(idx), "--skip-judge", cwd=tmp_path)
    text = out.stdout + out.stderr
    assert out.returncode == 1 and "Traceback" not in text
    assert f"{idx} is not valid UTF-8" in out.stdout and "FAIL" in out.stdout


# ----------------------------------------------------------------------------- servers that echo the key
@pytest.fixture
def echo_server() -> FakeJudgeServer:
    with FakeJudgeServer() as srv:
        yield srv


@pytest.mark.parametrize("backend,creds,status", [
    *[("openai", "key", s) for s in (400, 401, 403, 404, 500)],
    *[("openai", "url-password", s) for s in (401, 500)],
    *[("dashscope", "key", s) for s in (400, 401, 403, 404, 500)],
])
def test_judge_errors_never_print_an_echoed_key(tmp_path: Path, echo_server: FakeJudgeServer, status: int,
                                                 backend: str, creds: str) -> None:
    seen: list[str] = []

    def script(req):
        seen.append(req.headers.get("Authorization", ""))
        return Reply(status=status, echo_headers=True)

    echo_server.script = script
    for name, text in (("q.txt", "Write a haiku."), ("ref.txt", "A haiku."), ("resp.txt", "Another haiku.")):
        (tmp_path / name).write_text(text)
    url = echo_server.base_url if backend == "openai" else echo_server.dashscope_url
    pw_url = url.replace("http://", f"http://judge:{MARKER_PW}@") if creds == "url-password" else url
    out = cli("judge", "--question-file", "q.txt", "--reference-file", "ref.txt", "--response-file", "resp.txt",
              "--json", cwd=tmp_path, JUDGE_BASE_URL=pw_url, JUDGE_MODEL="fake-judge", JUDGE_BACKEND=backend,
              JUDGE_MAX_RETRIES="0", JUDGE_TIMEOUT="5")
    assert out.returncode != 0 and "Traceback" not in out.stdout + out.stderr, out.stderr
    # the credential was sent (the key, or the URL's user and password as Basic auth), and the body repeated it
    assert seen and (MARKER_KEY in seen[0] if creds == "key" else seen[0].startswith("Basic "))
    assert_no_secret(out.stdout, out.stderr, folder=tmp_path)
    assert "Unclosed client session" not in out.stderr


def test_preflight_fail_row_and_config_row_hold_no_secret(tmp_path: Path, echo_server: FakeJudgeServer) -> None:
    echo_server.script = lambda req: Reply(status=401, echo_headers=True)
    idx = tmp_path / "index_e.json"
    from writing_rl.curriculum.index_file import create_index

    create_index(idx, range(22))
    pw_url = echo_server.base_url.replace("http://", f"http://judge:{MARKER_PW}@")
    for fmt in ((), ("--json",)):
        out = cli("preflight", "--data-dir", str(SAMPLE), "--index-file", str(idx), *fmt, cwd=tmp_path,
                  JUDGE_BASE_URL=pw_url, JUDGE_MODEL="fake-judge")
        assert out.returncode == 1 and "rejected the API key" in out.stdout, out.stdout + out.stderr
        assert "Traceback" not in out.stderr
        assert_no_secret(out.stdout, out.stderr)
    bad_pool = f"http://judge:{MARKER_PW}@127.0.0.1:1/v1#x"
    out = cli("preflight", "--data-dir", str(SAMPLE), "--index-file", str(idx), cwd=tmp_path,
              JUDGE_BASE_URL=bad_pool, JUDGE_MODEL="fake-judge")
    assert out.returncode == 1 and "capacity after '#'" in out.stdout
    assert_no_secret(out.stdout, out.stderr)


def test_eval_reports_and_logs_hold_no_echoed_key(tmp_path: Path, echo_server: FakeJudgeServer) -> None:
    calls = {"n": 0}

    def script(req):  # a 5xx whose body repeats the headers: retried, then recorded as a failure
        calls["n"] += 1
        assert MARKER_KEY in req.headers.get("Authorization", "")
        return Reply(status=503, echo_headers=True)

    echo_server.script = script
    rows = [{"id": i, "prompt": f"Write about {w}.", "response": f"A text about {w}."}
            for i, w in enumerate(["rain", "snow"])]
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows))
    b.write_text("".join(json.dumps({**r, "response": r["response"] + " More."}) + "\n" for r in rows))
    out = cli("eval", "pairwise", "--a", str(a), "--b", str(b), "--out", str(tmp_path / "run"), "--no-progress",
              "--bootstrap", "100", cwd=tmp_path, JUDGE_BASE_URL=echo_server.base_url, JUDGE_MODEL="fake-judge",
              JUDGE_MAX_RETRIES="1", JUDGE_TIMEOUT="5")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert calls["n"] >= 4
    assert (tmp_path / "run" / "report.json").is_file() and (tmp_path / "run" / "judgments.jsonl").is_file()
    assert "HTTP 503" in (tmp_path / "run" / "report.md").read_text()
    assert_no_secret(out.stdout, out.stderr, folder=tmp_path)
    assert "Unclosed client session" not in out.stderr
    # a 401 (here to a URL with a password, sent as Basic auth) stops the run with one line, nothing secret written
    echo_server.script = lambda req: Reply(status=401, echo_headers=True)
    pw_url = echo_server.base_url.replace("http://", f"http://judge:{MARKER_PW}@")
    out = cli("eval", "pairwise", "--a", str(a), "--b", str(b), "--out", str(tmp_path / "run2"), "--no-progress",
              cwd=tmp_path, JUDGE_BASE_URL=pw_url, JUDGE_MODEL="fake-judge", JUDGE_MAX_RETRIES="0")
    assert_clean_failure(out, "rejected the API key")
    assert_no_secret(out.stdout, out.stderr, folder=tmp_path)


def test_select_errors_and_reports_hold_no_echoed_key(tmp_path: Path, echo_server: FakeJudgeServer) -> None:
    echo_server.script = lambda req: Reply(status=500, echo_headers=True)
    (tmp_path / "in.jsonl").write_text('{"query": "Write a short poem about tea."}\n')
    pw_url = echo_server.base_url.replace("http://", f"http://judge:{MARKER_PW}@")
    (tmp_path / "models.yaml").write_text(
        f"policy: {{name: pol, model: fake-judge, base_url: '{pw_url}'}}\n"
        f"competitors:\n  - {{name: comp, model: fake-judge, base_url: '{pw_url}'}}\n"
        f"judge: {{name: jdg, model: fake-judge, base_url: '{pw_url}'}}\n")
    out = cli("select", "run", "--input", "in.jsonl", "--models", "models.yaml", "--work-dir", "sel", "--k", "1",
              "--quiet", cwd=tmp_path, JUDGE_MAX_RETRIES="0")
    assert "Traceback" not in out.stdout + out.stderr, out.stderr[-2000:]
    assert (tmp_path / "sel").is_dir()
    assert_no_secret(out.stdout, out.stderr, folder=tmp_path / "sel")
    echo_server.script = lambda req: Reply(status=403, echo_headers=True)
    out = cli("select", "run", "--input", "in.jsonl", "--models", "models.yaml", "--work-dir", "sel2", "--k", "1",
              "--quiet", cwd=tmp_path)
    assert_clean_failure(out, "refused access")
    assert_no_secret(out.stdout, out.stderr, folder=tmp_path / "sel2")


def test_a_bug_is_still_one_line(tmp_path: Path) -> None:
    """The last-resort handler: an unexpected exception prints one line (the traceback only on request)."""
    code = ("import sys; from writing_rl.cli import main as m; "
            "m.SUBCOMMANDS.append('x'); import types; mod = types.ModuleType('writing_rl.cli.x'); "
            "mod.register = lambda sub: sub.add_parser('boom').set_defaults(func=lambda a: 1 / 0); "
            "sys.modules['writing_rl.cli.x'] = mod; sys.exit(m.main(['boom']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and "unexpected ZeroDivisionError" in out.stderr

"""`writing-rl select` end to end against loopback servers playing the models and the judge:
the hand-checked selection, failures and malformed scores, real WritingBench criteria, budgets,
resumption after SIGKILL in the middle of generate and of score (calls counted at the server),
clear errors, and output that `writing-rl data check` accepts."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from writing_rl.cli import data_cmd
from writing_rl.cli.select_cmd import main
from writing_rl.data.check import check_dataset
from writing_rl.selection.loopback import Players, graded, is_scoring
from writing_rl.selection.pipeline import cache_at
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply, ScriptRequest

KEY = "sk-test-selection-0123456789abcdef"
# Hand-checked example: (policy, comp-a, comp-b) scores per instruction.
TABLE = {
    "Write about rivers.": (4, 7, 5),      # p = 3, best 7
    "Write about bridges.": (6, 6, 8),     # p = 2, best 8
    "Write about glaciers.": (2, 3, 4),    # best 4 < 5: too hard
    "Write about deserts.": (3, 6, 5),     # p = 3, best 6: after rivers
    "Write about harbours.": (7, 7, 9),    # p = 2, best 9: before bridges
    "Write about orchards.": (8, 7, 6),    # p = -1
}
MODELS = ("pol", "comp-a", "comp-b")


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("JUDGE_MAX_RETRIES", "2")
    monkeypatch.delenv("JUDGE_MODEL", raising=False)
    monkeypatch.delenv("JUDGE_BASE_URL", raising=False)


def table_score(model: str, prompt: str, keys: list[str]) -> int:
    return TABLE[prompt][MODELS.index(model)]


def write_inputs(d: Path, prompts: list[str] | None = None) -> Path:
    f = d / "in.jsonl"
    prompts = prompts if prompts is not None else list(TABLE)
    f.write_text("".join(json.dumps({"id": f"q{i}", "prompt": p}) + "\n" for i, p in enumerate(prompts)))
    return f


def write_models(d: Path, url: str, extra: str = "", dashscope_url: str | None = None) -> Path:
    """pol, comp-a and comp-b (served by DashScope with its own key variable when ``dashscope_url``)."""
    f = d / "models.yaml"
    extra = ", backoff_base_s: 0.01, backoff_max_s: 0.05" + extra
    entry = "{{name: {0}, model: {0}, base_url: '{1}'{2}}}"
    comp_b = entry.format("comp-b", dashscope_url or url, extra + (
        ", backend: dashscope, api_key_env: SEL_TEST_DS_KEY" if dashscope_url else ""))
    f.write_text(f"policy: {entry.format('pol', url, extra)}\ncompetitors:\n"
                 f"  - {entry.format('comp-a', url, extra)}\n  - {comp_b}\n"
                 f"judge: {{model: judge, base_url: '{url}', backoff_base_s: 0.01, backoff_max_s: 0.05}}\n")
    return f


def args(d: Path, *more: str) -> list[str]:
    return ["--input", str(d / "in.jsonl"), "--models", str(d / "models.yaml"), "--work-dir", str(d / "wd"),
            "--quiet", *more]


def fast(**kw: object) -> str:
    return "".join(f", {k}: {v}" for k, v in kw.items())


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def data_check_cli(data_dir: Path) -> int:
    p = argparse.ArgumentParser()
    data_cmd.register(p.add_subparsers(dest="command"))
    a = p.parse_args(["data", "check", str(data_dir)])
    return a.func(a)


# ------------------------------------------------------------------------------------------ end to end
def test_run_selects_the_hand_checked_top_k_and_builds_checked_data(tmp_path: Path, capsys) -> None:
    with FakeJudgeServer(Players(table_score)) as srv:
        write_inputs(tmp_path)
        write_models(tmp_path, srv.base_url)
        rc = main(["run", *args(tmp_path, "--k", "3", "--build", str(tmp_path / "data"), "--test-size", "1")])
        assert rc == 0, capsys.readouterr().err
        assert srv.count == 18 + 18  # 6 instructions x 3 models, generated then scored, once each
    wd = tmp_path / "wd"
    report = json.loads((wd / "report.json").read_text())
    assert [(s["id"], s["p"], s["best_model"]) for s in report["selected"]] == [
        ("q0", 3.0, "comp-a"), ("q3", 3.0, "comp-a"), ("q4", 2.0, "comp-b")]
    assert report["not_selected"] == [{"id": "q1", "p": 2.0}, {"id": "q5", "p": -1.0}]
    assert [d["id"] for d in report["dropped"]["too_hard"]] == ["q2"]
    assert report["counts"]["dropped"] == {"failed": 0, "incomplete": 0, "too_hard": 1}
    assert report["scores_by_model"]["pol"]["mean"] == pytest.approx(30 / 6)
    md = (wd / "report.md").read_text()
    assert "| 1 | q0 | 3.000 | 7.000 | comp-a | 4.000 |" in md and "`q2`: best competitor score 4.00" in md
    assert (wd / "p_histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = lines(wd / "selected.jsonl")
    assert [r["id"] for r in rows] == ["q0", "q3", "q4"]
    assert rows[0]["reference_models"] == ["pol", "comp-b", "comp-a"] and rows[0]["reference_scores"] == [4, 5, 7]
    assert rows[0]["references"][0] == "[[by pol]] Write about rivers."
    assert rows[2]["reference_models"] == ["pol", "comp-a", "comp-b"]  # comp-a ties the policy at 7: kept
    assert check_dataset(tmp_path / "data") == []
    assert data_check_cli(tmp_path / "data") == 0
    out = capsys.readouterr().out
    assert "selected 3 of 6 instructions" in out and "| generate | 1 | 18 | 0 | 18 | 0 | 0 | 18 |" in out
    # the key is never written anywhere in the work dir or the data
    for f in [*wd.iterdir(), *(tmp_path / "data").iterdir()]:
        assert KEY.encode() not in f.read_bytes(), f


def test_stages_one_by_one_reuse_the_caches_and_no_keep_policy(tmp_path: Path, capsys) -> None:
    with FakeJudgeServer(Players(table_score)) as srv:
        write_inputs(tmp_path)
        write_models(tmp_path, srv.base_url)
        assert main(["generate", *args(tmp_path)]) == 0 and srv.count == 18
        # later stages take --input/--models from the work dir
        wd = ["--work-dir", str(tmp_path / "wd"), "--no-progress"]
        capsys.readouterr()
        assert main(["score", *wd, "--json"]) == 0 and srv.count == 36
        assert json.loads(capsys.readouterr().out)["stages"]["score"]["done"] == 18
        assert main(["generate", *wd]) == 0 and main(["score", *wd]) == 0 and srv.count == 36  # all cached
        assert main(["select", *wd, "--k", "2", "--min-best-score", "8.5"]) == 0
        assert main(["emit", *wd, "--no-keep-policy-reference"]) == 0
    rows = lines(tmp_path / "wd" / "selected.jsonl")
    assert [r["id"] for r in rows] == ["q4"]  # only harbours has a competitor >= 8.5
    assert rows[0]["reference_models"] == ["comp-a", "comp-b"] and rows[0]["reference_scores"] == [7, 9]
    stages = json.loads((tmp_path / "wd" / "stages.json").read_text())
    assert stages["generate"]["runs"] == 2 and stages["generate"]["calls"] == 18


def test_failed_and_malformed_scores_are_retried_reported_and_never_guessed(tmp_path: Path) -> None:
    seen: Counter = Counter()

    def score(model: str, prompt: str, keys: list[str]) -> int | dict | Reply:
        seen[(model, prompt)] += 1
        if prompt == "Write about bridges." and model == "comp-b":
            return {k: 11 for k in keys}  # always out of range
        if prompt == "Write about rivers." and model == "pol" and seen[(model, prompt)] == 1:
            return Reply(text="Looks fine to me, I'd say 8/10.")  # malformed once, then fine
        if prompt == "Write about deserts." and model == "comp-a":
            return Reply(status=503)  # the judge keeps failing
        return table_score(model, prompt, keys)

    def script(req: ScriptRequest) -> Reply:
        if not is_scoring(req) and req.model == "comp-b" and "harbours" in req.prompt:
            return Reply(text="<think>I will write about harbours</think>")  # empty without reasoning
        return Players(score)(req)

    with FakeJudgeServer(script) as srv:
        write_inputs(tmp_path)
        write_models(tmp_path, srv.base_url)
        assert main(["run", *args(tmp_path, "--k", "6", "--parse-retries", "2")]) == 0
        judge = Counter(graded(r)[:2] for r in map(_as_request, srv.records) if r is not None)
    assert judge[("comp-b", "Write about bridges.")] == 3  # 1 + 2 re-asks, then recorded as failed
    assert judge[("pol", "Write about rivers.")] == 2
    assert judge[("comp-a", "Write about deserts.")] == 3  # the client's 1 + JUDGE_MAX_RETRIES=2 attempts
    report = json.loads((tmp_path / "wd" / "report.json").read_text())
    failed = {d["id"]: " ".join(d["details"]) for d in report["dropped"]["failed"]}
    assert set(failed) == {"q1", "q3", "q4"}
    assert "score of comp-b failed" in failed["q1"] and "outside 1..10" in failed["q1"]
    assert "score of comp-a failed" in failed["q3"] and "HTTP 503" in failed["q3"]
    assert "generation by comp-b failed: empty response" in failed["q4"]
    assert [s["id"] for s in report["selected"]] == ["q0", "q5"]  # q0 recovered after one re-ask
    assert report["usage"]["scoring"]["comp-b"]["failed"] == 1
    scores = cache_at(tmp_path / "wd" / "scores.jsonl")
    bad = scores.get("q1", "comp-b")
    assert bad["ok"] is False and bad["score"] is None and bad["scores"] is None and len(bad["problems"]) == 3

    # a rerun retries only what failed; the judge has recovered this time
    with FakeJudgeServer(Players(table_score)) as srv2:
        write_models(tmp_path, srv2.base_url)
        assert main(["run", *args(tmp_path, "--k", "6")]) == 0
        asked = Counter((r.model, "score" if "<<<ANSWER R" in r.prompt else "gen") for r in srv2.records)
    assert asked == Counter({("comp-b", "gen"): 1, ("judge", "score"): 3})  # q4/comp-b, then its score + 2 fails
    report = json.loads((tmp_path / "wd" / "report.json").read_text())
    assert report["counts"]["dropped"]["failed"] == 0 and len(report["selected"]) == 5


def _as_request(rec) -> ScriptRequest | None:
    if rec.model != "judge":
        return None
    body = {"messages": [{"role": "user", "content": rec.prompt}], "model": rec.model}
    return ScriptRequest(rec.index, rec.path, "openai", body, {})


def test_writingbench_rows_are_scored_against_their_own_checklist(
    tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real WritingBench rows (Chinese and English), with one competitor served over DashScope."""
    src = [json.loads(x) for x in (shared_data / "writingbench_length_dev.jsonl").read_text().splitlines()[:4]]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in src))
    by_query = {r["query"]: r for r in src}
    checked = []

    def score(model: str, prompt: str, keys: list[str]) -> dict:
        row = by_query[prompt]
        assert keys == ["c1", "c2", "c3", "c4", "c5"]
        checked.append(row["index"])
        base = {"pol": 3, "comp-a": 6, "comp-b": 8}[model]
        return {k: base + (i % 2) for i, k in enumerate(keys)}  # mean base + 0.4

    def script(req: ScriptRequest) -> Reply:
        if is_scoring(req):
            _, prompt, _ = graded(req)
            for c in by_query[prompt]["checklist"]:  # every criterion and its 9-10 band reach the judge
                if c["name"] not in req.prompt or c["9-10"] not in req.prompt:
                    return Reply(text='{"scores": {}}')
        return Players(score)(req)

    monkeypatch.setenv("SEL_TEST_DS_KEY", "ds-test-key")
    with FakeJudgeServer(script) as srv:
        write_models(tmp_path, srv.base_url, dashscope_url=srv.dashscope_url)
        rc = main(["run", *args(tmp_path, "--k", "2", "--build", str(tmp_path / "data"))])
        assert rc == 0
        assert Counter(r.path for r in srv.records)["/api/v1/services/aigc/text-generation/generation"] == 4
    assert sorted(checked) == sorted([r["index"] for r in src] * 3)
    rows = lines(tmp_path / "wd" / "selected.jsonl")
    assert len(rows) == 2
    for r in rows:
        original = by_query[r["prompt"]]
        assert r["id"] == original["index"] and r["criteria"] == original["checklist"]
        assert r["reference_scores"] == [3.4, 6.4, 8.4]
    assert check_dataset(tmp_path / "data") == []


# ------------------------------------------------------------------------------------------ budgets and errors
def test_max_calls_stops_cleanly_and_a_rerun_finishes_without_paying_twice(tmp_path: Path, capsys) -> None:
    with FakeJudgeServer(Players(table_score)) as srv:
        write_inputs(tmp_path)
        write_models(tmp_path, srv.base_url)
        assert main(["run", *args(tmp_path, "--k", "3", "--max-calls", "7", "--concurrency", "3")]) == 3
        err = capsys.readouterr().err
        assert "generate stopped: --max-calls 7 reached; 11 items left" in err
        assert srv.count == 7 and len(cache_at(tmp_path / "wd" / "responses.jsonl").entries) == 7
        assert not (tmp_path / "wd" / "report.json").exists()  # no selection from half the data
        assert main(["run", *args(tmp_path, "--k", "3", "--max-calls", "20")]) == 3  # 11 generations + 9 scores
        assert srv.count == 27
        assert main(["run", *args(tmp_path, "--k", "3")]) == 0
        assert srv.count == 36  # every pair generated once and scored once overall


def test_max_cost_never_exceeded(tmp_path: Path) -> None:
    with FakeJudgeServer(Players(table_score)) as srv:
        write_inputs(tmp_path)
        # generation: at most ~ (prompt chars / 2) + max_tokens = ~110 tokens per call, at $1 per 1k tokens
        write_models(tmp_path, srv.base_url, fast(max_tokens=100, price_per_1k_prompt=1, price_per_1k_completion=1))
        assert main(["generate", *args(tmp_path, "--max-cost", "0.5")]) == 3
        spent = sum(r["cost"] for r in lines(tmp_path / "wd" / "responses.jsonl"))
        assert 0 < spent <= 0.5 and 0 < srv.count < 18


@pytest.mark.parametrize("case", ["missing-input", "key-in-file", "no-key", "unknown-model", "no-k"])
def test_user_errors_are_one_line_and_make_no_calls(tmp_path: Path, capsys, monkeypatch, case: str) -> None:
    def script(req: ScriptRequest) -> Reply:
        return Reply(status=404) if req.model == "comp-b" else Players(table_score)(req)

    with FakeJudgeServer(script) as srv:
        write_inputs(tmp_path)
        models = write_models(tmp_path, srv.base_url.replace("127.0.0.1", "localhost.invalid")
                              if case == "no-key" else srv.base_url)
        argv = ["run", *args(tmp_path, "--k", "2", "--concurrency", "1")]
        if case == "missing-input":
            (tmp_path / "in.jsonl").unlink()
        elif case == "key-in-file":
            models.write_text(models.read_text().replace("name: pol,", f"name: pol, api_key: {KEY},"))
        elif case == "no-key":
            monkeypatch.delenv("OPENAI_API_KEY")
        elif case == "no-k":
            argv = ["select", *args(tmp_path, "--k", "0")]
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
        expected = {"missing-input": "input file", "key-in-file": "field 'api_key' is not allowed",
                    "no-key": "policy 'pol' (model 'pol'): OPENAI_API_KEY is not set",
                    "unknown-model": "competitor 'comp-b' (model 'comp-b')", "no-k": "--k must be"}[case]
        assert expected in err and KEY not in err
        if case == "unknown-model":  # stops at the first 404 (q0 by comp-b); what finished before it is kept
            assert srv.count == 3
            assert set(cache_at(tmp_path / "wd" / "responses.jsonl").entries) == {("q0", "pol"), ("q0", "comp-a")}
        else:
            assert srv.count == 0


# ------------------------------------------------------------------------------------------ resumption
def _spawn(argv: list[str]) -> subprocess.Popen:
    code = "import sys; from writing_rl.cli.select_cmd import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *argv], env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_mid_stage(tmp_path: Path, stage: str, kill_after: int) -> None:
    """Run ``stage`` in a subprocess, SIGKILL it when the server receives request ``kill_after``
    of that stage, rerun it, and check every (instruction, model) item was paid for exactly once."""
    state = {"pid": 0, "seen": 0}
    run = {"n": 1}
    asked: list[tuple[int, str, str]] = []

    def script(req: ScriptRequest) -> Reply:
        scoring = is_scoring(req)
        if scoring == (stage == "score"):
            item = graded(req)[:2] if scoring else (req.model, req.body["messages"][-1]["content"])
            asked.append((run["n"], *item))
            state["seen"] += 1
            if run["n"] == 1 and state["seen"] == kill_after:
                assert state["pid"] > 0  # never os.kill(0, ...): that would signal our own process group
                os.kill(state["pid"], signal.SIGKILL)
                return Reply(text="never delivered", delay_s=0.2)
        return Players(lambda model, *_: {"pol": 4, "comp-a": 6, "comp-b": 7}[model], delay_s=0.01)(req)

    prompts = [f"Write about topic {i}." for i in range(8)]
    with FakeJudgeServer(script) as srv:
        write_inputs(tmp_path, prompts)
        write_models(tmp_path, srv.base_url)
        if stage == "score":
            assert main(["generate", *args(tmp_path)]) == 0
        proc = _spawn([stage, *args(tmp_path, "--concurrency", "3")])
        state["pid"] = proc.pid
        assert proc.wait(60) == -signal.SIGKILL
        cache_path = tmp_path / "wd" / ("responses.jsonl" if stage == "generate" else "scores.jsonl")
        recorded = set(cache_at(cache_path).entries)
        first = [a for a in asked if a[0] == 1]
        assert 0 < len(recorded) < 24 and len(first) >= kill_after
        with cache_path.open("ab") as f:  # and a line torn by the kill, for good measure
            f.write(b'{"id": "q7", "model": "comp-b", "ok": tr')
        run["n"] = 2
        proc = _spawn([stage, *args(tmp_path, "--concurrency", "3")])
        assert proc.wait(60) == 0, proc.stderr.read().decode() if proc.stderr else ""
    second = [(m, p) for n, m, p in asked if n == 2]
    ids = {p: f"q{i}" for i, p in enumerate(prompts)}
    assert len(second) == 24 - len(recorded)  # exactly the items without a record, nothing paid twice
    assert not {(ids[p], m) for m, p in second} & recorded
    assert len(set(second)) == len(second)
    final = cache_at(cache_path)
    assert len(final.entries) == 24 and all(r["ok"] for r in final.entries.values())
    assert all(json.loads(x) for x in cache_path.read_text().splitlines())  # the torn line was cut off


def test_resume_after_kill_in_the_middle_of_generate(tmp_path: Path) -> None:
    _kill_mid_stage(tmp_path, "generate", kill_after=10)


def test_resume_after_kill_in_the_middle_of_score(tmp_path: Path) -> None:
    _kill_mid_stage(tmp_path, "score", kill_after=12)


def test_a_changed_instruction_is_regenerated_and_rescored(tmp_path: Path) -> None:
    with FakeJudgeServer(Players(table_score)) as srv:
        write_inputs(tmp_path)
        write_models(tmp_path, srv.base_url)
        assert main(["run", *args(tmp_path, "--k", "3")]) == 0
        prompts = list(TABLE)[:6]
        prompts[2] = "Write about deserts."  # q2 now asks what q3 asks
        write_inputs(tmp_path, prompts)
        srv.reset()
        assert main(["run", *args(tmp_path, "--k", "3")]) == 0
        assert srv.count == 6  # q2: 3 generations + 3 scores; everything else from the caches
    report = json.loads((tmp_path / "wd" / "report.json").read_text())
    assert [s["id"] for s in report["selected"]] == ["q0", "q2", "q3"]  # q2 now scores like q3


def test_a_changed_model_entry_is_regenerated_under_the_same_name(tmp_path: Path) -> None:
    def score(model: str, prompt: str, keys: list[str]) -> int:
        return table_score("comp-a" if model == "comp-a-v2" else model, prompt, keys)

    with FakeJudgeServer(Players(score)) as srv:
        write_inputs(tmp_path)
        models = write_models(tmp_path, srv.base_url)
        assert main(["run", *args(tmp_path, "--k", "3")]) == 0
        models.write_text(models.read_text().replace("name: comp-a, model: comp-a,", "name: comp-a, model: comp-a-v2,"))
        srv.reset()
        assert main(["run", *args(tmp_path, "--k", "3")]) == 0
        assert Counter(r.model for r in srv.records) == {"comp-a-v2": 6, "judge": 6}
    rows = lines(tmp_path / "wd" / "selected.jsonl")
    assert rows[0]["references"][-1] == "[[by comp-a-v2]] Write about rivers."

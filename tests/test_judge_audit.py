"""`writing-rl judge audit` against the loopback judge with scripted behaviors: it measures what was scripted."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from writing_rl.cli.main import main
from writing_rl.data.build import build_dataset
from writing_rl.judge.text import neutralize
from writing_rl.testing.fake_judge import (
    FakeJudgeServer,
    accurate_judge,
    answer_block,
    first_answer_judge,
    flaky_judge,
    level_text,
    longer_answer_judge,
)

from .conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
KEY = "sk-test-audit-000000000000000000"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def judge_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JUDGE_BASE_URL", "JUDGE_MODEL", "API_PARALLEL", "REWARD_STRATEGY", "TRAIN_BATCH_SIZE", "ROLLOUT_N",
                 "ALGO", "PRESET", "TOTAL_EPOCHS", "JUDGE_PRICE_INPUT", "JUDGE_PRICE_CACHED_INPUT",
                 "JUDGE_PRICE_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def ladder_rows(n: int, levels: int = 3) -> list[dict]:
    """Rows whose references carry their level; even rows grow longer with quality, odd rows shorter."""
    rows = []
    for i in range(n):
        refs = []
        for k in range(levels):
            size = (k + 1) if i % 2 == 0 else (levels - k)
            body = f"Harbour morning {i}, draft {k}. " + "Gulls wheel over the cold quay. " * 8 * size
            refs.append(level_text(k, body))
        rows.append({"id": i, "prompt": f"Describe a harbour at dawn, take {i}.", "references": refs,
                     "reference_scores": [float(k) for k in range(levels)]})
    return rows


@pytest.fixture
def ladder_dir(tmp_path: Path) -> Path:
    build_dataset(ladder_rows(40), tmp_path / "data")
    return tmp_path / "data"


def audit(capsys: pytest.CaptureFixture, data: Path, srv: FakeJudgeServer, out: Path, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    rc = main(["judge", "audit", "--data", str(data), "--base-url", srv.base_url, "--model", "fake-judge",
               "--out", str(out), "--no-progress", "--json", *extra])
    printed = capsys.readouterr()
    assert KEY not in printed.out + printed.err
    if rc == 2:
        return rc, {"error": printed.err}
    assert json.loads(printed.out)["headline"] == json.loads((out / "report.json").read_text())["headline"]
    return rc, json.loads((out / "report.json").read_text())


def within_ci(h: dict, metric: str, value: float) -> bool:
    return h[f"{metric} ci95 low"] - 1e-9 <= value <= h[f"{metric} ci95 high"] + 1e-9


# ------------------------------------------------------------------------------------------ scripted judges
def test_a_judge_that_always_picks_the_first_answer(tmp_path, ladder_dir, capsys):
    with FakeJudgeServer(first_answer_judge()) as srv:
        rc, rep = audit(capsys, ladder_dir, srv, tmp_path / "run")
        assert srv.count == 240  # 40 rows x 3 pairs x 2 orders
    h = rep["headline"]
    assert h["pairs"] == 120 and h["judgments"] == 240 and h["failed"] == 0
    assert h["first_position_share"] == 100.0 and within_ci(h, "first_position_share", 100.0)
    assert h["flip_rate"] == 100.0 and within_ci(h, "flip_rate", 100.0)
    assert h["ladder_accuracy"] == 50.0 and within_ci(h, "ladder_accuracy", 50.0)
    assert rep["position"]["flip_matrix"]["stronger"]["weaker"] == 120
    acc = rep["position"]["accuracy_by_stronger_position"]
    assert acc["first"]["stronger"] == 100.0 and acc["second"]["stronger"] == 0.0
    assert rep["position"]["strategies"]["position-disadvantage"]["win_if_stronger"] == 0.0
    assert rc == 1 and h["verdict"] == "blocks"
    line = rep["verdict"]["line"]
    assert line.startswith("BLOCKS training") and "ladder accuracy 50.0% < 60%" in line
    assert "flip rate 100.0% > 40%" in line


def test_a_judge_that_picks_the_longer_answer(tmp_path, ladder_dir, capsys):
    with FakeJudgeServer(longer_answer_judge()) as srv:
        rc, rep = audit(capsys, ladder_dir, srv, tmp_path / "run")
    h = rep["headline"]
    assert h["longer_wins_share"] == 100.0 and within_ci(h, "longer_wins_share", 100.0)
    assert rep["length"]["all"]["n"] == 240
    # where the longer text is the weaker one (the odd rows), it still wins every time
    assert h["longer_weaker_wins_share"] == 100.0 and within_ci(h, "longer_weaker_wins_share", 100.0)
    assert rep["length"]["longer_is_weaker"]["n"] == 120
    # the stronger reference is the longer one in the even rows only: half the pairs
    assert h["ladder_accuracy"] == 50.0 and within_ci(h, "ladder_accuracy", 50.0)
    assert h["flip_rate"] == 0.0 and h["first_position_share"] == 50.0 and within_ci(h, "first_position_share", 50.0)
    assert "weaker-but-longer wins 100.0% > 50%" in rep["verdict"]["line"] and rc == 1


def test_a_judge_that_is_right_80_percent_of_the_time(tmp_path, ladder_dir, capsys):
    with FakeJudgeServer(accurate_judge(0.8)) as srv:
        rc, rep = audit(capsys, ladder_dir, srv, tmp_path / "run")
    h = rep["headline"]
    assert math.isclose(h["ladder_accuracy"], 80.0) and within_ci(h, "ladder_accuracy", 80.0)
    assert h["ladder_accuracy ci95 low"] > 65 and h["ladder_accuracy ci95 high"] < 90  # 50 and 100 are ruled out
    assert h["tie_rate"] == 0.0 and h["failed"] == 0
    for d in ("1", "2"):
        assert rep["ladder"]["by_distance"][d]["n"] == (160 if d == "1" else 80)
    # the wrong answers fall on random orders, so the flip rate is near 2 * 0.8 * 0.2 = 32%
    assert 15 < h["flip_rate"] < 50
    assert rc == 0 and h["verdict"] in ("ok", "weakens")


def test_a_judge_that_fails_10_percent_of_calls_and_resuming(tmp_path, ladder_dir, capsys):
    out = tmp_path / "run"
    with FakeJudgeServer(flaky_judge(accurate_judge(1.0), 0.1)) as srv:
        rc, rep = audit(capsys, ladder_dir, srv, out)
    h = rep["headline"]
    assert h["failure_rate"] == 10.0 and within_ci(h, "failure_rate", 10.0) and h["failed"] == 24
    assert rep["reliability"]["failures_by_reason"] == {"no verdict line": 24}
    assert h["ladder_accuracy"] == 100.0 and rep["ladder"]["overall"]["n"] == 216  # failures never count as verdicts
    assert len(rep["failures"]) == 24 and "VERDICT" in rep["failures"][0]["error"]
    assert "failure rate 10.0% > 5%" in rep["verdict"]["line"]
    md = (out / "report.md").read_text()
    assert "## Failures (24)" in md and "| no verdict line | 24 |" in md
    # a rerun with the same --out judges only the 24 failures; every call made still counts
    with FakeJudgeServer(flaky_judge(accurate_judge(1.0), 0.1)) as srv:
        rc, rep = audit(capsys, ladder_dir, srv, out)
        assert srv.count == 24
    h = rep["headline"]
    assert h["judgments"] == 264 and h["failed"] == 24 + 2 and len(rep["failures"]) == 2
    assert rep["stats"]["cached"] == 216 and rep["ladder"]["overall"]["n"] == 238


# ------------------------------------------------------------------------------------------ data
def test_sample_data_report_charts_and_compare(tmp_path, capsys):
    levels = {}  # the judge reads each reference as the prompt shows it (a "Verdict:" in a review is defused)
    for rm in pd.read_parquet(SAMPLE / "train.parquet")["reward_model"]:
        for k, text in enumerate(rm["ground_truth"]["target"]):
            levels[neutralize(text).strip()] = k
    perfect = accurate_judge(1.0, level_of=lambda t: levels.get(t.strip()))
    with FakeJudgeServer(perfect) as srv:
        rc, good = audit(capsys, SAMPLE, srv, tmp_path / "good", "--train-batch-size", "4", "--rollout-n", "8")
        criteria_prompts = sum("Criteria for this request" in r.prompt for r in srv.records)
    with FakeJudgeServer(first_answer_judge()) as srv:
        audit(capsys, SAMPLE, srv, tmp_path / "bad")
    h = good["headline"]
    assert rc == 0 and h["verdict"] == "ok" and h["ladder_accuracy"] == 100.0 and h["flip_rate"] == 0.0
    assert good["inputs"]["rows"] == 22 and good["inputs"]["pairs"] == 66
    assert set(good["ladder"]["by_distance"]) == {"1", "2"}
    assert good["position"]["recommended"] == "position-disadvantage"
    assert criteria_prompts > 0  # rows with criteria were judged with the criteria template
    cost = good["cost"]
    assert cost["calls_per_step"] == 4 * 8 and cost["steps"] == 2 * (22 // 4)
    assert cost["tokens_per_step"] == pytest.approx(h["tokens_per_judgment"] * 32)
    for name in ("accuracy_by_distance.png", "flip_matrix.png", "latency.png"):
        assert (tmp_path / "good" / name).read_bytes()[:8] == PNG
    md = (tmp_path / "good" / "report.md").read_text()
    assert "# Judge audit: fake-judge" in md and "**Verdict: OK" in md and "![flip_matrix](flip_matrix.png)" in md
    capsys.readouterr()
    assert main(["judge", "audit", "--compare", str(tmp_path / "good"), str(tmp_path / "bad")]) == 0
    text = capsys.readouterr().out
    assert "BLOCKS training" in text and "OK: ladder accuracy 100.0%" in text
    row = next(line for line in text.splitlines() if line.startswith("ladder_accuracy "))
    assert row.split()[1:] == ["100.00", "50.00", "-50.00"]
    assert main(["judge", "audit", "--compare", str(tmp_path / "good"), str(tmp_path / "bad"), "--json"]) == 0
    rows = {r["metric"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["flip_rate"]["diff"] == 100.0


def shared_file(name: str) -> Path:
    for folder in (SHARED_DATA, Path("/work/shared/data")):
        if (folder / name).is_file():
            return folder / name
    pytest.skip(f"{name} is not in ../shared/data beside the checkout")


def test_a_folder_built_from_writingbench_rows(tmp_path, capsys):
    bench = [json.loads(line) for line in shared_file("writingbench_length_dev.jsonl").read_text("utf-8").splitlines()]
    rows = []
    for n, b in enumerate(bench[:30]):
        row = {"query": b["query"], "criteria": b["checklist"], "id": b["index"], "domain1": b["domain1"]}
        if n % 3 == 2:  # a single reference: no ladder
            row["target"] = f"一个参考答案 {b['index']}"
        else:
            row["references"] = [level_text(k, f"{b['domain2']} 参考 {k} " + "字" * (100 * (k + 1))) for k in range(3)]
        rows.append(row)
    src = tmp_path / "wb.jsonl"
    src.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "domain1"}, ensure_ascii=False) + "\n"
                           for r in rows), encoding="utf-8")
    assert main(["data", "build", "--input", str(src), "--out", str(tmp_path / "wb")]) == 0
    with FakeJudgeServer(accurate_judge(0.8)) as srv:
        rc, rep = audit(capsys, tmp_path / "wb", srv, tmp_path / "run", "--samples", "100")
        checklist = bench[0]["checklist"][0]["name"]
        assert any(checklist in r.prompt for r in srv.records)  # each row's own checklist reached the judge
    assert rep["inputs"]["rows"] == 30 and rep["inputs"]["rows_with_ladder"] == 20
    assert rep["inputs"]["skipped: rows with fewer than two references"] == 10
    h = rep["headline"]
    assert h["pairs"] == 60 and math.isclose(h["ladder_accuracy"], 80.0) and within_ci(h, "ladder_accuracy", 80.0)
    # the same rows as a JSON-lines file keep their WritingBench domains: accuracy per domain
    (tmp_path / "wb_domains.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with FakeJudgeServer(accurate_judge(1.0)) as srv:
        _, rep = audit(capsys, tmp_path / "wb_domains.jsonl", srv, tmp_path / "run2", "--samples", "100")
    domains = {r["domain1"] for r in rows if "references" in r}
    assert set(rep["ladder"]["by_domain"]) == domains
    assert all(s["stronger"] == 100.0 for s in rep["ladder"]["by_domain"].values())
    # a folder where no row has a ladder: one line that says why
    single = tmp_path / "single.jsonl"
    single.write_text("".join(json.dumps({"query": b["query"], "target": "仅一个参考"}, ensure_ascii=False) + "\n"
                              for b in bench[:5]), encoding="utf-8")
    assert main(["data", "build", "--input", str(single), "--out", str(tmp_path / "single")]) == 0
    with FakeJudgeServer(accurate_judge(1.0)) as srv:
        rc, got = audit(capsys, tmp_path / "single", srv, tmp_path / "run3")
        assert srv.count == 0
    assert rc == 2 and "none of its 5 rows has two or more references" in got["error"]


def test_pairs_equal_scores_and_max_pairs(tmp_path):
    from writing_rl.audit import load_pairs

    rows = ladder_rows(6, levels=4)
    rows[0]["reference_scores"] = [1.0, 2.0, 2.0, 3.0]  # references 1 and 2 are no step up
    rows.append({"prompt": "Two only.", "references": ["short", "longer text"]})  # built as id 6
    build_dataset(rows, tmp_path / "d")
    data = load_pairs(tmp_path / "d")
    assert data.rows == 7 and data.skipped["pairs with equal reference_scores"] == 1
    ids = [p.id for p in data.pairs]
    assert "0:1-2" not in ids and "0:0-3" in ids and "6:0-1" in ids and "6:0-2" not in ids
    assert len(ids) == 6 * 4 - 1 + 1  # three adjacent + one extreme per 4-reference row; one pair for 2 references
    some = load_pairs(tmp_path / "d", samples=3, max_pairs=5, seed=1)
    assert some.sampled_rows == 3 and len(some.pairs) == 5
    again = load_pairs(tmp_path / "d", samples=3, max_pairs=5, seed=1)
    assert [p.id for p in some.pairs] == [p.id for p in again.pairs]
    assert all(p.stronger == rows[int(p.row)]["references"][p.j] and p.weaker == rows[int(p.row)]["references"][p.i]
               for p in some.pairs)


def test_a_judge_pool_and_prices(tmp_path, ladder_dir, capsys, monkeypatch):
    monkeypatch.setenv("JUDGE_PRICE_INPUT", "2.0")
    monkeypatch.setenv("JUDGE_PRICE_OUTPUT", "8.0")
    with FakeJudgeServer(accurate_judge(1.0)) as a, FakeJudgeServer(accurate_judge(1.0)) as b:
        capsys.readouterr()
        rc = main(["judge", "audit", "--data", str(ladder_dir), "--base-url", f"{a.base_url},{b.base_url}",
                   "--model", "fake-judge", "--out", str(tmp_path / "run"), "--no-progress", "--samples", "10",
                   "--strategy", "both-orders"])
        assert rc == 0 and a.count > 0 and b.count > 0 and a.count + b.count == 60
    rep = json.loads((tmp_path / "run" / "report.json").read_text())
    tok = rep["reliability"]["tokens"]
    usd = (tok["prompt_per_judgment"] * 2.0 + tok["completion_per_judgment"] * 8.0) / 1e6
    assert rep["cost"]["calls_per_step"] == 16 * 1 * 2  # both-orders judges twice
    assert rep["headline"]["judge_usd_per_step"] == pytest.approx(usd * 32)
    assert rep["headline"]["judge_usd_per_run"] == pytest.approx(usd * 32 * 2 * (40 // 16))
    assert "recommended REWARD_STRATEGY: position-disadvantage (configured: both-orders)" in capsys.readouterr().out


def test_bad_input_is_one_line(tmp_path, ladder_dir, capsys, monkeypatch):
    capsys.readouterr()
    assert main(["judge", "audit"]) == 2
    assert "--data is required" in capsys.readouterr().err
    assert main(["judge", "audit", "--data", str(ladder_dir), "--samples", "0"]) == 2
    assert "--samples must be at least 1" in capsys.readouterr().err
    monkeypatch.setenv("JUDGE_PRICE_INPUT", "cheap")
    assert main(["judge", "audit", "--data", str(ladder_dir)]) == 2
    assert "JUDGE_PRICE_INPUT='cheap' is not a valid float" in capsys.readouterr().err
    monkeypatch.delenv("JUDGE_PRICE_INPUT")
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["judge", "audit", "--data", str(ladder_dir), "--base-url", "https://judge.example.invalid/v1"]) == 2
    assert "OPENAI_API_KEY is not set" in capsys.readouterr().err
    assert main(["judge", "audit", "--compare", str(ladder_dir), str(ladder_dir)]) == 2
    assert "report.json does not exist" in capsys.readouterr().err
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    from writing_rl.testing.fake_judge import Reply

    with FakeJudgeServer(lambda req: Reply(status=401)) as srv:
        assert main(["judge", "audit", "--data", str(ladder_dir), "--base-url", srv.base_url, "--no-progress",
                     "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "rejected the API key" in err and KEY not in err and "Traceback" not in err


def test_scripted_judges_read_the_rendered_prompt():
    """The level marks and lengths survive the real prompt rendering the judges read them from."""
    from writing_rl.judge import JudgeSettings, PairwiseJudge

    judge = PairwiseJudge(JudgeSettings(model="m"))
    prompt = judge.render("Q?", level_text(0, "weak"), level_text(2, "strong and long"))
    assert answer_block(prompt, "A").startswith("[level 0]") and answer_block(prompt, "B").startswith("[level 2]")


# ------------------------------------------------------------------------------------------ preflight
@pytest.mark.parametrize("script,status,needle", [
    (first_answer_judge(), "warn", "flip rate 100% on 8 pairs (16 judgments, 0 failed); blocks training"),
    (accurate_judge(1.0, level_of=lambda t: 0 if "draft 0" in t else (1 if "draft 1" in t else 2)), "ok",
     "ladder accuracy 100% / flip rate 0% on 8 pairs"),
])
def test_preflight_runs_a_small_audit_as_a_warning(tmp_path, ladder_dir, capsys, monkeypatch, script, status, needle):
    from writing_rl.curriculum.index_file import create_index

    create_index(tmp_path / "index.json", range(40))
    with FakeJudgeServer(script) as srv:
        monkeypatch.setenv("JUDGE_BASE_URL", srv.base_url)
        capsys.readouterr()
        rc = main(["preflight", "--data-dir", str(ladder_dir), "--index-file", str(tmp_path / "index.json"), "--json"])
        assert srv.count == 1 + 16  # the probe, then 8 pairs in both orders
    rep = json.loads(capsys.readouterr().out)
    row = next(c for c in rep["checks"] if c["check"] == "judge audit")
    assert rc == 0 and rep["ok"] and row["status"] == status and needle in row["detail"], row
    monkeypatch.setenv("PREFLIGHT_AUDIT_PAIRS", "0")
    with FakeJudgeServer(script) as srv:
        monkeypatch.setenv("JUDGE_BASE_URL", srv.base_url)
        main(["preflight", "--data-dir", str(ladder_dir), "--index-file", str(tmp_path / "index.json"), "--json"])
        assert srv.count == 1
    row = next(c for c in json.loads(capsys.readouterr().out)["checks"] if c["check"] == "judge audit")
    assert row["status"] == "info" and "PREFLIGHT_AUDIT_PAIRS=0" in row["detail"]


# ------------------------------------------------------------------------------------------ units
def test_http_failures_are_grouped_by_reason(tmp_path, ladder_dir, capsys, monkeypatch):
    from writing_rl.testing.fake_judge import Reply

    monkeypatch.setenv("JUDGE_MAX_RETRIES", "0")
    with FakeJudgeServer(flaky_judge(accurate_judge(1.0), 0.25, fault=Reply(status=500))) as srv:
        _, rep = audit(capsys, ladder_dir, srv, tmp_path / "run", "--samples", "10")
    h = rep["headline"]
    assert h["failure_rate"] == 25.0 and rep["reliability"]["failures_by_reason"] == {"gave up: HTTP 500": 15}
    assert h["verdict"] == "blocks" and "failure rate 25.0% > 20%" in rep["verdict"]["line"]


def test_every_nth_is_exact_in_any_run_of_calls():
    from writing_rl.testing.fake_judge import EveryNth

    for rate in (0.1, 0.2, 1 / 3, 0.0, 1.0):
        fire = EveryNth(rate)
        hits = [fire() for _ in range(300)]
        assert sum(hits) == round(300 * rate)
        assert sum(hits[:150]) == math.floor(150 * rate + 1e-9)


def test_assess_thresholds_severity_and_uncertainty():
    from writing_rl.audit.assess import assess

    base = {"ladder_accuracy": 85.0, "ladder_accuracy ci95 low": 80.0, "ladder_accuracy ci95 high": 90.0,
            "flip_rate": 10.0, "failure_rate": 0.0, "tie_rate": 2.0, "longer_weaker_wins_share": None}
    ok = assess(base)
    assert ok["level"] == "ok" and ok["line"].startswith("OK: ladder accuracy 85.0%, flip rate 10.0%")
    weak = assess({**base, "ladder_accuracy": 65.0, "ladder_accuracy ci95 low": 55.0,
                   "ladder_accuracy ci95 high": 74.0, "tie_rate": 35.0})
    assert weak["level"] == "weakens" and [f["metric"] for f in weak["findings"]] == ["ladder_accuracy", "tie_rate"]
    assert weak["findings"][0]["uncertain"] and "audit more samples" in weak["line"]
    blocked = assess({**base, "failure_rate": 30.0, "flip_rate": 45.0})
    assert blocked["level"] == "blocks" and blocked["line"].startswith("BLOCKS training: failure rate 30.0% > 20%")
    assert [f["severity"] for f in blocked["findings"]] == ["blocks", "weakens"]  # one finding per number
    assert assess({**base, "ladder_accuracy": None})["level"] == "blocks"


def test_cost_follows_the_launcher_settings_and_prices():
    from writing_rl.audit.cost import LaunchSettings, estimate, prices_from_env
    from writing_rl.eval.data import EvalInputError

    grpo = LaunchSettings.from_env({"PRESET": "longwriter-zero", "TRAIN_BATCH_SIZE": "8", "TOTAL_EPOCHS": "3"})
    assert (grpo.rollout_n, grpo.calls_per_step, grpo.steps(100)) == (8, 64, 3 * 12)  # verl drops the last batch
    both = LaunchSettings.from_env({"REWARD_STRATEGY": "both-orders"}, total_steps=5)
    assert both.calls_per_step == 16 * 1 * 2 and both.steps(1000) == 5
    with pytest.raises(EvalInputError, match="REWARD_STRATEGY='best'"):
        LaunchSettings.from_env({"REWARD_STRATEGY": "best"})
    assert prices_from_env({}) is None
    with pytest.raises(EvalInputError, match="both JUDGE_PRICE_INPUT and JUDGE_PRICE_OUTPUT"):
        prices_from_env({"JUDGE_PRICE_INPUT": "1"})
    prices = prices_from_env({"JUDGE_PRICE_INPUT": "1", "JUDGE_PRICE_CACHED_INPUT": "0.25", "JUDGE_PRICE_OUTPUT": "4"})
    tokens = {"prompt_per_judgment": 1000.0, "completion_per_judgment": 100.0, "cached_share": 60.0}
    est = estimate(tokens, LaunchSettings(train_batch_size=10, rollout_n=2, epochs=1), 35, prices)
    per_call = (400 * 1 + 600 * 0.25 + 100 * 4) / 1e6
    assert est["steps"] == 3 and est["calls_per_step"] == 20 and est["tokens_per_run"] == 1100 * 20 * 3
    assert est["usd_per_step"] == pytest.approx(per_call * 20) and est["usd_per_run"] == pytest.approx(per_call * 60)


def test_cached_tokens_are_read_where_the_judgment_reports_them():
    from writing_rl.audit.metrics import Shares, reliability
    from writing_rl.audit.run import judgment_record
    from writing_rl.judge import Judgment

    plain = judgment_record(Judgment("win", "position-disadvantage", prompt_tokens=900, completion_tokens=10,
                                     attempts=1, latency_s=0.5), "stronger-second")
    assert plain["cached_prompt_tokens"] is None and plain["outcome"] == "stronger" and plain["winner"] == "second"
    j = Judgment("loss", "position-advantage", prompt_tokens=1000, completion_tokens=10, attempts=1, latency_s=0.7)
    j.cached_prompt_tokens = 750  # the figure the client records where the provider reports one
    cached = judgment_record(j, "stronger-first")
    assert cached["cached_prompt_tokens"] == 750 and cached["outcome"] == "weaker" and cached["winner"] == "second"
    rel = reliability([plain, cached], Shares(200))
    assert rel["tokens"]["cached_share"] == pytest.approx(100 * 750 / 1900) and rel["tokens"]["cached_reported"] == 1
    assert rel["tokens"]["prompt_per_judgment"] == 950.0 and rel["latency_s"]["max"] == 0.7
    assert reliability([plain], Shares(200))["tokens"]["cached_share"] is None


def test_a_judge_biased_to_the_second_answer_gets_both_orders(tmp_path, ladder_dir, capsys):
    """Right whenever the stronger text is answer B, a coin toss when it is A: position-disadvantage lets
    half the weaker responses win, both-orders none of them."""
    from writing_rl.testing.fake_judge import EveryNth, marked_level, verdict_reply

    coin = EveryNth(0.5)

    def second_biased(req):
        if marked_level(answer_block(req.prompt, "B")) > marked_level(answer_block(req.prompt, "A")):
            return verdict_reply("B")
        return verdict_reply("A" if coin() else "B")

    with FakeJudgeServer(second_biased) as srv:
        _, rep = audit(capsys, ladder_dir, srv, tmp_path / "run")
    table = rep["position"]["strategies"]
    assert table["position-disadvantage"]["win_if_stronger"] == 100.0
    assert table["position-disadvantage"]["win_if_weaker"] == 50.0
    assert table["both-orders"]["win_if_weaker"] == 0.0 and table["both-orders"]["win_if_stronger"] == 50.0
    assert rep["headline"]["first_position_share"] == pytest.approx(100 * 60 / 240)
    assert rep["headline"]["flip_rate"] == 50.0 and rep["headline"]["ladder_accuracy"] == 75.0
    assert rep["position"]["recommended"] == "both-orders"
    assert "a weaker response wins 50.0%" in rep["position"]["reason"]


def test_recommend_keeps_position_disadvantage_without_false_wins():
    from writing_rl.audit.metrics import recommend

    def row(stronger, weaker, calls):
        return {"win_if_stronger": stronger, "win_if_weaker": weaker, "signal": stronger - weaker,
                "calls_per_comparison": calls}

    best, reason = recommend({"position-disadvantage": row(80.0, 20.0, 1), "both-orders": row(64.0, 4.0, 2)})
    assert best == "position-disadvantage" and "not worth twice the calls" in reason
    best, reason = recommend({"position-disadvantage": row(30.0, 5.0, 1), "both-orders": row(20.0, 2.0, 2)})
    assert best == "position-disadvantage" and "the curriculum will be slow" in reason
    assert recommend({"position-disadvantage": row(0.0, 0.0, 1) | {"signal": None},
                      "both-orders": row(0.0, 0.0, 2)})[0] is None

"""`writing-rl eval pairwise`: both-orders outcomes, bootstrap intervals, references, failures, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from writing_rl.eval.pairwise import bootstrap_rates
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply, answer_block

from .eval_helpers import cli


def test_bootstrap_interval_sanity() -> None:
    outcomes = ["win"] * 60 + ["tie"] * 20 + ["loss"] * 20
    r = bootstrap_rates(outcomes, n_boot=1000, seed=0)
    assert (r["win"], r["tie"], r["loss"], r["score"]) == pytest.approx((60.0, 20.0, 20.0, 70.0))
    lo, hi = r["ci"]["win"]
    # binomial standard error sqrt(.6*.4/100) = 4.9 points: a 95% interval about +-9.6
    assert 48 < lo < 55 < 65 < hi < 72
    assert r["ci"]["score"][0] < 70 < r["ci"]["score"][1]
    assert bootstrap_rates(outcomes, seed=0) == r  # fixed seed: reproducible
    big = bootstrap_rates(outcomes * 16, seed=0)  # 16x the data: about a quarter of the width
    assert (big["ci"]["win"][1] - big["ci"]["win"][0]) < 0.35 * (hi - lo)
    sure = bootstrap_rates(["win"] * 30)
    assert sure["ci"]["win"] == [100.0, 100.0] and sure["ci"]["loss"] == [0.0, 0.0]
    empty = bootstrap_rates([])
    assert empty["n"] == 0 and empty["win"] is None and empty["ci"]["win"] is None


def _quality(text: str) -> int:
    return int(text.split("quality=")[1].split()[0]) if "quality=" in text else 0


def _judge(req):
    """Prefers the answer with the higher quality=N; on a 'biased' question always says A."""
    if "Question 9" in req.prompt:
        return Reply(status=500)
    if "biased" in req.prompt:
        return Reply(text="VERDICT: A")
    qa, qb = _quality(answer_block(req.prompt, "A")), _quality(answer_block(req.prompt, "B"))
    return Reply(text="VERDICT: " + ("A" if qa > qb else "B" if qb > qa else "TIE"))


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_versus_b_rates_disagreement_failures_resume(tmp_path: Path, judge_env: FakeJudgeServer) -> None:
    judge_env.script = _judge
    qa = [5, 5, 5, 5, 5, 1, 1, 3, 3, 4]  # 10 questions; A wins 0-4, loses 5-6, ties 7, biased 8, fails 9
    qb = [1, 1, 1, 1, 1, 5, 5, 3, 3, 1]
    a = _write(tmp_path / "model_a.jsonl", [
        {"id": i, "prompt": f"Question {i}" + (" biased" if i == 8 else ""), "response": f"A text quality={q} end"}
        for i, q in enumerate(qa)])
    b = _write(tmp_path / "model_b.jsonl", [{"id": i, "response": f"B text quality={q} end"} for i, q in enumerate(qb)])
    out = tmp_path / "run"
    assert cli(["eval", "pairwise", "--a", str(a), "--b", str(b), "--out", str(out), "--no-progress"]) == 1
    rep = json.loads((out / "report.json").read_text("utf-8"))
    outcome = {r["id"]: r["outcome"] for r in rep["items"]}
    assert [outcome[str(i)] for i in range(10)] == ["win"] * 5 + ["loss"] * 2 + ["tie", "tie", "failed"]
    rates = rep["rates"]
    assert rates["counts"] == {"win": 5, "tie": 2, "loss": 2} and rates["n"] == 9
    assert rep["headline"]["win_rate"] == pytest.approx(500 / 9)
    assert rep["headline"]["score"] == pytest.approx(600 / 9)
    assert rep["headline"]["disagreement_rate"] == pytest.approx(100 / 9)  # only the biased question
    lo, hi = rates["ci"]["win"]
    assert lo < 500 / 9 < hi and rep["headline"]["win_rate ci95 low"] == lo
    assert rep["failures"] == [{"id": "9", "stage": "judge", "error": rep["failures"][0]["error"]}]
    assert "HTTP 500" in rep["failures"][0]["error"]
    assert rep["judge"]["strategy"] == "both-orders" and rep["inputs"]["a_name"] == "model_a"
    assert (out / "pairwise_rates.png").read_bytes()[:4] == b"\x89PNG"
    assert judge_env.count == 20  # both orders for each of 10 pairs
    # resume: only the failed pair is judged again
    judge_env.reset()
    judge_env.script = lambda req: Reply(text="VERDICT: TIE")
    assert cli(["eval", "pairwise", "--a", str(a), "--b", str(b), "--out", str(out), "--no-progress"]) == 0
    assert judge_env.count == 2
    rep = json.loads((out / "report.json").read_text("utf-8"))
    assert rep["rates"]["counts"] == {"win": 5, "tie": 3, "loss": 2} and rep["failures"] == []


def test_against_references_parquet(tmp_path: Path, judge_env: FakeJudgeServer, capsys: pytest.CaptureFixture
                                    ) -> None:
    judge_env.script = _judge
    rows = []
    for i in range(4):
        gt = {"prompt": f"Task {i}", "target": [f"ref quality={lvl} r{i}" for lvl in (1, 3, 6)],
              "criteria": json.dumps(["Stay on topic"]) if i == 0 else None, "id": i,
              "reference_scores": [1.0, 3.0, 6.0]}
        rows.append({"data_source": "writing_rl", "prompt": [{"role": "user", "content": f"Task {i}"}],
                     "ability": "writing", "reward_model": {"style": "model", "ground_truth": gt},
                     "extra_info": {"index": i, "split": "test"}})
    parquet = tmp_path / "test.parquet"
    pd.DataFrame(rows).to_parquet(parquet)
    a = _write(tmp_path / "a.jsonl", [{"id": i, "response": f"policy quality=4 p{i}"} for i in range(4)])
    out = tmp_path / "run"
    # default: the strongest reference (quality 6) beats A (quality 4)
    assert cli(["eval", "pairwise", "--a", str(a), "--references", str(parquet), "--out", str(out),
                "--no-progress", "--json"]) == 0
    rep = json.loads((out / "report.json").read_text("utf-8"))
    assert rep["rates"]["counts"] == {"win": 0, "tie": 0, "loss": 4}
    assert all("r0" not in rec.prompt or "quality=6 r0" in rec.prompt for rec in judge_env.records)
    crit = [rec.prompt for rec in judge_env.records if "Task 0" in rec.prompt]
    assert crit and all("Stay on topic" in p for p in crit)  # criteria from ground_truth used
    # level 1 (quality 3) loses to A
    assert cli(["eval", "pairwise", "--a", str(a), "--references", str(parquet), "--reference-level", "1",
                "--out", str(tmp_path / "run1"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "run1" / "report.json").read_text("utf-8"))["rates"]["counts"]["win"] == 4
    capsys.readouterr()
    assert cli(["eval", "pairwise", "--a", str(a), "--references", str(parquet), "--reference-level", "3",
                "--out", str(tmp_path / "run2")]) == 2
    assert "--reference-level 3 is out of range" in capsys.readouterr().err

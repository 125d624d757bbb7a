"""The audit report: ``report.json`` sections and headline, ``report.md`` tables, charts, and comparing two audits.

Written through the eval harness's ``write_run`` (atomic files, the same layout as ``writing-rl
eval`` runs), so ``writing-rl eval compare`` can read an audit too; ``compare_audits`` adds the
verdicts and recommended strategies beside the numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..eval.data import EvalInputError
from ..eval.report import compare_reports, fmt, load_report, markdown_table, write_run
from .assess import THRESHOLDS, assess
from .metrics import OUTCOMES
from .plots import audit_charts

BENCHMARK = "judge-audit"


def _ci(prefix: str, shares: dict[str, Any], key: str) -> dict[str, Any]:
    ci = shares["ci"][key]
    return {prefix: shares[key], f"{prefix} ci95 low": ci[0] if ci else None,
            f"{prefix} ci95 high": ci[1] if ci else None}


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The flat numbers a run is summed up and compared by (rates in percent)."""
    lad, pos, rel, cost = report["ladder"], report["position"], report["reliability"], report["cost"]
    tok = rel["tokens"]
    per_judgment = None if tok["prompt_per_judgment"] is None else \
        tok["prompt_per_judgment"] + tok["completion_per_judgment"]
    h: dict[str, Any] = {**_ci("ladder_accuracy", lad["overall"], "stronger")}
    h.update({f"ladder_accuracy distance {d}": s["stronger"] for d, s in lad["by_distance"].items()})
    length = report["length"]
    h.update({"tie_rate": lad["overall"]["tie"], **_ci("flip_rate", pos["flip"], "flip"),
              **_ci("first_position_share", pos["first_position"], "first"),
              **_ci("longer_wins_share", length["all"], "longer"),
              **_ci("longer_weaker_wins_share", length["longer_is_weaker"], "longer"),
              **_ci("failure_rate", rel["failure"], "failed"),
              "latency_p50_s": rel["latency_s"]["p50"], "latency_p95_s": rel["latency_s"]["p95"],
              "tokens_per_judgment": per_judgment, "cached_share": tok["cached_share"],
              "judge_tokens_per_step": cost["tokens_per_step"], "judge_tokens_per_run": cost["tokens_per_run"],
              "judge_usd_per_step": cost.get("usd_per_step"), "judge_usd_per_run": cost.get("usd_per_run"),
              "recommended_strategy": pos["recommended"], "pairs": report["inputs"]["pairs"],
              "judgments": rel["failure"]["n"], "failed": rel["failure"]["counts"]["failed"]})
    return h


def finish(report: dict[str, Any]) -> dict[str, Any]:
    """Add the headline, the verdict and its summary line to a report holding the measured sections."""
    h = headline(report)
    report["verdict"] = assess(h)
    report["headline"] = {"verdict": report["verdict"]["level"], **h}
    report["summary"] = f"**Verdict: {report['verdict']['line']}**"
    return report


def write(out_dir: str | Path, report: dict[str, Any]) -> dict[str, Path]:
    return write_run(out_dir, report, charts=audit_charts, details=details)


# ---------------------------------------------------------------------------------------- markdown
def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{v:.1f}%"


def usd(v: Any) -> str:
    """Dollars with four significant digits (a step of a cheap judge costs fractions of a cent)."""
    return "n/a" if v is None else f"{v:.4g}"


def _ci_text(shares: dict[str, Any], key: str) -> str:
    ci = shares["ci"][key]
    return "n/a" if not ci else f"{ci[0]:.1f}-{ci[1]:.1f}%"


def _ladder_rows(report: dict[str, Any]) -> list[list[Any]]:
    lad = report["ladder"]
    groups = [(f"distance {d}" + (" (adjacent)" if d == "1" else ""), s) for d, s in lad["by_distance"].items()]
    for name, title in (("by_source", "source"), ("by_domain", "domain")):
        groups += [(f"{title}: {k}", s) for k, s in lad.get(name, {}).items()]
    groups.append(("all pairs", lad["overall"]))
    return [[g, s["n"], _pct(s["stronger"]), _ci_text(s, "stronger"), _pct(s["tie"]), _pct(s["weaker"])]
            for g, s in groups]


def _position_blocks(report: dict[str, Any]) -> list[str]:
    pos = report["position"]
    flip, first = pos["flip"], pos["first_position"]
    at = pos["accuracy_by_stronger_position"]
    rows = [["flip rate (verdict changes when the order is swapped)", flip["n"], _pct(flip["flip"]),
             _ci_text(flip, "flip")],
            ["wins going to the first answer (A)", first["n"], _pct(first["first"]), _ci_text(first, "first")],
            ["ladder accuracy, stronger shown first", at["first"]["n"], _pct(at["first"]["stronger"]),
             _ci_text(at["first"], "stronger")],
            ["ladder accuracy, stronger shown second", at["second"]["n"], _pct(at["second"]["stronger"]),
             _ci_text(at["second"], "stronger")]]
    names = {"stronger": "stronger wins", "tie": "tie", "weaker": "weaker wins"}
    matrix = [[f"first: {names[a]}", *(pos["flip_matrix"][a][b] for b in OUTCOMES)] for a in OUTCOMES]
    configured = report["cost"]["launch"]["strategy"]
    strat = [[name + (" (configured)" if name == configured else "") + (" (recommended)" if name == pos["recommended"]
                                                                         else ""),
              t["calls_per_comparison"], _pct(t["win_if_stronger"]), _pct(t["win_if_weaker"]),
              fmt(t["signal"])] for name, t in pos["strategies"].items()]
    return ["## Position bias",
            markdown_table(["measure", "n", "value", "95% CI"], rows),
            "Verdicts in both orders (rows: the stronger reference shown first; columns: shown second):",
            markdown_table(["", *(f"second: {names[b]}" for b in OUTCOMES)], matrix),
            "### Which position strategy",
            markdown_table(["REWARD_STRATEGY", "calls per comparison", "policy wins when stronger",
                            "policy wins when weaker", "win gap (points)"], strat),
            f"Recommended: **{pos['recommended'] or 'n/a'}**. {pos['reason']}."]


def _reliability_blocks(report: dict[str, Any]) -> list[str]:
    rel, length, lad = report["reliability"], report["length"], report["ladder"]["overall"]
    lat, tok = rel["latency_s"], rel["tokens"]
    rows = [["tie rate (of judgments with a verdict)", lad["n"], _pct(lad["tie"]), _ci_text(lad, "tie")],
            ["failure rate (of every judgment logged)", rel["failure"]["n"], _pct(rel["failure"]["failed"]),
             _ci_text(rel["failure"], "failed")],
            ["longer text wins (lengths 10%+ apart)", length["all"]["n"], _pct(length["all"]["longer"]),
             _ci_text(length["all"], "longer")],
            ["longer text wins where it is the weaker one", length["longer_is_weaker"]["n"],
             _pct(length["longer_is_weaker"]["longer"]), _ci_text(length["longer_is_weaker"], "longer")]]
    perf = [["latency p50 / p95 / max (s)", f"{fmt(lat['p50'])} / {fmt(lat['p95'])} / {fmt(lat['max'])}"],
            ["attempts per judgment (mean)", fmt(rel["attempts_mean"])],
            ["prompt / completion tokens per judgment", f"{fmt(tok['prompt_per_judgment'])} / "
                                                        f"{fmt(tok['completion_per_judgment'])}"],
            ["cached share of prompt tokens", "not reported by the judge" if tok["cached_share"] is None
             else _pct(tok["cached_share"])]]
    out = ["## Reliability and length", markdown_table(["measure", "n", "value", "95% CI"], rows),
           markdown_table(["measure", "value"], perf)]
    if rel["failures_by_reason"]:
        out += ["Failures by reason:", markdown_table(["reason", "judgments"],
                                                      [[k, v] for k, v in rel["failures_by_reason"].items()])]
    return out


def _cost_block(report: dict[str, Any]) -> list[str]:
    c = report["cost"]
    launch = c["launch"]
    steps = str(c["steps"])
    if launch["total_steps"] is None:
        steps += f" ({launch['epochs']} epochs x {c['train_rows']} rows // batch {launch['train_batch_size']})"
    rows = [["judge calls per step", f"{c['calls_per_step']} (batch {launch['train_batch_size']} x n "
                                     f"{launch['rollout_n']}, {launch['strategy']})"],
            ["steps", steps],
            ["judge tokens per step / per run", f"{fmt(c['tokens_per_step'])} / {fmt(c['tokens_per_run'])}"]]
    if c["prices_per_million"]:
        p = c["prices_per_million"]
        rows.append(["judge USD per step / per run", f"{usd(c['usd_per_step'])} / {usd(c['usd_per_run'])} (per "
                                                     f"million tokens: input {p['input']:g}, cached input "
                                                     f"{p['cached_input']:g}, output {p['output']:g})"])
    else:
        rows.append(["judge USD", "set JUDGE_PRICE_INPUT / JUDGE_PRICE_CACHED_INPUT / JUDGE_PRICE_OUTPUT "
                                  "(USD per million tokens) for a price"])
    return ["## Estimated judge cost of training", markdown_table(["", "value"], rows)]


def details(report: dict[str, Any]) -> list[str]:
    """The audit's sections of ``report.md`` (after the inputs, judge settings and headline)."""
    crossed = {(f["metric"], f["limit"]) for f in report["verdict"]["findings"]}
    thresholds = [[t.label, ("< " if t.below else "> ") + f"{t.limit:g}%", t.severity,
                   "crossed" if (t.metric, t.limit) in crossed else "", t.meaning] for t in THRESHOLDS]
    return ["## Verdict thresholds",
            markdown_table(["number", "threshold", "severity", "now", "what it means"], thresholds),
            "## Ladder accuracy (how often the stronger reference wins)",
            markdown_table(["pairs", "judgments", "stronger wins", "95% CI", "tie", "weaker wins"],
                           _ladder_rows(report)),
            *_position_blocks(report), *_reliability_blocks(report), *_cost_block(report)]


# ---------------------------------------------------------------------------------------- compare
def compare_audits(run1: str | Path, run2: str | Path) -> dict[str, Any]:
    """Two audits side by side: every shared headline number with ``run2 - run1``, and each verdict."""
    reports = [load_report(run1), load_report(run2)]
    for r in reports:
        if r.get("benchmark") != BENCHMARK:
            raise EvalInputError(f"{r['_path']} is a {r.get('benchmark')!r} report, not a judge audit; "
                                 "compare two folders written by `writing-rl judge audit`")
    a, b = reports
    return {"run1": a["_path"], "run2": b["_path"], "rows": compare_reports(a, b),
            "judges": [r.get("judge", {}).get("model") for r in reports],
            "verdicts": [r.get("verdict", {}).get("line") for r in reports]}

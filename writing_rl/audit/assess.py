"""The audit's verdict: which measured numbers block or weaken training, against stated thresholds.

Each threshold names a headline number, a limit, a severity and what crossing it means for a run.
The verdict is the worst severity found (``blocks`` > ``weakens`` > ``ok``) and one line naming
every crossing, with a warning where a number's 95% interval reaches back over its limit (the
sample is too small to be sure).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

BLOCKS, WEAKENS, OK = "blocks", "weakens", "ok"
_RANK = {OK: 0, WEAKENS: 1, BLOCKS: 2}


@dataclass(frozen=True)
class Threshold:
    metric: str  # a headline key, in percent
    label: str
    below: bool  # crossing means the value is under the limit (else over it)
    limit: float
    severity: str
    meaning: str


THRESHOLDS = (
    Threshold("ladder_accuracy", "ladder accuracy", True, 60.0, BLOCKS,
              "the curriculum will stall or advance at random: the judge cannot tell a better text from a worse one"),
    Threshold("ladder_accuracy", "ladder accuracy", True, 70.0, WEAKENS,
              "many level-ups will be noise, and some deserved ones will not happen"),
    Threshold("failure_rate", "failure rate", False, 20.0, BLOCKS,
              "training stops when over 20% of a step's judgments fail (max_failed_share)"),
    Threshold("failure_rate", "failure rate", False, 5.0, WEAKENS,
              "failed judgments earn a neutral reward and cost calls"),
    Threshold("flip_rate", "flip rate", False, 40.0, WEAKENS,
              "the position strategy decides more than the text does"),
    Threshold("tie_rate", "tie rate", False, 30.0, WEAKENS,
              "ties earn 0.5 whatever the text: less signal per judgment"),
    Threshold("longer_weaker_wins_share", "weaker-but-longer wins", False, 50.0, WEAKENS,
              "the judge prefers length to quality: add the length reward (REWARD_COMPONENTS, "
              "PRESET=longwriter-zero)"),
)


def _crossed(t: Threshold, value: float) -> bool:
    return value < t.limit if t.below else value > t.limit


def assess(headline: dict[str, Any]) -> dict[str, Any]:
    """The verdict for a report's headline numbers (see the module docstring)."""
    findings: list[dict[str, Any]] = []
    seen: set[str] = set()
    if headline.get("ladder_accuracy") is None:
        line = "BLOCKS training: no judgment returned a verdict, so nothing about this judge could be measured"
        return {"level": BLOCKS, "line": line, "findings": [], "thresholds": [asdict(t) for t in THRESHOLDS]}
    for t in THRESHOLDS:  # the stricter threshold of a metric comes first and wins
        value = headline.get(t.metric)
        if value is None or t.metric in seen or not _crossed(t, value):
            continue
        seen.add(t.metric)
        ci = (headline.get(f"{t.metric} ci95 low"), headline.get(f"{t.metric} ci95 high"))
        unsure = None not in ci and not all(_crossed(t, v) for v in ci)
        text = f"{t.label} {value:.1f}% {'<' if t.below else '>'} {t.limit:g}%: {t.meaning}"
        if unsure:
            text += f" (95% CI {ci[0]:.1f}-{ci[1]:.1f}% reaches past {t.limit:g}%: audit more samples to be sure)"
        findings.append({"metric": t.metric, "severity": t.severity, "value": value, "limit": t.limit,
                         "uncertain": unsure, "text": text})
    level = max((f["severity"] for f in findings), key=_RANK.__getitem__, default=OK)
    if findings:
        ordered = sorted(findings, key=lambda f: -_RANK[f["severity"]])
        line = f"{level.upper()} training: " + "; ".join(f["text"] for f in ordered)
    else:
        flip = headline.get("flip_rate")
        line = (f"OK: ladder accuracy {headline['ladder_accuracy']:.1f}%"
                + (f", flip rate {flip:.1f}%" if flip is not None else "")
                + f", failure rate {headline.get('failure_rate') or 0.0:.1f}%; no threshold crossed")
    return {"level": level, "line": line, "findings": findings, "thresholds": [asdict(t) for t in THRESHOLDS]}

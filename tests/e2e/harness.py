"""Data and a scripted judge for the end-to-end tests (the launcher runner is writing_rl.testing.smoke_run).

The data are small and self-describing: each reference text carries ``[[topic-T level-L]]``, so a
scripted loopback judge (``LadderJudge``) can decide from the prompt alone whether the policy beats
the reference it is shown, and a test knows exactly which level every sample should be at after
every step.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from writing_rl.testing.fake_judge import Reply, ScriptRequest, answer_block
from writing_rl.testing.smoke_run import Run, base_env, console_metrics, cpu_python, launch

__all__ = ["LadderJudge", "Run", "base_env", "console_metrics", "cpu_python", "launch", "write_data"]

MARK = re.compile(r"\[\[topic-(\d+) level-(\d+)\]\]")
N_REFS = 5


def write_data(out: Path, n_topics: int = 4, val_copy: bool = True) -> dict[int, int]:
    """``n_topics`` training rows with ``N_REFS`` marked references each; returns topic -> sample id.

    With ``val_copy``, ``test.parquet`` is the training rows again, marked ``split=test``: validation
    then judges the very samples that training moves, which is what "validation never moves a level"
    needs to be checked against.
    """
    rows = [{"prompt": f"Write a short note about topic {t}.",
             "references": [f"Reference text [[topic-{t} level-{k}]] for topic {t}." for k in range(N_REFS)]}
            for t in range(n_topics)]
    src = out.parent / f"{out.name}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "writing_rl.cli.main", "data", "build", "--input", str(src),
                    "--out", str(out), "--system-prompt", "none"], check=True, capture_output=True)
    table = pq.read_table(out / "train.parquet")
    ids = {}
    for row in table.to_pylist():
        gt = row["reward_model"]["ground_truth"]
        ids[int(MARK.search(gt["target"][0]).group(1))] = int(gt["id"])
    if val_copy:
        rows_ = table.to_pylist()
        for r in rows_:
            r["extra_info"] = dict(r["extra_info"], split="test")
        pq.write_table(pa.Table.from_pylist(rows_, schema=table.schema), out / "test.parquet")
    return ids


@dataclass
class LadderJudge:
    """Policy (answer B) beats reference ``[[topic-T level-L]]`` (answer A) iff L < targets[T].

    Reference-against-reference prompts (the preflight's small judge audit) are answered by level, as a
    perfect judge would, and not recorded.

    Every judgment is recorded as (topic, level, verdict). ``status`` makes every call fail with that
    HTTP status; ``fail_every`` answers without a verdict line on every k-th call.
    """

    targets: dict[int, int]
    status: int = 200
    fail_every: int = 0
    calls: list[tuple[int, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, req: ScriptRequest) -> Reply:
        if self.status != 200:
            return Reply(status=self.status)
        m = MARK.search(answer_block(req.prompt, "A"))
        if m is None:
            return Reply(text="The reference could not be found.\nVERDICT: TIE")
        other = MARK.search(answer_block(req.prompt, "B"))
        if other is not None:  # the preflight's judge audit compares two references: rank them by level, unrecorded
            return Reply(text=f"VERDICT: {'B' if int(other.group(2)) > int(m.group(2)) else 'A'}")
        topic, level = int(m.group(1)), int(m.group(2))
        with self.lock:
            self.calls.append((topic, level, "?"))
            n = len(self.calls)
        if self.fail_every and n % self.fail_every == 0:
            return Reply(text="Both answers are interesting and I cannot decide.")
        verdict = "B" if level < self.targets.get(topic, 0) else "A"
        with self.lock:
            self.calls[n - 1] = (topic, level, verdict)
        return Reply(text=f"Compared.\nVERDICT: {verdict}")

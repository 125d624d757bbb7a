"""The preflight's report: one row per check (name, status, detail, fix), as a table or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .redact import scrub

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "info"


@dataclass
class Row:
    check: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    estimates: dict[str, Any] = field(default_factory=dict)

    def add(self, *args: str) -> None:
        self.rows.append(Row(*(scrub(a) for a in args)))  # a server may echo the key into an error

    @property
    def ok(self) -> bool:
        return not any(r.status == FAIL for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(r) for r in self.rows], "estimates": self.estimates}

    def table(self) -> str:
        w = max(len(r.check) for r in self.rows) if self.rows else 5
        lines = [f"{'check':<{w}}  status  detail", f"{'-' * w}  ------  {'-' * 50}"]
        for r in self.rows:
            lines.append(f"{r.check:<{w}}  {r.status:<6}  {r.detail}")
            if r.fix and r.status in (FAIL, WARN):
                lines.append(f"{'':<{w}}          fix: {r.fix}")
        lines.append("preflight: " + ("passed" if self.ok else "FAILED (fix the rows marked FAIL)"))
        return "\n".join(lines)

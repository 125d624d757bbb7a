"""The value every reward component returns, and the error raised for bad reward settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class RewardConfigError(ValueError):
    """A reward setting or a ground-truth field is unusable; the message names it and the fix."""


@dataclass
class ComponentResult:
    """One component's score in [0, 1] and what it was based on.

    ``score`` is ``None`` only when the component could not be computed (a failed judge call);
    it is never replaced by a default number, and combining it yields ``None`` too.
    """

    score: float | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.score is None

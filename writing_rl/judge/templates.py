"""Judge prompt templates: files with ``{placeholder}`` slots, validated when loaded.

Only ``{name}`` where ``name`` is a lowercase identifier is a placeholder; every other brace is
literal text (JSON examples need no escaping). Write ``{{name}}`` for the literal text ``{name}``.
Substitution is a single pass, so a value that itself contains ``{answer_b}`` is never expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import MissingFileError, TemplateError

_SLOT = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}|\{([a-z_][a-z0-9_]*)\}")
PROMPTS_DIR = Path(str(resources.files("writing_rl") / "prompts"))


@dataclass(frozen=True)
class Template:
    """A loaded template: its text, where it came from, and the slots it uses."""

    text: str
    source: str
    slots: frozenset[str]

    def render(self, **values: str) -> str:
        missing = self.slots - values.keys()
        if missing:
            raise TemplateError(f"{self.source}: no value for placeholder(s) {sorted(missing)}")

        def sub(m: re.Match[str]) -> str:
            if m.group(1) is not None:
                return "{" + m.group(1) + "}"
            return values[m.group(2)]

        return _SLOT.sub(sub, self.text)


def parse_template(text: str, source: str, required: set[str], allowed: set[str]) -> Template:
    slots = {m.group(2) for m in _SLOT.finditer(text) if m.group(2) is not None}
    unknown = slots - allowed
    if unknown:
        raise TemplateError(
            f"{source}: unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))}; "
            f"allowed: {', '.join('{' + a + '}' for a in sorted(allowed))} "
            "(write {{name}} for literal braces around a name)"
        )
    missing = required - slots
    if missing:
        raise TemplateError(
            f"{source}: required placeholder(s) {', '.join('{' + m + '}' for m in sorted(missing))} missing"
        )
    return Template(text=text, source=source, slots=frozenset(slots))


def read_text_file(path: str | Path, what: str = "file") -> str:
    """Read a UTF-8 text file, with errors that name the file and what to do."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"{what} {p} does not exist")
    data = p.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TemplateError(
            f"{what} {p} is not valid UTF-8 (byte {e.start}: {data[e.start:e.start + 1]!r}); "
            "re-save it as UTF-8"
        ) from None


PAIRWISE_SLOTS = {"question", "answer_a", "answer_b", "criteria"}


def load_template(path: str | Path | None = None, *, criteria: bool = False) -> Template:
    """Load a pairwise template: the user's file, or the packaged default (with criteria or not)."""
    if path is None:
        path = PROMPTS_DIR / ("pairwise_criteria.txt" if criteria else "pairwise.txt")
    text = read_text_file(path, "judge template")
    required = {"question", "answer_a", "answer_b"} | ({"criteria"} if criteria else set())
    return parse_template(text, str(path), required, PAIRWISE_SLOTS)


def load_named(name: str, required: set[str], allowed: set[str], path: str | Path | None = None) -> Template:
    """Load any template: the user's ``path`` or ``writing_rl/prompts/<name>``."""
    p = Path(path) if path else PROMPTS_DIR / name
    return parse_template(read_text_file(p, "template"), str(p), required, allowed)

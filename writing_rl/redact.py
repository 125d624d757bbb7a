"""Secret scrubbing: the one redactor that every error, log line, report and printed config passes through.

``scrub(text)`` removes

* the values of key-like environment variables (``OPENAI_API_KEY``, ``DASHSCOPE_API_KEY``,
  ``WANDB_API_KEY``, ``HF_TOKEN``, any ``*_API_KEY`` / ``*TOKEN`` / ``*SECRET*`` / ``*PASSWORD*``,
  and every variable named by ``register_env``, e.g. a models file's ``api_key_env``);
* passwords of the URLs in ``JUDGE_BASE_URL`` and of URLs given to ``register_url`` (also in the
  Basic-auth form a client sends them in);
* anything shaped like a secret: ``Bearer <token>``, ``sk-...`` keys, ``api_key=...`` /
  ``"Authorization": "..."`` values, and the user info of every URL (``https://user:pw@host`` is
  shown as ``https://host``).

The environment is read at each call, so keys set after import are known too. Run as
``python -m writing_rl.redact`` it copies stdin to stdout scrubbed (the launcher prints through it).
"""

from __future__ import annotations

import base64
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "<redacted>"
KEY_NAME_MARKERS = ("API_KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "ACCESS_KEY", "CREDENTIAL")
# Variables whose names look key-like but hold settings (token counts, tokenizer flags).
_NOT_SECRETS = ("MAX_TOKEN", "TOKENS", "TOKENIZER", "TOKEN_LEN", "TOKEN_ID", "TPM")
URL_VARS = ("JUDGE_BASE_URL", "OPENAI_BASE_URL", "DASHSCOPE_BASE_URL")
MIN_SECRET_LEN = 6

_PATTERNS = [
    # a credential after an auth scheme word; it must hold a digit, so prose ("basic questions") is left alone
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)(?=[A-Za-z\-._~+/]*\d)[A-Za-z0-9\-._~+/]{8,}=*"), r"\1\2" + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9][A-Za-z0-9_\-]{7,}"), "sk-" + REDACTED),
    (re.compile(r"(?i)\b((?:x-)?api[-_]?key|authorization|password|passwd|secret|access[-_]?token)"
                r"(\\?[\"']?\s*[:=]\s*\\?[\"']?)(?!<redacted>)([A-Za-z0-9_\-.~+/=]{8,})"),
     r"\1\2" + REDACTED),
    # user info of any URL: scheme://user:password@host -> scheme://host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@\"']*@"), r"\1"),
]

_registered_env: set[str] = set()
_registered_values: set[str] = set()


def register_env(*names: str | None) -> None:
    """Treat the values of these environment variables as secrets from now on."""
    _registered_env.update(n for n in names if n)


def register_secret(*values: str | None) -> None:
    """Treat these literal values as secrets from now on (too-short values are ignored)."""
    _registered_values.update(v for v in values if v and len(v) >= MIN_SECRET_LEN)


def register_url(url: str | None) -> None:
    """Remember the user name and password of ``url`` (or of each entry of a comma-separated pool)."""
    _registered_values.update(_url_secrets(url))


def _url_secrets(url: str | None) -> set[str]:
    """The password of each URL (as written and decoded) and its ``user:password`` in Basic-auth form."""
    out: set[str] = set()
    for entry in (url or "").split(","):
        try:
            parts = urlsplit(entry.strip().split("#", 1)[0])
        except ValueError:
            continue
        if parts.password:
            out.update(form for form in (parts.password, unquote(parts.password)) if len(form) >= 4)
            basic = f"{unquote(parts.username or '')}:{unquote(parts.password)}".encode()
            out.add(base64.b64encode(basic).decode().rstrip("="))  # what a server echoes of "Authorization: Basic"
    return out


def _is_secret_name(name: str) -> bool:
    up = name.upper()
    return up in _registered_env or (any(m in up for m in KEY_NAME_MARKERS) and not any(m in up for m in _NOT_SECRETS))


def _plausible_secret(value: str) -> bool:
    v = value.strip()
    if len(v) < MIN_SECRET_LEN or v.upper() == "EMPTY" or v.lower() in ("true", "false", "none", "null"):
        return False
    try:
        float(v)
        return False  # a number, not a key
    except ValueError:
        return True


def known_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Every secret value known now, longest first (so a key is never half-replaced)."""
    env = os.environ if env is None else env
    found = set(_registered_values)
    for name, value in env.items():
        if value and _is_secret_name(name) and _plausible_secret(value):
            found.add(value.strip())
    for name in URL_VARS:
        found |= _url_secrets(env.get(name))
    return sorted(found, key=len, reverse=True)


def scrub(text: Any, env: Mapping[str, str] | None = None) -> str:
    """``text`` as a string with every known secret and secret-shaped value replaced by ``<redacted>``."""
    s = text if isinstance(text, str) else str(text)
    for secret in known_secrets(env):
        if secret in s:
            s = s.replace(secret, REDACTED)
    for pattern, repl in _PATTERNS:
        s = pattern.sub(repl, s)
    return s


def scrub_obj(obj: Any, env: Mapping[str, str] | None = None) -> Any:
    """A copy of a JSON-like tree with every string scrubbed (keys included)."""
    if isinstance(obj, str):
        return scrub(obj, env)
    if isinstance(obj, Mapping):
        return {scrub(k, env) if isinstance(k, str) else k: scrub_obj(v, env) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub_obj(v, env) for v in obj]
    return obj


def redact_config(obj: Any) -> Any:
    """A copy of a config tree for printing: secret-named keys masked, every string scrubbed."""
    if isinstance(obj, Mapping):
        return {k: (REDACTED if _is_secret_name(str(k)) and not isinstance(v, (Mapping, list)) else redact_config(v))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_config(v) for v in obj]
    return scrub(obj) if isinstance(obj, str) else obj


def public_url(url: str | None) -> str | None:
    """A base URL (or a comma-separated pool) without user info or query string, capacities kept."""
    if not url:
        return url
    out = []
    for entry in url.split(","):
        base, sep, cap = entry.strip().partition("#")
        try:
            parts = urlsplit(base)
            host = parts.hostname or ""
            if ":" in host:
                host = f"[{host}]"
            netloc = f"{host}:{parts.port}" if parts.port else host
            shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        except ValueError:  # not a URL: scrub it as text
            shown = scrub(base)
        out.append(shown + (sep + cap if sep else ""))
    return ",".join(out)


def with_credentials(url: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """``url`` with the user info that ``JUDGE_BASE_URL`` in the environment gives the same endpoint.

    So a launcher can put the public form of the URL into the verl config (printed, sent to wandb,
    visible in ``ps``) while the password stays in the environment of the processes that call the judge.
    """
    source = (os.environ if env is None else env).get("JUDGE_BASE_URL") or ""
    if not url or "@" not in source:
        return url
    full = {public_url(e.strip().split("#", 1)[0]): e.strip().split("#", 1)[0] for e in source.split(",") if e.strip()}
    out = []
    for entry in url.split(","):
        base, sep, cap = entry.strip().partition("#")
        if "@" not in base and public_url(base) == base:
            base = full.get(base, base)
        out.append(base + (sep + cap if sep else ""))
    return ",".join(out)


def scrub_lines(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        yield scrub(line)


class ScrubbedStream:
    """A text stream that scrubs everything written through it (stdout/stderr of the CLI)."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(scrub(text) if text else text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...
        return getattr(self.raw, name)


@contextmanager
def scrubbed_stdio() -> Iterator[None]:
    """Scrub every line printed to stdout and stderr meanwhile: errors, tables, JSON, progress, warnings."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(out), ScrubbedStream(err)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def main() -> int:
    """Copy stdin to stdout, scrubbed (used by the launcher's --print-overrides and --dry-run)."""
    for line in scrub_lines(sys.stdin):
        sys.stdout.write(line)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

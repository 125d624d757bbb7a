"""A judge pool's endpoints: ``JUDGE_BASE_URL=url[#capacity],...`` parsed into one spec per server."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from ..redact import public_url, scrub
from .errors import JudgeConfigError


@dataclass(frozen=True)
class EndpointSpec:
    url: str
    capacity: int
    name: str  # host:port, the key in metrics and logs


def parse_pool(base_url: str, concurrency: int) -> list[EndpointSpec]:
    """Parse ``url[#capacity],url[#capacity],...``; raise ``JudgeConfigError`` naming a bad entry."""
    example = "e.g. JUDGE_BASE_URL=http://h1:8000/v1#32,http://h2:8000/v1#16"
    entries = [e.strip() for e in base_url.split(",") if e.strip()]
    if not entries:
        raise JudgeConfigError(scrub(f"JUDGE_BASE_URL={base_url!r} lists no endpoint; {example}"))
    raw: list[tuple[str, int | None]] = []
    for entry in entries:
        url, sep, cap_text = entry.partition("#")
        url = url.strip()
        u = urlparse(url)
        try:
            u.port  # noqa: B018 - raises ValueError for a bad port
            ok = u.scheme in ("http", "https") and bool(u.hostname)
        except ValueError:
            ok = False
        if not ok:
            raise JudgeConfigError(
                f"JUDGE_BASE_URL entry {public_url(entry)!r} is not an http(s) URL with a host; {example}")
        cap: int | None = None
        if sep:
            cap_text = cap_text.strip()
            if not cap_text.isdigit() or int(cap_text) < 1:
                raise JudgeConfigError(scrub(
                    f"JUDGE_BASE_URL entry {public_url(entry)!r}: the capacity after '#' must be a whole number >= 1; "
                    f"{example}"))
            cap = int(cap_text)
        raw.append((url, cap))
    urls = [u for u, _ in raw]
    dupes = sorted({u for u in urls if urls.count(u) > 1})
    if dupes:
        raise JudgeConfigError(
            f"JUDGE_BASE_URL lists {public_url(dupes[0])!r} more than once; give it a larger #capacity instead")
    default_cap = max(1, concurrency // len(raw))
    specs: list[EndpointSpec] = []
    seen: dict[str, int] = {}
    for url, cap in raw:
        u = urlparse(url)
        name = f"{u.hostname}:{u.port or (443 if u.scheme == 'https' else 80)}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # same server, different path
            name = f"{name}#{seen[name]}"
        specs.append(EndpointSpec(url, cap or default_cap, name))
    return specs

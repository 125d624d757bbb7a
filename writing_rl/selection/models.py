"""The models file for data selection: the policy, its competitors and the scoring judge, validated.

Each entry becomes ``EndpointSettings`` (the judge client's settings plus the name of the environment
variable holding its key), so generation and scoring share the judge client's concurrency, retry,
timeout and rate-limit machinery. Keys never appear in the file: an entry may only *name* the
variable with ``api_key_env``. The fields an entry may have, and their types, are those of
``ModelEntry``: an unknown or mistyped field is rejected by that structure.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..calls.endpoint import EndpointSettings
from ..calls.errors import InputError
from ..judge.errors import JudgeConfigError, TemplateError
from ..judge.settings import BACKENDS, JudgeSettings, infer_backend
from ..judge.templates import read_text_file

SelectionError = InputError  # selection's user-facing errors are the model-calling stack's input errors


@dataclass(frozen=True)
class ModelEntry:
    """One entry of the models file as written: its fields and types are the file's schema."""

    model: str
    name: str | None = None
    base_url: str | None = None
    backend: str | None = None
    api_key_env: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    price_per_1k_prompt: float | None = None
    price_per_1k_completion: float | None = None
    rpm: float | None = None
    tpm: float | None = None
    concurrency: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None
    extra_body: dict | None = None
    max_candidate_chars: int | None = None
    backoff_base_s: float | None = None
    backoff_max_s: float | None = None


def _kind(hint: Any) -> type:
    """The type a field takes when given: ``float | None`` -> float, ``dict | None`` -> dict."""
    arms = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return typing.get_origin(arms[0]) or arms[0]


_KINDS = {name: _kind(hint) for name, hint in typing.get_type_hints(ModelEntry).items()}
_REQUIRED = [f.name for f in dataclasses.fields(ModelEntry) if f.default is dataclasses.MISSING]


@dataclass(frozen=True)
class ModelSpec:
    """One model of the selection run (the policy, a competitor, or the judge)."""

    name: str
    role: str
    settings: EndpointSettings
    price_per_1k_prompt: float = 0.0
    price_per_1k_completion: float = 0.0
    system_prompt: str | None = None

    @property
    def priced(self) -> bool:
        return self.price_per_1k_prompt > 0 or self.price_per_1k_completion > 0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_per_1k_prompt + completion_tokens * self.price_per_1k_completion) / 1000

    @property
    def label(self) -> str:
        """How errors name this entry: ``competitor 'a' (model 'gpt-x')``."""
        who = "the judge" if self.role == "judge" else f"{self.role} {self.name!r}"
        return f"{who} (model {self.settings.model!r})"


@dataclass(frozen=True)
class ModelsConfig:
    policy: ModelSpec
    competitors: tuple[ModelSpec, ...]
    judge: ModelSpec | None
    source: str

    @property
    def generators(self) -> tuple[ModelSpec, ...]:
        """The policy first, then the competitors in file order (the order breaks score ties)."""
        return (self.policy, *self.competitors)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
_SECRET_FIELDS = {"api_key", "key", "token", "secret", "password", "authorization"}


def _check_value(where: str, key: str, value: Any) -> Any:
    kind = _KINDS[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is str and isinstance(value, str) and not value.strip():
        raise SelectionError(f"{where}: field {key!r} is empty")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise SelectionError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r}")
    if kind in (int, float):
        low = 0 if key in ("temperature", "max_retries") or key.startswith("price") else 1e-9
        if value < low:
            raise SelectionError(f"{where}: field {key!r} must be {'>= 0' if low == 0 else '> 0'}, got {value!r}")
    if key == "api_key_env" and not _ENV_NAME.match(value):
        raise SelectionError(f"{where}: api_key_env must be an environment variable name, got {value!r}")
    if key == "name" and not _NAME.match(value):
        raise SelectionError(f"{where}: name {value!r} may use letters, digits and . _ : / @ + - only")
    return value


def parse_entry(
    entry: Any, where: str, role: str, base: JudgeSettings, *, concurrency: int | None = None
) -> ModelSpec:
    """Validate one mapping from the models file and turn it into a ``ModelSpec``."""
    if not isinstance(entry, Mapping):
        raise SelectionError(f"{where} must be a mapping with at least 'model', got {type(entry).__name__}")
    secrets_given = sorted(k for k in entry if str(k).lower() in _SECRET_FIELDS)
    if secrets_given:
        raise SelectionError(
            f"{where}: field {secrets_given[0]!r} is not allowed; never put keys in the models file, "
            "name the environment variable that holds the key with api_key_env"
        )
    unknown = sorted(set(map(str, entry)) - set(_KINDS))
    if unknown:
        raise SelectionError(f"{where}: unknown field(s) {unknown}; known fields: {sorted(_KINDS)}")
    v = {k: _check_value(where, k, entry[k]) for k in entry if entry[k] is not None}
    for key in _REQUIRED:
        if key not in v:
            raise SelectionError(f"{where}: field {key!r} is required (the model name the endpoint serves)")
    if role != "judge" and "name" not in v:
        v["name"] = v["model"]
    if "backend" in v:
        if v["backend"] not in BACKENDS:
            raise SelectionError(f"{where}: backend {v['backend']!r} is not one of {', '.join(BACKENDS)}")
        backend = v["backend"]
    else:  # an explicit base_url is an OpenAI-compatible server (e.g. vLLM serving a Qwen model)
        backend = "openai" if "base_url" in v else infer_backend(v["model"], None)
    changes: dict[str, Any] = {
        "model": v["model"], "backend": backend, "base_url": v.get("base_url"),
        "rpm": v.get("rpm"), "tpm": v.get("tpm"), "extra_body": v.get("extra_body", {}),
        "concurrency": v.get("concurrency", concurrency or base.concurrency),
        "temperature": v.get("temperature", base.temperature if role == "judge" else 0.7),
        "max_tokens": v.get("max_tokens", base.max_tokens if role == "judge" else 4096),
    }
    for key in ("timeout_s", "max_retries", "max_candidate_chars", "backoff_base_s", "backoff_max_s"):
        if key in v:
            changes[key] = v[key]
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(JudgeSettings)}
    fields.update(changes)
    try:
        settings = EndpointSettings(**fields, api_key_env=v.get("api_key_env"))
    except JudgeConfigError as e:
        raise SelectionError(f"{where}: {e}") from None
    return ModelSpec(
        name=v.get("name", "judge"), role=role, settings=settings,
        price_per_1k_prompt=v.get("price_per_1k_prompt", 0.0),
        price_per_1k_completion=v.get("price_per_1k_completion", 0.0),
        system_prompt=v.get("system_prompt"),
    )


def load_models(path: str | Path, base: JudgeSettings | None = None, concurrency: int | None = None) -> ModelsConfig:
    """Read and validate a models YAML file (see ``examples/models.yaml``)."""
    try:
        text = read_text_file(path, "models file")
    except (FileNotFoundError, TemplateError) as e:
        raise SelectionError(str(e)) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise SelectionError(f"models file {path} is not valid YAML{at}: {getattr(e, 'problem', e)}") from None
    if not isinstance(doc, Mapping):
        raise SelectionError(f"models file {path} must be a mapping with 'policy' and 'competitors'")
    unknown = sorted(set(map(str, doc)) - {"policy", "competitors", "judge"})
    if unknown:
        raise SelectionError(f"models file {path}: unknown top-level key(s) {unknown}; use policy, competitors, judge")
    base = base or JudgeSettings.from_env()
    if "policy" not in doc:
        raise SelectionError(f"models file {path}: 'policy' is required (the model being trained)")
    comps = doc.get("competitors")
    if not isinstance(comps, list) or not comps:
        raise SelectionError(f"models file {path}: 'competitors' must be a non-empty list of model entries")
    policy = parse_entry(doc["policy"], f"{path}: policy", "policy", base, concurrency=concurrency)
    competitors = tuple(
        parse_entry(c, f"{path}: competitors[{i}]", "competitor", base, concurrency=concurrency)
        for i, c in enumerate(comps)
    )
    seen: dict[str, str] = {}
    for spec, where in [(policy, "policy"), *((c, f"competitors[{i}]") for i, c in enumerate(competitors))]:
        if spec.name in seen:
            raise SelectionError(
                f"models file {path}: {where} has the same name {spec.name!r} as {seen[spec.name]}; "
                "give each entry a distinct 'name'"
            )
        seen[spec.name] = where
    judge = None
    if doc.get("judge") is not None:
        judge = parse_entry(doc["judge"], f"{path}: judge", "judge", base, concurrency=concurrency)
    return ModelsConfig(policy=policy, competitors=competitors, judge=judge, source=str(path))


def judge_spec(models: ModelsConfig, base: JudgeSettings, **overrides: Any) -> ModelSpec:
    """The scoring judge: the models file's ``judge`` block, else the environment's judge settings."""
    spec = models.judge or ModelSpec(
        name="judge", role="judge", settings=EndpointSettings(**dataclasses.asdict(base))
    )
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "model" in overrides and "backend" not in overrides and models.judge is None:
        overrides["backend"] = infer_backend(overrides["model"], None) if not (
            overrides.get("base_url") or spec.settings.base_url) else "openai"
    if overrides:
        try:
            spec = dataclasses.replace(spec, settings=spec.settings.replace(**overrides))
        except JudgeConfigError as e:
            raise SelectionError(f"judge settings: {e}") from None
    return spec

"""Answer-tag codes that keep judge prompts cacheable: stable per (template, reference), unguessable.

The code in the answer tags is ``HMAC-SHA256(run secret, template text NUL reference text)``, first
12 hex digits. Every judgment of one reference under one template within a run therefore gets the
same code, so all rollouts of a sample (and the same sample in later steps, until its level changes)
send the same prompt up to the policy's response, a prefix vLLM, OpenAI and DashScope can cache.
Without the secret the code cannot be predicted, even by someone who knows the reference text.

The secret is 32 random bytes per run. Inside Ray, every process of one job (the driver and all
reward workers, on every node) shares one secret through Ray's GCS key-value store, written once
(put-if-absent) under the job id; elsewhere each process draws its own. It lives only in memory and
in that store: never in a file, log, metric, the verl config or a checkpoint. A resumed run is a
new Ray job and draws a new secret (its first prompts of each sample are then cache misses).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys
import threading

log = logging.getLogger(__name__)

CODE_HEX_DIGITS = 12
_KV_NAMESPACE = "writing_rl"
_lock = threading.Lock()
_secret: tuple[str, bytes] | None = None  # (scope, secret): scope is the Ray job id or "process"


def _ray_job_id() -> str | None:
    ray = sys.modules.get("ray")  # a Ray worker has imported Ray; nothing else needs to pay for the import
    if ray is None:
        return None
    try:
        if not ray.is_initialized():
            return None
        return ray.get_runtime_context().get_job_id()
    except Exception:  # no Ray, or a context without a job
        return None


def _shared_in_ray(job_id: str, candidate: bytes) -> bytes | None:
    """The job's secret from Ray's key-value store, storing ``candidate`` if there is none yet."""
    try:
        from ray.experimental import internal_kv as kv  # ray is heavy and absent outside training

        if not kv._internal_kv_initialized():
            return None
        key = f"judge_tag_secret/{job_id}"
        kv._internal_kv_put(key, candidate, overwrite=False, namespace=_KV_NAMESPACE)
        stored = kv._internal_kv_get(key, namespace=_KV_NAMESPACE)
        return bytes(stored) if stored else None
    except Exception as e:  # the store is an internal API: degrade to a per-process secret, loudly
        log.warning("judge tag codes are per process (Ray's key-value store is unavailable: %s); "
                    "judge prompts of one sample cache less across reward workers", type(e).__name__)
        return None


def run_secret() -> bytes:
    """This run's secret (see the module docstring). Never print, log or store it."""
    global _secret
    scope = _ray_job_id() or "process"
    with _lock:
        if _secret is not None and _secret[0] == scope:
            return _secret[1]
        candidate = secrets.token_bytes(32)
        value = (_shared_in_ray(scope, candidate) if scope != "process" else None) or candidate
        _secret = (scope, value)
        return value


def tag_code(template_text: str, reference: str, secret: bytes | None = None) -> str:
    """The code for the answer tags of every prompt judging ``reference`` under this template."""
    key = run_secret() if secret is None else secret
    mac = hmac.new(key, template_text.encode("utf-8") + b"\0" + reference.encode("utf-8"), hashlib.sha256)
    return mac.hexdigest()[:CODE_HEX_DIGITS]

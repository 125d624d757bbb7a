"""The launcher's Python step: decide the judge, check the arithmetic, hand both back to the shell.

``scripts/train_writing_rl.sh`` calls ``python -m writing_rl.launch_plan`` once, after reading its
variables. This module

- parses every ``JUDGE_*`` variable once (``JudgeSettings.from_env``: bad values fail here, at launch,
  not in a reward worker) and decides the backend (``infer_backend``, the only copy of that rule);
- decides whether the launcher serves a local vLLM judge (no ``JUDGE_BASE_URL`` and no key for the
  backend) and on which address: ``127.0.0.1`` on one node; with ``NNODES>1`` the head node's address that
  the other nodes reach (``LOCAL_JUDGE_HOST``, else the host of ``RAY_ADDRESS``), or a clear refusal;
- runs the pre-launch arithmetic (``launch_check``);
- prints ``key=value`` lines for the shell: ``local_judge``, ``local_judge_host``, ``judge_model``,
  ``judge_backend``, ``judge_base_url`` (local judge only) and one ``override=`` line per
  ``+reward.reward_kwargs.judge.*`` Hydra override (every judge and pool setting, never a key).

Errors go to stderr as ``[writing-rl] error: ...`` lines, with exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from .errors import WritingRLError
from .judge.errors import JudgeConfigError
from .judge.settings import JudgeSettings
from .launch_check import FAIL, WARN, LaunchPlan, check


class LaunchError(WritingRLError, ValueError):
    """A launch setting that cannot work; the message names it and the fix."""


@dataclass(frozen=True)
class JudgePlan:
    settings: JudgeSettings
    local: bool
    host: str | None = None  # where the local judge listens

    @property
    def base_url(self) -> str | None:
        return self.settings.base_url


def _is_loopback(host: str) -> bool:
    h = host.lower().strip("[]")
    return h in ("localhost", "::1", "0.0.0.0", "::") or h.startswith("127.")


def ray_head_host(ray_address: str | None) -> str | None:
    """The head node's host in ``RAY_ADDRESS`` (``host:port`` or ``ray://host:port``); None for auto/local."""
    addr = (ray_address or "").strip()
    if not addr or addr in ("auto", "local"):
        return None
    parsed = urlparse(addr if "://" in addr else f"//{addr}")
    return parsed.hostname or None


def local_judge_host(nnodes: int, explicit: str | None, ray_address: str | None) -> str:
    """Where the launcher's own vLLM judge listens; with several nodes, an address every node reaches."""
    host = (explicit or "").strip()
    if host and not all(c.isalnum() or c in ".-:_[]" for c in host):
        raise LaunchError(f"LOCAL_JUDGE_HOST={host!r} is not a host name or IP address")
    if nnodes <= 1:
        return host or "127.0.0.1"
    source = "LOCAL_JUDGE_HOST" if host else "RAY_ADDRESS"
    host = host or ray_head_host(ray_address) or ""
    if host and not _is_loopback(host):
        return host.strip("[]")
    seen = f" ({source} gives {host})" if host else ""
    raise LaunchError(
        f"NNODES={nnodes} with no JUDGE_BASE_URL and no judge key: the launcher would serve the local judge on this "
        f"(head) node, but reward workers run on every node and need an address they can reach{seen}. Set "
        "LOCAL_JUDGE_HOST=<this node's address on the cluster network> (or RAY_ADDRESS=<head-ip>:6379), or point "
        "JUDGE_BASE_URL at a judge server / export the judge's API key on every node"
    )


def plan_judge(env: Mapping[str, str], *, nnodes: int, local_model: str, local_port: int,
               local_host: str | None = None, ray_address: str | None = None) -> JudgePlan:
    """The judge for this run: the configured one, or a local vLLM judge (see the module docstring)."""
    settings = JudgeSettings.from_env(env)
    has_key = bool((env.get(settings.key_env) or "").strip())
    if (env.get("JUDGE_BASE_URL") or "").strip() or has_key:
        return JudgePlan(settings, local=False)
    host = local_judge_host(nnodes, local_host, ray_address)
    url_host = f"[{host}]" if ":" in host else host
    local = JudgeSettings.from_env(env, model=local_model, backend="openai").replace(
        base_url=f"http://{url_host}:{local_port}/v1", requires_key=False)
    return JudgePlan(local, local=True, host=host)


def _say(kind: str, text: str) -> None:
    print(f"[writing-rl] {kind}: {text}", file=sys.stderr)


def _shell_lines(plan: JudgePlan) -> list[str]:
    s = plan.settings
    lines = [f"local_judge={int(plan.local)}", f"judge_model={s.model}", f"judge_backend={s.backend}"]
    if plan.local:
        lines += [f"local_judge_host={plan.host}", f"judge_base_url={s.base_url}"]
    lines += [f"override={o}" for o in s.hydra_overrides()]
    for line in lines:
        if "\n" in line or "\r" in line:
            raise LaunchError(f"a judge setting contains a line break: {line.split('=', 1)[0]}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m writing_rl.launch_plan", description=__doc__.splitlines()[0])
    p.add_argument("--algo", choices=("ppo", "grpo"), default="ppo")
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--gpus-per-node", type=int, default=1)
    p.add_argument("--train-batch-size", type=int, default=16)
    p.add_argument("--mini-batch-size", type=int, default=8)
    p.add_argument("--rollout-n", type=int, default=1)
    p.add_argument("--max-prompt-length", type=int, default=1024)
    p.add_argument("--max-response-length", type=int, default=4096)
    p.add_argument("--token-len", type=int, help="PPO_MAX_TOKEN_LEN_PER_GPU (default max(16384, prompt + response))")
    p.add_argument("--rollout-tp", type=int, default=1)
    p.add_argument("--rollout-gpu-util", type=float, default=0.4)
    p.add_argument("--max-model-len", type=int, help="ROLLOUT_MAX_MODEL_LEN")
    p.add_argument("--model", help="BASE_MODEL (its config.json gives the context length, when available here)")
    p.add_argument("--local-judge-model", default="Qwen/Qwen2.5-7B-Instruct")
    p.add_argument("--local-judge-port", type=int, default=8917)
    p.add_argument("--local-judge-gpu-util", type=float, default=0.35)
    p.add_argument("--local-judge-host", help="LOCAL_JUDGE_HOST")
    p.add_argument("--ray-address", help="RAY_ADDRESS")
    return p


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = os.environ if env is None else env
    judge: JudgePlan | None = None
    try:
        judge = plan_judge(env, nnodes=args.nnodes, local_model=args.local_judge_model,
                           local_port=args.local_judge_port, local_host=args.local_judge_host,
                           ray_address=args.ray_address)
        lines = _shell_lines(judge)
    except (JudgeConfigError, LaunchError) as e:
        _say("error", str(e))
    plan = LaunchPlan.for_launcher(
        args.algo, token_len=args.token_len, model=args.model, nnodes=args.nnodes, gpus_per_node=args.gpus_per_node,
        train_batch_size=args.train_batch_size, mini_batch_size=args.mini_batch_size, rollout_n=args.rollout_n,
        max_prompt_length=args.max_prompt_length, max_response_length=args.max_response_length,
        rollout_tp=args.rollout_tp, rollout_gpu_util=args.rollout_gpu_util, max_model_len=args.max_model_len,
        local_judge_gpu_util=args.local_judge_gpu_util if judge is not None and judge.local else None,
    )
    findings = check(plan)
    for f in findings:
        if f.status in (FAIL, WARN):
            _say("error" if f.status == FAIL else "warning", f"{f.check}: {f.detail}")
            if f.fix:
                _say("  fix", f.fix)
    if any(f.status == FAIL for f in findings):
        _say("error", "fix the settings above before launching: verl would stop on them (or quietly misbehave) only "
             "after the first rollout-and-judge pass")
    if judge is None or any(f.status == FAIL for f in findings):
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

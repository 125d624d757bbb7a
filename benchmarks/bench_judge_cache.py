"""Judge prompt caching against a real vLLM server: today's prompts (a fresh tag code per call) vs the new ones.

A tiny Qwen2 model with random weights (``build_tiny_model``) is served by vLLM's CPU build with
automatic prefix caching on. One GRPO-like step's judge prompts go through the real judge client
(``PairwiseJudge`` and the ``openai`` SDK): 16 samples x n=8 rollouts, references and responses of
about 1,500 tokens each, ``max_tokens=1`` (the verdict does not matter here), in a shuffled order
(rollouts finish in any order) with ``API_PARALLEL`` requests in flight. The same step is sent twice,
with the prefix cache reset before each: first with today's per-call random code, then with the
new stable code. vLLM's own counters (``vllm:prefix_cache_hits`` over ``vllm:prompt_tokens`` from
``/metrics``) give each run's cached share of prompt tokens; the client's figure (read from
``usage.prompt_tokens_details.cached_tokens``) is printed beside it. The theoretical ceiling is each
sample's shared-prefix tokens x (n-1) over all prompt tokens, with the exact token ids from vLLM's
``/tokenize``. Prints one JSON line.

    python benchmarks/bench_judge_cache.py [--server-python PATH] [--samples 16] [--n 8]
        [--reference-tokens 1500] [--response-tokens 1500] [--threads 2] [--concurrency 64]

``--server-python`` is a Python with vLLM's CPU build (default: ``$WRITING_RL_VLLM_PYTHON``, else the
environment ``bash scripts/cpu_env.sh`` builds); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from writing_rl.judge import JudgeSettings, Judgment, PairwiseJudge  # noqa: E402
from writing_rl.judge.templates import Template  # noqa: E402
from writing_rl.judge.text import new_nonce  # noqa: E402
from writing_rl.testing.tiny_tokenizer import build_tiny_model  # noqa: E402

MODEL_NAME = "tiny-judge"
WORDS = (
    "the sea light house keeper letter morning harbour wind stone road river town market bread window garden "
    "winter summer spring autumn rain cloud field forest bridge school teacher student story writer reader page "
    "book night day year city village boat island storm quiet bright old new small large long short warm cold "
    "walk write read find keep bring carry open close watch listen remember forget begin finish build answer "
    "and but because while after before when where which with without under over between through across about"
).split()


class TodayJudge(PairwiseJudge):
    """The judge as it was: a fresh random tag code per call, placed just before the reference."""

    def tag_code(self, template: Template, reference: str) -> str:
        return new_nonce()


def text_of(rng: random.Random, tokenizer: Any, target_tokens: int) -> str:
    """Plain sentences of common words, cut to about ``target_tokens`` tokens of ``tokenizer``."""
    sentences: list[str] = []
    n = 0
    while n < target_tokens:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
        sentence = " ".join(words).capitalize() + "."
        sentences.append(sentence)
        n += len(tokenizer.encode(" " + sentence, add_special_tokens=False))
    while len(sentences) > 1 and n - len(tokenizer.encode(" " + sentences[-1], add_special_tokens=False)) \
            >= target_tokens:
        n -= len(tokenizer.encode(" " + sentences.pop(), add_special_tokens=False))
    paragraphs = [" ".join(sentences[i:i + 6]) for i in range(0, len(sentences), 6)]
    return "\n\n".join(paragraphs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url: str, body: dict[str, Any] | None = None, timeout: float = 60.0) -> str:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read().decode()


def counters(root: str) -> dict[str, float]:
    """vLLM's prefix-cache and prompt-token counters (summed over engines) and the KV block size."""
    text = http(f"{root}/metrics")
    out = {"hits": 0.0, "queries": 0.0, "prompt_tokens": 0.0}
    names = {"vllm:prefix_cache_hits_total": "hits", "vllm:prefix_cache_queries_total": "queries",
             "vllm:prompt_tokens_total": "prompt_tokens"}
    for line in text.splitlines():
        name = re.split(r"[{ ]", line, maxsplit=1)[0]
        if name in names:
            out[names[name]] += float(line.rsplit(" ", 1)[1])
        elif name == "vllm:cache_config_info":
            m = re.search(r'block_size="(\d+)"', line)
            if m:
                out["block_size"] = float(m.group(1))
    return out


def default_server_python() -> str | None:
    env = os.environ.get("WRITING_RL_VLLM_PYTHON")
    if env:
        return env
    cache = os.environ.get("WRITING_RL_CACHE", os.path.expanduser("~/.cache/writing-rl"))
    done = sorted(glob.glob(f"{cache}/cpu-env-*/.complete"), key=os.path.getmtime)
    return str(Path(done[-1]).parent / "bin" / "python") if done else None


def start_server(args: argparse.Namespace, model_dir: str, port: int, max_model_len: int, log_path: Path
                 ) -> subprocess.Popen:
    env = {**os.environ, "VLLM_TARGET_DEVICE": "cpu", "VLLM_CPU_KVCACHE_SPACE": "1",
           "OMP_NUM_THREADS": str(args.threads), "VLLM_CPU_OMP_THREADS_BIND": "nobind",
           "VLLM_SERVER_DEV_MODE": "1",  # for POST /reset_prefix_cache between the two runs
           "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("PYTHONPATH", None)
    cmd = [args.server_python, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir,
           "--served-model-name", MODEL_NAME, "--host", "127.0.0.1", "--port", str(port),
           "--enable-prefix-caching", "--enforce-eager", "--max-model-len", str(max_model_len),
           "--enable-prompt-tokens-details"]
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the server
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(proc: subprocess.Popen, root: str, timeout_s: float, log_path: Path) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise SystemExit(f"vLLM exited with code {proc.returncode} while starting; log tail:\n{tail}")
        try:
            http(f"{root}/health", timeout=5)
            return time.monotonic() - t0
        except OSError:
            time.sleep(2)
    raise SystemExit(f"vLLM did not become ready in {timeout_s:.0f}s; see {log_path}")


async def one_step(judge: PairwiseJudge, jobs: list[tuple[str, str, str]]) -> list[Judgment]:
    return await asyncio.gather(*(judge.compare(q, ref, resp) for q, ref, resp in jobs))


def run_phase(name: str, judge: PairwiseJudge, jobs: list[tuple[str, str, str]], root: str) -> dict[str, Any]:
    http(f"{root}/reset_prefix_cache", {})
    before = counters(root)
    t0 = time.monotonic()
    results = asyncio.run(one_step(judge, jobs))
    wall = time.monotonic() - t0
    time.sleep(1.0)  # vLLM publishes its counters on its logging interval
    after = counters(root)
    transport = [j.reason for j in results if j.reason and "VERDICT" not in j.reason]
    if transport:
        raise SystemExit(f"{name}: {len(transport)} judge calls failed, e.g. {transport[0]}")
    prompt_tokens = after["prompt_tokens"] - before["prompt_tokens"]
    hits = after["hits"] - before["hits"]
    client_prompt = sum(j.prompt_tokens for j in results)
    client_cached = sum(j.cached_prompt_tokens for j in results)
    return {
        "cached_share": hits / prompt_tokens if prompt_tokens else 0.0,
        "prefix_cache_hits": int(hits), "prefix_cache_queries": int(after["queries"] - before["queries"]),
        "prompt_tokens": int(prompt_tokens),
        "client_prompt_tokens": client_prompt, "client_cached_tokens": client_cached,
        "client_cached_share": client_cached / client_prompt if client_prompt else 0.0,
        "wall_s": round(wall, 1), "block_size": int(after.get("block_size", 0)),
    }


def ceiling(judge: PairwiseJudge, jobs: list[tuple[str, str, str]], n: int, root: str) -> tuple[float, int]:
    """Shared-prefix tokens x (n-1) over all prompt tokens, from vLLM's own tokenization of the new prompts."""
    by_ref: dict[str, list[list[int]]] = {}
    total = 0
    for q, ref, resp in jobs:
        pq, pref, pans, _ = judge.prepare(q, ref, resp)
        prompt = judge.render(pq, pref, pans, reference=pref)
        toks = json.loads(http(f"{root}/tokenize", {"model": MODEL_NAME, "add_generation_prompt": True,
                                                     "messages": [{"role": "user", "content": prompt}]}))["tokens"]
        by_ref.setdefault(ref, []).append(toks)
        total += len(toks)
    shared = 0
    for seqs in by_ref.values():
        common = min(len(s) for s in seqs)
        for s in seqs[1:]:
            common = next((i for i, (a, b) in enumerate(zip(seqs[0][:common], s[:common], strict=True)) if a != b),
                          common)
        shared += common * (n - 1)
    return shared / total, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server-python", default=default_server_python())
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--reference-tokens", type=int, default=1500)
    ap.add_argument("--response-tokens", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS for the vLLM server")
    ap.add_argument("--concurrency", type=int, default=64, help="API_PARALLEL: judge requests in flight")
    ap.add_argument("--startup-timeout", type=float, default=900.0)
    ap.add_argument("--work-dir", help="keep the model and the server log here (default: a temporary folder)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.server_python or not Path(args.server_python).exists():
        print("error: no Python with vLLM's CPU build: run `bash scripts/cpu_env.sh` or pass --server-python",
              file=sys.stderr)
        return 2
    from transformers import AutoTokenizer

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench_judge_cache_"))
    work.mkdir(parents=True, exist_ok=True)
    model_dir = build_tiny_model(str(work / "model"))
    tok = AutoTokenizer.from_pretrained(model_dir)
    rng = random.Random(args.seed)
    questions = [f"Sample {k}: write an essay of about 1,200 words on {rng.choice(WORDS)} and {rng.choice(WORDS)}."
                 for k in range(args.samples)]
    refs = [text_of(rng, tok, args.reference_tokens) for _ in range(args.samples)]
    responses = [[text_of(rng, tok, args.response_tokens) for _ in range(args.n)] for _ in range(args.samples)]
    jobs = [(questions[k], refs[k], responses[k][i]) for k in range(args.samples) for i in range(args.n)]
    random.Random(args.seed + 1).shuffle(jobs)  # rollouts finish in any order

    os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    settings = JudgeSettings(model=MODEL_NAME, backend="openai", base_url=f"{root}/v1", concurrency=args.concurrency,
                             max_tokens=1, temperature=0.0, timeout_s=1800.0, max_retries=1)
    new_judge, today_judge = PairwiseJudge(settings), TodayJudge(settings)
    longest = max(len(tok.encode(tok.apply_chat_template([{"role": "user", "content": new_judge.render(q, r, a)}],
                                                         add_generation_prompt=True, tokenize=False),
                                 add_special_tokens=False)) for q, r, a in jobs)
    max_model_len = (longest + 16 + 255) // 256 * 256
    log_path = work / "vllm.log"
    proc = start_server(args, model_dir, port, max_model_len, log_path)
    try:
        startup_s = wait_ready(proc, root, args.startup_timeout, log_path)
        today = run_phase("today", today_judge, jobs, root)
        new = run_phase("new", new_judge, jobs, root)
        ceil, total_tokens = ceiling(new_judge, jobs, args.n, root)
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
    ref_tokens = sum(len(tok.encode(r, add_special_tokens=False)) for r in refs) / len(refs)
    resp_tokens = sum(len(tok.encode(r, add_special_tokens=False)) for rs in responses for r in rs) / len(jobs)
    version = subprocess.run([args.server_python, "-c", "import vllm; print(vllm.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    out = {
        "bench": "judge_cache", "server": f"vllm {version} CPU build, prefix caching, block size {new['block_size']}",
        "samples": args.samples, "n": args.n, "judge_calls": len(jobs),
        "reference_tokens_mean": round(ref_tokens), "response_tokens_mean": round(resp_tokens),
        "prompt_tokens_mean": round(total_tokens / len(jobs)), "max_model_len": max_model_len,
        "cached_share_today": round(today["cached_share"], 4), "cached_share_new": round(new["cached_share"], 4),
        "ceiling": round(ceil, 4), "new_over_ceiling": round(new["cached_share"] / ceil, 4) if ceil else None,
        "client_cached_share": {"today": round(today["client_cached_share"], 4),
                                "new": round(new["client_cached_share"], 4)},
        "today": today, "new": new, "server_startup_s": round(startup_s, 1), "omp_threads": args.threads,
    }
    print(json.dumps(out))
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

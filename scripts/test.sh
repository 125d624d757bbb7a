#!/usr/bin/env bash
# Set up a CPU-only test environment (its own virtualenv) and run the lint and the whole test suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
# A CPU build of torch; on the project's machines pip finds this release on local disk.
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
# The environment lives outside the checkout, keyed by what it installs, so CI and every clone reuse it.
CACHE="${WRITING_RL_CACHE:-$HOME/.cache/writing-rl}"
key="$( { cat setup.py; echo "$TORCH_SPEC"; "$PYTHON" -c 'import sys; print(sys.version_info[:2])'; } | sha256sum | cut -c1-12)"
VENV="${TEST_VENV:-$CACHE/venv-test-$key}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "[test.sh] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)

echo "[test.sh] installing $TORCH_SPEC (CPU) before anything can pull a CUDA build"
"${PIP[@]}" "$TORCH_SPEC"
echo "[test.sh] installing writing-rl with its test extra (verl==0.9.1 and friends)"
"${PIP[@]}" -e ".[test]"

"$VENV/bin/python" - <<'PY'
import torch
if torch.version.cuda is not None:
    print(f"[test.sh] warning: torch {torch.__version__} is a CUDA build; set TORCH_SPEC to a CPU build")
PY

echo "[test.sh] ruff"
"$VENV/bin/ruff" check .

PYTEST=("$VENV/bin/python" -m pytest -q -p no:cacheprovider)
if [ $# -gt 0 ]; then  # explicit pytest arguments: run just those
  exec "${PYTEST[@]}" "$@"
fi

t0=$(date +%s)
echo "[test.sh] unit and integration tests (everything but tests/e2e)"
"${PYTEST[@]}" -m "not e2e"
t1=$(date +%s)
if [ "${WRITING_RL_E2E:-1}" = 0 ]; then
  echo "[test.sh] WRITING_RL_E2E=0: end-to-end suite not run (unit part took $((t1 - t0)) s)"
  exit 0
fi
echo "[test.sh] CPU training environment for the end-to-end suite (scripts/cpu_env.sh; 5-6 minutes the first time)"
bash scripts/cpu_env.sh >/dev/null
t2=$(date +%s)
echo "[test.sh] end-to-end suite: verl's real main_ppo through train_writing_rl.sh --cpu-smoke"
"${PYTEST[@]}" -m e2e tests/e2e
t3=$(date +%s)
echo "[test.sh] times: unit $((t1 - t0)) s, CPU environment $((t2 - t1)) s, end-to-end $((t3 - t2)) s"

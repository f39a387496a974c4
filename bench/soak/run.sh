#!/usr/bin/env bash
# Soak test of `host-test serve` (issue 16): the composed OpenAI-compatible
# proxy with cache, costs (a budget too large to trip), rate limits and the
# Redis store, under mixed traffic with upstream faults, for a long while.
# Not part of CI; docs/soak.md has a documented run.
#
#   bench/soak/run.sh [DURATION_S [CONCURRENCY [RATE]]]    defaults: 1800 8 60
#
# Environment: WARMUP_S (default 300, or a sixth of a shorter run),
# SAMPLE_S (seconds between samples, default 60), SERVE_ARGS (more
# arguments for serve, e.g. "--max-idle 0" or "--pooling"), DRIVER_ARGS
# (more for driver.py, e.g. "--stream-share 0"), OUT
# (results directory, default bench/soak/results/<UTC time>), FAULT_RATE
# (default 0.05), SEED (1), SOAK_NO_BUILD=1 (use target/debug/host-test as
# it is), KEEP_TMP=1 (keep the temporary directory with the full logs).
#
# It builds host-test (debug, under /tmp/cargo.lock), starts redis-server,
# the mock upstream (`host-test mock`, with its random-fault mode on) and
# `host-test serve` on free 127.0.0.1 ports, runs bench/soak/driver.py, and
# stops everything on exit. Exit status: 0 every goal passed, 1 a goal
# failed, 2 the run could not be done.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

duration=${1:-1800}
concurrency=${2:-8}
rate=${3:-60}
if [[ -z ${WARMUP_S:-} ]]; then
  warmup=300
  (( duration < 1800 )) && warmup=$(( duration / 6 ))
else
  warmup=$WARMUP_S
fi
fault_rate=${FAULT_RATE:-0.05}
sample_s=${SAMPLE_S:-60}
seed=${SEED:-1}
stamp=$(date -u +%Y%m%d-%H%M%S)
out=${OUT:-bench/soak/results/$stamp}
mkdir -p "$out"
out=$(cd "$out" && pwd)

for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is not on PATH (run .ci/setup)" >&2; exit 2; }
done

if [[ ${SOAK_NO_BUILD:-0} != 1 ]]; then
  echo "== cargo build -p host-test (debug)"
  flock /tmp/cargo.lock cargo build -p host-test
fi
bin=$root/target/debug/host-test
[[ -x $bin ]] || { echo "soak: $bin is missing" >&2; exit 2; }

tmp=$(mktemp -d /tmp/aigw-soak.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    # Up to 5 s each, then SIGKILL.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP_TMP:-0} == 1 ]]; then
    echo "soak: logs kept in $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # what, seconds, command...
  local what=$1 secs=$2; shift 2
  for _ in $(seq $(( secs * 10 ))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "soak: $what did not come up within ${secs} s" >&2
  return 1
}

http_get() { python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2).read()' "$1"; }

# ---------------------------------------------------------------- redis
redis_port=$(free_port)
mkdir -p "$tmp/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$tmp/redis" --loglevel warning --logfile "$tmp/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
wait_for redis-server 10 redis-cli -h 127.0.0.1 -p "$redis_port" ping
echo "== redis-server $(redis-server --version | awk '{print $3}') on 127.0.0.1:$redis_port (pid $redis_pid)"

# ---------------------------------------------------------------- mock
mock_port=$(free_port)
"$bin" mock --port "$mock_port" >"$tmp/mock.out" 2>"$tmp/mock.log" &
mock_pid=$!
pids+=("$mock_pid")
mock=http://127.0.0.1:$mock_port
wait_for "the mock upstream" 10 http_get "$mock/__mock/hits"
# ~5 % of upstream requests fail: HTTP 429, 500, 502, 503, a reset before
# the head or mid-body, a stall past the gateway's 3 s deadline, a short
# stall (0.5 s) it survives. Streams are paced 20 ms per event. Requests
# are not kept (the list would grow for the whole run).
chaos=$(python3 - "$mock" "$fault_rate" "$seed" <<'EOF'
import json, sys, urllib.request
url, rate, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
body = {"rate": rate, "seed": seed, "stall_ms": 5000, "pace_ms": 20, "record": False,
        "weights": {"429": 2, "500": 1, "502": 1, "503": 1, "reset_before_head": 2,
                    "reset_mid": 2, "stall": 1, "stall_short": 1}}
req = urllib.request.Request(f"{url}/__mock/chaos", data=json.dumps(body).encode(), method="POST")
print(urllib.request.urlopen(req, timeout=5).read().decode())
EOF
)
echo "== mock upstream on $mock (pid $mock_pid): $chaos"

# ---------------------------------------------------------------- serve
serve_port=$(free_port)
cat >"$tmp/proxy-config.json" <<EOF
{
  "providers": [{"name": "mock", "kind": "openai", "base_url": "$mock/v1", "api_key_variable": "upstream_key"}],
  "default_provider": "mock",
  "models": ["mock-model", "mock-cancel"],
  "retry": {"max_attempts": 2},
  "cache": {"bucket": "cache", "ttl_seconds": 3600},
  "pricing": [
    {"model": "mock-model", "input": 5000000, "output": 10000000},
    {"model": "mock-cancel", "input": 5000000, "output": 10000000}
  ],
  "state_bucket": "state",
  "timeout_ms": 3000,
  "logging": {"level": "info", "stderr": true},
  "clients": [
    {"name": "soak", "key_variable": "soak_key", "budget_micro_usd": 1000000000000,
     "requests_per_minute": 1000000, "tokens_per_minute": 10000000},
    {"name": "limited", "key_variable": "limited_key", "requests_per_minute": 120}
  ]
}
EOF
cp "$tmp/proxy-config.json" "$out/proxy-config.json"
serve_cmd=("$bin" serve --listen "127.0.0.1:$serve_port" --config "$tmp/proxy-config.json"
  --redis "redis://127.0.0.1:$redis_port" --var upstream_key=sk-mock-upstream
  --var soak_key=sk-soak-client --var limited_key=sk-soak-limited)
# shellcheck disable=SC2206 # word splitting of SERVE_ARGS is the point
[[ -n ${SERVE_ARGS:-} ]] && serve_cmd+=($SERVE_ARGS)
# No OTLP export: the soak measures serve alone.
env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
  "${serve_cmd[@]}" 2>"$tmp/serve.log" >/dev/null &
serve_pid=$!
pids+=("$serve_pid")
serve=http://127.0.0.1:$serve_port
wait_for "serve (/readyz)" 300 http_get "$serve/readyz"
echo "== serve on $serve (pid $serve_pid)"

# ---------------------------------------------------------------- load
{
  echo "command: bench/soak/run.sh $duration $concurrency $rate (WARMUP_S=$warmup SAMPLE_S=$sample_s FAULT_RATE=$fault_rate SEED=$seed SERVE_ARGS=${SERVE_ARGS:-} DRIVER_ARGS=${DRIVER_ARGS:-})"
  echo "commit: $(git rev-parse HEAD) ($(git rev-parse --abbrev-ref HEAD))$(git diff --quiet HEAD || echo ' + uncommitted changes')"
  echo "started: $(date -u +%FT%TZ)"
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "redis: $(redis-server --version)"
  echo "serve: ${serve_cmd[*]/$tmp/\$TMP}"
} | tee "$out/run-info.txt"

set +e
python3 bench/soak/driver.py --url "$serve" --mock-url "$mock" --redis-port "$redis_port" \
  --serve-pid "$serve_pid" --mock-pid "$mock_pid" --redis-pid "$redis_pid" \
  --duration "$duration" --concurrency "$concurrency" --rate "$rate" --warmup "$warmup" \
  --sample-s "$sample_s" --seed "$seed" --out "$out" ${DRIVER_ARGS:-} 2>&1 | tee "$out/driver.log"
rc=${PIPESTATUS[0]}
set -e

{
  echo "finished: $(date -u +%FT%TZ)"
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  if kill -0 "$serve_pid" 2>/dev/null; then echo "serve still running at the end: yes"; else echo "serve still running at the end: NO"; fi
  echo "serve stderr: $(wc -l <"$tmp/serve.log") lines, $(wc -c <"$tmp/serve.log") bytes;" \
    "not gateway log records: $(grep -vc '^{' "$tmp/serve.log" || true)"
  echo "mock stderr lines: $(wc -l <"$tmp/mock.log"); redis log lines: $(wc -l <"$tmp/redis.log" 2>/dev/null || echo 0)"
} | tee -a "$out/run-info.txt"
# What serve said besides its log records (warnings, panics), and a tail.
grep -v '^{' "$tmp/serve.log" | head -200 >"$out/serve-stderr-other.txt" || true
tail -n 50 "$tmp/serve.log" >"$out/serve-stderr-tail.txt"
echo "results in $out (exit $rc)"
exit "$rc"

#!/usr/bin/env bash
# Where one proxied request's CPU goes: instruction counts under callgrind
# (stable on a noisy box) for `host-test serve` (the composed proxy) and the
# shared harness's native `floorproxy`, each serving the same N non-streaming
# chat requests from the harness's mock, one at a time. Prints instructions
# per request and ours' breakdown by where the code comes from
# (bench/profile/breakdown.py); raw callgrind files in the results folder.
#
#   bench/profile/run.sh [requests]        (default 2000)
#
# Needs: a release host-test (cargo build --release -p host-test), the
# harness's bench-tools (INSTALL_ONLY=1 ../shared/bench/peers/run.sh), and
# valgrind. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
peers=${PEER_BENCH_DIR:-$HOME/.cache/peer-bench}  # where the harness builds its tools
tools=$peers/bench-tools/target/release
conf=${PEERS_CONF:-$PWD/../shared/bench/peers/conf}
out=bench/profile/results/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_port() {  # wait_port PORT: until something accepts there (60 s)
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listening on $1" >&2; return 1
}

"$tools/mockllm" --port 19000 --chunks 8 >"$out/mock.log" 2>&1 & pids+=($!)
wait_port 19000

# callgrind_one NAME PORT CMD...: start CMD under callgrind, load it with N
# requests (after 50 warm-up ones, which callgrind counts too: they are the
# same work), stop it, and keep its output.
callgrind_one() {
  local name=$1 port=$2; shift 2
  valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$out/$name.callgrind" \
    --dump-instr=no --collect-jumps=no "$@" >"$out/$name.log" 2>&1 &
  local vg=$!
  pids+=($vg)
  wait_port "$port"
  # Warm up (a server may finish starting after it listens: compiling or
  # loading the component, the first connections), then count from zero.
  "$tools/loadgen" --url "http://127.0.0.1:$port/v1/chat/completions" \
    --body-file "$conf/req-chat.json" -c 1 -w 0 -d 600 --max-requests 50 \
    -H "authorization: Bearer unused" >/dev/null
  callgrind_control -z "$vg" >/dev/null
  "$tools/loadgen" --url "http://127.0.0.1:$port/v1/chat/completions" \
    --body-file "$conf/req-chat.json" -c 1 -w 0 -d 600 --max-requests "$n" \
    -H "authorization: Bearer unused" --label "$name" >"$out/$name.loadgen.json"
  # Dump what the requests cost ($name.callgrind.1; the startup before the
  # zeroing is not in it), then stop the target. (A background job ignores
  # SIGINT, so TERM.)
  callgrind_control -d "$vg" >/dev/null
  kill -TERM "$vg" 2>/dev/null || true
  wait "$vg" 2>/dev/null || true
}

callgrind_one floor 18950 "$tools/floorproxy" --port 18950 --upstream 127.0.0.1:19000 --paced 127.0.0.1:19000 --threads 1
# Without --pooling: the pooling allocator reserves terabytes of address
# space up front, which valgrind cannot map. On-demand instantiation is
# counted in each request instead of the pool's.
# HOST_TEST: the release build is stripped (no symbols to attribute); the
# default is the dev build, whose dependencies (wasmtime, hyper, tokio) are
# optimized as in release and whose own code (host-test) is not.
callgrind_one ours 18900 "${HOST_TEST:-target/debug/host-test}" serve --listen 127.0.0.1:18900 \
  --config bench/proxy-config.json --var upstream_key=sk-mock

# The kernel's share, which callgrind does not see: the same requests
# natively (ours pooled, as benchmarked), user and system CPU of the server
# from /proc/PID/stat (clock ticks), per request.
native_one() {  # native_one NAME PORT CMD...
  local name=$1 port=$2; shift 2
  "$@" >"$out/$name.native.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_port "$port"
  "$tools/loadgen" --url "http://127.0.0.1:$port/v1/chat/completions" \
    --body-file "$conf/req-chat.json" -c 1 -w 0 -d 600 --max-requests 200 \
    -H "authorization: Bearer unused" >/dev/null
  local before after
  before=$(awk '{print $14, $15}' "/proc/$pid/stat")
  "$tools/loadgen" --url "http://127.0.0.1:$port/v1/chat/completions" \
    --body-file "$conf/req-chat.json" -c 1 -w 0 -d 600 --max-requests "$((n * 10))" \
    -H "authorization: Bearer unused" >"$out/$name.native.loadgen.json"
  after=$(awk '{print $14, $15}' "/proc/$pid/stat")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$name $before $after $((n * 10)) $(getconf CLK_TCK)" >>"$out/native.txt"
}
native_one floor 18950 "$tools/floorproxy" --port 18950 --upstream 127.0.0.1:19000 --paced 127.0.0.1:19000 --threads 1
native_one ours 18900 target/release/host-test serve --listen 127.0.0.1:18900 \
  --config bench/proxy-config.json --var upstream_key=sk-mock --pooling

python3 bench/profile/breakdown.py "$out" "$n" | tee "$out/summary.md"

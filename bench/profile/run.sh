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
  # Counting starts now: the totals below minus this snapshot are the requests'.
  callgrind_control -z "$vg" >/dev/null 2>&1 || true
  "$tools/loadgen" --url "http://127.0.0.1:$port/v1/chat/completions" \
    --body-file "$conf/req-chat.json" -c 1 -w 0 -d 600 --max-requests "$n" \
    -H "authorization: Bearer unused" --label "$name" >"$out/$name.loadgen.json"
  kill -INT "$vg" 2>/dev/null || kill "$vg"
  wait "$vg" 2>/dev/null || true
}

callgrind_one floor 18950 "$tools/floorproxy" --port 18950 --upstream 127.0.0.1:19000 --paced 127.0.0.1:19000 --threads 1
callgrind_one ours 18900 target/release/host-test serve --listen 127.0.0.1:18900 \
  --config bench/proxy-config.json --var upstream_key=sk-mock --pooling

python3 bench/profile/breakdown.py "$out" "$n" | tee "$out/summary.md"

#!/usr/bin/env bash
# Every benchmark behind BENCHMARKS.md, in one go (≈ 35 min on 2 cores, most
# of it the release build of host-test and the peer run):
#
#   bench/run.sh                 all sections
#   bench/run.sh sse sizes       only some: sse, overhead, sizes, peers
#
# Peers (Portkey, LiteLLM) come from the shared harness, ../shared/bench/peers
# (PEER_BENCH=... to point elsewhere); it installs them itself.
set -euo pipefail
cd "$(dirname "$0")/.."
sections=${*:-sse overhead sizes peers}
out=target/bench-results
mkdir -p "$out"
has() { [[ " $sections " == *" $1 "* ]]; }

echo "== release build of host-test (builds the guest components too)"
cargo build --release -p host-test
HOST=target/release/host-test

if has sse; then
  echo "== SSE decode inside the guest (wasm32-wasip2, release) and natively"
  cargo build --release --target wasm32-wasip2 -p sse-guest-bench --target-dir target/bench-guest
  "$HOST" run target/bench-guest/wasm32-wasip2/release/sse-guest-bench.wasm | tee "$out/sse-guest.jsonl"
  cargo run --release -q -p sse-guest-bench | tee "$out/sse-native.jsonl"
fi

if has overhead; then
  echo "== in-process run overhead (criterion)"
  cargo bench -p host-test --bench run_overhead 2>&1 | tee "$out/run-overhead.txt"
fi

if has sizes; then
  echo "== component sizes (built with strip = true; wasm-opt -Oz via jco opt)"
  jco=examples/workers/node_modules/.bin/jco
  {
    printf '| component | built | gzip -9 | wasm-opt -Oz | -Oz + gzip -9 |\n|---|---|---|---|---|\n'
    for c in target/guest/wasm32-wasip2/release/ai_gateway.wasm \
             target/guest/wasm32-wasip2/release/ai_gateway_allowlist.wasm \
             target/guest/wasm32-wasip2/release/ai_gateway_proxy.wasm \
             target/composed/proxy.wasm; do
      [[ -f $c ]] || continue
      n=$(basename "$c" .wasm)
      "$jco" opt "$c" -o "$out/$n.opt.wasm" -q -- -Oz --enable-bulk-memory --enable-sign-ext \
        --enable-nontrapping-float-to-int --enable-mutable-globals --enable-multivalue --enable-simd >/dev/null
      printf '| %s | %s | %s | %s | %s |\n' "$n" "$(stat -c %s "$c")" "$(gzip -9c "$c" | wc -c)" \
        "$(stat -c %s "$out/$n.opt.wasm")" "$(gzip -9c "$out/$n.opt.wasm" | wc -c)"
    done
  } | tee "$out/sizes.md"
fi

if has peers; then
  echo "== proxy vs direct vs Portkey vs LiteLLM (shared peer harness)"
  # OURS_KEY: the harness (2026-11) needs a non-empty one: with OURS_KEY empty,
  # its `[[ -n $OURS_KEY ]] && ...` ends target_req with status 1 under set -e.
  peers=${PEER_BENCH:-$(cd .. && pwd)/shared/bench/peers}
  OURS_CMD="exec $(pwd)/$HOST serve --listen 127.0.0.1:18900 --config $(pwd)/bench/proxy-config.json --var upstream_key=sk-mock --pooling" \
  OURS_VERSION="ai-gateway $(git rev-parse --short HEAD)" \
  OURS_KEY=${OURS_KEY:-unused-the-proxy-has-no-clients} \
    "$peers/run.sh" 2>&1 | tee "$out/peers.txt"
fi

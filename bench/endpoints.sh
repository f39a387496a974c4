#!/usr/bin/env bash
# The proxy's three front doors side by side, in one run: the added latency
# of POST /v1/chat/completions, /v1/messages and /v1/responses over the
# mock alone (non-streaming, concurrency 1, and streaming time to first
# token), with the shared harness's mock and load generator.
#
#   bench/endpoints.sh            # 3 repeats x 10 s per cell
#   REPEATS=1 DURATION=5 bench/endpoints.sh
#
# Needs target/release/host-test (cargo build --release -p host-test) and
# the harness's bench-tools (../shared/bench/peers/run.sh builds them:
# INSTALL_ONLY=1). Pinning as in the harness: the proxy on CPU 1, the
# load generator and the mock on CPU 0.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${REPEATS:=3}" "${DURATION:=10}" "${WARMUP:=2}"
: "${PEER_BENCH_DIR:=$HOME/.cache/peer-bench}"
tools=$PEER_BENCH_DIR/bench-tools/target/release
[[ -x $tools/loadgen && -x $tools/mockllm ]] || { echo "bench-tools not built: INSTALL_ONLY=1 ../shared/bench/peers/run.sh" >&2; exit 1; }
host=target/release/host-test
[[ -x $host ]] || { echo "build it first: cargo build --release -p host-test" >&2; exit 1; }

out=bench/results/endpoints-$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

taskset -c 0 "$tools/mockllm" --port 19000 >"$out/mock.log" 2>&1 & pids+=($!)
taskset -c 0 "$tools/mockllm" --port 19001 --chunk-delay-ms 2 >"$out/mock-paced.log" 2>&1 & pids+=($!)
taskset -c 1 "$host" serve --listen 127.0.0.1:18900 --config bench/proxy-config.json \
  --var upstream_key=sk-mock --pooling >"$out/serve.log" 2>&1 & pids+=($!)
for _ in $(seq 1 300); do
  curl -sf http://127.0.0.1:18900/readyz >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf http://127.0.0.1:18900/readyz >/dev/null

chat='{"model":"mock-model","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello twenty times."}],"max_tokens":64,"temperature":0}'
chat_paced=${chat/mock-model/mock-model-paced}
messages='{"model":"claude-mock","max_tokens":64,"system":"You are a helpful assistant.","messages":[{"role":"user","content":"Say hello twenty times."}],"temperature":0}'
responses='{"model":"mock-model","instructions":"You are a helpful assistant.","input":"Say hello twenty times.","max_output_tokens":64,"temperature":0,"store":false}'
stream() { sed 's/}$/,"stream":true}/' <<<"$1"; }

# run LABEL URL BODY [--stream] -> one JSON line per repeat in $out/raw.jsonl
run() {
  local label=$1 url=$2 body=$3; shift 3
  for r in $(seq 1 "$REPEATS"); do
    taskset -c 0 "$tools/loadgen" --url "$url" --body "$body" -c 1 -d "$DURATION" -w "$WARMUP" \
      --label "$label" "$@" | tee -a "$out/raw.jsonl" >/dev/null
  done
}
M=http://127.0.0.1:19000 P=http://127.0.0.1:19001 O=http://127.0.0.1:18900
run "direct chat" "$M/v1/chat/completions" "$chat"
run "direct messages" "$M/v1/messages" "$messages"
run "ours chat" "$O/v1/chat/completions" "$chat"
run "ours messages" "$O/v1/messages" "$messages"
run "ours responses" "$O/v1/responses" "$responses"
run "direct chat s1" "$P/v1/chat/completions" "$(stream "$chat")" --stream
run "ours chat s1" "$O/v1/chat/completions" "$(stream "$chat_paced")" --stream
# Messages streamed from the paced OpenAI-format mock (translated), so its
# TTFT compares with chat's. Responses streams end with
# `response.completed`, which the harness's load generator does not accept
# as a terminator (it knows `[DONE]` and `message_stop`), so they are not
# timed here.
run "ours messages s1" "$O/v1/messages" "$(stream "${messages/claude-mock/mock-model-paced}")" --stream

python3 - "$out/raw.jsonl" <<'EOF' | tee "$out/summary.md"
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    rows.setdefault(r.get("label", "?"), []).append(r)
def med(label, *keys):
    vals = []
    for r in rows.get(label, []):
        v = r
        for k in keys:
            v = v.get(k, {}) if isinstance(v, dict) else {}
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else None
def fmt(x):
    return "–" if x is None else f"{x:.3f}"
print("| endpoint (non-streaming, c1) | p50 ms | p99 ms | added p50 over the mock's own endpoint |")
print("|---|---|---|---|")
base = {"chat": med("direct chat", "latency_ms", "p50"), "messages": med("direct messages", "latency_ms", "p50"),
        "responses": med("direct chat", "latency_ms", "p50")}
for e in ("chat", "messages", "responses"):
    p50, p99 = med(f"ours {e}", "latency_ms", "p50"), med(f"ours {e}", "latency_ms", "p99")
    added = None if p50 is None or base[e] is None else p50 - base[e]
    print(f"| `{e}` | {fmt(p50)} | {fmt(p99)} | {fmt(added)} |")
print()
print("| endpoint (stream, c1, paced mock) | TTFT p50 ms | total p50 ms | added TTFT over direct chat |")
print("|---|---|---|---|")
d = med("direct chat s1", "ttft_ms", "p50")
for e in ("chat", "messages"):
    t, tot = med(f"ours {e} s1", "ttft_ms", "p50"), med(f"ours {e} s1", "latency_ms", "p50")
    added = None if t is None or d is None else t - d
    print(f"| `{e}` | {fmt(t)} | {fmt(tot)} | {fmt(added)} |")
EOF
echo "raw: $out/raw.jsonl"

#!/usr/bin/env bash
# Build every fuzz target once, run each for N seconds (default 15), print a
# summary table; exit non-zero if any target crashed, hung or ran out of
# memory. See docs/fuzzing.md.
#
#   fuzz/run.sh [seconds-per-target]
#
# CARGO_LOCK=/path/to/lockfile serializes the build step with other cargo
# builds on a shared machine (flock); fuzzing itself runs without it.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-15}
[[ $secs =~ ^[0-9]+$ ]] || { echo "usage: fuzz/run.sh [seconds-per-target]" >&2; exit 2; }

# The crate forbids unsafe code, so AddressSanitizer adds little but halves
# the speed; panics, overflow checks and debug assertions still abort a run.
build_flags=(--sanitizer none)
lock=()
if [ -n "${CARGO_LOCK:-}" ]; then lock=(flock "$CARGO_LOCK"); fi

t0=$SECONDS
(cd .. && "${lock[@]}" cargo +nightly fuzz build "${build_flags[@]}")
build_s=$((SECONDS - t0))

triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir=target/$triple/release
mkdir -p target/logs artifacts

targets=()
for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done

rows=()
failed=()
for t in "${targets[@]}"; do
  # New inputs go to a scratch corpus; the committed one is only read
  # (refresh it with `cargo fuzz cmin`, see docs/fuzzing.md).
  work=target/corpus/$t
  mkdir -p "$work" "artifacts/$t" "corpus/$t"
  log=target/logs/$t.log
  start=$(date +%s.%N)
  rc=0
  "$bin_dir/$t" "$work" "corpus/$t" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || rc=$?
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  # A target that crashes on its seed corpus prints no `corp:` line: the
  # failure must reach the table, not end the script through pipefail.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1 || true)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1 || true)
  corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -n1 | cut -d' ' -f2 || true)
  status=ok
  if [ "$rc" -ne 0 ]; then
    status="FAILED (exit $rc)"
    failed+=("$t")
    echo "---- $t: libFuzzer exited $rc; end of $log:" >&2
    tail -n 40 "$log" >&2
  fi
  rows+=("$(printf '%-12s %12s %8s %8s %12s  %s' "$t" "${execs:-?}" "${rate:-?}" "$took" "${corp:-?}" "$status")")
done

echo
echo "fuzz: build ${build_s}s, ${secs}s per target"
printf '%-12s %12s %8s %8s %12s  %s\n' target executions exec/s seconds corpus result
printf '%s\n' "${rows[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
  exit 1
fi

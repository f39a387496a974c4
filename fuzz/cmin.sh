#!/usr/bin/env bash
# Shrink the committed corpora after a run (fuzz/run.sh builds the targets
# and leaves its new inputs in fuzz/target/corpus/). Per target it keeps the
# seeds (seed_*) and crash regressions (regress_*) and adds a set cover, by
# edge coverage, of the other inputs up to 256 bytes. `cargo fuzz cmin`
# keeps every input with a new feature, hit counts included: thousands of
# files and ~6 MB here, too much to commit. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")"
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir=target/$triple/release

for f in fuzz_targets/*.rs; do
  t=$(basename "$f" .rs)
  tmp=$(mktemp -d)
  mkdir -p "$tmp/out" "$tmp/cand" "corpus/$t"
  find "corpus/$t" -maxdepth 1 -type f \( -name 'seed_*' -o -name 'regress_*' \) -exec cp {} "$tmp/out/" \;
  for d in "corpus/$t" "target/corpus/$t"; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -type f -size -257c ! -name 'seed_*' ! -name 'regress_*' -exec cp {} "$tmp/cand/" \;
  done
  if ! "$bin_dir/$t" -merge=1 -set_cover_merge=1 -use_counters=0 "$tmp/out" "$tmp/cand" >"$tmp/log" 2>&1; then
    tail -n 30 "$tmp/log" >&2
    exit 1
  fi
  rm -rf "corpus/$t"
  mv "$tmp/out" "corpus/$t"
  rm -rf "$tmp"
  echo "$t: $(find "corpus/$t" -type f | wc -l) files, $(du -s --apparent-size -B1 "corpus/$t" | cut -f1) bytes"
done

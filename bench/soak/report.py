#!/usr/bin/env python3
"""Markdown tables of one soak run's results (for docs/soak.md):

    python3 bench/soak/report.py bench/soak/results/<run>
"""

import csv
import json
import sys


def main(d):
    rows = list(csv.DictReader(open(f"{d}/samples.csv")))
    s = json.load(open(f"{d}/summary.json"))
    warm = s["args"]["warmup"]
    print("| min | req/s | ok | errors | cancelled | stream err events | violations | p99 ms "
          "| serve RSS kB | of which wasm | serve fds | serve CPU % | mock RSS kB | redis RSS kB | redis keys | load 1m |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mark = "" if float(r["elapsed_s"]) > warm + 1 else " (warm-up)"
        print(f"| {r['minute']}{mark} | {r['req_per_s']} | {r['ok']} | {r['errors']} | {r['cancelled']} "
              f"| {r['stream_error_events']} | {r['stream_violations']} | {r['p99_ms']} | {r['serve_rss_kb']} "
              f"| {r['serve_rss_wasm_kb']} | {r['serve_fds']} | {r['serve_cpu_pct']} | {r['mock_rss_kb']} "
              f"| {r['redis_rss_kb']} | {r['redis_keys']} | {r['loadavg_1m']} |")
    print()
    print("errors by kind:", json.dumps(s["errors_by_kind"]))
    print("mock faults:", json.dumps(s["mock_chaos"].get("faults")), "of", s["mock_chaos"].get("served"))
    for name, v in s["verdicts"].items():
        detail = {k: x for k, x in v.items() if k not in ("pass", "checks")}
        print(f"{'PASS' if v['pass'] else 'FAIL'} {name}: {json.dumps(detail)}")


if __name__ == "__main__":
    main(sys.argv[1])

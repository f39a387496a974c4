#!/usr/bin/env python3
"""Instructions per request, and where ours go, from bench/profile/run.sh's
callgrind files: `breakdown.py RESULTS_DIR REQUESTS`. Functions are grouped
by the crate or library their symbol names (JIT-compiled wasm has no symbol:
it is the guest, the proxy's and the gateway's own code together with the
component-model trampolines). Prints Markdown."""

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

GROUPS = [
    # JIT-compiled code has neither a file nor an object valgrind knows.
    ("guest: JIT-compiled wasm (proxy + gateway code, component-model trampolines)", r"^\?\?\?:0x[0-9a-f]+ \[\?\?\?\]$"),
    ("wasmtime-wasi-http (per-request tasks, body channels, outgoing client)", r"wasmtime_wasi_http"),
    ("WASI streams, pollables, clocks (wasmtime-wasi)", r"wasmtime_wasi(?!_http)|wasmtime_wasi_io"),
    ("wasmtime runtime (host calls, lifting/lowering, type checks, stores)", r"wasmtime|cranelift|pulley"),
    ("hyper and http (server in, client out)", r"hyper|\bh2::|\bhttp::|httparse|http_body"),
    ("tokio (tasks, I/O driver, timers)", r"tokio|mio::"),
    ("host-test (serve, cancellation, kv)", r"host_test"),
    ("allocation (malloc, free, realloc)", r"malloc|free|realloc|calloc|_int_|tcache|arena|sysmalloc|__rust_alloc|__rust_dealloc|__rdl_|__rg_"),
    ("memcpy / memmove / memset", r"memcpy|memmove|memset|memcmp|bcmp"),
    ("libc system-call wrappers (the kernel itself is not counted)", r"libc\.so.*(epoll|writev|sendmsg|recv|send|read|write|futex|clock_gettime|syscall|pthread)|(epoll|writev|sendmsg|recvfrom|__libc_)"),
    ("serde / serde_json on the host", r"serde"),
    ("std and core generics (not inlined into their callers)", r"\bcore::|\bstd::|alloc::|hashbrown"),
]


def functions(path: Path):
    """(self instructions, symbol) for every function, and the total, from
    the dump taken after the requests (`NAME.callgrind.1`)."""
    dumped = path.with_name(path.name + ".1")
    if dumped.exists():
        path = dumped
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=no", "--threshold=100", "--show-percs=no", "--auto=no", str(path)],
        capture_output=True, text=True, check=True).stdout
    total = None
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(?.*PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(.+?)\s*$", line)
        if m and total is not None and ":" in m.group(2):
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return total or 0, rows


def group(symbol: str) -> str:
    # "file:function [object]": classify by the function, then the object.
    for name, pattern in GROUPS:
        if re.search(pattern, symbol):
            return name
    return "other"


def main() -> None:
    out, n = Path(sys.argv[1]), int(sys.argv[2])
    floor_total, _ = functions(out / "floor.callgrind")
    ours_total, rows = functions(out / "ours.callgrind")
    print(f"Instructions per request ({n} non-streaming chat requests, c1, after warm-up):\n")
    print("| target | instructions / request | ÷ floor |")
    print("|---|---|---|")
    print(f"| floor | {floor_total / n:,.0f} | 1.00 |")
    print(f"| ours | {ours_total / n:,.0f} | {ours_total / max(floor_total, 1):.2f} |")
    native = out / "native.txt"
    if native.exists():
        print("\nThe same requests natively (no valgrind; ours with `--pooling`), the server's CPU per request:\n")
        print("| target | user µs | system (kernel) µs | kernel share |")
        print("|---|---|---|---|")
        for line in native.read_text().splitlines():
            name, u0, s0, u1, s1, reqs, tck = line.split()
            tick = 1e6 / int(tck)
            user = (int(u1) - int(u0)) * tick / int(reqs)
            sys_ = (int(s1) - int(s0)) * tick / int(reqs)
            print(f"| {name} | {user:.1f} | {sys_:.1f} | {100 * sys_ / max(user + sys_, 1e-9):.0f} % |")
    by = defaultdict(int)
    top = defaultdict(list)
    for ir, sym in rows:
        g = group(sym)
        by[g] += ir
        top[g].append((ir, sym))
    print("\nOurs, by where the code comes from (self instructions):\n")
    print("| part | instructions / request | share | biggest functions |")
    print("|---|---|---|---|")
    for g, ir in sorted(by.items(), key=lambda kv: -kv[1]):
        biggest = "; ".join(
            re.sub(r"\s*\[.*\]$", "", s).split(":", 1)[-1][:70]
            for _, s in sorted(top[g], reverse=True)[:2])
        print(f"| {g} | {ir / n:,.0f} | {100 * ir / max(ours_total, 1):.1f} % | `{biggest}` |")


if __name__ == "__main__":
    main()

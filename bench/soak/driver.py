#!/usr/bin/env python3
"""Load driver and sampler of the soak test (bench/soak/run.sh starts it).

Python standard library only. Worker threads send a paced mix of JSON and
streaming chat completions to `host-test serve` (the OpenAI-compatible
proxy), some of them repeats that the cache must answer, some from a client
whose rate limit refuses part of them, some streams cancelled mid-way by
closing the connection. A sampler thread records every `--sample-s`
seconds the RSS, open descriptors, threads and CPU time of serve, the mock
and redis, plus the traffic of that interval. At the end the cost counters
in Redis and in serve's /metrics are compared with the sum of the prices
of the calls the clients saw succeed.

Writes into --out: samples.csv (one row per interval), samples.jsonl (the
same with errors by kind), summary.json, summary.md; exit status 1 when a
goal fails, 2 when the run itself could not be done.
"""

import argparse
import http.client
import json
import math
import os
import random
import socket
import statistics
import sys
import threading
import time
import urllib.request
from collections import Counter, deque

# ------------------------------------------------------------------ config

# Per million tokens, micro-USD; must match the proxy config run.sh writes.
PRICE_IN = 5_000_000
PRICE_OUT = 10_000_000
MODEL = "mock-model"
CANCEL_MODEL = "mock-cancel"
CLIENTS = {"soak": "sk-soak-client", "limited": "sk-soak-limited"}
STATE_BUCKET = "state"


def price(usage):
    """The gateway's price of an OpenAI `usage` object (src/engine/cost.rs)."""
    pin = int(usage.get("prompt_tokens", 0))
    pout = int(usage.get("completion_tokens", 0))
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0) or 0)
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0) or 0)
    # No cache-read or reasoning prices configured: they cost the plain rate.
    num = (pin - cached) * PRICE_IN + cached * PRICE_IN + (pout - reasoning) * PRICE_OUT + reasoning * PRICE_OUT
    return -(-num // 1_000_000)


# ------------------------------------------------------------------ /proc


def proc_sample(pid):
    """RSS (kB), open fds, threads, CPU seconds of `pid`; None when gone."""
    if not pid:
        return None
    try:
        rss = threads = None
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / tick
        return {"rss_kb": rss, "fds": fds, "threads": threads, "cpu_s": round(cpu, 2)}
    except (OSError, ValueError, IndexError):
        return None


def rss_split(pid):
    """RSS (kB) of `pid` split into wasm linear memories and the rest (the
    host: heap, code, stacks); None when unreadable. A linear memory of
    wasmtime's on-demand allocator is one reservation of about 4 GiB: its
    accessible pages (anonymous, plus the copy-on-write memfd image of its
    data) right below a PROT_NONE rest of at least 1 GiB; the walk back
    from each such rest stops at the previous PROT_NONE region."""
    maps = []
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                head = line.split()
                if head and "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                    lo, hi = (int(x, 16) for x in head[0].split("-"))
                    maps.append([lo, hi, head[1], 0])
                elif line.startswith("Rss:") and maps:
                    maps[-1][3] = int(line.split()[1])
    except (OSError, ValueError):
        return None
    wasm_vmas = set()
    for i, (lo, hi, perms, _) in enumerate(maps):
        if perms.startswith("---") and hi - lo >= 1 << 30:
            j = i - 1
            while j >= 0 and maps[j][1] == maps[j + 1][0] and not maps[j][2].startswith("---"):
                wasm_vmas.add(j)
                j -= 1
    wasm = sum(m[3] for i, m in enumerate(maps) if i in wasm_vmas)
    rest = sum(m[3] for i, m in enumerate(maps) if i not in wasm_vmas)
    return {"wasm_kb": wasm, "host_kb": rest}


def tcp_sockets():
    """inode -> (local port, remote port, state) of every TCP socket."""
    out = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    out[p[9]] = (int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16), p[3])
        except OSError:
            pass
    return out


def fd_breakdown(pid, ports):
    """What the open descriptors of `pid` are: sockets by peer (`ports`
    names local services: {port: name}), pipes, anon inodes, files."""
    kinds = Counter()
    tcp = tcp_sockets()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return {}
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inode = target[8:-1]
            if inode in tcp:
                local, remote, state = tcp[inode]
                if state == "0A":
                    kinds["tcp listen"] += 1
                elif remote in ports:
                    kinds[f"tcp to {ports[remote]}"] += 1
                elif local in ports:
                    kinds[f"tcp from clients of {ports[local]}"] += 1
                else:
                    kinds["tcp other"] += 1
            else:
                kinds["socket (not tcp)"] += 1
        elif target.startswith("anon_inode:"):
            kinds[target] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        else:
            kinds["file " + target if target.startswith("/dev/") else "file"] += 1
    return dict(sorted(kinds.items()))


# ------------------------------------------------------------------ redis


class Redis:
    """A minimal RESP2 client (GET, SCAN, INFO, DBSIZE): keys hold NUL bytes
    (`aigw:` + bucket + NUL + key, host-test/src/kv/redis.rs), which
    redis-cli arguments cannot carry."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = self.sock.makefile("rb")

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.buf.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.buf.read(n + 2)
            return data[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError(f"bad RESP line {line!r}")

    def info(self, section):
        text = self.cmd("INFO", section).decode()
        return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)

    def scan(self, pattern):
        cursor, keys = b"0", []
        while True:
            cursor, page = self.cmd("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            keys.extend(page)
            if cursor == b"0":
                return keys

    def cost_counters(self):
        """Every cost counter of the state bucket: {'soak:total:cost': n, ...}."""
        prefix = b"aigw:" + STATE_BUCKET.encode() + b"\x00aigw:cost:"
        out = {}
        for k in self.scan(prefix + b"*"):
            v = self.cmd("GET", k)
            out[k[len(prefix):].decode()] = int(v) if v is not None else 0
        return out


# ------------------------------------------------------------------ metrics


def scrape(url):
    """serve's /metrics as {(name, frozenset(labels)): value}."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.partition("{")
        pairs = []
        for p in labels.rstrip("}").split(","):
            if "=" in p:
                k, v = p.split("=", 1)
                pairs.append((k, v.strip('"')))
        out[(name, frozenset(pairs))] = float(value)
    return out


def metric_sum(samples, name, **labels):
    want = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and want <= set(l))


# ------------------------------------------------------------------ stats


class Stats:
    """Counts of one sampling interval (and, merged, of the whole run)."""

    def __init__(self):
        self.c = Counter()
        self.errors = Counter()
        self.violations = Counter()
        self.latency_ms = []

    def merge(self, o):
        self.c.update(o.c)
        self.errors.update(o.errors)
        self.violations.update(o.violations)
        self.latency_ms.extend(o.latency_ms)


class Ledger:
    """What the clients saw: per client and model, successful calls that
    must have been charged, and their prices."""

    def __init__(self):
        self.lock = threading.Lock()
        self.interval = Stats()
        self.total = Stats()
        self.expected = Counter()  # (client, field) -> n
        self.examples = {}  # violation kind -> first few examples
        self.traces = None  # a list with --trace: every success

    def add(self, fn):
        with self.lock:
            fn(self.interval)

    def take(self):
        with self.lock:
            s, self.interval = self.interval, Stats()
            self.total.merge(s)
            return s

    def charge(self, client, model, usage):
        with self.lock:
            self.expected[(client, model, "requests")] += 1
            self.expected[(client, model, "cost")] += price(usage)
            self.expected[(client, model, "input")] += int(usage.get("prompt_tokens", 0))
            self.expected[(client, model, "output")] += int(usage.get("completion_tokens", 0))

    def trace(self, t):
        if self.traces is None:
            return
        with self.lock:
            self.traces.append(t)

    def example(self, kind, text):
        with self.lock:
            ex = self.examples.setdefault(kind, [])
            if len(ex) < 5:
                ex.append(text[:2000])


# ------------------------------------------------------------------ traffic


def error_kind(status, body):
    try:
        e = json.loads(body).get("error") or {}
    except (ValueError, AttributeError):
        return f"http_{status}:unparsed"
    kind = e.get("type", "?")
    msg = e.get("message", "") or ""
    # The gateway's own limiter and an upstream 429 are both rate_limit_error;
    # only the upstream one carries the provider's status.
    if kind == "rate_limit_error":
        kind += ":upstream" if "HTTP 429" in msg or "mock 429" in msg else ":local"
    return f"http_{status}:{kind}"


class Worker(threading.Thread):
    def __init__(self, wid, args, ledger, pacer, ctl):
        super().__init__(daemon=True, name=f"worker-{wid}")
        self.wid, self.args, self.ledger, self.pacer, self.ctl = wid, args, ledger, pacer, ctl
        self.rng = random.Random(args.seed * 1000 + wid)
        self.conn = None
        self.seq = 0
        # Prompts that succeeded, for repeats: (client, stream) -> deque.
        self.done = {}

    def connection(self):
        if self.conn is None:
            host, port = self.args.url.removeprefix("http://").split(":")
            self.conn = http.client.HTTPConnection(host, int(port), timeout=self.args.client_timeout)
        return self.conn

    def drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def run(self):
        while not self.ctl.stop.is_set():
            if self.ctl.pause.is_set():
                self.drop()
                self.ctl.paused(self)
                continue
            if not self.pacer.wait(self.ctl):
                continue
            try:
                self.one()
            except Exception as e:  # noqa: BLE001 - every failure is counted
                self.drop()
                kind = f"driver:{type(e).__name__}"
                self.ledger.add(lambda s: s.errors.update([kind]))
                self.ledger.example(kind, repr(e))
        self.drop()

    def one(self):
        a, r = self.args, self.rng
        client = "limited" if r.random() < a.limited_share else "soak"
        stream = r.random() < a.stream_share
        cancel = stream and r.random() < a.cancel_share
        model = CANCEL_MODEL if cancel else MODEL
        pool = self.done.setdefault((client, stream), deque(maxlen=500))
        repeat = bool(not cancel and pool and r.random() < a.repeat_share)
        if repeat:
            prompt = r.choice(pool)
        else:
            self.seq += 1
            prompt = f"soak {a.seed} w{self.wid} #{self.seq} {r.getrandbits(48):x}"
        body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        headers = {"content-type": "application/json", "authorization": f"Bearer {CLIENTS[client]}"}
        t0 = time.monotonic()
        conn = self.connection()
        try:
            conn.request("POST", "/v1/chat/completions", json.dumps(body), headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            self.drop()
            kind = f"transport:{type(e).__name__}"
            self.ledger.add(lambda s: (s.c.update(["requests"]), s.errors.update([kind])))
            self.ledger.example(kind, f"{client} stream={stream} before response: {e!r}")
            return
        ctype = resp.getheader("content-type", "")
        if resp.status != 200 or not ctype.startswith("text/event-stream") and stream:
            data = resp.read()
            kind = error_kind(resp.status, data) if resp.status != 200 else "bad_content_type"

            def count(s):
                s.c.update(["requests", "errors", "stream_refused" if stream else "json_errors"])
                s.errors.update([kind])

            self.ledger.add(count)
            if resp.getheader("connection", "").lower() == "close":
                self.drop()
            return
        if not stream:
            self.json_answer(resp, client, prompt, pool, repeat, t0)
        else:
            self.stream_answer(resp, client, model, prompt, pool, repeat, cancel, t0)

    def json_answer(self, resp, client, prompt, pool, repeat, t0):
        data = resp.read()
        ms = (time.monotonic() - t0) * 1000
        try:
            v = json.loads(data)
            text = v["choices"][0]["message"]["content"]
            usage = v["usage"]
            assert text and usage["prompt_tokens"] > 0
        except (ValueError, KeyError, IndexError, TypeError, AssertionError) as e:
            self.ledger.add(lambda s: (s.c.update(["requests", "errors"]), s.errors.update(["json_bad_body"])))
            self.ledger.example("json_bad_body", f"{e!r}: {data[:300]!r}")
            return
        if not repeat:
            self.ledger.charge(client, MODEL, usage)
            pool.append(prompt)
        self.ledger.trace(("json", client, bool(repeat), prompt, price(usage)))

        def count(s):
            s.c.update(["requests", "ok", "ok_json"] + (["cache_repeats", "cache_repeats_json"] if repeat else []))
            s.latency_ms.append(ms)

        self.ledger.add(count)

    def stream_answer(self, resp, client, model, prompt, pool, repeat, cancel, t0):
        cancel_after = self.rng.randint(1, 8) if cancel else None
        events, terminals, finish, usage, err = [], [], False, None, None
        after_terminal = 0
        transport = None
        try:
            while True:
                line = resp.readline()
                if not line:
                    break
                line = line.rstrip(b"\r\n")
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                events.append(payload)
                if terminals:
                    after_terminal += 1
                if payload == b"[DONE]":
                    terminals.append("done")
                    continue
                try:
                    v = json.loads(payload)
                except ValueError:
                    terminals.append("garbage")
                    continue
                if "error" in v:
                    terminals.append("error")
                    err = (v.get("error") or {}).get("type", "?")
                    continue
                for ch in v.get("choices") or []:
                    if ch.get("finish_reason"):
                        finish = True
                if v.get("usage"):
                    usage = v["usage"]
                if cancel_after is not None and len(events) >= cancel_after and not terminals:
                    # The client goes away mid-stream: close the socket.
                    self.drop()
                    self.ledger.add(lambda s: s.c.update(["requests", "cancelled"]))
                    return
        except (OSError, http.client.HTTPException) as e:
            transport = f"{type(e).__name__}"
        ms = (time.monotonic() - t0) * 1000
        violation = None
        if transport:
            violation = f"transport_mid_stream:{transport}"
        elif not terminals:
            violation = "no_terminal"
        elif len(terminals) > 1:
            violation = "several_terminals"
        elif after_terminal:
            violation = "data_after_terminal"
        elif terminals[0] == "garbage":
            violation = "unparsable_event"
        elif terminals[0] == "done" and not finish:
            violation = "done_without_finish"
        elif terminals[0] == "done" and usage is None:
            violation = "done_without_usage"
        if violation:
            self.drop()
            self.ledger.example(violation, f"{client} {model} repeat={bool(repeat)}: {events[-4:]!r} transport={transport}")

            def bad(s):
                s.c.update(["requests", "streams", "errors", "stream_violations"])
                s.violations.update([violation])
                s.errors.update([f"stream_violation:{violation}"])

            self.ledger.add(bad)
            return
        if terminals[0] == "error":
            self.ledger.add(lambda s: (s.c.update(["requests", "streams", "errors", "stream_error_events"]), s.errors.update([f"stream_error_event:{err}"])))
            return
        if not repeat:
            self.ledger.charge(client, model, usage)
            if not cancel:
                pool.append(prompt)
        self.ledger.trace(("stream", client, bool(repeat), prompt, price(usage)))

        def count(s):
            s.c.update(["requests", "streams", "ok", "ok_stream"] + (["cache_repeats", "cache_repeats_stream"] if repeat else []) + (["cancel_completed"] if cancel else []))
            s.latency_ms.append(ms)

        self.ledger.add(count)


class Pacer:
    """One shared schedule: request slots `1/rate` apart, taken by whichever
    worker is free (so at most `concurrency` requests are in flight)."""

    def __init__(self, rate):
        self.gap = 1.0 / rate
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def reset(self):
        with self.lock:
            self.next = time.monotonic()

    def wait(self, ctl):
        with self.lock:
            now = time.monotonic()
            # A backlog after a stall is not sent as a burst.
            slot = max(self.next, now - 1.0)
            self.next = slot + self.gap
        delay = slot - time.monotonic()
        if delay > 0:
            ctl.stop.wait(delay)
        return not (ctl.stop.is_set() or ctl.pause.is_set())


class Control:
    def __init__(self, n):
        self.stop = threading.Event()
        self.pause = threading.Event()
        self.resume = threading.Condition()
        self.n = n
        self.waiting = 0

    def paused(self, worker):
        with self.resume:
            self.waiting += 1
            self.resume.notify_all()
            while self.pause.is_set() and not self.stop.is_set():
                self.resume.wait(0.2)
            self.waiting -= 1

    def quiesce(self, timeout=60):
        """Stop sending, let every request in flight finish, close the
        client connections; True when every worker is idle."""
        self.pause.set()
        deadline = time.monotonic() + timeout
        with self.resume:
            while self.waiting < self.n and time.monotonic() < deadline:
                self.resume.wait(0.2)
            return self.waiting >= self.n

    def go(self):
        self.pause.clear()
        with self.resume:
            self.resume.notify_all()


# ------------------------------------------------------------------ main


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(math.ceil(p / 100 * len(xs))) - 1)], 1)


def idle_sample(args, ctl, label, log):
    ok = ctl.quiesce()
    time.sleep(args.settle_s)
    s = proc_sample(args.serve_pid)
    fds = fd_breakdown(args.serve_pid, args.ports)
    split = rss_split(args.serve_pid)
    log(f"{label}: idle={ok} serve {s} rss {split} fds {fds}")
    return {"label": label, "all_idle": ok, "serve": s, "serve_rss": split, "serve_fds": fds}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--mock-url", required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--serve-pid", type=int, required=True)
    p.add_argument("--mock-pid", type=int)
    p.add_argument("--redis-pid", type=int)
    p.add_argument("--duration", type=float, default=1800)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rate", type=float, default=60, help="requests per second, all workers")
    p.add_argument("--warmup", type=float, default=300, help="seconds excluded from the flatness goals")
    p.add_argument("--sample-s", type=float, default=60)
    p.add_argument("--settle-s", type=float, default=3)
    p.add_argument("--stream-share", type=float, default=0.5)
    p.add_argument("--cancel-share", type=float, default=0.15, help="of streams")
    p.add_argument("--repeat-share", type=float, default=0.2)
    p.add_argument("--limited-share", type=float, default=0.05)
    p.add_argument("--client-timeout", type=float, default=30)
    p.add_argument("--rss-tolerance", type=float, default=0.10)
    p.add_argument("--fd-tolerance", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--trace", action="store_true", help="write traces.json: (mode, client, repeat, prompt, price) per success")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    args.ports = {args.redis_port: "redis", int(args.mock_url.rsplit(":", 1)[1]): "mock",
                  int(args.url.rsplit(":", 1)[1]): "serve"}
    os.makedirs(args.out, exist_ok=True)

    def log(m):
        print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)

    redis = Redis(args.redis_port)
    ledger = Ledger()
    if args.trace:
        ledger.traces = []
    ctl = Control(args.concurrency)
    pacer = Pacer(args.rate)
    procs = {"serve": args.serve_pid, "mock": args.mock_pid, "redis": args.redis_pid}

    before = {"serve": proc_sample(args.serve_pid), "serve_fds": fd_breakdown(args.serve_pid, args.ports)}
    log(f"before load: serve {before['serve']}")
    workers = [Worker(i, args, ledger, pacer, ctl) for i in range(args.concurrency)]
    for w in workers:
        w.start()

    rows, jrows = [], []
    cols = ["minute", "elapsed_s", "requests", "ok", "ok_json", "ok_stream", "cache_repeats", "cancelled",
            "errors", "stream_error_events", "stream_violations", "p50_ms", "p99_ms", "req_per_s"]
    for n in procs:
        cols += [f"{n}_rss_kb", f"{n}_fds", f"{n}_threads", f"{n}_cpu_pct"]
    cols += ["serve_rss_wasm_kb", "serve_rss_host_kb", "redis_used_memory", "redis_keys", "mock_faults",
             "driver_cpu_pct", "loadavg_1m"]
    csv_path = os.path.join(args.out, "samples.csv")
    with open(csv_path, "w") as f:
        f.write(",".join(cols) + "\n")
    start = time.monotonic()
    last_t, last_cpu = start, {n: (proc_sample(pid) or {}).get("cpu_s", 0) for n, pid in procs.items()}
    last_driver = os.times().user + os.times().system
    unwritten = False
    idle_marks = []
    warm_done = args.warmup <= 0
    minute = 0
    failed_early = None
    end = start + args.duration
    next_sample = start + args.sample_s
    while True:
        now = time.monotonic()
        if now < min(next_sample, end):
            wake = min(next_sample, end)
            if not warm_done:
                wake = min(wake, start + args.warmup)
            if not warm_done and now >= start + args.warmup:
                # One idle sample after warm-up: the reference for descriptors.
                idle_marks.append(idle_sample(args, ctl, "after warm-up", log))
                ctl.go()
                pacer.reset()
                warm_done = True
                continue
            time.sleep(max(0.01, wake - now))
            continue
        next_sample += args.sample_s
        minute += 1
        now = time.monotonic()
        s = ledger.take()
        row = {"minute": minute, "elapsed_s": round(now - start, 1)}
        for k in ["requests", "ok", "ok_json", "ok_stream", "cache_repeats", "cancelled", "errors",
                  "stream_error_events", "stream_violations"]:
            row[k] = s.c[k]
        row["p50_ms"], row["p99_ms"] = pct(s.latency_ms, 50), pct(s.latency_ms, 99)
        row["req_per_s"] = round(s.c["requests"] / max(1e-9, now - last_t), 1)
        for n, pid in procs.items():
            ps = proc_sample(pid) or {}
            if n == "serve" and not ps:
                failed_early = f"serve (pid {pid}) is gone at minute {minute}"
            row[f"{n}_rss_kb"], row[f"{n}_fds"], row[f"{n}_threads"] = ps.get("rss_kb"), ps.get("fds"), ps.get("threads")
            cpu = ps.get("cpu_s")
            row[f"{n}_cpu_pct"] = round(100 * (cpu - last_cpu[n]) / (now - last_t), 1) if cpu is not None else None
            last_cpu[n] = cpu if cpu is not None else last_cpu[n]
        split = rss_split(args.serve_pid) or {}
        row["serve_rss_wasm_kb"], row["serve_rss_host_kb"] = split.get("wasm_kb"), split.get("host_kb")
        try:
            row["redis_used_memory"] = int(redis.info("memory").get("used_memory", 0))
            row["redis_keys"] = redis.cmd("DBSIZE")
        except (OSError, RuntimeError, ConnectionError) as e:
            row["redis_used_memory"] = row["redis_keys"] = None
            log(f"redis: {e!r}")
        try:
            with urllib.request.urlopen(f"{args.mock_url}/__mock/chaos", timeout=5) as r:
                row["mock_faults"] = json.loads(r.read()).get("faults_total")
        except OSError:
            row["mock_faults"] = None
        dt = os.times()
        row["driver_cpu_pct"] = round(100 * (dt.user + dt.system - last_driver) / (now - last_t), 1)
        last_driver = dt.user + dt.system
        with open("/proc/loadavg") as f:
            row["loadavg_1m"] = float(f.read().split()[0])
        last_t = now
        rows.append(row)
        jrows.append(dict(row, errors_by_kind=dict(s.errors), violations=dict(s.violations),
                          serve_fds_by_kind=fd_breakdown(args.serve_pid, args.ports)))
        try:
            with open(csv_path, "a") as f:
                f.write(",".join("" if row.get(c) is None else str(row[c]) for c in cols) + "\n")
            with open(os.path.join(args.out, "samples.jsonl"), "a") as f:
                f.write(json.dumps(jrows[-1]) + "\n")
        except OSError as e:
            # A full disk (other work on the machine) must not end the run:
            # every row is rewritten at the end.
            log(f"writing the samples failed: {e!r}")
            unwritten = True
        log(f"min {minute}: {row['requests']} req ({row['req_per_s']}/s) ok={row['ok']} err={row['errors']} "
            f"cancel={row['cancelled']} viol={row['stream_violations']} p99={row['p99_ms']}ms | serve rss={row['serve_rss_kb']}kB "
            f"(wasm {row['serve_rss_wasm_kb']} host {row['serve_rss_host_kb']}) "
            f"fds={row['serve_fds']} thr={row['serve_threads']} cpu={row['serve_cpu_pct']}% | mock rss={row['mock_rss_kb']}kB "
            f"fds={row['mock_fds']} | redis rss={row['redis_rss_kb']}kB keys={row['redis_keys']}")
        if failed_early or now >= end:
            break

    # The end: drain, close connections, settle, then the last idle sample.
    if not failed_early:
        idle_marks.append(idle_sample(args, ctl, "after load", log))
    ctl.stop.set()
    for w in workers:
        w.join(timeout=args.client_timeout + 5)
    leftover = ledger.take()
    if unwritten:
        with open(csv_path, "w") as f:
            f.write(",".join(cols) + "\n")
            for row in rows:
                f.write(",".join("" if row.get(c) is None else str(row[c]) for c in cols) + "\n")
        with open(os.path.join(args.out, "samples.jsonl"), "w") as f:
            for r in jrows:
                f.write(json.dumps(r) + "\n")
    summary = finish(args, ledger, rows, idle_marks, before, redis, failed_early, leftover, log)
    return summary


def finish(args, ledger, rows, idle_marks, before, redis, failed_early, leftover, log):
    t = ledger.total
    verdicts = {}
    # --- RSS flat after warm-up
    warm = [r for r in rows if r["elapsed_s"] > args.warmup + 1 and r["serve_rss_kb"]]
    if len(warm) >= 2:
        ref = warm[0]["serve_rss_kb"]
        hi, lo = max(r["serve_rss_kb"] for r in warm), min(r["serve_rss_kb"] for r in warm)
        xs = [r["elapsed_s"] / 60 for r in warm]
        ys = [r["serve_rss_kb"] for r in warm]
        slope = statistics.linear_regression(xs, ys).slope if len(set(xs)) > 1 else 0.0
        ok = hi <= ref * (1 + args.rss_tolerance) and lo >= ref * (1 - args.rss_tolerance)
        verdicts["rss_flat"] = {
            "pass": ok, "reference_kb": ref, "min_kb": lo, "max_kb": hi, "last_kb": ys[-1],
            "max_over_reference_pct": round(100 * (hi / ref - 1), 2), "slope_kb_per_min": round(slope, 1),
            "samples": len(warm), "rule": f"every sample after warm-up within ±{args.rss_tolerance:.0%} of the first one"}
    else:
        verdicts["rss_flat"] = {"pass": False, "why": "fewer than 2 samples after warm-up"}
    # --- descriptors
    if len(idle_marks) == 2 and all(m["serve"] for m in idle_marks):
        a, b = idle_marks[0]["serve"]["fds"], idle_marks[1]["serve"]["fds"]
        # Idle keep-alive connections to the upstream are a pool (wasi-http's
        # client), not a leak, as long as they stay bounded; the rest must
        # not grow at all.
        pa = idle_marks[0]["serve_fds"].get("tcp to mock", 0)
        pb = idle_marks[1]["serve_fds"].get("tcp to mock", 0)
        load_fds = [r["serve_fds"] for r in warm if r["serve_fds"] is not None]
        verdicts["fds_flat"] = {
            "pass": b - pb <= a - pa + args.fd_tolerance and pb <= 2 * args.concurrency
                    and (not load_fds or max(load_fds) - min(load_fds) <= 2 * args.concurrency),
            "idle_after_warmup": a, "idle_after_load": b,
            "idle_upstream_pool_after_warmup": pa, "idle_upstream_pool_after_load": pb,
            "under_load_min": min(load_fds, default=None), "under_load_max": max(load_fds, default=None),
            "under_load_first": load_fds[0] if load_fds else None, "under_load_last": load_fds[-1] if load_fds else None,
            "before_load": (before["serve"] or {}).get("fds"),
            "rule": f"idle descriptors other than upstream keep-alive after the load <= after warm-up + {args.fd_tolerance}; "
                    f"idle upstream keep-alive <= {2 * args.concurrency}; samples under load within {2 * args.concurrency} of each other"}
    else:
        verdicts["fds_flat"] = {"pass": False, "why": "no idle sample pair", "marks": idle_marks}
    # --- one terminal per stream
    verdicts["one_terminal_per_stream"] = {
        "pass": t.c["stream_violations"] == 0 and t.c["streams"] > 0,
        "streams_checked": t.c["streams"], "ended_done": t.c["ok_stream"], "ended_error_event": t.c["stream_error_events"],
        "violations": dict(t.violations), "cancelled_excluded": t.c["cancelled"],
        "refused_before_stream": t.c["stream_refused"]}
    # --- exact totals
    counters = redis.cost_counters()
    metrics = scrape(args.url)
    exp = ledger.expected
    checks = {}
    for client in CLIENTS:
        for model in (MODEL, CANCEL_MODEL):
            for field in ("requests", "cost", "input", "output"):
                got = counters.get(f"{client}:m:{field}:{model}", 0)
                checks[f"{client}:{model}:{field}"] = {"expected": exp[(client, model, field)], "redis": got}
        checks[f"{client}:total:cost"] = {
            "expected": sum(exp[(client, m, "cost")] for m in (MODEL, CANCEL_MODEL)),
            "redis": counters.get(f"{client}:total:cost", 0)}
        checks[f"{client}:total:requests"] = {
            "expected": sum(exp[(client, m, "requests")] for m in (MODEL, CANCEL_MODEL)),
            "redis": counters.get(f"{client}:total:requests", 0)}
    # Streams the client cancelled may or may not have been charged (the
    # gateway settles at the upstream's end, which can come before the
    # proxy notices the client left); they are priced under their own model
    # so the other counters stay exact, and reported separately.
    cancel_charged = {c: counters.get(f"{c}:m:cost:{CANCEL_MODEL}", 0) - exp[(c, CANCEL_MODEL, "cost")] for c in CLIENTS}
    cancel_charged_calls = {c: counters.get(f"{c}:m:requests:{CANCEL_MODEL}", 0) - exp[(c, CANCEL_MODEL, "requests")] for c in CLIENTS}
    exact = all(v["expected"] == v["redis"] for k, v in checks.items() if CANCEL_MODEL not in k and ":total:" not in k)
    totals_exact = all(
        v["redis"] == v["expected"] + (cancel_charged[k.split(":")[0]] if k.endswith("cost") else cancel_charged_calls[k.split(":")[0]])
        for k, v in checks.items() if ":total:" in k)
    m_cost = metric_sum(metrics, "aigw_cost_micro_usd_total")
    redis_cost = sum(counters.get(f"{c}:total:cost", 0) for c in CLIENTS)
    expected_cost = sum(v for (c, m, f), v in exp.items() if f == "cost" and m == MODEL)
    # What calls in flight hold against a budget (ADR 0013) must all be
    # given back once nothing is in flight.
    reserved = {c: counters.get(f"{c}:reserved", 0) for c in CLIENTS}
    verdicts["exact_totals"] = {
        "pass": exact and totals_exact and m_cost == redis_cost and not any(reserved.values()),
        "budget_reserved_at_end": reserved,
        "expected_cost_micro_usd": expected_cost,
        "redis_cost_micro_usd_all_models": redis_cost,
        "redis_cost_micro_usd_mock_model": sum(counters.get(f"{c}:m:cost:{MODEL}", 0) for c in CLIENTS),
        "metrics_cost_micro_usd": m_cost,
        "cancelled_streams_charged": {"calls": cancel_charged_calls, "micro_usd": cancel_charged,
                                      "cancelled_total": t.c["cancelled"]},
        # Repeats of a prompt that succeeded before: the cache must answer
        # them (an upstream answer would be charged and break the totals).
        # /metrics counts the JSON ones; see docs/soak.md for streams.
        "client_cache_repeats_json": t.c["cache_repeats_json"],
        "client_cache_repeats_stream": t.c["cache_repeats_stream"],
        "metrics_cache_hits": metric_sum(metrics, "aigw_cache_hits_total"),
        "checks": checks}
    try:
        with urllib.request.urlopen(f"{args.mock_url}/__mock/chaos", timeout=5) as r:
            chaos = json.loads(r.read())
    except OSError as e:
        chaos = {"error": repr(e)}
    duration = rows[-1]["elapsed_s"] if rows else 0
    summary = {
        "args": {k: v for k, v in vars(args).items() if k != "ports"},
        "failed_early": failed_early,
        "duration_s": duration,
        "requests": t.c["requests"],
        "mean_req_per_s": round(t.c["requests"] / max(1, duration), 1),
        "counts": dict(t.c),
        "errors_by_kind": dict(t.errors.most_common()),
        "latency_ms": {"p50": pct(t.latency_ms, 50), "p90": pct(t.latency_ms, 90), "p99": pct(t.latency_ms, 99),
                       "max": round(max(t.latency_ms), 1) if t.latency_ms else None},
        "mock_chaos": chaos,
        "idle_marks": idle_marks,
        "before_load": before,
        "verdicts": verdicts,
        "examples": ledger.examples,
        "leftover_after_last_sample": dict(leftover.c),
        "metrics": {f"{n}{{{','.join(f'{k}={v}' for k, v in sorted(l))}}}": v for (n, l), v in sorted(metrics.items(), key=lambda x: x[0][0])
                    if n.startswith("aigw_") and not n.endswith(("_bucket", "_sum"))},
    }
    if ledger.traces is not None:
        with open(os.path.join(args.out, "traces.json"), "w") as f:
            json.dump(ledger.traces, f)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=False)
    lines = [f"requests: {t.c['requests']} in {duration:.0f} s ({summary['mean_req_per_s']}/s), ok {t.c['ok']}, "
             f"errors {t.c['errors']}, cancelled {t.c['cancelled']}",
             f"errors by kind: {json.dumps(summary['errors_by_kind'])}",
             f"mock faults: {json.dumps(chaos.get('faults'))} of {chaos.get('served')} upstream requests"]
    for name, v in verdicts.items():
        detail = {k: x for k, x in v.items() if k not in ("pass", "checks")}
        lines.append(f"{'PASS' if v['pass'] else 'FAIL'} {name}: {json.dumps(detail)}")
    text = "\n".join(lines)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(text + "\n")
    print(text, flush=True)
    return summary


if __name__ == "__main__":
    try:
        s = main()
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        sys.exit(2)
    if s.get("failed_early"):
        print(f"run failed: {s['failed_early']}", flush=True)
        sys.exit(2)
    sys.exit(0 if all(v["pass"] for v in s["verdicts"].values()) else 1)

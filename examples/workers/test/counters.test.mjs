// Exact cost totals, budgets and rate limits across separate Worker
// instances: three Workers running the same dist/worker.js (each its own
// isolate in workerd), sharing one KV namespace and one Durable Object
// namespace (AI_COUNTERS, class GatewayCounters, defined by the first).
// Run by host-test/tests/hosts.rs against the Rust mock (MOCK_URL).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, "../dist");
const MOCK = process.env.MOCK_URL;
assert.ok(MOCK, "MOCK_URL must point at the mock upstream");

const mock = {
  hits: async () => (await (await fetch(`${MOCK}/__mock/hits`)).json()).hits,
  reset: () => fetch(`${MOCK}/__mock/reset`, { method: "POST" }),
};

// The mock's chat reply uses 12 input and 9 output tokens: at $1 and $2 per
// million tokens a call costs 12 + 18 = 30 micro-USD.
const PRICE = 30;
const pricing = [{ model: "gpt-4o", input: 1_000_000, output: 2_000_000 }];
const WORKERS = ["gw-a", "gw-b", "gw-c"];

const running = [];
after(async () => {
  for (const mf of running) await mf.dispose();
});

/** Three Worker instances of dist/worker.js with these extra bindings. */
async function cluster(bindings) {
  const wasm = (name) => ({ type: "CompiledWasm", path: `${dist}/transpiled/${name}`, contents: readFileSync(`${dist}/transpiled/${name}`) });
  const modules = [
    { type: "ESModule", path: `${dist}/worker.js`, contents: readFileSync(`${dist}/worker.js`, "utf8") },
    wasm("ai_gateway.core.wasm"),
    wasm("ai_gateway.core2.wasm"),
    wasm("ai_gateway.core3.wasm"),
  ];
  const mf = new Miniflare({
    workers: WORKERS.map((name, i) => ({
      name,
      modules,
      modulesRoot: dist,
      compatibilityDate: "2026-08-01",
      kvNamespaces: { AI_STATE: "ai-state" },
      durableObjects: {
        AI_COUNTERS: i === 0 ? { className: "GatewayCounters", useSQLite: true } : { className: "GatewayCounters", scriptName: WORKERS[0], useSQLite: true },
      },
      bindings: {
        OPENAI_API_KEY: "sk-worker-test",
        OPENAI_BASE_URL: `${MOCK}/v1`,
        RETRY_MAX_ATTEMPTS: "1",
        CACHE_TTL_SECONDS: "0",
        ...bindings,
      },
      outboundService: async (request) => {
        const headers = new Headers(request.headers);
        for (const h of ["content-length", "host", "connection", "transfer-encoding"]) headers.delete(h);
        const body = request.method === "GET" ? undefined : await request.arrayBuffer();
        return fetch(request.url, { method: request.method, headers, body });
      },
    })),
  });
  running.push(mf);
  await mf.ready;
  const workers = await Promise.all(WORKERS.map((n) => mf.getWorker(n)));
  return { mf, workers };
}

const run = (worker, caller) =>
  worker.fetch("http://worker/run", {
    method: "POST",
    body: JSON.stringify({ model: "gpt-4o", input: { prompt: "count me" }, options: { caller, maxTokens: 9 } }),
  });
const getJson = async (worker, path) => (await worker.fetch(`http://worker${path}`)).json();

/** `perWorker` concurrent calls on each Worker at once; statuses in order. */
async function burst(workers, perWorker, caller) {
  const calls = workers.flatMap((w) => Array.from({ length: perWorker }, (_, i) => run(w, caller(i))));
  return Promise.all(calls.map(async (p) => {
    const r = await p;
    await r.arrayBuffer();
    return r.status;
  }));
}

test("rate limit: 5 per window over 18 concurrent calls through three Workers -> exactly 5 pass", async () => {
  const MAX = 5;
  const { workers } = await cluster({
    COST_CONFIG: JSON.stringify({ pricing, bucket: "counters" }),
    RATE_LIMITS: JSON.stringify({ bucket: "counters", limits: [{ name: "burst", scope: "caller", windowSeconds: 86400, maxRequests: MAX }] }),
  });
  await mock.reset();
  const statuses = await burst(workers, 6, () => "team-a");
  const ok = statuses.filter((s) => s === 200).length;
  const limited = statuses.filter((s) => s === 429).length;
  console.log(`rate limit ${MAX} over ${statuses.length} concurrent calls (3 Workers): ${ok} passed, ${limited} got 429`);
  assert.equal(ok, MAX, `statuses ${statuses}`);
  assert.equal(limited, statuses.length - MAX);
  assert.equal(await mock.hits(), MAX, "refused calls never reach the upstream");

  // The totals, read through a Worker, are exact: successes x price, and the
  // refused calls wrote no cost.
  const costs = await getJson(workers[1], "/costs");
  assert.equal(costs.requests, MAX);
  assert.equal(costs.costMicroUsd, MAX * PRICE);
  assert.equal(costs.usage.inputTokens, MAX * 12);
  // Another caller has its own window.
  assert.equal((await run(workers[2], "team-b")).status, 200);
});

test("budget: concurrent calls through three Workers never pass it; totals exact, then every Worker refuses", async () => {
  // Each call reserves its worst case before it is sent: "count me" is at
  // most 8 + 48 input tokens (56 micro-USD), and maxTokens 9 caps the
  // output (18): 74. It costs 30.
  const WORST = 74;
  const BUDGET = 200;
  const { workers } = await cluster({
    COST_CONFIG: JSON.stringify({ pricing, bucket: "counters", budgetMicroUsd: BUDGET }),
  });
  await mock.reset();
  const statuses = await burst(workers, 4, (i) => `caller-${i}`);
  const ok = statuses.filter((s) => s === 200).length;
  const refused = statuses.filter((s) => s === 402).length;
  assert.equal(ok + refused, statuses.length, `statuses ${statuses}`);
  assert.ok(ok >= Math.floor(BUDGET / WORST), `as many as fit at once are admitted (${ok})`);
  assert.ok(ok * PRICE <= BUDGET, `the spend ${ok * PRICE} stays within the budget`);
  const costs = await getJson(workers[0], "/costs");
  console.log(`budget ${BUDGET} micro-USD, ${statuses.length} concurrent calls (3 Workers): ${ok} admitted, ${refused} refused; ` +
    `totals ${costs.requests} requests, ${costs.costMicroUsd} micro-USD`);
  // No lost update: every admitted call is counted once, at its price.
  assert.equal(costs.requests, ok);
  assert.equal(costs.costMicroUsd, ok * PRICE);
  assert.equal(await mock.hits(), ok, "refused calls never reach the upstream");

  // One call at a time, round the Workers, until refused: the budget fills
  // to within one worst case, never past it.
  let spent = ok * PRICE;
  for (let i = 0; ; i++) {
    const r = await run(workers[i % 3], `drain-${i}`);
    await r.arrayBuffer();
    if (r.status === 402) break;
    assert.equal(r.status, 200);
    spent += PRICE;
  }
  assert.ok(spent <= BUDGET && spent + WORST > BUDGET, `spent ${spent}`);
  // Every Worker sees the same spend and refuses.
  for (const w of workers) {
    const b = await getJson(w, "/budget");
    assert.equal(b.spentMicroUsd, spent);
    const r = await run(w, "late");
    assert.equal(r.status, 402);
    assert.equal((await r.json()).error.type, "budget-exceeded");
  }
  assert.equal((await getJson(workers[2], "/costs")).costMicroUsd, spent, "a refused call writes no cost");
});

test("compare-and-swap on the Durable Object: concurrent read-swap loops lose no update", async () => {
  const { mf } = await cluster({});
  const ns = await mf.getDurableObjectNamespace("AI_COUNTERS", WORKERS[0]);
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const addOne = async () => {
    const stub = ns.get(ns.idFromName("cas-test"));
    let current = await stub.get("n");
    let tries = 0;
    for (;;) {
      tries++;
      const next = enc.encode(String(Number(current === null ? 0 : dec.decode(current)) + 1));
      const r = await stub.swap("n", current, next);
      if (r.swapped) return tries;
      current = r.current;
    }
  };
  const tries = await Promise.all(Array.from({ length: 10 }, addOne));
  const stub = ns.get(ns.idFromName("cas-test"));
  assert.equal(dec.decode(await stub.get("n")), "10");
  assert.ok(tries.some((t) => t > 1), `some swaps lost a race and retried (${tries})`);
  assert.equal((await stub.swap("absent", null, enc.encode("x"))).swapped, true);
  assert.equal((await stub.swap("absent", null, enc.encode("y"))).swapped, false);
});

// The Worker in real workerd (miniflare), against host-test's mock upstream.
// Run by host-test/tests/hosts.rs, which starts the mock and passes
//   MOCK_URL         http://127.0.0.1:PORT of the mock
//   EXPECTED_SHA256  the SHA-256 of the ai-gateway.wasm every host test uses
import { test, before, after } from "node:test";
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
  requests: async () => (await fetch(`${MOCK}/__mock/requests`)).json(),
  reset: () => fetch(`${MOCK}/__mock/reset`, { method: "POST" }),
  reply: (r) => fetch(`${MOCK}/__mock/reply`, { method: "POST", body: JSON.stringify(r) }),
};

let mf;

before(async () => {
  const wasm = (name) => ({ type: "CompiledWasm", path: `${dist}/transpiled/${name}`, contents: readFileSync(`${dist}/transpiled/${name}`) });
  mf = new Miniflare({
    modules: [
      { type: "ESModule", path: `${dist}/worker.js`, contents: readFileSync(`${dist}/worker.js`, "utf8") },
      wasm("ai_gateway.core.wasm"),
      wasm("ai_gateway.core2.wasm"),
      wasm("ai_gateway.core3.wasm"),
    ],
    modulesRoot: dist,
    compatibilityDate: "2026-08-01",
    kvNamespaces: ["AI_STATE"],
    bindings: {
      OPENAI_API_KEY: "sk-worker-test",
      OPENAI_BASE_URL: `${MOCK}/v1`,
      ANTHROPIC_API_KEY: "sk-ant-worker-test",
      CF_ACCOUNT_ID: "acc1",
      CF_AIG_GATEWAY_ID: "gw1",
      CACHE_TTL_SECONDS: "300",
      RETRY_MAX_ATTEMPTS: "1",
    },
    // Cloudflare's hosts are not reachable from tests: send them to the mock,
    // as host-test's redirect does for wasmtime.
    // (miniflare passes its own Request class, so the request is rebuilt.)
    outboundService: async (request) => {
      const url = new URL(request.url);
      const headers = new Headers(request.headers);
      for (const h of ["content-length", "host", "connection", "transfer-encoding"]) headers.delete(h);
      let target = url;
      if (url.hostname !== "127.0.0.1") {
        target = new URL(url.pathname + url.search, MOCK);
        headers.set("x-aigw-original-url", request.url);
      }
      const body = request.method === "GET" ? undefined : await request.arrayBuffer();
      return fetch(target, { method: request.method, headers, body });
    },
  });
});

after(async () => {
  await mf?.dispose();
});

const post = (path, body) =>
  mf.dispatchFetch(`http://worker${path}`, { method: "POST", body: JSON.stringify(body) });

test("the worker runs the same ai-gateway.wasm as every other host", () => {
  const built = readFileSync(`${dist}/SOURCE_SHA256`, "utf8").trim();
  assert.equal(built, process.env.EXPECTED_SHA256);
});

test("run: chat through the component, outbound fetch to the provider", async () => {
  await mock.reset();
  const r = await post("/run", { model: "gpt-4o", input: { messages: [{ role: "user", content: "Hello" }] }, options: { cache: "bypass" } });
  assert.equal(r.status, 200);
  const out = await r.json();
  assert.equal(out.text, "Hello! I am the ai-gateway mock upstream.");
  assert.equal(out.provider, "openai");
  assert.equal(out.usage.outputTokens, 9);
  const [req] = await mock.requests();
  assert.equal(req.path, "/v1/chat/completions");
  const headers = Object.fromEntries(req.headers);
  assert.equal(headers.authorization, "Bearer sk-worker-test");
  assert.deepEqual(JSON.parse(req.body).messages, [{ role: "user", content: "Hello" }]);
});

test("stream: server-sent events with exactly one terminal event", async () => {
  await mock.reset();
  const r = await post("/stream", { model: "gpt-4o", input: { prompt: "stream please" }, options: { cache: "bypass" } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "text/event-stream");
  const events = (await r.text()).split("\n\n").filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, "")));
  const text = events.filter((e) => e.type === "text").map((e) => e.delta).join("");
  assert.equal(text, '{"city":"San Francisco","temperature":61,"units":"f"}');
  assert.ok(events.filter((e) => e.type === "text").length > 5, "deltas arrive separately");
  const terminal = events.filter((e) => e.type === "done" || e.type === "error");
  assert.equal(terminal.length, 1);
  assert.equal(events.at(-1).type, "done");
  assert.equal(events.at(-1).usage.inputTokens, 79);
  assert.equal(JSON.parse((await mock.requests())[0].body).stream_options.include_usage, true);
});

test("cache: the second identical call is served from Workers KV", async () => {
  await mock.reset();
  const body = { model: "gpt-4o", input: { prompt: "cache me" } };
  const first = await (await post("/run", body)).json();
  const second = await (await post("/run", body)).json();
  assert.equal(first.cached, false);
  assert.equal(second.cached, true);
  assert.equal(second.text, first.text);
  assert.equal(await mock.hits(), 1, "one upstream call for two requests");
});

test("errors map to HTTP statuses", async () => {
  await mock.reset();
  await mock.reply({ status: 429, headers: [["retry-after", "7"]], body: JSON.stringify({ error: { message: "slow down", type: "rate_limit_error" } }) });
  let r = await post("/run", { model: "gpt-4o", input: { prompt: "x" }, options: { cache: "bypass" } });
  assert.equal(r.status, 429);
  assert.equal(r.headers.get("retry-after"), "7");
  let e = (await r.json()).error;
  assert.equal(e.type, "rate-limited");
  assert.equal(e.message, "slow down");
  assert.equal(e.status, 429);

  await mock.reply({ status: 401, body: JSON.stringify({ error: { message: "bad key sk-worker-test" } }) });
  r = await post("/run", { model: "gpt-4o", input: { prompt: "x" }, options: { cache: "bypass" } });
  assert.equal(r.status, 401);
  assert.ok(!(await r.text()).includes("sk-worker-test"), "the key never reaches the response");

  r = await post("/run", { model: "gpt-4o", input: { messages: [] } });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.type, "validation");
});

test("run-fallback: the Universal Endpoint chain, serving provider from cf-aig-step", async () => {
  await mock.reset();
  const anthropic = { model: "claude-sonnet-4-6", content: [{ type: "text", text: "from claude" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 2 } };
  await mock.reply({ status: 200, headers: [["cf-aig-step", "1"]], body: JSON.stringify(anthropic) });
  const r = await post("/run-fallback", {
    entries: [{ provider: "openai", model: "gpt-4o" }, { provider: "anthropic", model: "claude-sonnet-4-6" }],
    input: { prompt: "hi" },
  });
  assert.equal(r.status, 200);
  const out = await r.json();
  assert.equal(out.provider, "anthropic");
  assert.equal(out.text, "from claude");
  const [req] = await mock.requests();
  assert.equal(Object.fromEntries(req.headers)["x-aigw-original-url"], "https://gateway.ai.cloudflare.com/v1/acc1/gw1");
  const steps = JSON.parse(req.body);
  assert.deepEqual(steps.map((s) => [s.provider, s.endpoint]), [["openai", "chat/completions"], ["anthropic", "v1/messages"]]);
});

test("concurrent requests on one isolate: each gets its own instance, none is cancelled as hung", async () => {
  await mock.reset();
  const calls = [
    ...Array.from({ length: 6 }, (_, i) => post("/run", { model: "gpt-4o", input: { prompt: `c${i}` }, options: { cache: "bypass" } })),
    ...Array.from({ length: 2 }, (_, i) => post("/stream", { model: "gpt-4o", input: { prompt: `s${i}` }, options: { cache: "bypass" } })),
  ];
  const bodies = await Promise.all(calls.map(async (p) => {
    const r = await p;
    return [r.status, await r.text()];
  }));
  assert.deepEqual(bodies.map(([s]) => s), Array(8).fill(200), bodies.map(([, b]) => b.slice(0, 200)).join("\n"));
  for (const [, b] of bodies.slice(6)) {
    const events = b.split("\n\n").filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, "")));
    assert.equal(events.filter((e) => e.type === "done" || e.type === "error").length, 1);
    assert.equal(events.at(-1).type, "done");
  }
});

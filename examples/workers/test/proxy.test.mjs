// The OpenAI-compatible proxy component (composed with the same
// ai-gateway.wasm) in real workerd (miniflare), against host-test's mock.
// Run by host-test/tests/hosts.rs after `AI_GATEWAY_PROXY_WASM=... node build.mjs`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = resolve(here, "../../../tests/fixtures");
const dist = resolve(here, "../dist");
const MOCK = process.env.MOCK_URL;
assert.ok(MOCK, "MOCK_URL must point at the mock upstream");
const MOCK_TEXT = "Hello! I am the ai-gateway mock upstream.";

const mock = {
  requests: async () => (await fetch(`${MOCK}/__mock/requests`)).json(),
  reset: () => fetch(`${MOCK}/__mock/reset`, { method: "POST" }),
  reply: (r) => fetch(`${MOCK}/__mock/reply`, { method: "POST", body: JSON.stringify(r) }),
};

const gatewayConfig = {
  providers: [
    { name: "mock", kind: "openai", base_url: `${MOCK}/v1`, api_key_variable: "upstream_key" },
    { name: "mock-anthropic", kind: "anthropic", base_url: MOCK, api_key_variable: "upstream_key" },
  ],
  default_provider: "mock",
  routes: [{ pattern: "claude-*", provider: "mock-anthropic" }],
  models: ["mock-model", "claude-mock"],
  clients: [{ name: "worker-tests", key_variable: "client_key", requests_per_minute: 1000 }],
};

let mf;
// When each chunk of the upstream's replies reached the Worker (ms, performance.now()).
let upstreamChunks = [];

before(async () => {
  const cores = readFileSync(`${dist}/PROXY_CORES`, "utf8").trim().split("\n");
  mf = new Miniflare({
    modules: [
      { type: "ESModule", path: `${dist}/proxy-worker.js`, contents: readFileSync(`${dist}/proxy-worker.js`, "utf8") },
      ...cores.map((f) => ({ type: "CompiledWasm", path: `${dist}/proxy/${f}`, contents: readFileSync(`${dist}/proxy/${f}`) })),
    ],
    modulesRoot: dist,
    compatibilityDate: "2026-08-01",
    compatibilityFlags: ["enable_request_signal"],
    kvNamespaces: ["AI_STATE"],
    bindings: {
      GATEWAY_CONFIG: JSON.stringify(gatewayConfig),
      UPSTREAM_KEY: "sk-upstream-worker",
      CLIENT_KEY: "sk-proxy-worker-client",
    },
    // miniflare passes its own Request class: rebuild it for Node's fetch.
    outboundService: async (request) => {
      const headers = new Headers(request.headers);
      for (const h of ["content-length", "host", "connection", "transfer-encoding"]) headers.delete(h);
      const body = request.method === "GET" ? undefined : await request.arrayBuffer();
      const upstream = await fetch(request.url, { method: request.method, headers, body });
      // Pass the body on chunk by chunk, noting when each one arrived.
      const reader = upstream.body.getReader();
      const relayed = new ReadableStream({
        async pull(c) {
          const { done, value } = await reader.read();
          if (done) return c.close();
          upstreamChunks.push(performance.now());
          c.enqueue(value);
        },
        cancel: (reason) => reader.cancel(reason),
      });
      return new Response(relayed, { status: upstream.status, headers: upstream.headers });
    },
  });
});

after(async () => {
  await mf?.dispose();
});

const auth = { authorization: "Bearer sk-proxy-worker-client", "content-type": "application/json" };
const chat = (body, headers = auth) =>
  mf.dispatchFetch("http://proxy/v1/chat/completions", { method: "POST", headers, body: JSON.stringify(body) });

test("proxy: chat completion in OpenAI's shape, upstream key from a Worker secret", async () => {
  await mock.reset();
  const r = await chat({ model: "mock-model", messages: [{ role: "user", content: "Hello" }], max_tokens: 20 });
  assert.equal(r.status, 200);
  const out = await r.json();
  assert.equal(out.object, "chat.completion");
  assert.equal(out.choices[0].message.content, MOCK_TEXT);
  assert.equal(out.usage.completion_tokens, 9);
  const [req] = await mock.requests();
  assert.equal(req.path, "/v1/chat/completions");
  assert.equal(Object.fromEntries(req.headers).authorization, "Bearer sk-upstream-worker");
});

test("proxy: streaming chunks with usage and [DONE]", async () => {
  await mock.reset();
  const r = await chat({ model: "mock-model", messages: [{ role: "user", content: "stream" }], stream: true, stream_options: { include_usage: true } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/event-stream/);
  const events = (await r.text()).split("\n\n").filter(Boolean).map((e) => e.replace(/^data: /, ""));
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk"));
  const text = chunks.flatMap((c) => c.choices).map((c) => c.delta?.content ?? "").join("");
  assert.equal(text, '{"city":"San Francisco","temperature":61,"units":"f"}');
  assert.equal(chunks.at(-1).choices.length, 0, "the usage chunk has no choices");
  assert.equal(chunks.at(-1).usage.prompt_tokens, 79);
});

test("proxy: models, auth and OpenAI-shaped errors", async () => {
  let r = await mf.dispatchFetch("http://proxy/v1/models", { headers: auth });
  assert.equal(r.status, 200);
  assert.deepEqual((await r.json()).data.map((m) => m.id).sort(), ["claude-mock", "mock-model"]);

  r = await chat({ model: "mock-model", messages: [{ role: "user", content: "x" }] }, { authorization: "Bearer wrong" });
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.type, "invalid_request_error");

  await mock.reset();
  await mock.reply({ status: 429, headers: [["retry-after", "3"]], body: JSON.stringify({ error: { message: "slow down", type: "rate_limit_error" } }) });
  r = await chat({ model: "mock-model", messages: [{ role: "user", content: "x" }] });
  assert.equal(r.status, 429);
  const e = (await r.json()).error;
  assert.equal(e.message, "slow down");
});

test("proxy: SSE streams through workerd, the first event before the upstream has finished", async () => {
  await mock.reset();
  // The recorded OpenAI stream (18 events), one event every 150 ms.
  const PACE_MS = 150;
  const sse = readFileSync(`${FIXTURES}/openai/text_with_usage.sse`, "utf8");
  const upstreamEvents = sse.split("\n\n").filter((e) => e.trim()).length;
  await mock.reply({ status: 200, headers: [["content-type", "text/event-stream"]], body: sse, sse_delay_ms: PACE_MS });
  upstreamChunks = [];
  const t0 = performance.now();
  const r = await chat({ model: "mock-model", messages: [{ role: "user", content: "stream" }], stream: true, stream_options: { include_usage: true } });
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type"), /^text\/event-stream/);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let firstEventAt;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += value;
    if (firstEventAt === undefined && text.includes("\n\n")) firstEventAt = performance.now();
  }
  const endAt = performance.now();
  const lastUpstreamAt = upstreamChunks.at(-1);
  const ms = (t) => Math.round(t - t0);
  console.log(
    `proxy SSE on workerd: first event at ${ms(firstEventAt)} ms; upstream's last chunk reached the Worker at ` +
      `${ms(lastUpstreamAt)} ms (${upstreamChunks.length} chunks, ${PACE_MS} ms apart); stream ended at ${ms(endAt)} ms`,
  );
  assert.ok(upstreamChunks.length >= upstreamEvents - 1, `the upstream was paced (${upstreamChunks.length} chunks)`);
  assert.ok(firstEventAt < lastUpstreamAt, "the first event reached the client before the upstream's last chunk was sent");
  assert.ok(lastUpstreamAt - firstEventAt > (upstreamEvents / 2) * PACE_MS, "and well before: more than half the stream was still to come");

  // The stream itself is exactly right: every chunk, the usage chunk, one [DONE].
  const events = text.split("\n\n").filter(Boolean).map((e) => e.replace(/^data: /, ""));
  assert.equal(events.filter((e) => e === "[DONE]").length, 1);
  assert.equal(events.at(-1), "[DONE]");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const content = chunks.flatMap((c) => c.choices).map((c) => c.delta?.content ?? "").join("");
  assert.equal(content, '{"city":"San Francisco","temperature":61,"units":"f"}');
  assert.equal(chunks.filter((c) => c.choices.some((x) => x.finish_reason)).length, 1, "one finish_reason");
  assert.equal(chunks.at(-1).usage.prompt_tokens, 79);
});

test("proxy: concurrent streams on one isolate all complete, each with one [DONE]", async () => {
  await mock.reset();
  const body = { model: "mock-model", messages: [{ role: "user", content: "stream" }], stream: true };
  const texts = await Promise.all(Array.from({ length: 3 }, async () => {
    const r = await chat(body);
    assert.equal(r.status, 200);
    return r.text();
  }));
  for (const t of texts) {
    const events = t.split("\n\n").filter(Boolean);
    assert.equal(events.filter((e) => e === "data: [DONE]").length, 1);
    assert.equal(events.at(-1), "data: [DONE]");
  }
});

test("proxy: a client that goes away mid-stream stops the upstream request", async () => {
  // miniflare's outboundService does not pass a cancelled body on to Node,
  // so here the Worker fetches straight from a small Node relay in front of
  // the mock, which sees the Worker's socket close.
  const sse = readFileSync(`${FIXTURES}/openai/text_with_usage.sse`, "utf8");
  let relayed = 0;
  let upstreamClosedAt;
  let upstreamDoneAt;
  const relay = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const up = await fetch(`${MOCK}${req.url}`, { method: req.method, headers: { "content-type": "application/json" }, body: Buffer.concat(chunks) });
    res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "text/event-stream" });
    res.on("close", () => (upstreamClosedAt ??= performance.now()));
    for await (const c of up.body) {
      if (res.destroyed) break;
      res.write(c);
      relayed++;
    }
    upstreamDoneAt = performance.now();
    res.end();
  });
  await new Promise((ok) => relay.listen(0, "127.0.0.1", ok));
  const RELAY = `http://127.0.0.1:${relay.address().port}`;
  const cores = readFileSync(`${dist}/PROXY_CORES`, "utf8").trim().split("\n");
  const direct = new Miniflare({
    modules: [
      { type: "ESModule", path: `${dist}/proxy-worker.js`, contents: readFileSync(`${dist}/proxy-worker.js`, "utf8") },
      ...cores.map((f) => ({ type: "CompiledWasm", path: `${dist}/proxy/${f}`, contents: readFileSync(`${dist}/proxy/${f}`) })),
    ],
    modulesRoot: dist,
    compatibilityDate: "2026-08-01",
    compatibilityFlags: ["enable_request_signal"],
    kvNamespaces: ["AI_STATE"],
    bindings: {
      GATEWAY_CONFIG: JSON.stringify({ ...gatewayConfig, providers: gatewayConfig.providers.map((p) => ({ ...p, base_url: p.base_url.replace(MOCK, RELAY) })) }),
      UPSTREAM_KEY: "sk-upstream-worker",
      CLIENT_KEY: "sk-proxy-worker-client",
    },
  });
  try {
    await mock.reset();
    await mock.reply({ status: 200, headers: [["content-type", "text/event-stream"]], body: sse, sse_delay_ms: 100 });
    const url = new URL("/v1/chat/completions", await direct.ready);
    const payload = JSON.stringify({ model: "mock-model", messages: [{ role: "user", content: "stream" }], stream: true });
    let goneAt;
    await new Promise((done, fail) => {
      const req = http.request(url, { method: "POST", headers: auth }, (res) => {
        if (res.statusCode !== 200) {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => fail(new Error(`status ${res.statusCode}: ${text}`)));
          return;
        }
        res.once("data", () => {
          goneAt = performance.now();
          req.destroy();
          done();
        });
      });
      req.on("error", (e) => (e.code === "ECONNRESET" ? undefined : fail(e)));
      req.end(payload);
    });
    // The upstream would send its 18 events over ~1.7 s; wait past that.
    await new Promise((ok) => setTimeout(ok, 2500));
    console.log(`client gone after its first chunk: upstream request closed ${Math.round(upstreamClosedAt - goneAt)} ms later, ${relayed} of 18 chunks relayed`);
    assert.ok(upstreamClosedAt !== undefined, "the Worker closed its upstream request");
    assert.ok(relayed < 12, `the Worker stopped reading the upstream (${relayed} chunks)`);
  } finally {
    await direct.dispose();
    relay.close();
  }
});

test("proxy: /v1/responses stored in Workers KV, continued by previous_response_id, GET and DELETE", async () => {
  await mock.reset();
  const create = (body) =>
    mf.dispatchFetch("http://proxy/v1/responses", { method: "POST", headers: auth, body: JSON.stringify(body) });
  let r = await create({ model: "mock-model", input: "My name is Ada." });
  assert.equal(r.status, 200);
  const first = await r.json();
  assert.equal(first.object, "response");
  assert.equal(first.output[0].content[0].text, MOCK_TEXT);
  r = await create({ model: "mock-model", input: "What is my name?", previous_response_id: first.id, stream: true });
  assert.equal(r.status, 200);
  const types = (await r.text()).split("\n\n").filter(Boolean).map((e) => e.split("\n")[0].replace(/^event: /, ""));
  assert.equal(types[0], "response.created");
  assert.equal(types.at(-1), "response.completed");
  const sent = JSON.parse((await mock.requests()).at(-1).body);
  assert.deepEqual(sent.messages.map((m) => m.role), ["user", "assistant", "user"]);
  r = await mf.dispatchFetch(`http://proxy/v1/responses/${first.id}`, { headers: auth });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), first);
  r = await mf.dispatchFetch(`http://proxy/v1/responses/${first.id}`, { method: "DELETE", headers: auth });
  assert.deepEqual(await r.json(), { id: first.id, object: "response", deleted: true });
  r = await mf.dispatchFetch(`http://proxy/v1/responses/${first.id}`, { headers: auth });
  assert.equal(r.status, 404);
});

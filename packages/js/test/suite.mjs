// One suite, run in Node (node.test.mjs) and inside workerd (workerd.test.mjs
// bundles it into a Worker). `lib` is the package, `allow` its ./allowlist
// sub-export, `mock` the host-test mock upstream's admin API, `stores` the
// store to cache in (a memoryStore in Node, a Workers KV namespace in workerd).

const eq = (a, b, what = "") => {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what} expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
};
const ok = (v, what = "") => {
  if (!v) throw new Error(`expected ${what}`);
};
const hello = { messages: [{ role: "user", content: "Hello" }] };

export function mockApi(MOCK, f = fetch) {
  return {
    hits: async () => (await (await f(`${MOCK}/__mock/hits`)).json()).hits,
    requests: async () => (await f(`${MOCK}/__mock/requests`)).json(),
    outcomes: async () => (await f(`${MOCK}/__mock/outcomes`)).json(),
    reset: () => f(`${MOCK}/__mock/reset`, { method: "POST" }),
    reply: (r) => f(`${MOCK}/__mock/reply`, { method: "POST", body: JSON.stringify(r) }),
  };
}

const providers = (MOCK) => ({
  openai: { type: "openai", apiKey: "sk-js-test", baseUrl: `${MOCK}/v1` },
  anthropic: { type: "anthropic", apiKey: "sk-ant-js-test", baseUrl: MOCK },
});

export const cases = {
  async "quickstart: createGateway + withRetry, run answers with text, usage, provider, model"({ lib, MOCK, mock }) {
    await mock.reset();
    const gateway = lib.withRetry(lib.createGateway({ providers: providers(MOCK), defaultProvider: "anthropic" }));
    eq(gateway.providers(), ["openai", "anthropic"], "providers");
    eq(gateway.defaultProvider(), "anthropic", "default");
    const result = await gateway.run("claude-sonnet-4-6", hello);
    ok(result.text.length > 0, "text");
    eq(result.provider, "anthropic", "provider");
    ok(result.usage.inputTokens > 0 && result.usage.totalTokens === result.usage.inputTokens + result.usage.outputTokens, "usage");
    eq(typeof result.model, "string");
    eq(result.toolCalls, undefined, "no tool calls");
    eq(await mock.hits(), 1, "one upstream call");
  },

  async "stream: typed events, exactly one done, last"({ lib, MOCK }) {
    const gateway = lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" });
    const stream = await gateway.stream("gpt-4o", hello);
    ok(stream instanceof ReadableStream, "a ReadableStream");
    const events = [];
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      events.push(value);
    }
    ok(events.length > 1, "events");
    eq(events.filter((e) => e.type === "done").length, 1, "one done");
    eq(events.at(-1).type, "done", "done last");
    ok(events.slice(0, -1).every((e) => e.type === "text" && typeof e.delta === "string"), "text deltas");
    ok(events.at(-1).usage.outputTokens > 0, "OpenAI stream reports usage (the gateway asks for it)");
    const sent = (await (await fetch(`${MOCK}/__mock/requests`)).json()).at(-1);
    const body = typeof sent.body === "string" ? JSON.parse(sent.body) : sent.body;
    eq(body?.stream_options?.include_usage, true, "stream_options.include_usage");
  },

  async "stream cancel() drops the event-stream: the upstream connection closes, the gateway keeps serving"({ lib, MOCK, mock }) {
    await mock.reset();
    const chunk = (delta, extra = {}) => `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", model: "gpt-4o", choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
    let sse = chunk({ role: "assistant", content: "" });
    for (let i = 0; i < 40; i++) sse += chunk({ content: `w${i} ` });
    sse += "data: [DONE]\n\n";
    await mock.reply({ status: 200, headers: [["content-type", "text/event-stream"]], body: sse, sse_delay_ms: 50 });
    const gateway = lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" });
    const stream = await gateway.stream("gpt-4o", hello);
    const reader = stream.getReader();
    const first = await reader.read();
    eq(first.value.type, "text", "first event");
    await reader.cancel();
    let outcomes = [];
    for (let i = 0; i < 100 && !outcomes.length; i++) {
      await new Promise((r) => setTimeout(r, 50));
      outcomes = await mock.outcomes();
    }
    eq(outcomes.length, 1, "one streamed reply ended");
    eq(outcomes[0].outcome, "client-closed", "the upstream saw the client leave");
    ok(outcomes[0].sent < outcomes[0].total / 2, `closed early (${outcomes[0].sent} of ${outcomes[0].total} chunks sent)`);
    const again = await gateway.run("gpt-4o", hello, { maxTokens: 5 });
    ok(again.text.length > 0, "next call served");
  },

  async "withCache: a hit costs no upstream call; any option changes the key"({ lib, MOCK, mock, store }) {
    await mock.reset();
    const gateway = lib.withCache(lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" }), { storage: store(), ttl: 300 });
    const a = await gateway.run("gpt-4o", hello);
    const b = await gateway.run("gpt-4o", hello);
    eq([a.cached, b.cached], [false, true], "miss then hit");
    eq(b.text, a.text, "same text");
    eq(await mock.hits(), 1, "one upstream call");
    const c = await gateway.run("gpt-4o", hello, { temperature: 0.2 });
    eq(c.cached, false, "temperature is part of the key");
    eq(await mock.hits(), 2, "two upstream calls");
  },

  async "withCache streams: true replays a cached stream as events"({ lib, MOCK, mock, store }) {
    await mock.reset();
    const gateway = lib.withCache(lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" }), { storage: store(), streams: true });
    const read = async () => {
      const events = [];
      for (const r = (await gateway.stream("gpt-4o", { prompt: "cached stream" })).getReader(); ;) {
        const { done, value } = await r.read();
        if (done) return events;
        events.push(value);
      }
    };
    const a = await read();
    const b = await read();
    eq(await mock.hits(), 1, "one upstream call");
    eq([a.at(-1).cached, b.at(-1).cached], [false, true], "replayed");
    eq(b.filter((e) => e.type === "text").map((e) => e.delta).join(""), a.filter((e) => e.type === "text").map((e) => e.delta).join(""), "same text");
  },

  async "concurrent calls on one gateway all succeed"({ lib, MOCK }) {
    const gateway = lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" });
    const stream = await gateway.stream("gpt-4o", hello);
    const reader = stream.getReader();
    await reader.read();
    const outs = await Promise.all([gateway.run("gpt-4o", hello), gateway.run("claude-sonnet-4-6", hello, { provider: "anthropic" }), gateway.embed("text-embedding-3-small", "x")]);
    eq(outs.map((o) => o.provider), ["openai", "anthropic", "openai"], "all served");
    for (;;) if ((await reader.read()).done) break;
  },

  async "withRetry retries a 503 and not a 401"({ lib, MOCK, mock }) {
    const gateway = lib.withRetry(lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" }), { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 });
    await mock.reset();
    await mock.reply({ status: 503, body: JSON.stringify({ error: { message: "busy" } }) });
    const r = await gateway.run("gpt-4o", hello);
    eq(r.attempts.length, 2, "two attempts");
    await mock.reset();
    await mock.reply({ status: 401, body: JSON.stringify({ error: { message: "bad key" } }) });
    let err;
    try {
      await gateway.run("gpt-4o", hello);
    } catch (e) {
      err = e;
    }
    ok(err instanceof lib.GatewayError, "a GatewayError");
    eq([err.kind, err.name, err.status, err.retryable], ["auth", "AuthError", 401, false], "auth error");
    eq(await mock.hits(), 1, "401 not retried");
  },

  async "withRetry isRetryable: a JS hook decides, stacked wrappers all run, an aborted signal stops"({ lib, MOCK, mock }) {
    await mock.reset();
    const seen = [];
    const base = lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" });
    const gw = lib.withLogging(
      lib.withRetry(lib.withLogging(base, { onError: (_m, e) => seen.push(`inner:${e.status}`) }), { maxAttempts: 3, isRetryable: (e) => e.status === 400 }),
      { onRequest: () => seen.push("outer:req"), onResponse: () => seen.push("outer:res") },
    );
    await mock.reply({ status: 400, body: JSON.stringify({ error: { message: "odd" } }) });
    const out = await gw.run("gpt-4o", hello);
    ok(out.text.length > 0, "served after a retried 400");
    eq(seen, ["outer:req", "inner:400", "outer:res"], "layers in order");
    eq(await mock.hits(), 2, "two upstream calls");
    const ctl = new AbortController();
    ctl.abort();
    let err;
    await gw.run("gpt-4o", hello, { signal: ctl.signal }).catch((e) => (err = e));
    ok(err && (err.name === "AbortError"), "aborted");
    eq(await mock.hits(), 2, "no call after abort");
  },

  async "withLogging hooks see request, response and error"({ lib, MOCK }) {
    const seen = [];
    const gateway = lib.withLogging(lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" }), {
      onRequest: (m) => seen.push(["req", m]),
      onResponse: (m, out) => seen.push(["res", m, out.provider]),
      onError: (m, e) => seen.push(["err", m, e.kind]),
    });
    await gateway.run("gpt-4o", hello);
    await gateway.run("gpt-4o", hello, { provider: "nope" }).catch(() => {});
    eq(seen, [["req", "gpt-4o"], ["res", "gpt-4o", "openai"], ["req", "gpt-4o"], ["err", "gpt-4o", "validation"]], "hooks");
  },

  async "createRouter: globs route, a router in the config routes calls"({ lib, MOCK }) {
    const router = lib.createRouter({ routes: [{ pattern: "gpt-*", provider: "openai" }, { pattern: "claude-*", provider: "anthropic" }], fallback: "openai" });
    eq([await router.resolve("gpt-4o"), await router.resolve("claude-x"), await router.resolve("llama")], ["openai", "anthropic", "openai"], "resolve");
    const gateway = lib.createGateway({ providers: providers(MOCK), router });
    eq((await gateway.run("claude-sonnet-4-6", hello)).provider, "anthropic", "routed");
  },

  async "createCostTracker and a gateway budget"({ lib, MOCK }) {
    const costs = lib.createCostTracker({ pricing: { "gpt-4o": { input: 2.5, output: 10.0 } } });
    const usd = await costs.record("gpt-4o", { inputTokens: 1_000_000, outputTokens: 100_000 });
    eq(usd, 3.5, "cost in USD");
    const t = await costs.getTotals();
    eq([t.requests, t.costMicroUsd, t.byModel["gpt-4o"].requests], [1, 3_500_000, 1], "totals");
    eq((await costs.checkBudget(3)).exceeded, true, "over budget");
    await costs.reset();
    eq((await costs.getTotals()).requests, 0, "reset");
    const gateway = lib.createGateway({
      providers: providers(MOCK), defaultProvider: "openai",
      cost: { pricing: { "gpt-4o": { input: 2.5, output: 10.0 } }, budget: 1 },
    });
    const out = await gateway.run("gpt-4o", hello, { maxTokens: 100 });
    ok(out.costMicroUsd > 0, "priced");
    const b = await gateway.budget();
    eq([b.budgetMicroUsd, b.spentMicroUsd], [1_000_000, out.costMicroUsd], "budget");
    eq((await gateway.costs()).requests, 1, "costs");
  },

  async "embed returns one vector per input"({ lib, MOCK }) {
    const gateway = lib.createGateway({ providers: providers(MOCK), defaultProvider: "openai" });
    const e = await gateway.embed("text-embedding-3-small", ["a", "b"]);
    eq(e.embeddings.length, 2, "two vectors");
    ok(e.embeddings[0].length > 0 && typeof e.embeddings[0][0] === "number", "numbers");
  },

  async "errors: validation at first call, typed"({ lib, MOCK }) {
    const gateway = lib.createGateway({ providers: providers(MOCK), defaultProvider: "missing" });
    let err;
    await gateway.run("gpt-4o", hello).catch((e) => (err = e));
    ok(err instanceof lib.GatewayError, "GatewayError");
    eq([err.kind, err.name], ["validation", "ValidationError"], "validation");
  },

  async "allowlist sub-export: exact, prefix, unknown provider"({ allow }) {
    const a = allow.createModelAllowlist({ anthropic: ["claude-opus-4-7", "claude-sonnet-4-6"], groq: [{ prefix: "llama-3.1-" }] });
    eq([a.isAllowed("anthropic", "claude-sonnet-4-6"), a.isAllowed("groq", "llama-3.1-8b"), a.isAllowed("groq", "llama-3.2"), a.isAllowed("openai", "gpt-4o")], [true, true, false, false], "matches");
    eq(allow.isAllowedModel({ groq: [{ prefix: "" }] }, "groq", "x"), false, "empty prefix matches nothing");
  },
};

/**
 * Cases that call Cloudflare's own hosts: only where the test can send those
 * to the mock (workerd's outboundService; Node's HTTP has no such hook).
 */
export const redirectCases = {
  async "runFallback: the Universal Endpoint chain; the serving provider from cf-aig-step"({ lib, MOCK, mock }) {
    await mock.reset();
    const anthropic = { model: "claude-sonnet-4-6", content: [{ type: "text", text: "from claude" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 2 } };
    await mock.reply({ status: 200, headers: [["cf-aig-step", "1"]], body: JSON.stringify(anthropic) });
    const gateway = lib.createGateway({
      providers: { openai: { type: "openai", apiKey: "sk-o" }, anthropic: { type: "anthropic", apiKey: "sk-a" } },
      cfGateway: { accountId: "acc1", gatewayId: "gw1", authToken: "cf-token" },
      defaultProvider: "openai",
    });
    const out = await gateway.runFallback([{ provider: "openai", model: "gpt-4o" }, { provider: "anthropic", model: "claude-sonnet-4-6" }], { messages: [{ role: "user", content: "hi" }] });
    eq([out.provider, out.text], ["anthropic", "from claude"], "served by the second entry");
    const [req] = await mock.requests();
    const headers = Object.fromEntries(req.headers);
    eq(headers["x-aigw-original-url"], "https://gateway.ai.cloudflare.com/v1/acc1/gw1", "the Universal Endpoint");
    eq(headers["cf-aig-authorization"], "Bearer cf-token", "cf-aig-authorization");
    eq(JSON.parse(req.body).map((s) => [s.provider, s.endpoint]), [["openai", "chat/completions"], ["anthropic", "v1/messages"]], "steps");
  },

  async "cfGateway: run goes through the AI Gateway URL with cf-aig headers"({ lib, MOCK, mock }) {
    await mock.reset();
    const gateway = lib.createGateway({
      providers: { openai: { type: "openai", apiKey: "sk-o" } },
      cfGateway: { accountId: "acc1", gatewayId: "gw1", cacheTtl: 3600, skipCache: true },
      defaultProvider: "openai",
    });
    const out = await gateway.run("gpt-4o", hello);
    ok(out.text.length > 0, "text");
    const [req] = await mock.requests();
    const headers = Object.fromEntries(req.headers);
    eq(headers["x-aigw-original-url"], "https://gateway.ai.cloudflare.com/v1/acc1/gw1/openai/chat/completions", "AI Gateway URL");
    eq([headers["cf-aig-cache-ttl"], headers["cf-aig-skip-cache"]], ["3600", "true"], "cf-aig headers");
  },
};

/** Cases for workerd's Durable Object counters (`counters(name)` gives a counterStore). */
export const counterCases = {
  async "counterStore: cost totals in a Durable Object are exact over concurrent calls"({ lib, MOCK, counters }) {
    const gateway = lib.createGateway({
      providers: providers(MOCK), defaultProvider: "openai",
      cost: { pricing: { "gpt-4o": { input: 2.5, output: 10.0 } }, budget: 100, storage: counters(`costs-${Date.now()}`) },
    });
    const outs = await Promise.all(Array.from({ length: 6 }, (_, i) => gateway.run("gpt-4o", { prompt: `c${i}` }, { maxTokens: 50 })));
    const totals = await gateway.costs();
    eq(totals.requests, 6, "six calls counted");
    eq(totals.costMicroUsd, outs.reduce((a, o) => a + o.costMicroUsd, 0), "the exact sum");
    const b = await gateway.budget();
    eq(b.spentMicroUsd, totals.costMicroUsd, "budget spent");
  },
};

// A Cloudflare Worker that runs the unmodified ai-gateway.wasm component
// (transpiled by jco in JSPI mode). WASI comes from preview2-shim (its
// browser build: wasi:http over fetch, clocks and random over the platform);
// wasi:keyvalue comes from ./keyvalue.js over Workers KV, with the buckets
// that hold counters (costs, rate limits) in a Durable Object when the
// AI_COUNTERS binding exists (exact across isolates; see README.md).
//
// HTTP API (JSON in, JSON out):
//   POST /run           {model, input, options?}        -> ai-output
//   POST /stream        {model, input, options?}        -> text/event-stream of stream events
//   POST /run-fallback  {entries, input, options?}      -> ai-output
//   GET  /providers                                      -> {providers, default}
//   GET  /costs                                          -> cost totals (needs COST_CONFIG)
//   GET  /budget                                         -> budget status (needs a budget)
// Errors: {"error": {"type", "message", ...}} with a status per error kind.
//
// Inputs use the component's own shapes, JSON-friendly: `input` is
// {"prompt": "..."} or {"messages": [{"role", "content", ...}]}.

import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";
import { instantiate } from "../dist/transpiled/ai_gateway.js";
import core1 from "./transpiled/ai_gateway.core.wasm";
import core2 from "./transpiled/ai_gateway.core2.wasm";
import core3 from "./transpiled/ai_gateway.core3.wasm";
import { keyvalueImports, counterBuckets } from "./keyvalue.js";
import { instancePool } from "./pool.js";

// The Durable Object class behind AI_COUNTERS (wrangler.toml binds it).
export { GatewayCounters } from "./counters.js";

const cores = { "ai_gateway.core.wasm": core1, "ai_gateway.core2.wasm": core2, "ai_gateway.core3.wasm": core3 };

// Opened gateways (each its own component instance), one per request in
// flight and reused by later requests: see pool.js for why they are not shared.
let pool = null;

function poolFor(env) {
  pool ??= instancePool(async () => {
    const config = configFrom(env);
    const kv = keyvalueImports(env, { counterBuckets: counterBuckets(env, [config.cost?.bucket, config.rateLimits?.bucket]) });
    const imports = withUnversionedNames({ ...new WASIShim().getImportObject({ asVersion: "0.2.6" }), ...kv });
    const component = await instantiate((path) => cores[path], imports);
    return component.api.open(config);
  });
  return pool;
}

/** jco looks imports up by `ns:pkg/iface` (its typings say `...@version`): give both. */
function withUnversionedNames(imports) {
  const out = { ...imports };
  for (const [k, v] of Object.entries(imports)) out[k.replace(/@[^@/]+$/, "")] = v;
  return out;
}

/** The gateway config, from the Worker's vars and secrets. */
export function configFrom(env) {
  const providers = [];
  const base = {
    apiKey: undefined, baseUrl: undefined, accountId: undefined,
    wireFormat: undefined, apiVersion: undefined, headers: [],
  };
  if (env.OPENAI_API_KEY) {
    providers.push({ ...base, name: "openai", kind: "openai", apiKey: env.OPENAI_API_KEY, baseUrl: env.OPENAI_BASE_URL || undefined });
  }
  if (env.ANTHROPIC_API_KEY) {
    providers.push({ ...base, name: "anthropic", kind: "anthropic", apiKey: env.ANTHROPIC_API_KEY, baseUrl: env.ANTHROPIC_BASE_URL || undefined });
  }
  if (env.CF_API_TOKEN && env.CF_ACCOUNT_ID) {
    providers.push({ ...base, name: "workers-ai", kind: "workers-ai", apiKey: env.CF_API_TOKEN, accountId: env.CF_ACCOUNT_ID, baseUrl: env.WORKERS_AI_BASE_URL || undefined });
  }
  const ttl = Number(env.CACHE_TTL_SECONDS || 0);
  return {
    providers,
    defaultProvider: env.DEFAULT_PROVIDER || providers[0]?.name,
    cfGateway: env.CF_AIG_GATEWAY_ID && env.CF_ACCOUNT_ID
      ? { accountId: env.CF_ACCOUNT_ID, gatewayId: env.CF_AIG_GATEWAY_ID, authToken: env.CF_AIG_TOKEN || undefined, cacheTtl: undefined, skipCache: false }
      : undefined,
    router: undefined,
    retry: { maxAttempts: Number(env.RETRY_MAX_ATTEMPTS || 2), retryOn: [], initialBackoffMs: 200n, maxBackoffMs: 4000n, maxRetryAfterMs: 30000n },
    chains: [],
    cache: ttl > 0 ? { bucket: "cache", ttlSeconds: ttl, namespace: undefined, streams: true } : undefined,
    cost: costFrom(env.COST_CONFIG),
    rateLimits: rateLimitsFrom(env.RATE_LIMITS),
    allowlist: undefined,
    logging: undefined,
    timeoutMs: BigInt(env.TIMEOUT_MS || 60000),
    attemptTimeouts: undefined,
  };
}

const big = (v) => (v === undefined || v === null ? undefined : BigInt(v));
const parsed = (v) => (typeof v === "string" ? JSON.parse(v) : v);

/**
 * COST_CONFIG (JSON, the WIT `cost-config` in camelCase):
 * {"pricing": [{"model", "input", "output", "cacheRead"?, "cacheWrite"?, "reasoning"?}],
 *  "budgetMicroUsd"?, "bucket"?, "keyPrefix"?}; prices in micro-USD per million tokens.
 */
export function costFrom(raw) {
  if (!raw) return undefined;
  const c = parsed(raw);
  return {
    pricing: (c.pricing ?? []).map((p) => ({
      model: p.model, input: BigInt(p.input), output: BigInt(p.output),
      cacheRead: big(p.cacheRead), cacheWrite: big(p.cacheWrite), reasoning: big(p.reasoning),
    })),
    budgetMicroUsd: big(c.budgetMicroUsd),
    bucket: c.bucket ?? undefined,
    keyPrefix: c.keyPrefix ?? undefined,
  };
}

/**
 * RATE_LIMITS (JSON, the WIT `rate-limit-config` in camelCase):
 * {"bucket", "limits": [{"name", "scope": "global"|"provider"|"model"|"caller",
 *  "windowSeconds", "maxRequests"?, "maxTokens"?}]}.
 */
export function rateLimitsFrom(raw) {
  if (!raw) return undefined;
  const c = parsed(raw);
  return {
    bucket: c.bucket,
    limits: (c.limits ?? []).map((l) => ({
      name: l.name, scope: l.scope ?? "global", windowSeconds: Number(l.windowSeconds),
      maxRequests: big(l.maxRequests), maxTokens: big(l.maxTokens),
    })),
  };
}

// ------------------------------------------------------------ JSON <-> WIT

const OPTION_KEYS = [
  "provider", "timeoutMs", "responseFormat", "toolChoice", "maxTokens", "temperature", "topP",
  "reasoningEffort", "extraBody", "retry", "fallback", "cache", "cacheKey", "caller",
  "parallelToolCalls", "presencePenalty", "frequencyPenalty", "logprobs", "topLogprobs", "endUser",
  "serviceTier", "requestId",
];

function message(m) {
  return {
    role: m.role,
    // Text, or WIT `content-part`s as given ({tag: "image", val: {...}}, ...).
    content: Array.isArray(m.content) ? { tag: "parts", val: m.content } : { tag: "text", val: m.content ?? "" },
    cacheControl: m.cacheControl ?? m.cache_control ?? undefined,
    toolCalls: (m.toolCalls ?? m.tool_calls ?? []).map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, rawArguments: undefined })),
    toolCallId: m.toolCallId ?? m.tool_call_id ?? undefined,
  };
}

export function inputFrom(input) {
  if (typeof input?.prompt === "string") return { tag: "prompt", val: input.prompt };
  if (Array.isArray(input?.messages)) return { tag: "messages", val: input.messages.map(message) };
  throw new BadRequest("input must be {prompt} or {messages}");
}

export function optionsFrom(o = {}) {
  const out = { tools: [], stop: [], headers: [], logitBias: [], metadata: [] };
  for (const k of OPTION_KEYS) out[k] = o[k] ?? undefined;
  if (typeof out.timeoutMs === "number") out.timeoutMs = BigInt(out.timeoutMs);
  if (o.seed !== undefined && o.seed !== null) out.seed = BigInt(o.seed);
  if (o.logitBias) out.logitBias = Object.entries(o.logitBias).map(([t, b]) => [Number(t), Number(b)]);
  if (o.metadata) out.metadata = Object.entries(o.metadata).map(([k, v]) => [k, String(v)]);
  if (Array.isArray(o.tools)) {
    out.tools = o.tools.map((t) => ({
      name: t.name,
      description: t.description ?? undefined,
      parameters: t.parameters === undefined ? undefined : typeof t.parameters === "string" ? t.parameters : JSON.stringify(t.parameters),
    }));
  }
  if (typeof o.toolChoice === "string") out.toolChoice = { tag: o.toolChoice };
  else if (o.toolChoice?.name) out.toolChoice = { tag: "named", val: o.toolChoice.name };
  if (o.responseFormat === "json") out.responseFormat = { tag: "json" };
  else if (o.responseFormat?.jsonSchema) {
    const s = o.responseFormat.jsonSchema;
    out.responseFormat = {
      tag: "json-schema",
      val: { name: s.name ?? "response", schema: typeof s.schema === "string" ? s.schema : JSON.stringify(s.schema), strict: s.strict ?? true, description: s.description ?? undefined },
    };
  }
  if (Array.isArray(o.stop)) out.stop = o.stop;
  return out;
}

class BadRequest extends Error {}

/** JSON.stringify with BigInt as numbers. */
export function toJson(v) {
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? Number(x) : x));
}

export function eventJson(e) {
  switch (e.tag) {
    case "text": return { type: "text", delta: e.val };
    case "reasoning": return { type: "reasoning", delta: e.val };
    case "reasoning-signature": return { type: "reasoning_signature", signature: e.val };
    case "reasoning-redacted": return { type: "reasoning_redacted", data: e.val };
    case "refusal": return { type: "refusal", delta: e.val };
    case "logprobs": return { type: "logprobs", tokens: e.val };
    case "tool-use": return { type: "tool_use", ...e.val };
    case "done": return { type: "done", ...e.val };
    case "error": return { type: "error", error: errorJson(e.val) };
    default: return { type: e.tag };
  }
}

const STATUS = {
  validation: 400, auth: 401, "not-found": 404, "rate-limited": 429, timeout: 504,
  "service-unavailable": 503, upstream: 502, "budget-exceeded": 402, "model-not-allowed": 403, internal: 500,
};

export function errorJson(err) {
  const detail = typeof err.val === "object" && err.val !== null ? err.val : { message: err.val };
  return { type: err.tag, ...detail, message: detail.message ?? err.tag };
}

function errorResponse(err) {
  const status = STATUS[err.tag] ?? 500;
  const headers = { "content-type": "application/json" };
  const retry = err.val?.retryAfterMs;
  if (retry !== undefined) headers["retry-after"] = String(Math.ceil(Number(retry) / 1000));
  return new Response(toJson({ error: errorJson(err) }), { status, headers });
}

function json(v, status = 200) {
  return new Response(toJson(v), { status, headers: { "content-type": "application/json" } });
}

// ------------------------------------------------------------ handlers

/** `lease.gw` is this request's gateway; `/stream` keeps it (`lease.held`) until the stream ends. */
async function handle(request, lease) {
  const url = new URL(request.url);
  const gw = lease.gw;
  if (request.method === "GET" && url.pathname === "/providers") {
    return json({ providers: gw.providers(), default: gw.defaultProvider() ?? null });
  }
  if (request.method === "GET" && url.pathname === "/costs") return json(await gw.costs());
  if (request.method === "GET" && url.pathname === "/budget") return json(await gw.budget());
  if (request.method !== "POST") return json({ error: { type: "validation", message: "use POST" } }, 405);
  let body;
  try {
    body = await request.json();
  } catch {
    return json({ error: { type: "validation", message: "the body must be JSON" } }, 400);
  }
  switch (url.pathname) {
    case "/run":
      return json(await gw.run(String(body.model ?? ""), inputFrom(body.input), optionsFrom(body.options)));
    case "/run-fallback":
      return json(await gw.runFallback(body.entries ?? [], inputFrom(body.input), optionsFrom(body.options)));
    case "/stream": {
      const stream = await gw.stream(String(body.model ?? ""), inputFrom(body.input), optionsFrom(body.options));
      const enc = new TextEncoder();
      // The stream belongs to this request's instance: give it back at the end.
      lease.held = true;
      const finish = (ok) => {
        stream[Symbol.dispose]?.();
        lease.end(ok);
      };
      const body$ = new ReadableStream({
        async pull(controller) {
          let e;
          try {
            e = await stream.next();
          } catch (err) {
            finish(false);
            throw err;
          }
          if (e === undefined) {
            finish(true);
            controller.close();
            return;
          }
          controller.enqueue(enc.encode(`data: ${toJson(eventJson(e))}\n\n`));
        },
        cancel() {
          // Dropping the resource closes the upstream request.
          finish(true);
        },
      });
      return new Response(body$, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
    }
    default:
      return json({ error: { type: "not-found", message: `no route ${url.pathname}` } }, 404);
  }
}

export default {
  async fetch(request, env) {
    const pool = poolFor(env);
    let gw;
    try {
      gw = await pool.acquire();
    } catch (e) {
      if (e && e.payload && typeof e.payload.tag === "string") return errorResponse(e.payload);
      return json({ error: { type: "internal", message: String(e?.message ?? e) } }, 500);
    }
    const lease = {
      gw,
      held: false,
      ended: false,
      end(ok) {
        if (this.ended) return;
        this.ended = true;
        if (ok) pool.release(gw);
        else pool.discard(gw);
      },
    };
    let ok = true;
    try {
      return await handle(request, lease);
    } catch (e) {
      if (e instanceof BadRequest) return json({ error: { type: "validation", message: e.message } }, 400);
      if (e && e.payload && typeof e.payload.tag === "string") return errorResponse(e.payload);
      // Not a gateway error (a trap, a bug): do not reuse this instance.
      ok = false;
      return json({ error: { type: "internal", message: String(e?.message ?? e) } }, 500);
    } finally {
      if (!lease.held) lease.end(ok);
    }
  },
};

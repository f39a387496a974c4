// The one place where the library's camelCase, JSON-valued shapes become the
// component's WIT records (jco's camelCase of the kebab-case names: tagged
// variants, bigint u64s, JSON carried as text) and back.

const big = (v) => (v === undefined || v === null ? undefined : BigInt(v));
const num = (v) => (typeof v === "bigint" ? Number(v) : v);
const json = (v) => (v === undefined || v === null ? undefined : typeof v === "string" ? v : JSON.stringify(v));
const parse = (s) => {
  if (s === undefined || s === null) return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

const KINDS = Object.fromEntries([
  "openai", "anthropic", "workers-ai", "custom",
  "gemini", "vertex", "vertex-anthropic", "bedrock", "azure-openai",
  "groq", "mistral", "deepseek", "xai", "openrouter", "together", "fireworks",
  "perplexity", "cerebras", "ollama", "vllm",
].map((k) => [k, k]));

/** `providers: {name: {type, apiKey, baseUrl, ...}}` -> `list<provider-config>`. */
export function providersToWit(providers) {
  if (!providers || typeof providers !== "object") throw validation("config.providers must be an object of provider configs");
  return Object.entries(providers).map(([name, p]) => {
    const kind = KINDS[p.type];
    if (!kind) throw validation(`provider ${name}: unknown type ${JSON.stringify(p.type)} (${Object.keys(KINDS).join(", ")})`);
    if (p.binding !== undefined) {
      throw validation(`provider ${name}: a Workers AI binding cannot be called from the component; give accountId and apiKey (the REST API) instead`);
    }
    if (typeof p.run === "function") throw validation(`provider ${name}: custom providers are HTTP endpoints here (baseUrl + wireFormat), not JS functions`);
    return {
      name,
      kind,
      apiKey: p.apiKey ?? undefined,
      baseUrl: p.baseUrl ?? undefined,
      accountId: p.accountId ?? undefined,
      wireFormat: p.wireFormat ?? undefined,
      apiVersion: p.apiVersion ?? undefined,
      headers: headersToWit(p.headers),
      region: p.region ?? undefined,
      project: p.project ?? undefined,
      resourceName: p.resourceName ?? undefined,
      awsCredentials: p.awsCredentials
        ? {
            accessKeyId: String(p.awsCredentials.accessKeyId),
            secretAccessKey: String(p.awsCredentials.secretAccessKey),
            sessionToken: p.awsCredentials.sessionToken ?? undefined,
          }
        : undefined,
      keyAuth: p.keyAuth ?? undefined,
    };
  });
}

function headersToWit(h) {
  if (!h) return [];
  if (Array.isArray(h)) return h.map(([k, v]) => [String(k), String(v)]);
  return Object.entries(h).map(([k, v]) => [k, String(v)]);
}

export function retryToWit(r) {
  if (!r) return undefined;
  return {
    maxAttempts: r.maxAttempts ?? 3,
    retryOn: r.retryOn ?? [],
    initialBackoffMs: BigInt(r.initialBackoffMs ?? 200),
    maxBackoffMs: BigInt(r.maxBackoffMs ?? 4000),
    maxRetryAfterMs: BigInt(r.maxRetryAfterMs ?? 30000),
  };
}

export function routerToWit(r) {
  if (!r) return undefined;
  return { routes: (r.routes ?? []).map((x) => ({ pattern: x.pattern, provider: x.provider })), fallback: r.fallback ?? undefined };
}

/** Prices: the library's USD per million tokens (`{input: 2.5, output: 10}`) or our micro-USD. */
export function pricingToWit(pricing = {}) {
  const entries = Array.isArray(pricing) ? pricing.map((p) => [p.model, p]) : Object.entries(pricing);
  const usd = (v) => (v === undefined || v === null ? undefined : BigInt(Math.round(Number(v) * 1_000_000)));
  return entries.map(([model, p]) => ({
    model,
    input: usd(p.input) ?? 0n,
    output: usd(p.output) ?? 0n,
    cacheRead: usd(p.cacheRead),
    cacheWrite: usd(p.cacheWrite),
    reasoning: usd(p.reasoning),
  }));
}

export function costToWit(c) {
  if (!c) return undefined;
  return {
    pricing: pricingToWit(c.pricing),
    budgetMicroUsd: c.budget !== undefined ? BigInt(Math.round(c.budget * 1_000_000)) : big(c.budgetMicroUsd),
    bucket: c.bucket ?? undefined,
    keyPrefix: c.keyPrefix ?? undefined,
  };
}

export function allowlistToWit(config) {
  if (!config) return undefined;
  return Object.entries(config).map(([provider, models]) => ({
    provider,
    models: (models ?? []).map((m) => (typeof m === "string" ? { tag: "exact", val: m } : { tag: "prefix", val: String(m.prefix ?? "") })),
  }));
}

export function configToWit(c) {
  return {
    providers: providersToWit(c.providers),
    defaultProvider: c.defaultProvider ?? undefined,
    cfGateway: c.cfGateway
      ? {
          accountId: c.cfGateway.accountId,
          gatewayId: c.cfGateway.gatewayId,
          authToken: c.cfGateway.authToken ?? undefined,
          cacheTtl: c.cfGateway.cacheTtl ?? undefined,
          skipCache: !!c.cfGateway.skipCache,
        }
      : undefined,
    router: routerToWit(c.router),
    retry: retryToWit(c.retry),
    chains: Object.entries(c.chains ?? {}).map(([name, ch]) => ({ name, chain: chainToWit(ch) })),
    cache: c.cache
      ? { bucket: c.cache.bucket ?? "cache", ttlSeconds: c.cache.ttl ?? 3600, namespace: c.cache.namespace ?? undefined, streams: !!c.cache.streams }
      : undefined,
    cost: costToWit(c.cost),
    rateLimits: c.rateLimits
      ? {
          bucket: c.rateLimits.bucket ?? "ratelimits",
          limits: c.rateLimits.limits.map((l) => ({
            name: l.name, scope: l.scope ?? "global", windowSeconds: l.windowSeconds,
            maxRequests: big(l.maxRequests), maxTokens: big(l.maxTokens),
          })),
        }
      : undefined,
    allowlist: allowlistToWit(c.allowlist),
    logging: c.logging ? { level: c.logging.level ?? "info", stderr: !!c.logging.stderr, includePrompts: !!c.logging.includePrompts } : undefined,
    timeoutMs: big(c.timeoutMs),
    attemptTimeouts: c.attemptTimeouts
      ? { connectMs: big(c.attemptTimeouts.connectMs), firstByteMs: big(c.attemptTimeouts.firstByteMs), betweenBytesMs: big(c.attemptTimeouts.betweenBytesMs) }
      : undefined,
  };
}

function chainToWit(ch) {
  const entries = Array.isArray(ch) ? ch : ch.entries;
  return { entries: entries.map((e) => ({ provider: e.provider, model: e.model })), on: Array.isArray(ch) ? [] : (ch.on ?? []) };
}

/** `{type: "text", text}`, `{type: "image", url}` or `{type: "image", data, mediaType}`,
 * `{type: "document", data, mediaType, title}`, `{type: "reasoning", text, signature, redacted}`. */
function partToWit(p, at) {
  const cacheControl = p.cacheControl ?? undefined;
  switch (p?.type) {
    case "text": return { tag: "text", val: { text: String(p.text ?? ""), cacheControl } };
    case "image": {
      const source = p.url !== undefined ? { tag: "url", val: String(p.url) } : { tag: "inline", val: { mediaType: String(p.mediaType ?? ""), base64: String(p.data ?? "") } };
      return { tag: "image", val: { source, detail: p.detail ?? undefined, cacheControl } };
    }
    case "document": return { tag: "document", val: { document: { mediaType: String(p.mediaType ?? "application/pdf"), base64: String(p.data ?? "") }, title: p.title ?? undefined, cacheControl } };
    case "reasoning": return { tag: "reasoning", val: { text: String(p.text ?? ""), signature: p.signature ?? undefined, redacted: p.redacted ?? undefined } };
    default: throw validation(`${at}: unknown content part type ${JSON.stringify(p?.type)} (text, image, document, reasoning)`);
  }
}

function contentToWit(c, at) {
  if (c === undefined || c === null) return { tag: "text", val: "" };
  if (typeof c === "string") return { tag: "text", val: c };
  if (Array.isArray(c)) return { tag: "parts", val: c.map((p, i) => partToWit(p, `${at}.content[${i}]`)) };
  throw validation(`${at}.content must be a string or an array of parts`);
}

function messageToWit(m, i) {
  return {
    role: m.role,
    content: contentToWit(m.content, `messages[${i}]`),
    cacheControl: m.cacheControl ?? undefined,
    toolCalls: (m.toolCalls ?? []).map((c) => ({ id: c.id, name: c.name, arguments: json(c.arguments) ?? "{}", rawArguments: undefined })),
    toolCallId: m.toolCallId ?? undefined,
  };
}

export function inputToWit(input) {
  if (typeof input === "string") return { tag: "prompt", val: input };
  if (typeof input?.prompt === "string") return { tag: "prompt", val: input.prompt };
  if (Array.isArray(input?.messages)) return { tag: "messages", val: input.messages.map(messageToWit) };
  throw validation("input must be {prompt} or {messages}");
}

export function optionsToWit(o = {}) {
  const tools = o.toolOptions?.tools ?? o.tools ?? [];
  const choice = o.toolOptions?.toolChoice ?? o.toolChoice;
  let responseFormat;
  const rf = o.responseFormat;
  if (rf === "json") responseFormat = { tag: "json" };
  else if (rf === "text") responseFormat = { tag: "text" };
  else if (rf?.jsonSchema) {
    const s = rf.jsonSchema;
    const schema = s.schema ?? s;
    responseFormat = { tag: "json-schema", val: { name: s.name ?? "response", schema: json(schema), strict: s.strict ?? true, description: s.description ?? undefined } };
  }
  let toolChoice;
  if (typeof choice === "string") toolChoice = { tag: choice };
  else if (choice?.name) toolChoice = { tag: "named", val: choice.name };
  return {
    provider: o.provider ?? undefined,
    timeoutMs: big(o.timeoutMs ?? o.timeout),
    responseFormat,
    tools: tools.map((t) => ({ name: t.name, description: t.description ?? undefined, parameters: json(t.parameters) })),
    toolChoice,
    maxTokens: o.maxTokens ?? undefined,
    temperature: o.temperature ?? undefined,
    topP: o.topP ?? undefined,
    stop: o.stop ?? [],
    reasoningEffort: o.reasoningEffort ?? undefined,
    extraBody: json(o.extraBody),
    headers: headersToWit(o.headers),
    retry: retryToWit(o.retry),
    fallback: o.fallback ? chainToWit(o.fallback) : undefined,
    cache: o.cache ?? undefined,
    cacheKey: o.cacheKey ?? undefined,
    caller: o.caller ?? undefined,
    parallelToolCalls: o.parallelToolCalls ?? undefined,
    presencePenalty: o.presencePenalty ?? undefined,
    frequencyPenalty: o.frequencyPenalty ?? undefined,
    logitBias: Object.entries(o.logitBias ?? {}).map(([t, b]) => [Number(t), Number(b)]),
    seed: big(o.seed),
    logprobs: o.logprobs ?? undefined,
    topLogprobs: o.topLogprobs ?? undefined,
    endUser: o.user ?? o.endUser ?? undefined,
    metadata: Object.entries(o.metadata ?? {}).map(([k, v]) => [k, String(v)]),
    serviceTier: o.serviceTier ?? undefined,
    requestId: o.requestId ?? undefined,
  };
}

function logprobFromWit(t) {
  return { token: t.token, logprob: t.logprob, bytes: t.bytes ? Array.from(t.bytes) : undefined, top: t.top.map((a) => ({ token: a.token, logprob: a.logprob, bytes: a.bytes ? Array.from(a.bytes) : undefined })) };
}

export function usageFromWit(u) {
  if (!u) return undefined;
  const inputTokens = num(u.inputTokens);
  const outputTokens = num(u.outputTokens);
  return {
    inputTokens, outputTokens, totalTokens: inputTokens + outputTokens,
    cacheReadTokens: num(u.cacheReadTokens), cacheWriteTokens: num(u.cacheWriteTokens), reasoningTokens: num(u.reasoningTokens),
  };
}

const finish = (f) => (f ? (f.tag === "other" ? f.val : f.tag.replace(/-/g, "_")) : undefined);

function toolCallFromWit(c) {
  return { id: c.id, name: c.name, arguments: parse(c.arguments) ?? {}, ...(c.rawArguments !== undefined ? { rawArguments: c.rawArguments } : {}) };
}

export function attemptFromWit(a) {
  return { provider: a.provider, model: a.model, status: a.status, durationMs: num(a.durationMs), error: a.error };
}

export function outputFromWit(o) {
  return {
    text: o.text,
    reasoning: o.reasoning,
    reasoningBlocks: o.reasoningBlocks.length ? o.reasoningBlocks.map((b) => ({ text: b.text, signature: b.signature, redacted: b.redacted })) : undefined,
    refusal: o.refusal,
    logprobs: o.logprobs.length ? o.logprobs.map(logprobFromWit) : undefined,
    toolCalls: o.toolCalls.length ? o.toolCalls.map(toolCallFromWit) : undefined,
    usage: usageFromWit(o.usage),
    provider: o.provider,
    model: o.model,
    finishReason: finish(o.finishReason),
    raw: parse(o.raw),
    cached: o.cached,
    costMicroUsd: num(o.costMicroUsd),
    attempts: o.attempts.map(attemptFromWit),
    trace: o.trace.map(logFromWit),
  };
}

function logFromWit(r) {
  return { ...r, timestampMs: num(r.timestampMs), durationMs: num(r.durationMs), usage: usageFromWit(r.usage), costMicroUsd: num(r.costMicroUsd) };
}

export function eventFromWit(e) {
  switch (e.tag) {
    case "text": return { type: "text", delta: e.val };
    case "reasoning": return { type: "reasoning", delta: e.val };
    case "reasoning-signature": return { type: "reasoning_signature", signature: e.val };
    case "reasoning-redacted": return { type: "reasoning_redacted", data: e.val };
    case "refusal": return { type: "refusal", delta: e.val };
    case "logprobs": return { type: "logprobs", tokens: e.val.map(logprobFromWit) };
    case "tool-use": return { type: "tool_use", id: e.val.id, name: e.val.name, input: parse(e.val.arguments) ?? {} };
    case "done": return {
      type: "done", usage: usageFromWit(e.val.usage), finishReason: finish(e.val.finishReason), provider: e.val.provider,
      model: e.val.model, cached: e.val.cached, costMicroUsd: num(e.val.costMicroUsd),
    };
    case "error": return { type: "error", error: errorFromWit(e.val) };
    default: return { type: e.tag };
  }
}

export function embedOptionsToWit(o = {}) {
  return { provider: o.provider ?? undefined, dimensions: o.dimensions ?? undefined, timeoutMs: big(o.timeoutMs) };
}

export function embedFromWit(o) {
  return { embeddings: o.embeddings.map((v) => Array.from(v)), usage: usageFromWit(o.usage), provider: o.provider, model: o.model };
}

export function totalsFromWit(t) {
  return {
    requests: num(t.requests), usage: usageFromWit(t.usage), costMicroUsd: num(t.costMicroUsd), costUsd: num(t.costMicroUsd) / 1e6,
    byModel: Object.fromEntries(t.byModel.map((m) => [m.model, { requests: num(m.requests), usage: usageFromWit(m.usage), costMicroUsd: num(m.costMicroUsd), costUsd: num(m.costMicroUsd) / 1e6 }])),
  };
}

export function budgetFromWit(b) {
  return { spentMicroUsd: num(b.spentMicroUsd), budgetMicroUsd: num(b.budgetMicroUsd), remainingMicroUsd: num(b.remainingMicroUsd), exceeded: b.exceeded };
}

export function usageToWit(u) {
  return {
    inputTokens: BigInt(u.inputTokens ?? 0), outputTokens: BigInt(u.outputTokens ?? 0),
    cacheReadTokens: BigInt(u.cacheReadTokens ?? 0), cacheWriteTokens: BigInt(u.cacheWriteTokens ?? 0), reasoningTokens: BigInt(u.reasoningTokens ?? 0),
  };
}

// ------------------------------------------------------------ errors

const NAMES = {
  validation: "ValidationError", auth: "AuthError", "not-found": "NotFoundError", "rate-limited": "RateLimitError",
  timeout: "TimeoutError", "service-unavailable": "ServiceUnavailableError", upstream: "UpstreamError",
  "budget-exceeded": "BudgetExceededError", "model-not-allowed": "ModelNotAllowedError", internal: "InternalError",
};

/** Every failure of the package: `kind` is the WIT `error-kind`, the detail fields are camelCase. */
export class GatewayError extends Error {
  constructor(kind, message, detail = {}) {
    super(message);
    this.name = NAMES[kind] ?? "GatewayError";
    this.kind = kind;
    Object.assign(this, detail);
    this.retryable = detail.retryable ?? ["rate-limited", "timeout", "service-unavailable"].includes(kind);
  }
}

export function validation(message) {
  return new GatewayError("validation", message, { retryable: false });
}

export function errorFromWit(e) {
  const v = e.val;
  if (typeof v === "string" || v === undefined) return new GatewayError(e.tag, v ?? e.tag, e.tag === "validation" || e.tag === "internal" ? { retryable: false } : {});
  if (e.tag === "budget-exceeded") {
    return new GatewayError(e.tag, `budget exceeded: spent ${v.spentMicroUsd} of ${v.budgetMicroUsd} micro-USD`, { spentMicroUsd: num(v.spentMicroUsd), budgetMicroUsd: num(v.budgetMicroUsd), retryable: false });
  }
  if (e.tag === "model-not-allowed") return new GatewayError(e.tag, `model ${v.model} is not allowed for ${v.provider}`, { provider: v.provider, model: v.model, retryable: false });
  const detail = { attempts: (v.attempts ?? []).map(attemptFromWit) };
  for (const k of ["provider", "status", "code", "body", "retryable"]) if (v[k] !== undefined) detail[k] = v[k];
  if (v.retryAfterMs !== undefined) detail.retryAfterMs = num(v.retryAfterMs);
  return new GatewayError(e.tag, v.message ?? e.tag, detail);
}

/** A thrown jco ComponentError (`payload` = the WIT error) as a GatewayError. */
export function fromThrown(e) {
  if (e instanceof GatewayError) return e;
  if (e && e.payload && typeof e.payload.tag === "string") return errorFromWit(e.payload);
  return e;
}

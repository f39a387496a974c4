// The README's code, type-checked (`npm run typecheck`): the package as an
// app imports it, through its "exports" and "types".
import {
  createGateway, createRouter, createCostTracker, withCache, withLogging, withRetry, memoryStore,
  type GatewayStreamEvent, type AiOutput, GatewayError,
} from "@workkit/ai-gateway";
import { createModelAllowlist, isAllowedModel } from "@workkit/ai-gateway/allowlist";

declare const env: { ANTHROPIC_KEY: string; OPENAI_KEY: string; CF_ACCOUNT_ID: string; CF_API_TOKEN: string; AI_CACHE_KV: KVLike };
interface KVLike { get(key: string, type?: "arrayBuffer"): Promise<ArrayBuffer | null>; put(key: string, value: string | ArrayBuffer | Uint8Array): Promise<void>; delete(key: string): Promise<void> }

export async function quickstart(): Promise<AiOutput> {
  const gateway = withRetry(createGateway({
    providers: {
      anthropic: { type: "anthropic", apiKey: env.ANTHROPIC_KEY },
      openai: { type: "openai", apiKey: env.OPENAI_KEY },
      workers: { type: "workers-ai", accountId: env.CF_ACCOUNT_ID, apiKey: env.CF_API_TOKEN },
    },
    cfGateway: { accountId: env.CF_ACCOUNT_ID, gatewayId: "my-gateway" },
    defaultProvider: "anthropic",
  }));
  const result = await gateway.run("claude-sonnet-4-6", { messages: [{ role: "user", content: "Hello" }] });
  const text: string = result.text;
  void text, result.usage?.inputTokens, result.provider, result.model, result.toolCalls;
  return result;
}

export async function middleware() {
  const gateway = createGateway({
    providers: { openai: { type: "openai", apiKey: env.OPENAI_KEY } },
    defaultProvider: "openai",
  });
  const router = createRouter({ routes: [{ pattern: "gpt-*", provider: "openai" }], fallback: "openai" });
  const costs = createCostTracker({ pricing: { "gpt-4o": { input: 2.5, output: 10.0 } } });
  const enhanced = withRetry(
    withLogging(withCache(gateway, { storage: env.AI_CACHE_KV, ttl: 3600 }), {
      onRequest: (m, i) => console.log("→", m, i),
      onError: (m, e) => console.error("✗", m, e.kind),
    }),
    { maxAttempts: 3, isRetryable: (e) => e.retryable },
  );
  await withCache(gateway, { storage: memoryStore() }).run("gpt-4o", { prompt: "hi" });
  await enhanced.run("gpt-4o", { prompt: "…" }, {
    toolOptions: { tools: [{ name: "get_weather", parameters: { type: "object" } }], toolChoice: "auto" },
    responseFormat: "json",
  });
  await costs.record("gpt-4o", { inputTokens: 10, outputTokens: 5 });
  const provider: string | undefined = await router.resolve("gpt-4o");
  void provider;
  await gateway.runFallback([{ provider: "openai", model: "gpt-4o" }], { messages: [{ role: "user", content: "hi" }] });
}

export async function streaming() {
  const gateway = createGateway({ providers: { anthropic: { type: "anthropic", apiKey: env.ANTHROPIC_KEY } } });
  const stream = await gateway.stream("claude-sonnet-4-6", { messages: [{ role: "user", content: "explain" }] });
  const reader = stream.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    const e: GatewayStreamEvent = value;
    if (e.type === "text") console.log(e.delta);
    if (e.type === "tool_use") console.log(e.name, e.input);
    if (e.type === "done") console.log("usage:", e.usage?.outputTokens);
    if (e.type === "error" && e.error instanceof GatewayError) console.log(e.error.kind);
  }
  await reader.cancel();
}

export function allowlist(model: string) {
  const allow = createModelAllowlist({
    anthropic: ["claude-opus-4-7", "claude-sonnet-4-6"],
    groq: [{ prefix: "llama-3.1-" }],
  });
  return allow.isAllowed("anthropic", model) && isAllowedModel({ openai: ["gpt-4o"] }, "openai", model);
}

// Workers: exact cost totals and rate limits in a Durable Object.
import { counterStore } from "@workkit/ai-gateway/counters";
export { GatewayCounters } from "@workkit/ai-gateway/counters";
export function exactCosts(env2: { AI_COUNTERS: { get(id: unknown): unknown; idFromName(name: string): unknown }; OPENAI_KEY: string }) {
  return createGateway({
    providers: { openai: { type: "openai", apiKey: env2.OPENAI_KEY } },
    cost: { pricing: { "gpt-4o": { input: 2.5, output: 10 } }, budget: 5, storage: counterStore(env2.AI_COUNTERS, "costs") },
    rateLimits: { storage: counterStore(env2.AI_COUNTERS, "limits"), limits: [{ name: "rpm", scope: "caller", windowSeconds: 60, maxRequests: 60 }] },
  });
}

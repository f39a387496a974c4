// The @workkit/ai-gateway API: the library's camelCase shapes, over the types
// jco generates from the WIT (dist/wit, built by `npm run build`).
import type * as Wit from "../dist/wit/interfaces/workkit-ai-gateway-types.js";

export type ErrorKind = Wit.ErrorKind;
export type Role = Wit.Role;
export type ReasoningEffort = Wit.ReasoningEffort;
export type CacheMode = Wit.CacheMode;
export type WireFormat = Wit.WireFormat;
export type RateLimitScope = Wit.RateLimitScope;
export type LogLevel = Wit.LogLevel;

/** A key-value store: a Workers KV namespace, memoryStore(), fileStore(), or any object with these methods. */
export interface Store {
  get(key: string, type?: "arrayBuffer"): unknown;
  put(key: string, value: string | Uint8Array | ArrayBuffer): unknown;
  delete(key: string): unknown;
  list?(opts?: { prefix?: string; cursor?: string }): unknown;
}

export type ProviderConfig =
  | { type: "openai"; apiKey?: string; baseUrl?: string; headers?: Record<string, string> }
  | { type: "anthropic"; apiKey?: string; baseUrl?: string; apiVersion?: string; headers?: Record<string, string> }
  | { type: "workers-ai"; accountId: string; apiKey: string; baseUrl?: string; headers?: Record<string, string> }
  | { type: "custom"; baseUrl: string; wireFormat?: WireFormat; apiKey?: string; headers?: Record<string, string> }
  | { type: "gemini"; apiKey?: string; baseUrl?: string; headers?: Record<string, string> }
  | { type: "vertex" | "vertex-anthropic"; project: string; region?: string; apiKey?: string; baseUrl?: string; headers?: Record<string, string> }
  | { type: "bedrock"; region: string; awsCredentials?: AwsCredentials; apiKey?: string; baseUrl?: string; headers?: Record<string, string> }
  | { type: "azure-openai"; resourceName?: string; apiVersion?: string; apiKey?: string; keyAuth?: "provider-default" | "bearer"; baseUrl?: string; headers?: Record<string, string> }
  | { type: PresetKind; apiKey?: string; baseUrl?: string; headers?: Record<string, string> };

/** OpenAI-compatible servers the gateway knows by name (WIT 0.3.0). */
export type PresetKind =
  | "groq" | "mistral" | "deepseek" | "xai" | "openrouter" | "together"
  | "fireworks" | "perplexity" | "cerebras" | "ollama" | "vllm";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface CfGatewayConfig {
  accountId: string;
  gatewayId: string;
  authToken?: string;
  cacheTtl?: number;
  skipCache?: boolean;
}

export interface RetryConfig {
  maxAttempts?: number;
  /** Replaces the error-kind test; the retries then run in JS. */
  isRetryable?: (error: GatewayError) => boolean;
  retryOn?: ErrorKind[];
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  maxRetryAfterMs?: number;
}

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
  reasoning?: number;
}

export interface FallbackEntry {
  provider: string;
  model: string;
}

export interface GatewayConfig<P extends string = string> {
  providers: Record<P, ProviderConfig>;
  defaultProvider?: NoInfer<P>;
  cfGateway?: CfGatewayConfig;
  router?: Router | RouterConfig;
  retry?: Omit<RetryConfig, "isRetryable">;
  chains?: Record<string, FallbackEntry[] | { entries: FallbackEntry[]; on?: ErrorKind[] }>;
  /** Budgets reserve each call's worst case before it is sent. `budget` in USD. */
  cost?: { pricing: Record<string, ModelPrice>; budget?: number; budgetMicroUsd?: number; storage?: Store; bucket?: string; keyPrefix?: string };
  rateLimits?: {
    storage?: Store;
    bucket?: string;
    limits: { name: string; scope?: RateLimitScope; windowSeconds: number; maxRequests?: number; maxTokens?: number }[];
  };
  allowlist?: AllowlistConfig;
  logging?: { level?: LogLevel; stderr?: boolean; includePrompts?: boolean };
  timeoutMs?: number;
  attemptTimeouts?: { connectMs?: number; firstByteMs?: number; betweenBytesMs?: number };
}

export type AllowlistConfig = Record<string, Array<string | { prefix: string }>>;

export interface GatewayToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  rawArguments?: string;
}

export type ContentPart =
  | { type: "text"; text: string; cacheControl?: "ephemeral" }
  | { type: "image"; url: string; detail?: "auto" | "low" | "high"; cacheControl?: "ephemeral" }
  | { type: "image"; data: string; mediaType: string; detail?: "auto" | "low" | "high"; cacheControl?: "ephemeral" }
  | { type: "document"; data: string; mediaType?: "application/pdf"; title?: string; cacheControl?: "ephemeral" }
  | ReasoningBlock;

export interface ReasoningBlock {
  type?: "reasoning";
  text: string;
  signature?: string;
  redacted?: string;
}

export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes?: number[];
  top: Array<{ token: string; logprob: number; bytes?: number[] }>;
}

export interface ChatMessage {
  role: Role;
  content: string | ContentPart[];
  cacheControl?: "ephemeral";
  toolCalls?: GatewayToolCall[];
  toolCallId?: string;
}

export type AiInput = string | { prompt: string } | { messages: ChatMessage[] };

export interface GatewayToolDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown> | string;
}

export type ToolChoice = "auto" | "none" | "required" | { name: string };

export interface GatewayToolOptions {
  tools: GatewayToolDefinition[];
  toolChoice?: ToolChoice;
}

export interface RunOptions {
  provider?: string;
  timeoutMs?: number;
  responseFormat?: "text" | "json" | { jsonSchema: { name?: string; schema: Record<string, unknown> | string; strict?: boolean; description?: string } };
  toolOptions?: GatewayToolOptions;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  reasoningEffort?: ReasoningEffort;
  extraBody?: Record<string, unknown>;
  headers?: Record<string, string>;
  retry?: Omit<RetryConfig, "isRetryable">;
  fallback?: FallbackEntry[] | { entries: FallbackEntry[]; on?: ErrorKind[] };
  cache?: CacheMode;
  cacheKey?: string;
  caller?: string;
  parallelToolCalls?: boolean;
  presencePenalty?: number;
  frequencyPenalty?: number;
  logitBias?: Record<string, number>;
  seed?: number | bigint;
  logprobs?: boolean;
  topLogprobs?: number;
  user?: string;
  metadata?: Record<string, string>;
  serviceTier?: string;
  requestId?: string;
  signal?: AbortSignal;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
}

export interface Attempt {
  provider: string;
  model: string;
  status?: number;
  durationMs: number;
  error?: ErrorKind;
}

export interface AiOutput {
  text: string;
  reasoning?: string;
  reasoningBlocks?: ReasoningBlock[];
  refusal?: string;
  logprobs?: TokenLogprob[];
  toolCalls?: GatewayToolCall[];
  usage?: TokenUsage;
  provider: string;
  model: string;
  finishReason?: string;
  raw?: unknown;
  cached: boolean;
  costMicroUsd?: number;
  attempts: Attempt[];
  trace: unknown[];
}

export type GatewayStreamEvent =
  | { type: "text"; delta: string }
  | { type: "reasoning"; delta: string }
  | { type: "reasoning_signature"; signature: string }
  | { type: "reasoning_redacted"; data: string }
  | { type: "refusal"; delta: string }
  | { type: "logprobs"; tokens: TokenLogprob[] }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
  | { type: "done"; usage?: TokenUsage; finishReason?: string; provider: string; model: string; cached: boolean; costMicroUsd?: number }
  | { type: "error"; error: GatewayError };

export interface EmbedOutput {
  embeddings: number[][];
  usage?: TokenUsage;
  provider: string;
  model: string;
}

export interface CostTotals {
  requests: number;
  usage: TokenUsage;
  costMicroUsd: number;
  costUsd: number;
  byModel: Record<string, { requests: number; usage: TokenUsage; costMicroUsd: number; costUsd: number }>;
}

export interface BudgetStatus {
  spentMicroUsd: number;
  budgetMicroUsd: number;
  remainingMicroUsd: number;
  exceeded: boolean;
}

export interface Gateway {
  run(model: string, input: AiInput, options?: RunOptions): Promise<AiOutput>;
  stream(model: string, input: AiInput, options?: RunOptions): Promise<ReadableStream<GatewayStreamEvent>>;
  runFallback(entries: FallbackEntry[], input: AiInput, options?: RunOptions): Promise<AiOutput>;
  embed(model: string, input: string | string[], options?: { provider?: string; dimensions?: number; timeoutMs?: number }): Promise<EmbedOutput>;
  providers(): string[];
  defaultProvider(): string | undefined;
  resolveProvider(model: string, provider?: string): Promise<string>;
  isCached(model: string, input: AiInput, options?: RunOptions): Promise<boolean>;
  invalidate(model: string, input: AiInput, options?: RunOptions): Promise<boolean>;
  costs(): Promise<CostTotals>;
  budget(): Promise<BudgetStatus>;
  resetCosts(): Promise<void>;
}

export declare class GatewayError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly provider?: string;
  readonly status?: number;
  readonly code?: string;
  readonly body?: string;
  readonly retryAfterMs?: number;
  readonly attempts?: Attempt[];
  readonly model?: string;
  readonly spentMicroUsd?: number;
  readonly budgetMicroUsd?: number;
}

export declare function createGateway<P extends string>(config: GatewayConfig<P>): Gateway;
export declare function withRetry(gateway: Gateway, options?: RetryConfig): Gateway;
export declare function withCache(gateway: Gateway, options: { storage: Store; ttl?: number; namespace?: string; streams?: boolean }): Gateway;
export declare function withLogging(
  gateway: Gateway,
  hooks: {
    onRequest?: (model: string, input: AiInput) => void;
    onResponse?: (model: string, output: unknown, durationMs: number) => void;
    onError?: (model: string, error: GatewayError, durationMs: number) => void;
  },
): Gateway;

export interface RouterConfig {
  routes: { pattern: string; provider: string }[];
  fallback?: string;
}
export interface Router {
  resolve(model: string): Promise<string | undefined>;
}
export declare function createRouter(config: RouterConfig): Router;

export interface CostTracker {
  record(model: string, usage: Partial<TokenUsage>): Promise<number>;
  getTotals(): Promise<CostTotals>;
  checkBudget(budgetUsd: number): Promise<BudgetStatus>;
  reset(): Promise<void>;
}
export declare function createCostTracker(config: { pricing: Record<string, ModelPrice>; storage?: Store; bucket?: string; keyPrefix?: string }): CostTracker;

export declare function memoryStore(): Store;
/** Node and Bun only: a JSON file. */
export declare function fileStore(path: string | URL): Store;
export declare const platform: "node" | "bun" | "workerd";

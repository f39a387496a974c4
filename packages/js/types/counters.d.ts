// `@workkit/ai-gateway/counters` (Cloudflare Workers only: imports "cloudflare:workers").
import type { Store } from "./index.js";

/** The Durable Object class that holds one bucket; export it from your Worker and bind it with SQLite storage. */
export declare class GatewayCounters {
  constructor(ctx: unknown, env: unknown);
}

/** A store in the GatewayCounters object `name` of `namespace`: exact counters across isolates. */
export declare function counterStore(
  namespace: { get(id: unknown): unknown; idFromName(name: string): unknown },
  name: string,
): Store;

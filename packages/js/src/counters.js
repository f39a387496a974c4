// GatewayCounters: a Durable Object that holds one wasi:keyvalue bucket.
//
// Workers KV is eventually consistent (a write can take ~60 s to reach
// other locations) and has no atomic operations, so counters kept there --
// cost totals, budgets, rate-limit windows -- are exact only within one
// isolate: two isolates that read-modify-write the same key lose updates.
// A Durable Object is a single instance per id, worldwide, and this one
// stores its bucket in its own SQLite database. Every method below runs
// without awaiting anything (the storage calls are synchronous), so each is
// atomic: no other call on the same object can run in between.
//
// `@workkit/ai-gateway/counters` (copied from examples/workers/src/counters.js):
// export GatewayCounters from your Worker, bind it (wrangler.toml
// `durable_objects`, SQLite storage), and pass `counterStore(env.BINDING,
// name)` as the `storage` of `cost` or `rateLimits`: every operation of that
// bucket -- get, set, delete, list, increment, compare-and-swap -- runs in
// the one object named `name`, so a read right after an increment sees it,
// from any isolate.

import { DurableObject } from "cloudflare:workers";

const enc = new TextEncoder();
const dec = new TextDecoder();
const PAGE = 1000;

/** A counter's value: a decimal string, as every host of the gateway writes it. */
function counterValue(bytes, key) {
  if (bytes === null) return 0n;
  const s = dec.decode(bytes).trim();
  if (!/^-?\d+$/.test(s)) throw new Error(`key ${JSON.stringify(key)} does not hold a counter`);
  return BigInt(s);
}

const S64_MIN = -(1n << 63n);
const S64_MAX = (1n << 63n) - 1n;

export class GatewayCounters extends DurableObject {
  #sql;

  constructor(ctx, env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL)");
  }

  #get(key) {
    const rows = this.#sql.exec("SELECT value FROM kv WHERE key = ?", key).toArray();
    return rows.length === 0 ? null : new Uint8Array(rows[0].value);
  }

  #put(key, value) {
    this.#sql.exec("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, value);
  }

  get(key) {
    return this.#get(key);
  }

  set(key, value) {
    this.#put(key, new Uint8Array(value));
  }

  delete(key) {
    this.#sql.exec("DELETE FROM kv WHERE key = ?", key);
  }

  exists(key) {
    return this.#get(key) !== null;
  }

  /** Keys in order, PAGE at a time; `cursor` is the last key of the previous page. */
  listKeys(cursor) {
    const rows = (cursor == null
      ? this.#sql.exec("SELECT key FROM kv ORDER BY key LIMIT ?", PAGE + 1)
      : this.#sql.exec("SELECT key FROM kv WHERE key > ? ORDER BY key LIMIT ?", cursor, PAGE + 1)
    ).toArray();
    const keys = rows.slice(0, PAGE).map((r) => r.key);
    return { keys, cursor: rows.length > PAGE ? keys.at(-1) : null };
  }

  /** Add `delta` (an s64) to the counter at `key` (absent = 0) and return the new value. */
  increment(key, delta) {
    const next = counterValue(this.#get(key), key) + BigInt(delta);
    if (next < S64_MIN || next > S64_MAX) throw new Error(`counter ${JSON.stringify(key)} would overflow s64`);
    this.#put(key, enc.encode(next.toString()));
    return next;
  }

  /**
   * Compare-and-swap: write `value` if the key still holds `expected`
   * (`null` = absent). Returns `{swapped, current}`, `current` being what
   * the key holds afterwards.
   */
  swap(key, expected, value) {
    const now = this.#get(key);
    const same = now === null || expected === null
      ? now === expected
      : now.byteLength === expected.byteLength && now.every((b, i) => b === expected[i]);
    if (!same) return { swapped: false, current: now };
    const v = new Uint8Array(value);
    this.#put(key, v);
    return { swapped: true, current: v };
  }
}

/**
 * A store whose every operation runs in the GatewayCounters object `name`
 * of `namespace` (a stub per call: a stub belongs to the request that made
 * it, and gateways outlive requests). Atomic `increment` and `swap`.
 */
export function counterStore(namespace, name) {
  const obj = () => namespace.get(namespace.idFromName(name));
  return {
    __bytes: true,
    get: (key) => obj().get(key),
    put: (key, value) => obj().set(key, value),
    delete: (key) => obj().delete(key),
    list: async ({ cursor } = {}) => {
      const r = await obj().listKeys(cursor ?? null);
      return { keys: r.keys, cursor: r.cursor ?? undefined, list_complete: r.cursor == null };
    },
    increment: (key, delta) => obj().increment(key, delta),
    swap: (key, expected, value) => obj().swap(key, expected ?? null, value),
  };
}

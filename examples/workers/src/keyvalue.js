// wasi:keyvalue@0.2.0-draft2 (store + atomics) over Workers KV and, for the
// buckets that hold counters, a Durable Object.
//
// Where a bucket lives:
//   - a bucket listed in `counterBuckets` (see counterBuckets() below), when
//     the Worker has the AI_COUNTERS Durable Object binding: wholly in that
//     Durable Object (one object per bucket, counters.js). Every operation
//     is atomic and strongly consistent across isolates and locations.
//   - a bucket named like a KV binding of the Worker: that namespace.
//   - any other bucket: a key prefix (`<bucket>/`) in the default binding.
// On KV, get/set/delete are eventually consistent (another location may see
// an old value for ~60 s), `increment` is a read-modify-write (exact within
// one isolate, updates from concurrent isolates can be lost), and
// compare-and-swap is refused: KV cannot do it.

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The buckets to keep in the Durable Object: none without the AI_COUNTERS
 * binding; else COUNTER_BUCKETS (comma-separated) when set, else the
 * `configured` ones (the gateway config's cost and rate-limit buckets).
 */
export function counterBuckets(env, configured = []) {
  if (!env.AI_COUNTERS) return [];
  if (env.COUNTER_BUCKETS) return String(env.COUNTER_BUCKETS).split(",").map((s) => s.trim()).filter(Boolean);
  return configured.filter(Boolean);
}

const otherError = (e) => ({ tag: "other", val: String(e?.message ?? e) });

export function keyvalueImports(env, { defaultBinding = "AI_STATE", counterBuckets = [] } = {}) {
  const inObject = new Set(counterBuckets);

  class Bucket {
    #ns;
    #prefix;
    #name;
    constructor(ns, prefix, name) {
      this.#ns = ns;
      this.#prefix = prefix;
      this.#name = name;
    }
    /**
     * This bucket's Durable Object, or null when it lives in KV. A stub is
     * an I/O object of the request that made it, and the component keeps
     * its buckets open across requests: make a stub for each call.
     */
    #object() {
      if (this.#name === null) return null;
      const ns = env.AI_COUNTERS;
      return ns.get(ns.idFromName(this.#name));
    }
    #key(key) {
      return this.#prefix + key;
    }
    async get(key) {
      if (this.#name !== null) return (await this.#call(() => this.#object().get(key))) ?? undefined;
      const v = await this.#ns.get(this.#key(key), "arrayBuffer");
      return v === null ? undefined : new Uint8Array(v);
    }
    async set(key, value) {
      if (this.#name !== null) return this.#call(() => this.#object().set(key, value));
      await this.#ns.put(this.#key(key), value);
    }
    async delete(key) {
      if (this.#name !== null) return this.#call(() => this.#object().delete(key));
      await this.#ns.delete(this.#key(key));
    }
    async exists(key) {
      if (this.#name !== null) return this.#call(() => this.#object().exists(key));
      return (await this.#ns.get(this.#key(key), "arrayBuffer")) !== null;
    }
    async listKeys(cursor) {
      if (this.#name !== null) {
        const r = await this.#call(() => this.#object().listKeys(cursor ?? null));
        return { keys: r.keys, cursor: r.cursor ?? undefined };
      }
      const r = await this.#ns.list({ prefix: this.#prefix, cursor: cursor ?? undefined });
      return {
        keys: r.keys.map((k) => k.name.slice(this.#prefix.length)),
        cursor: r.list_complete ? undefined : r.cursor,
      };
    }
    async increment(key, delta) {
      if (this.#name !== null) return this.#call(() => this.#object().increment(key, delta));
      // KV: read-modify-write, exact within this isolate only.
      const current = await this.#ns.get(this.#key(key), "text");
      const next = BigInt(current ?? "0") + delta;
      await this.#ns.put(this.#key(key), next.toString());
      return next;
    }
    async swap(key, expected, value) {
      if (this.#name === null) throw { tag: "store-error", val: { tag: "other", val: "compare-and-swap needs a Durable Object bucket (AI_COUNTERS, COUNTER_BUCKETS)" } };
      try {
        return await this.#object().swap(key, expected ?? null, value);
      } catch (e) {
        throw { tag: "store-error", val: otherError(e) };
      }
    }
    async #call(f) {
      try {
        return await f();
      } catch (e) {
        throw otherError(e);
      }
    }
  }

  function open(identifier) {
    if (inObject.has(identifier)) return new Bucket(null, "", identifier);
    if (env[identifier] && typeof env[identifier].get === "function" && typeof env[identifier].idFromName !== "function") {
      return new Bucket(env[identifier], "", null);
    }
    const ns = env[defaultBinding];
    if (!ns) throw { tag: "no-such-store" };
    return new Bucket(ns, `${identifier}/`, null);
  }

  /** `cas`: the value of a key when the handle was made, to swap against. */
  class Cas {
    bucket;
    key;
    value;
    constructor(bucket, key, value) {
      this.bucket = bucket;
      this.key = key;
      this.value = value;
    }
    static async new(bucket, key) {
      return new Cas(bucket, key, await bucket.get(key));
    }
    current() {
      return this.value;
    }
  }

  async function swap(cas, value) {
    const r = await cas.bucket.swap(cas.key, cas.value ?? null, value);
    if (!r.swapped) throw { tag: "cas-failed", val: new Cas(cas.bucket, cas.key, r.current ?? undefined) };
  }

  return {
    "wasi:keyvalue/store@0.2.0-draft2": { open, Bucket },
    "wasi:keyvalue/atomics@0.2.0-draft2": {
      increment: (bucket, key, delta) => bucket.increment(key, delta),
      Cas,
      swap,
    },
  };
}

export const KEYVALUE_ASYNC_IMPORTS = [
  "wasi:keyvalue/store@0.2.0-draft2#[method]bucket.get",
  "wasi:keyvalue/store@0.2.0-draft2#[method]bucket.set",
  "wasi:keyvalue/store@0.2.0-draft2#[method]bucket.delete",
  "wasi:keyvalue/store@0.2.0-draft2#[method]bucket.exists",
  "wasi:keyvalue/store@0.2.0-draft2#[method]bucket.list-keys",
  "wasi:keyvalue/atomics@0.2.0-draft2#increment",
  "wasi:keyvalue/atomics@0.2.0-draft2#[static]cas.new",
  "wasi:keyvalue/atomics@0.2.0-draft2#swap",
];

export { enc, dec };

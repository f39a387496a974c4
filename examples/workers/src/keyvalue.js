// wasi:keyvalue@0.2.0-draft2 (store + atomics) over Workers KV.
//
// A bucket named like a KV binding of the Worker uses that namespace; any
// other bucket name is a key prefix (`<bucket>/`) in the default binding.
// Workers KV has no atomic operations: `increment` here is a read-modify-
// write, exact within one isolate but not across isolates. Deployments that
// need exact shared counters (costs, rate limits) should back them with a
// Durable Object; see README.md.

const enc = new TextEncoder();
const dec = new TextDecoder();

export function keyvalueImports(env, defaultBinding = "AI_STATE") {
  class Bucket {
    #ns;
    #prefix;
    constructor(ns, prefix) {
      this.#ns = ns;
      this.#prefix = prefix;
    }
    #key(key) {
      return this.#prefix + key;
    }
    async get(key) {
      const v = await this.#ns.get(this.#key(key), "arrayBuffer");
      return v === null ? undefined : new Uint8Array(v);
    }
    async set(key, value) {
      await this.#ns.put(this.#key(key), value);
    }
    async delete(key) {
      await this.#ns.delete(this.#key(key));
    }
    async exists(key) {
      return (await this.#ns.get(this.#key(key), "arrayBuffer")) !== null;
    }
    async listKeys(cursor) {
      const r = await this.#ns.list({ prefix: this.#prefix, cursor: cursor ?? undefined });
      return {
        keys: r.keys.map((k) => k.name.slice(this.#prefix.length)),
        cursor: r.list_complete ? undefined : r.cursor,
      };
    }
    async increment(key, delta) {
      const current = await this.#ns.get(this.#key(key), "text");
      const next = BigInt(current ?? "0") + delta;
      await this.#ns.put(this.#key(key), next.toString());
      return next;
    }
  }

  function open(identifier) {
    if (env[identifier] && typeof env[identifier].get === "function") {
      return new Bucket(env[identifier], "");
    }
    const ns = env[defaultBinding];
    if (!ns) throw { tag: "no-such-store" };
    return new Bucket(ns, `${identifier}/`);
  }

  return {
    "wasi:keyvalue/store@0.2.0-draft2": { open, Bucket },
    "wasi:keyvalue/atomics@0.2.0-draft2": {
      increment: (bucket, key, delta) => bucket.increment(key, delta),
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
];

export { enc, dec };

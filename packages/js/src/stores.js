// wasi:keyvalue@0.2.0-draft2 (store + atomics) over the stores a user passes:
// a Workers KV namespace, any `{get, put, delete}` object, or the built-in
// memoryStore(). One implementation serves both platforms: a store method
// that returns a promise is awaited where the component runs in JSPI mode
// (workerd), and refused where calls are synchronous (Node 20, no JSPI).

const enc = new TextEncoder();
const dec = new TextDecoder();
let warned = false;
const warnOnce = () => {
  if (!warned) console.warn("@workkit/ai-gateway: a store returned a promise, but on Node the component calls synchronously; the call goes on without that store");
  warned = true;
};
// (Workers RPC promises are callable: typeof "function".)
const isPromise = (v) => v !== null && (typeof v === "object" || typeof v === "function") && typeof v.then === "function";

/** A store in this isolate's / process's memory: `{get, put, delete, list}`, synchronous. */
export function memoryStore() {
  const map = new Map();
  return {
    get: (key) => map.get(key) ?? null,
    __bytes: true,
    put: (key, value) => void map.set(key, typeof value === "string" ? enc.encode(value) : new Uint8Array(value)),
    delete: (key) => void map.delete(key),
    list: ({ prefix = "" } = {}) => ({ keys: [...map.keys()].filter((k) => k.startsWith(prefix)).sort().map((name) => ({ name })), list_complete: true }),
  };
}

const isKv = (s) => typeof s.getWithMetadata === "function" && typeof s.list === "function";

function toBytes(v) {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string") return enc.encode(v);
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return enc.encode(JSON.stringify(v));
}

/**
 * The wasi:keyvalue imports. `storeFor(bucket)` gives the store of a bucket.
 * `async`: whether store methods may return promises (JSPI build).
 */
export function keyvalueImports(storeFor, { async }) {
  const step = (v, f) => {
    if (!isPromise(v)) return f(v);
    if (!async) {
      warnOnce();
      throw { tag: "other", val: "this store is asynchronous; on Node the component calls synchronously: use memoryStore(), fileStore() or a store whose methods return values" };
    }
    return v.then(f, (e) => {
      throw { tag: "other", val: String(e?.message ?? e) };
    });
  };
  const guard = (f) => {
    try {
      return f();
    } catch (e) {
      if (e && typeof e.tag === "string") throw e;
      throw { tag: "other", val: String(e?.message ?? e) };
    }
  };

  class Bucket {
    constructor(store) {
      this.store = store;
      this.kv = isKv(store);
    }
    get(key) {
      return guard(() => step(this.kv ? this.store.get(key, "arrayBuffer") : this.store.get(key), toBytes));
    }
    set(key, value) {
      // KV and memory stores keep bytes; other stores get text (the component's values are JSON or decimal counters).
      const v = this.kv || this.store.__bytes ? value : dec.decode(value);
      return guard(() => step(this.store.put(key, v), () => undefined));
    }
    delete(key) {
      return guard(() => step(this.store.delete(key), () => undefined));
    }
    exists(key) {
      return step(this.get(key), (v) => v !== undefined);
    }
    listKeys(cursor) {
      if (typeof this.store.list !== "function") return { keys: [], cursor: undefined };
      return guard(() =>
        step(this.store.list({ cursor: cursor ?? undefined }), (r) => ({
          keys: (r.keys ?? []).map((k) => (typeof k === "string" ? k : k.name)),
          cursor: r.list_complete === false ? r.cursor : undefined,
        })),
      );
    }
    /** The store's own atomic increment (counterStore), else read-modify-write: exact within one isolate / process. */
    increment(key, delta) {
      if (typeof this.store.increment === "function") return guard(() => step(this.store.increment(key, delta), (v) => BigInt(v)));
      return step(this.get(key), (cur) => {
        const next = BigInt(cur === undefined ? "0" : dec.decode(cur) || "0") + delta;
        return step(this.set(key, enc.encode(next.toString())), () => next);
      });
    }
  }

  const buckets = new Map();
  function open(identifier) {
    let b = buckets.get(identifier);
    if (!b) {
      const store = storeFor(identifier);
      if (!store) throw { tag: "no-such-store" };
      b = new Bucket(store);
      buckets.set(identifier, b);
    }
    return b;
  }

  class Cas {
    constructor(bucket, key, value) {
      this.bucket = bucket;
      this.key = key;
      this.value = value;
    }
    static new(bucket, key) {
      return step(bucket.get(key), (v) => new Cas(bucket, key, v));
    }
    current() {
      return this.value;
    }
  }
  const same = (a, b) => (a === undefined || b === undefined ? a === b : a.length === b.length && a.every((x, i) => x === b[i]));
  /** `swap` fails with a cas-error: `cas-failed`, or a store error inside `store-error`. */
  const casError = (e) => (e?.tag === "cas-failed" ? e : { tag: "store-error", val: e?.tag === "other" ? e : { tag: "other", val: String(e?.message ?? e) } });
  function swap(cas, value) {
    try {
      const r = swapInner(cas, value);
      return isPromise(r) ? r.catch((e) => Promise.reject(casError(e))) : r;
    } catch (e) {
      throw casError(e);
    }
  }
  function swapInner(cas, value) {
    const store = cas.bucket.store;
    if (typeof store.swap === "function") {
      return guard(() =>
        step(store.swap(cas.key, cas.value ?? null, value), (r) => {
          if (!r.swapped) throw { tag: "cas-failed", val: new Cas(cas.bucket, cas.key, toBytes(r.current)) };
        }),
      );
    }
    // Exact where the calls are synchronous (one process, one store); on KV a
    // read-then-write like increment.
    return step(cas.bucket.get(cas.key), (cur) => {
      if (!same(cur, cas.value)) throw { tag: "cas-failed", val: new Cas(cas.bucket, cas.key, cur) };
      return step(cas.bucket.set(cas.key, value), () => undefined);
    });
  }

  return {
    "wasi:keyvalue/store": { open, Bucket },
    "wasi:keyvalue/atomics": { increment: (bucket, key, delta) => bucket.increment(key, delta), Cas, swap },
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

// @workkit/ai-gateway over the unchanged ai-gateway.wasm. `#platform` (see
// package.json "imports") is the one switch between hosts: the workerd
// adapter (JSPI build, fetch, async stores) or the Node adapter (synchronous
// build, preview2-shim's Node HTTP, synchronous stores).
import * as host from "#platform";
import { keyvalueImports, memoryStore } from "./stores.js";
import {
  GatewayError, budgetFromWit, configToWit, embedFromWit, embedOptionsToWit, eventFromWit, fromThrown, inputToWit,
  optionsToWit, outputFromWit, pricingToWit, routerToWit, totalsFromWit, usageToWit, validation,
} from "./convert.js";

export { GatewayError, memoryStore };
export const fileStore = host.fileStore;
export const platform = host.platform;

// ------------------------------------------------------------ instances

/** Stores by wasi:keyvalue bucket name; a bucket nobody named gets a memoryStore. */
const stores = new Map();
const storeFor = (bucket) => {
  let s = stores.get(bucket);
  if (!s) stores.set(bucket, (s = memoryStore()));
  return s;
};
let nextId = 0;
/** Where calls are synchronous (Node), a store with async methods cannot work: say so when it is given. */
function useStore(bucket, store) {
  if (!host.asyncCalls && ["get", "put", "delete"].some((m) => store?.[m]?.constructor?.name === "AsyncFunction")) {
    throw validation(`this store is asynchronous; on ${host.platform} the component calls synchronously: use memoryStore(), fileStore() or a store whose methods return values`);
  }
  stores.set(bucket, store);
}
const fresh = (what) => `${what}-${++nextId}`;

/** Component instances: on workerd one per call in flight (jco serialises calls per instance). */
const idle = [];
async function acquire() {
  const inst = idle.pop();
  if (inst) return inst;
  const component = await host.createInstance(keyvalueImports(storeFor, { async: host.asyncCalls }));
  return { component, gateways: new Map(), trackers: new Map() };
}
function release(inst) {
  if (host.poolSize === Infinity) {
    if (!idle.includes(inst)) idle.push(inst);
  } else idle.push(inst);
}
/** Node's calls are synchronous: every call shares the one instance. */
async function lease() {
  if (host.poolSize === Infinity) {
    if (!idle.length) idle.push(await acquire());
    return idle[0];
  }
  return acquire();
}

async function withInstance(f, { hold = false } = {}) {
  const inst = await lease();
  let held = false;
  try {
    return await f(inst, () => {
      held = true;
      return () => release(inst);
    });
  } catch (e) {
    throw fromThrown(e);
  } finally {
    if (!held && !hold) release(inst);
  }
}

// ------------------------------------------------------------ gateway

const SPEC = Symbol("ai-gateway spec");

function openOn(inst, spec) {
  let gw = inst.gateways.get(spec.id);
  if (!gw) {
    try {
      gw = inst.component.api.open(spec.wit);
    } catch (e) {
      throw fromThrown(e);
    }
    inst.gateways.set(spec.id, gw);
  }
  return gw;
}

function makeSpec(config) {
  const wit = configToWit(config);
  return { id: fresh("gw"), config, wit };
}

/**
 * `createGateway(config)`: the library's config (`providers`, `cfGateway`,
 * `defaultProvider`) plus the component's own (`router`, `retry`, `cache`,
 * `cost`, `rateLimits`, `allowlist`, `logging`, `timeoutMs`, `chains`).
 */
export function createGateway(config) {
  if (config?.router && typeof config.router.resolve === "function") config = { ...config, router: config.router[SPEC] };
  if (config?.cost) {
    config = { ...config, cost: { ...config.cost, bucket: config.cost.bucket ?? fresh("costs") } };
    if (config.cost.storage) useStore(config.cost.bucket, config.cost.storage);
  }
  if (config?.rateLimits) {
    config = { ...config, rateLimits: { ...config.rateLimits, bucket: config.rateLimits.bucket ?? fresh("ratelimits") } };
    if (config.rateLimits.storage) useStore(config.rateLimits.bucket, config.rateLimits.storage);
  }
  return gatewayFrom(makeSpec(config), []);
}

const LAYERS = Symbol("ai-gateway middleware");

function abortError(signal) {
  return signal.reason instanceof Error ? signal.reason : Object.assign(new Error("the call was aborted"), { name: "AbortError" });
}

/**
 * A gateway over `spec` with JS middleware `layers` (innermost first): each
 * is `(model, input, options, next) => Promise`. The component does the rest.
 */
function gatewayFrom(spec, layers) {
  const call = (op, model, input, f, options) => {
    if (options?.signal?.aborted) return Promise.reject(abortError(options.signal));
    let g = f;
    for (const layer of layers) {
      const inner = g;
      g = () => layer(model, input, options, inner);
    }
    return g();
  };
  const gateway = {
    [SPEC]: spec,
    [LAYERS]: layers,
    run(model, input, options) {
      return call("run", model, input, () =>
        withInstance(async (inst) => outputFromWit(await openOn(inst, spec).run(model, inputToWit(input), optionsToWit(options)))),
      options);
    },
    runFallback(entries, input, options) {
      const model = entries.map((e) => `${e.provider}/${e.model}`).join(",");
      return call("runFallback", model, input, () =>
        withInstance(async (inst) =>
          outputFromWit(await openOn(inst, spec).runFallback(entries.map((e) => ({ provider: e.provider, model: e.model })), inputToWit(input), optionsToWit(options))),
        ),
      options);
    },
    embed(model, input, options) {
      const list = typeof input === "string" ? [input] : input;
      return call("embed", model, input, () => withInstance(async (inst) => embedFromWit(await openOn(inst, spec).embed(model, list, embedOptionsToWit(options)))), options);
    },
    stream(model, input, options) {
      return call("stream", model, input, () => openStream(spec, model, input, options), options);
    },
    providers: () => Object.keys(spec.config.providers),
    defaultProvider: () => spec.config.defaultProvider,
    resolveProvider: (model, provider) => withInstance(async (inst) => openOn(inst, spec).resolveProvider(model, provider ?? undefined)),
    isCached: (model, input, options) => withInstance(async (inst) => openOn(inst, spec).isCached(model, inputToWit(input), optionsToWit(options))),
    invalidate: (model, input, options) => withInstance(async (inst) => openOn(inst, spec).invalidate(model, inputToWit(input), optionsToWit(options))),
    costs: () => withInstance(async (inst) => totalsFromWit(await openOn(inst, spec).costs())),
    budget: () => withInstance(async (inst) => budgetFromWit(await openOn(inst, spec).budget())),
    resetCosts: () => withInstance(async (inst) => void (await openOn(inst, spec).resetCosts())),
  };
  return gateway;
}

/** A stream of typed events; its `cancel()` drops the component's event-stream, which closes the upstream request. */
async function openStream(spec, model, input, options) {
  return withInstance(async (inst, hold) => {
    const events = await openOn(inst, spec).stream(model, inputToWit(input), optionsToWit(options));
    const done = hold();
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      try {
        events[Symbol.dispose]?.();
      } finally {
        done();
      }
    };
    return new ReadableStream({
      async pull(controller) {
        let e;
        try {
          e = await events.next();
        } catch (err) {
          close();
          controller.error(fromThrown(err));
          return;
        }
        if (e === undefined) {
          close();
          controller.close();
          return;
        }
        controller.enqueue(eventFromWit(e));
      },
      cancel() {
        close();
      },
    }, { highWaterMark: 0 });
  });
}

/** A derived gateway: some of the component config replaced (middleware = config here), maybe one more JS layer outside. */
function derive(gw, patch, layer) {
  const spec = gw?.[SPEC];
  if (!spec) throw validation("expected a gateway from createGateway()");
  return gatewayFrom(makeSpec({ ...spec.config, ...patch }), layer ? [...gw[LAYERS], layer] : gw[LAYERS]);
}

/**
 * `withRetry(gateway, {maxAttempts, isRetryable?, ...})`: the component's
 * retry policy (full-jitter backoff, Retry-After, never a 401/400). An
 * `isRetryable` hook replaces the kinds test: the retries then run here.
 */
export function withRetry(gw, opts = {}) {
  const maxAttempts = opts.maxAttempts ?? 3;
  const { isRetryable, ...policy } = opts;
  if (typeof isRetryable !== "function") return derive(gw, { retry: { ...policy, maxAttempts } });
  return derive(gw, { retry: undefined }, async (_model, _input, options, next) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await next();
      } catch (e) {
        if (attempt >= maxAttempts || !isRetryable(e)) throw e;
        if (options?.signal?.aborted) throw abortError(options.signal);
      }
    }
  });
}

/**
 * `withCache(gateway, {storage, ttl?, streams?, namespace?})`: the component's
 * response cache in `storage` (a Workers KV namespace, any `{get, put,
 * delete}` store, or memoryStore()). The key covers every option.
 */
export function withCache(gw, opts = {}) {
  if (opts.hashFn) throw validation("withCache: hashFn is not supported; the component keys on every option (or pass options.cacheKey per call)");
  const bucket = fresh("cache");
  useStore(bucket, opts.storage ?? memoryStore());
  return derive(gw, { cache: { bucket, ttl: opts.ttl ?? 3600, namespace: opts.namespace, streams: !!opts.streams } });
}

/** `withLogging(gateway, {onRequest, onResponse, onError})`: hooks around every call. */
export function withLogging(gw, hooks = {}) {
  return derive(gw, {}, (model, input, _options, next) => {
    const started = Date.now();
    hooks.onRequest?.(model, input);
    return next().then(
      (out) => {
        hooks.onResponse?.(model, out, Date.now() - started);
        return out;
      },
      (err) => {
        hooks.onError?.(model, err, Date.now() - started);
        throw err;
      },
    );
  });
}

// ------------------------------------------------------------ router, costs

/** `createRouter({routes, fallback})`: the component's glob router. */
export function createRouter(config) {
  const wit = routerToWit(config);
  const id = fresh("router");
  const get = (inst) => {
    let r = inst.trackers.get(id);
    if (!r) inst.trackers.set(id, (r = inst.component.router.createRouter(wit)));
    return r;
  };
  return {
    [SPEC]: config,
    /** The provider for `model`, or undefined. */
    resolve: (model) => withInstance(async (inst) => get(inst).resolve(model)),
  };
}

/**
 * `createCostTracker({pricing, storage?})`: prices in USD per million tokens
 * (the library's), costs in micro-USD and USD. Totals live in `storage`
 * (default: memory), so every instance sees one total.
 */
export function createCostTracker(config = {}) {
  const bucket = config.bucket ?? fresh("costs");
  if (config.storage) useStore(bucket, config.storage);
  const wit = { pricing: pricingToWit(config.pricing), budgetMicroUsd: undefined, bucket, keyPrefix: config.keyPrefix ?? undefined };
  const id = fresh("tracker");
  const get = (inst) => {
    let t = inst.trackers.get(id);
    if (!t) inst.trackers.set(id, (t = inst.component.costTracker.openTracker(wit)));
    return t;
  };
  const usd = (micro) => Number(micro) / 1e6;
  return {
    /** Record one call's usage; returns its cost in USD. */
    record: (model, usage) => withInstance(async (inst) => usd(await get(inst).recordUsage(model, usageToWit(usage)))),
    getTotals: () => withInstance(async (inst) => totalsFromWit(await get(inst).totals())),
    /** Compare the total with `budgetUsd`. */
    checkBudget: (budgetUsd) =>
      withInstance(async (inst) => budgetFromWit(await get(inst).checkBudget(BigInt(Math.round(budgetUsd * 1e6))))),
    reset: () => withInstance(async (inst) => void (await get(inst).reset())),
  };
}

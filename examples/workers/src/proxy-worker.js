// The OpenAI-compatible proxy as a Cloudflare Worker: the composed
// proxy.wasm (proxy component + the unmodified ai-gateway.wasm, `wac plug`)
// transpiled by jco in JSPI mode. Its `wasi:http/incoming-handler` export
// serves every request through ./http-bridge.js, which streams: the Response
// is returned when the component sets it, and each write of the component
// reaches the client as it is made (SSE events arrive one by one).
//
// Imports:
//   wasi:http/types              ./http-bridge.js for the server side,
//                                preview2-shim for outgoing requests (fetch)
//   wasi:*                       preview2-shim (fetch, platform clocks/random)
//   wasi:keyvalue (draft2)       ./keyvalue.js over the AI_STATE KV binding;
//                                the state bucket (costs, budgets, rate
//                                limits) in the AI_COUNTERS Durable Object
//                                when that binding exists
//   fermyon:spin/variables       the Worker's vars and secrets: variable
//                                `gateway_config` is env.GATEWAY_CONFIG (or
//                                env.gateway_config), and so on

import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";
import { serveStreaming, streamingHttpTypes } from "./http-bridge.js";
import { instantiate } from "../dist/proxy/proxy.js";
import { keyvalueImports, counterBuckets } from "./keyvalue.js";
import { instancePool } from "./pool.js";
import { PROXY_CORES } from "../dist/proxy/cores.js";

// The Durable Object class behind AI_COUNTERS (wrangler.toml binds it).
export { GatewayCounters } from "./counters.js";

// One proxy instance per request in flight, reused (pool.js says why).
let pool = null;

function variablesImports(env) {
  return {
    "fermyon:spin/variables@2.0.0": {
      get(name) {
        const v = env[name] ?? env[name.toUpperCase()];
        if (v === undefined || v === null) throw { tag: "undefined", val: `no variable ${name}` };
        return String(v);
      },
    },
  };
}

/** jco looks imports up by `ns:pkg/iface` (its typings say `...@version`): give both. */
function withUnversionedNames(imports) {
  const out = { ...imports };
  for (const [k, v] of Object.entries(imports)) out[k.replace(/@[^@/]+$/, "")] = v;
  return out;
}

/** The proxy's state bucket (its `state_bucket`, default "default"). */
function stateBucket(env) {
  try {
    return JSON.parse(env.GATEWAY_CONFIG ?? env.gateway_config ?? "{}").state_bucket ?? "default";
  } catch {
    return "default";
  }
}

function poolFor(env) {
  pool ??= instancePool(() => {
    const imports = withUnversionedNames({
      ...new WASIShim().getImportObject({ asVersion: "0.2.6" }),
      "wasi:http/types@0.2.6": streamingHttpTypes,
      ...keyvalueImports(env, { counterBuckets: counterBuckets(env, [stateBucket(env)]) }),
      ...variablesImports(env),
    });
    return instantiate((path) => PROXY_CORES[path], imports);
  });
  return pool;
}

export default {
  async fetch(request, env, ctx) {
    const pool = poolFor(env);
    const proxy = await pool.acquire();
    const handler = proxy.incomingHandler ?? proxy["wasi:http/incoming-handler@0.2.6"];
    const served = serveStreaming(request, (req, out) => handler.handle(req, out));
    // The instance is this request's until `handle` returns (the component
    // keeps writing the body after the Response is returned): waitUntil
    // keeps the isolate running it until then.
    const { response, done } = await served.catch((e) => {
      pool.discard(proxy);
      throw e;
    });
    ctx.waitUntil(done.then(() => pool.release(proxy), () => pool.discard(proxy)));
    return response;
  },
};

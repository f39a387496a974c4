// The OpenAI-compatible proxy as a Cloudflare Worker: the composed
// proxy.wasm (proxy component + the unmodified ai-gateway.wasm, `wac plug`)
// transpiled by jco in JSPI mode. Its `wasi:http/incoming-handler` export
// serves every request through preview2-shim's `handleIncomingRequest`.
//
// Imports:
//   wasi:*                       preview2-shim (fetch, platform clocks/random)
//   wasi:keyvalue (draft2)       ./keyvalue.js over the AI_STATE KV binding
//   fermyon:spin/variables       the Worker's vars and secrets: variable
//                                `gateway_config` is env.GATEWAY_CONFIG (or
//                                env.gateway_config), and so on
//
// Limitation: preview2-shim's bridge buffers the whole response before
// returning it, so SSE from this Worker arrives in one piece (correct
// chunks, no incremental delivery). The JSON API in worker.js streams.

import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";
import { http } from "@bytecodealliance/preview2-shim";
import { instantiate } from "../dist/proxy/proxy.js";
import { keyvalueImports } from "./keyvalue.js";
import { PROXY_CORES } from "../dist/proxy/cores.js";

let instance = null;

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

async function proxyFor(env) {
  instance ??= (async () => {
    const imports = withUnversionedNames({
      ...new WASIShim().getImportObject({ asVersion: "0.2.6" }),
      ...keyvalueImports(env),
      ...variablesImports(env),
    });
    return instantiate((path) => PROXY_CORES[path], imports);
  })();
  try {
    return await instance;
  } catch (e) {
    instance = null;
    throw e;
  }
}

export default {
  async fetch(request, env) {
    const proxy = await proxyFor(env);
    const handler = proxy.incomingHandler ?? proxy["wasi:http/incoming-handler@0.2.6"];
    return http.handleIncomingRequest(request, (req, out) => handler.handle(req, out));
  },
};

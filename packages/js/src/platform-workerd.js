// Cloudflare Workers (workerd): the JSPI jco build (dist/jspi); wasi:http is
// preview2-shim's browser build (fetch), stores may be async (Workers KV).
// workerd compiles wasm only at load time, so the core modules are imported
// (wrangler bundles `.wasm` imports as CompiledWasm modules).
import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";
import { instantiate } from "../dist/jspi/ai_gateway.js";
import core1 from "../dist/jspi/ai_gateway.core.wasm";
import core2 from "../dist/jspi/ai_gateway.core2.wasm";
import core3 from "../dist/jspi/ai_gateway.core3.wasm";

export const platform = "workerd";
export const asyncCalls = true;
/** jco runs one call at a time per instance: one instance per call in flight. */
export const poolSize = 1;

const cores = { "ai_gateway.core.wasm": core1, "ai_gateway.core2.wasm": core2, "ai_gateway.core3.wasm": core3 };

export async function createInstance(keyvalue) {
  const imports = { ...new WASIShim().getImportObject({ asVersion: "0.2.6" }), ...keyvalue };
  return instantiate((name) => cores[name], withUnversioned(imports));
}

export function withUnversioned(imports) {
  const out = { ...imports };
  for (const [k, v] of Object.entries(imports)) out[k.replace(/@[^@/]+$/, "")] = v;
  return out;
}

export function fileStore() {
  throw new Error("fileStore() is for Node; on Workers pass a KV namespace (env.MY_KV) as the store");
}

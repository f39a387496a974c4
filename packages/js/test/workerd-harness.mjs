// Bundle a Worker entry the way wrangler does (esbuild, "workerd"/"worker"
// conditions, `.wasm` imports as CompiledWasm modules) and start it in
// workerd through miniflare. The Worker fetches the mock (127.0.0.1) itself.
import { mkdirSync, readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";

export async function startWorker(entry, out, bindings, extra = {}) {
  mkdirSync(out, { recursive: true });
  const wasm = new Map();
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    outfile: resolve(out, "worker.js"),
    logLevel: "warning",
    external: ["cloudflare:*"],
    plugins: [{
      name: "wasm-modules",
      setup(b) {
        b.onResolve({ filter: /\.wasm$/ }, (args) => {
          const path = resolve(args.resolveDir, args.path);
          wasm.set(basename(path), path);
          return { path: `./${basename(path)}`, external: true };
        });
      },
    }],
  });
  return new Miniflare({
    modules: [
      { type: "ESModule", path: resolve(out, "worker.js"), contents: readFileSync(resolve(out, "worker.js"), "utf8") },
      ...[...wasm].map(([name, path]) => ({ type: "CompiledWasm", path: resolve(out, name), contents: readFileSync(path) })),
    ],
    modulesRoot: out,
    compatibilityDate: "2026-08-01",
    kvNamespaces: ["CACHE_KV"],
    bindings,
    ...extra,
  });
}

/**
 * An outboundService that sends Cloudflare's hosts to the mock (as host-test's
 * redirect does for wasmtime), naming the original URL in a header. Requests
 * through it do not see a cancelled body: use it only where that is not tested.
 */
export function redirectTo(MOCK) {
  return async (request) => {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    for (const h of ["content-length", "host", "connection", "transfer-encoding"]) headers.delete(h);
    let target = url;
    if (url.hostname !== "127.0.0.1") {
      target = new URL(url.pathname + url.search, MOCK);
      headers.set("x-aigw-original-url", request.url);
    }
    const body = request.method === "GET" ? undefined : await request.arrayBuffer();
    return fetch(target, { method: request.method, headers, body });
  };
}

// The same suite inside workerd (miniflare), the package bundled the way
// wrangler bundles a Worker: esbuild with the "workerd" condition, `.wasm`
// imports as CompiledWasm modules, the response cache in Workers KV.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { Miniflare } from "miniflare";
import { cases } from "./suite.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, "../.work");
const MOCK = process.env.MOCK_URL;
assert.ok(MOCK, "MOCK_URL must point at the mock upstream");

let mf;
before(async () => {
  mkdirSync(out, { recursive: true });
  const wasm = new Map();
  await esbuild.build({
    entryPoints: [resolve(here, "workerd-entry.mjs")],
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
  mf = new Miniflare({
    modules: [
      { type: "ESModule", path: resolve(out, "worker.js"), contents: readFileSync(resolve(out, "worker.js"), "utf8") },
      ...[...wasm].map(([name, path]) => ({ type: "CompiledWasm", path: resolve(out, name), contents: readFileSync(path) })),
    ],
    modulesRoot: out,
    compatibilityDate: "2026-08-01",
    kvNamespaces: ["CACHE_KV"],
    bindings: { MOCK_URL: MOCK },
    // No outboundService: the Worker fetches the mock (127.0.0.1) itself, so
    // a cancelled body closes the real connection.
  });
});
after(async () => {
  await mf?.dispose();
});

const run = async (name) => (await mf.dispatchFetch(`http://worker/?case=${encodeURIComponent(name)}`)).json();

test("the package runs in workerd", async () => assert.equal((await run("__platform")).platform, "workerd"));

for (const name of Object.keys(cases)) {
  test(`workerd: ${name}`, async () => {
    const r = await run(name);
    assert.ok(r.ok, r.error);
  });
}

// Build the Worker: transpile the unmodified ai-gateway.wasm with jco (JSPI
// mode) and bundle src/worker.js with esbuild. The component path comes from
// AI_GATEWAY_WASM (default: the one host-test builds). Its SHA-256 is written
// to dist/SOURCE_SHA256 so tests can prove every host ran the same file.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import * as esbuild from "esbuild";
import { KEYVALUE_ASYNC_IMPORTS } from "./src/keyvalue.js";

const here = dirname(fileURLToPath(import.meta.url));
const wasm = resolve(process.env.AI_GATEWAY_WASM ?? resolve(here, "../../target/guest/wasm32-wasip2/release/ai_gateway.wasm"));
const dist = resolve(here, "dist");
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const api = "workkit:ai-gateway/api@0.3.0";
const cost = "workkit:ai-gateway/cost-tracker@0.3.0";
// Every export that may wait on the network or the KV store.
const asyncExports = [
  ...["run", "stream", "run-fallback", "embed", "is-cached", "invalidate", "costs", "budget", "reset-costs"].map((m) => `${api}#[method]gateway.${m}`),
  ...["next", "try-next"].map((m) => `${api}#[method]event-stream.${m}`),
  ...["record-usage", "totals", "check-budget", "reset"].map((m) => `${cost}#[method]tracker.${m}`),
];

const args = [
  "transpile", wasm, "-o", resolve(dist, "transpiled"), "--name", "ai_gateway",
  "--instantiation", "async", "--async-mode", "jspi", "--async-wasi-imports", "--no-nodejs-compat", "-q",
];
for (const i of KEYVALUE_ASYNC_IMPORTS) args.push("--async-imports", i);
for (const e of asyncExports) args.push("--async-exports", e);
execFileSync(resolve(here, "node_modules/.bin/jco"), args, { stdio: "inherit" });

/** Bundle a Worker entry for workerd; the core modules stay separate files. */
const bundle = (entry, out) =>
  esbuild.build({
    entryPoints: [resolve(here, entry)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["*.wasm", "cloudflare:*"],
    outfile: resolve(dist, out),
    logLevel: "warning",
  });

await bundle("src/worker.js", "worker.js");

// The OpenAI-compatible proxy (proxy component + this same gateway, composed
// by `wac plug`), when AI_GATEWAY_PROXY_WASM names it: dist/proxy-worker.js.
const proxyWasm = process.env.AI_GATEWAY_PROXY_WASM;
if (proxyWasm) {
  const out = resolve(dist, "proxy");
  const pargs = [
    "transpile", resolve(proxyWasm), "-o", out, "--name", "proxy",
    "--instantiation", "async", "--async-mode", "jspi", "--async-wasi-imports", "--no-nodejs-compat", "-q",
    "--async-exports", "wasi:http/incoming-handler@0.2.6#handle",
  ];
  for (const i of KEYVALUE_ASYNC_IMPORTS) pargs.push("--async-imports", i);
  execFileSync(resolve(here, "node_modules/.bin/jco"), pargs, { stdio: "inherit" });
  // jco 1.35 inlines a tiny helper module for composed components in JSPI
  // mode and compiles it from bytes at run time, which workerd forbids
  // ("Wasm code generation disallowed by embedder"): move each such module
  // into a file that workerd compiles at load time, like the core modules.
  const js = resolve(out, "proxy.js");
  let src = readFileSync(js, "utf8");
  const inline = [];
  src = src.replace(/new WebAssembly\.Module\(new Uint8Array\(\[([\dxa-fA-F,\s]+)\]\)\)/g, (_m, bytes) => {
    const name = `proxy.inline${inline.length}.wasm`;
    writeFileSync(resolve(out, name), Uint8Array.from(bytes.split(",").map((b) => b.trim()).filter(Boolean).map(Number)));
    inline.push(name);
    return `__inlineModule${inline.length - 1}`;
  });
  src = inline.map((n, i) => `import __inlineModule${i} from "./proxy/${n}";`).join("\n") + "\n" + src;
  writeFileSync(js, src);
  // workerd compiles wasm only at load time: import every core module.
  const cores = readdirSync(out).filter((f) => f.endsWith(".wasm")).sort();
  writeFileSync(
    resolve(out, "cores.js"),
    cores.map((f, i) => `import c${i} from "./proxy/${f}";`).join("\n") +
      `\nexport const PROXY_CORES = { ${cores.map((f, i) => `${JSON.stringify(f)}: c${i}`).join(", ")} };\n`,
  );
  await bundle("src/proxy-worker.js", "proxy-worker.js");
  writeFileSync(resolve(dist, "PROXY_CORES"), cores.join("\n") + "\n");
  console.log(`built dist/proxy-worker.js from ${proxyWasm} (${cores.length} core modules)`);
}

const sha = createHash("sha256").update(readFileSync(wasm)).digest("hex");
writeFileSync(resolve(dist, "SOURCE_SHA256"), sha + "\n");
console.log(`built dist/worker.js from ${wasm} (sha256 ${sha})`);

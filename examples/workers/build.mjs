// Build the Worker: transpile the unmodified ai-gateway.wasm with jco (JSPI
// mode) and bundle src/worker.js with esbuild. The component path comes from
// AI_GATEWAY_WASM (default: the one host-test builds). Its SHA-256 is written
// to dist/SOURCE_SHA256 so tests can prove every host ran the same file.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
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

const api = "workkit:ai-gateway/api@0.1.0";
const cost = "workkit:ai-gateway/cost-tracker@0.1.0";
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

await esbuild.build({
  entryPoints: [resolve(here, "src/worker.js")],
  bundle: true,
  format: "esm",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["*.wasm"],
  outfile: resolve(dist, "worker.js"),
  logLevel: "warning",
});

const sha = createHash("sha256").update(readFileSync(wasm)).digest("hex");
writeFileSync(resolve(dist, "SOURCE_SHA256"), sha + "\n");
console.log(`built dist/worker.js from ${wasm} (sha256 ${sha})`);

// Build @workkit/ai-gateway from the unchanged components:
//   dist/wasm/ai_gateway.wasm, dist/wasm/ai_gateway_allowlist.wasm
//       the exact bytes given (AI_GATEWAY_WASM / AI_GATEWAY_ALLOWLIST_WASM,
//       default: the ones host-test builds), with dist/SHA256SUMS;
//   dist/node/       jco transpile, synchronous calls (Node 20+: no JSPI;
//                    wasi:http from preview2-shim's Node build, vendored and
//                    patched in dist/node-shim); its core modules are the
//                    same bytes as dist/jspi's, so only those are kept;
//   dist/jspi/       jco transpile in JSPI mode (Cloudflare Workers / workerd:
//                    wasi:http over fetch, wasi:keyvalue over KV, both async);
//   dist/allowlist/  the 20 KB allowlist component (no imports, synchronous);
//   dist/wit/        TypeScript types generated from the WIT (jco types), which
//                    types/*.d.ts wrap in the library's camelCase shapes.
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { KEYVALUE_ASYNC_IMPORTS } from "./src/stores.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const release = resolve(root, "target/guest/wasm32-wasip2/release");
const gatewayWasm = resolve(process.env.AI_GATEWAY_WASM ?? resolve(release, "ai_gateway.wasm"));
const allowlistWasm = resolve(process.env.AI_GATEWAY_ALLOWLIST_WASM ?? resolve(release, "ai_gateway_allowlist.wasm"));
const wit = resolve(process.env.AI_GATEWAY_WIT ?? resolve(root, "wit"));
const dist = resolve(here, "dist");
const jco = resolve(here, "node_modules/.bin/jco");

rmSync(dist, { recursive: true, force: true });
mkdirSync(resolve(dist, "wasm"), { recursive: true });

// 1. The components, byte for byte, and their hashes.
const sums = [];
for (const [src, name] of [[gatewayWasm, "ai_gateway.wasm"], [allowlistWasm, "ai_gateway_allowlist.wasm"]]) {
  const out = resolve(dist, "wasm", name);
  copyFileSync(src, out);
  const sha = createHash("sha256").update(readFileSync(out)).digest("hex");
  sums.push(`${sha}  wasm/${name}`);
}
writeFileSync(resolve(dist, "SHA256SUMS"), sums.join("\n") + "\n");

const api = "workkit:ai-gateway/api@0.3.0";
const cost = "workkit:ai-gateway/cost-tracker@0.3.0";
const common = ["--instantiation", "async", "--no-nodejs-compat", "-q", "--no-namespaced-exports"];
const transpile = (wasm, out, name, extra) =>
  execFileSync(jco, ["transpile", resolve(dist, "wasm", wasm), "-o", resolve(dist, out), "--name", name, ...common, ...extra], { stdio: "inherit" });

// 2. Node: plain synchronous calls.
transpile("ai_gateway.wasm", "node", "ai_gateway", []);

// 2b. preview2-shim's Node build, vendored with two changes: when the
// component drops an HTTP response body, the shim's I/O worker forgot the
// stream but kept reading it, so the upstream never learned the client left
// (a cancelled stream went on generating): the copy destroys the response.
// And outgoing HTTP goes through `fetch` (2c).
const shim = resolve(here, "node_modules/@bytecodealliance/preview2-shim");
const shimVersion = JSON.parse(readFileSync(resolve(shim, "package.json"), "utf8")).version;
if (shimVersion !== "0.26.1") throw new Error(`the Node shim patch is for preview2-shim 0.26.1, not ${shimVersion}`);
for (const d of ["nodejs", "io", "synckit"]) cpSync(resolve(shim, "dist", d), resolve(dist, "node-shim", d), { recursive: true });
const bundle = resolve(dist, "node-shim/io/worker-thread.bundle.js");
const before = `\t\t\tstreams.delete(id);\n\t\t\tif (stream.fileResourceId) return releaseFileResource(stream.fileResourceId);\n\t\t\treturn;`;
const src = readFileSync(bundle, "utf8");
if (src.split(before).length !== 2) throw new Error("preview2-shim's INPUT_STREAM_DISPOSE is not where the patch expects it");
let patched = src.replace(before, before.replace("\t\t\treturn;",
  `\t\t\tif (stream.stream && stream.stream.aigwUpstream && !stream.stream.readableEnded) stream.stream.destroy();\n\t\t\treturn;`));
// 2c. The Node build's outgoing HTTP through `fetch` (the platform's client,
// undici in Node, Bun's own) instead of node:http, in the same I/O worker:
// the request body is read whole (the gateway's requests are in memory
// anyway, and it sends their content-length), the connect + first-byte
// timeout aborts the fetch, the between-bytes timeout ends the body with
// an error, redirects are not followed (as node:http did not).
const httpStart = "\ttry {\n\t\tlet req;\n\t\tswitch (scheme) {";
const httpEnd = "\t\tconst bodyStreamId = createReadableStream(res);\n\t\treturn {\n\t\t\tstatus: res.statusCode,\n\t\t\theaders: Array.from(Object.entries(res.headers)),\n\t\t\tbodyStreamId\n\t\t};";
const a = patched.indexOf(httpStart);
const b = patched.indexOf(httpEnd);
if (a < 0 || b < a || patched.split(httpStart).length !== 2) throw new Error("preview2-shim's createHttpRequest is not where the fetch patch expects it");
const viaFetch = `\ttry {
\t\tif (scheme !== "http:" && scheme !== "https:") throw { tag: "HTTP-protocol-error" };
\t\tconst ms = (ns) => (ns ? Number(ns / 1000000n) : 0);
\t\tlet body;
\t\tif (stream) {
\t\t\tconst chunks = [];
\t\t\tfor await (const c of stream) chunks.push(c);
\t\t\tbody = Buffer.concat(chunks);
\t\t}
\t\tconst abort = new AbortController();
\t\tconst firstByte = ms(connectTimeout) + ms(firstByteTimeout);
\t\tconst timer = firstByte ? setTimeout(() => abort.abort({ tag: "connection-read-timeout" }), firstByte) : null;
\t\tlet res;
\t\ttry {
\t\t\tres = await fetch(\`\${scheme}//\${authority}\${pathWithQuery}\`, { method, headers, body, signal: abort.signal, redirect: "manual" });
\t\t} finally {
\t\t\tif (timer) clearTimeout(timer);
\t\t}
\t\tconst nodeBody = res.body ? Readable.fromWeb(res.body) : Readable.from([]);
\t\tnodeBody.aigwUpstream = true;
\t\tconst between = ms(betweenBytesTimeout);
\t\tif (between) {
\t\t\tlet idle = setTimeout(() => nodeBody.destroy(Object.assign(new Error("between-bytes timeout"), { code: "ETIMEDOUT" })), between);
\t\t\tnodeBody.on("data", () => idle.refresh());
\t\t\tnodeBody.on("close", () => clearTimeout(idle));
\t\t}
\t\tconst bodyStreamId = createReadableStream(nodeBody);
\t\treturn {
\t\t\tstatus: res.status,
\t\t\theaders: Array.from(res.headers),
\t\t\tbodyStreamId
\t\t};`;
patched = patched.slice(0, a) + viaFetch + patched.slice(b + httpEnd.length);
writeFileSync(bundle, patched);
writeFileSync(resolve(dist, "node-shim/package.json"), JSON.stringify({ type: "module", private: true, description: `@bytecodealliance/preview2-shim ${shimVersion} (Node build), patched by build.mjs` }));

// 3. workerd: JSPI, every export that may wait on the network or the store async.
const asyncExports = [
  ...["run", "stream", "run-fallback", "embed", "is-cached", "invalidate", "costs", "budget", "reset-costs"].map((m) => `${api}#[method]gateway.${m}`),
  ...["next", "try-next"].map((m) => `${api}#[method]event-stream.${m}`),
  ...["record-usage", "totals", "check-budget", "reset"].map((m) => `${cost}#[method]tracker.${m}`),
];
const jspi = ["--async-mode", "jspi", "--async-wasi-imports"];
for (const i of KEYVALUE_ASYNC_IMPORTS) jspi.push("--async-imports", i);
for (const e of asyncExports) jspi.push("--async-exports", e);
transpile("ai_gateway.wasm", "jspi", "ai_gateway", jspi);

// Both builds extract the same core modules from the component: keep one
// copy (dist/jspi/*.wasm), which the Node adapter reads too.
for (const f of readdirSync(resolve(dist, "node")).filter((n) => n.endsWith(".wasm"))) {
  if (!readFileSync(resolve(dist, "node", f)).equals(readFileSync(resolve(dist, "jspi", f)))) throw new Error(`core module ${f} differs between the builds`);
  rmSync(resolve(dist, "node", f));
}

// 4. The allowlist component (sub-export `@workkit/ai-gateway/allowlist`).
execFileSync(jco, ["transpile", resolve(dist, "wasm/ai_gateway_allowlist.wasm"), "-o", resolve(dist, "allowlist"), "--name", "ai_gateway_allowlist",
  "--instantiation", "sync", "--no-nodejs-compat", "-q", "--no-namespaced-exports"], { stdio: "inherit" });

// 5. Types generated from the WIT. (preview2-shim 0.26 gives jco's sandboxed
// wasm-tools no preopens: tools/jco-preopen.mjs opens the filesystem to it.)
execFileSync(process.execPath, ["--import", resolve(here, "tools/jco-preopen.mjs"), resolve(here, "node_modules/@bytecodealliance/jco/dist/jco.js"),
  "types", wit, "--world-name", "gateway", "-o", resolve(dist, "wit"), "-q"], { stdio: "inherit" });

console.log(sums.join("\n"));

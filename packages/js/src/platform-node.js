// Node 20+: Node has no JSPI, so the component is the synchronous jco build
// (dist/node) and wasi:http is preview2-shim's Node implementation, in a
// worker thread; each call blocks the calling thread until it returns. The
// shim is the copy build.mjs vendors into dist/node-shim and patches:
// outgoing requests go through the platform's `fetch`, and a dropped
// response body closes the upstream response.
import { readFileSync, writeFileSync, renameSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { cli, clocks, http, io, random } from "../dist/node-shim/nodejs/index.js";
import { instantiate } from "../dist/node/ai_gateway.js";

const v = "@0.2.6";
const wasi = {
  [`wasi:cli/environment${v}`]: cli.environment,
  [`wasi:cli/exit${v}`]: cli.exit,
  [`wasi:cli/stderr${v}`]: cli.stderr,
  [`wasi:cli/stdin${v}`]: cli.stdin,
  [`wasi:cli/stdout${v}`]: cli.stdout,
  [`wasi:cli/terminal-input${v}`]: cli.terminalInput,
  [`wasi:cli/terminal-output${v}`]: cli.terminalOutput,
  [`wasi:cli/terminal-stderr${v}`]: cli.terminalStderr,
  [`wasi:cli/terminal-stdin${v}`]: cli.terminalStdin,
  [`wasi:cli/terminal-stdout${v}`]: cli.terminalStdout,
  [`wasi:clocks/monotonic-clock${v}`]: clocks.monotonicClock,
  [`wasi:clocks/wall-clock${v}`]: clocks.wallClock,
  [`wasi:http/outgoing-handler${v}`]: http.outgoingHandler,
  [`wasi:http/types${v}`]: http.types,
  [`wasi:io/error${v}`]: io.error,
  [`wasi:io/poll${v}`]: io.poll,
  [`wasi:io/streams${v}`]: io.streams,
  [`wasi:random/insecure-seed${v}`]: random.insecureSeed,
  [`wasi:random/random${v}`]: random.random,
};

export const platform = "node";
/** Store methods must return values (not promises) here. */
export const asyncCalls = false;
/** Calls are synchronous: one instance serves every gateway. */
export const poolSize = Infinity;

// The core modules: the same bytes in both builds, kept once (build.mjs).
const dist = new URL("../dist/jspi/", import.meta.url);
const cores = new Map();
const core = (name) => {
  let m = cores.get(name);
  if (!m) cores.set(name, (m = new WebAssembly.Module(readFileSync(new URL(name, dist)))));
  return m;
};

export async function createInstance(keyvalue) {
  const imports = { ...wasi, ...keyvalue };
  return instantiate(core, withUnversioned(imports));
}

export function withUnversioned(imports) {
  const out = { ...imports };
  for (const [k, v] of Object.entries(imports)) out[k.replace(/@[^@/]+$/, "")] = v;
  return out;
}

/** A store in a JSON file (synchronous; one process at a time). */
export function fileStore(path) {
  const p = path instanceof URL ? fileURLToPath(path) : String(path);
  let data;
  const load = () => {
    if (data) return data;
    try {
      data = JSON.parse(readFileSync(p, "utf8"));
    } catch {
      data = {};
    }
    return data;
  };
  const save = () => {
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p + ".tmp", JSON.stringify(data));
    renameSync(p + ".tmp", p);
  };
  return {
    get: (key) => load()[key] ?? null,
    put: (key, value) => {
      load()[key] = typeof value === "string" ? value : new TextDecoder().decode(value);
      save();
    },
    delete: (key) => {
      delete load()[key];
      save();
    },
    list: ({ prefix = "" } = {}) => ({ keys: Object.keys(load()).filter((k) => k.startsWith(prefix)).sort().map((name) => ({ name })), list_complete: true }),
  };
}

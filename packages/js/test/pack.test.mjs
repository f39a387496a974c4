// `npm pack` gives a tarball that a fresh directory installs (its one
// dependency's tarballs come from the npm cache `npm ci` filled; npm fetches
// their metadata from the registry on a machine that never resolved them,
// which `npm ci` from a lockfile does not do) and that runs the README's quickstart
// against the mock upstream in Node, in Bun (the package.json's pinned `bun`)
// and, bundled as a Worker, in workerd.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "./workerd-harness.mjs";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MOCK = process.env.MOCK_URL;

test("npm pack -> npm install ./workkit-ai-gateway-*.tgz in a fresh directory -> the quickstart runs in Node, in Bun and in workerd", async () => {
  assert.ok(MOCK, "MOCK_URL must point at the mock upstream");
  const dir = mkdtempSync(resolve(tmpdir(), "aigw-pack-"));
  try {
    execFileSync("npm", ["pack", "--pack-destination", dir, "--loglevel=error"], { cwd: pkg, stdio: "pipe" });
    const tgz = readdirSync(dir).find((f) => /^workkit-ai-gateway-.*\.tgz$/.test(f));
    assert.ok(tgz, "a tarball");
    const app = resolve(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(resolve(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", `../${tgz}`], { cwd: app, stdio: "pipe" });
    const installed = resolve(app, "node_modules/@workkit/ai-gateway/dist/wasm/ai_gateway.wasm");
    assert.ok(readFileSync(installed).equals(readFileSync(resolve(pkg, "dist/wasm/ai_gateway.wasm"))), "the installed wasm is the same bytes");
    writeFileSync(resolve(app, "quickstart.mjs"), `
import { createGateway, withRetry } from "@workkit/ai-gateway";
import { createModelAllowlist } from "@workkit/ai-gateway/allowlist";
const env = { ANTHROPIC_KEY: "sk-ant", OPENAI_KEY: "sk" };
const gateway = withRetry(createGateway({
  providers: {
    anthropic: { type: "anthropic", apiKey: env.ANTHROPIC_KEY, baseUrl: process.env.MOCK_URL },
    openai: { type: "openai", apiKey: env.OPENAI_KEY, baseUrl: process.env.MOCK_URL + "/v1" },
  },
  defaultProvider: "anthropic",
}));
const result = await gateway.run("claude-sonnet-4-6", { messages: [{ role: "user", content: "Hello" }] });
const events = [];
for await (const e of await gateway.stream("gpt-4o", { prompt: "Hello" })) events.push(e.type);
const allow = createModelAllowlist({ anthropic: ["claude-sonnet-4-6"] });
console.log(JSON.stringify({ text: result.text, provider: result.provider, usage: result.usage, last: events.at(-1), allowed: allow.isAllowed("anthropic", "claude-sonnet-4-6") }));
`);
    const bun = resolve(pkg, "node_modules/.bin/bun");
    for (const runtime of [process.execPath, bun]) {
      const out = JSON.parse(execFileSync(runtime, ["quickstart.mjs"], { cwd: app, env: { ...process.env, MOCK_URL: MOCK } }).toString());
      assert.equal(out.provider, "anthropic", runtime);
      assert.ok(out.text.length > 0 && out.usage.inputTokens > 0, runtime);
      assert.equal(out.last, "done", runtime);
      assert.equal(out.allowed, true, runtime);
    }

    // The same quickstart as a Worker, bundled from the fresh directory.
    writeFileSync(resolve(app, "worker.mjs"), `
import { createGateway, withRetry, withCache, platform } from "@workkit/ai-gateway";
import { createModelAllowlist } from "@workkit/ai-gateway/allowlist";
export default {
  async fetch(request, env) {
    const gateway = withRetry(withCache(createGateway({
      providers: {
        anthropic: { type: "anthropic", apiKey: "sk-ant", baseUrl: env.MOCK_URL },
        openai: { type: "openai", apiKey: "sk", baseUrl: env.MOCK_URL + "/v1" },
      },
      defaultProvider: "anthropic",
    }), { storage: env.CACHE_KV, ttl: 60 }));
    const result = await gateway.run("claude-sonnet-4-6", { messages: [{ role: "user", content: "Hello" }] });
    const events = [];
    const reader = (await gateway.stream("gpt-4o", { prompt: "Hello" })).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) events.push(r.value.type);
    const allowed = createModelAllowlist({ anthropic: ["claude-sonnet-4-6"] }).isAllowed("anthropic", "claude-sonnet-4-6");
    return Response.json({ platform, text: result.text, provider: result.provider, usage: result.usage, last: events.at(-1), allowed });
  },
};
`);
    const mf = await startWorker(resolve(app, "worker.mjs"), resolve(dir, "worker-out"), { MOCK_URL: MOCK });
    try {
      const w = await (await mf.dispatchFetch("http://worker/")).json();
      assert.equal(w.platform, "workerd");
      assert.equal(w.provider, "anthropic");
      assert.ok(w.text.length > 0 && w.usage.inputTokens > 0);
      assert.equal(w.last, "done");
      assert.equal(w.allowed, true);
    } finally {
      await mf.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

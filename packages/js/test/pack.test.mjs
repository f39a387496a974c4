// `npm pack` gives a tarball that a fresh directory installs (offline, from
// the npm cache `npm ci` filled) and that runs the README's quickstart
// against the mock upstream in Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MOCK = process.env.MOCK_URL;

test("npm pack -> npm install ./ai-gateway-*.tgz in a fresh directory -> the quickstart runs in Node", () => {
  assert.ok(MOCK, "MOCK_URL must point at the mock upstream");
  const dir = mkdtempSync(resolve(tmpdir(), "aigw-pack-"));
  try {
    execFileSync("npm", ["pack", "--pack-destination", dir, "--loglevel=error"], { cwd: pkg, stdio: "pipe" });
    const tgz = readdirSync(dir).find((f) => /^workkit-ai-gateway-.*\.tgz$/.test(f));
    assert.ok(tgz, "a tarball");
    const app = resolve(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(resolve(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--loglevel=error", `../${tgz}`], { cwd: app, stdio: "pipe" });
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
    const out = JSON.parse(execFileSync(process.execPath, ["quickstart.mjs"], { cwd: app, env: { ...process.env, MOCK_URL: MOCK } }).toString());
    assert.equal(out.provider, "anthropic");
    assert.ok(out.text.length > 0 && out.usage.inputTokens > 0);
    assert.equal(out.last, "done");
    assert.equal(out.allowed, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

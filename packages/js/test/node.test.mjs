// The suite in Node 20+ against host-test's mock upstream (MOCK_URL).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import * as lib from "@workkit/ai-gateway";
import * as allow from "@workkit/ai-gateway/allowlist";
import { cases, mockApi } from "./suite.mjs";

const MOCK = process.env.MOCK_URL;
assert.ok(MOCK, "MOCK_URL must point at the mock upstream");
const mock = mockApi(MOCK);

test("the package runs in Node", () => assert.equal(lib.platform, "node"));

test("node: outgoing HTTP is the platform's fetch", async () => {
  const gw = lib.createGateway({ providers: { openai: { type: "openai", apiKey: "k", baseUrl: `${MOCK}/v1` } }, defaultProvider: "openai" });
  await gw.run("gpt-4o", { prompt: `fetch ${Date.now()}` });
  const headers = Object.fromEntries((await mock.requests()).at(-1).headers);
  assert.equal(headers["user-agent"], "node", "undici's fetch, not node:http (which sends none)");
});

test("the package's wasm is byte-identical to the component every host runs", () => {
  const pkg = readFileSync(new URL("../dist/wasm/ai_gateway.wasm", import.meta.url));
  const sha = createHash("sha256").update(pkg).digest("hex");
  const sums = readFileSync(new URL("../dist/SHA256SUMS", import.meta.url), "utf8");
  assert.ok(sums.includes(`${sha}  wasm/ai_gateway.wasm`), "SHA256SUMS records it");
  if (process.env.EXPECTED_SHA256) assert.equal(sha, process.env.EXPECTED_SHA256);
  if (process.env.AI_GATEWAY_WASM) assert.ok(pkg.equals(readFileSync(process.env.AI_GATEWAY_WASM)), "same bytes");
  if (process.env.AI_GATEWAY_ALLOWLIST_WASM) {
    assert.ok(readFileSync(new URL("../dist/wasm/ai_gateway_allowlist.wasm", import.meta.url)).equals(readFileSync(process.env.AI_GATEWAY_ALLOWLIST_WASM)));
  }
});

for (const [name, f] of Object.entries(cases)) {
  test(`node: ${name}`, () => f({ lib, allow, MOCK, mock, store: () => lib.memoryStore() }));
}

test("node: fileStore keeps the cache across gateways", async () => {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const path = `${mkdtempSync(`${tmpdir()}/aigw-`)}/cache.json`;
  const make = () => lib.withCache(lib.createGateway({ providers: { openai: { type: "openai", apiKey: "k", baseUrl: `${MOCK}/v1` } }, defaultProvider: "openai" }), { storage: lib.fileStore(path) });
  const input = { prompt: `file store ${Date.now()}` };
  assert.equal((await make().run("gpt-4o", input)).cached, false);
  assert.equal((await make().run("gpt-4o", input)).cached, true);
});

test("node: an asynchronous store is refused when it is given", () => {
  const store = { get: async () => null, put: async () => {}, delete: async () => {} };
  const gw = lib.createGateway({ providers: { openai: { type: "openai", apiKey: "k", baseUrl: `${MOCK}/v1` } }, defaultProvider: "openai" });
  assert.throws(() => lib.withCache(gw, { storage: store }), (e) => e instanceof lib.GatewayError && e.kind === "validation" && /asynchronous/.test(e.message));
  assert.throws(() => lib.createCostTracker({ pricing: {}, storage: store }), /asynchronous/);
});

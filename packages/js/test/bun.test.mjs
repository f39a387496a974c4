// The suite in Bun (JavaScriptCore: no JSPI, so the synchronous build, as in
// Node) against host-test's mock upstream (MOCK_URL). Run by
// host-test/tests/js.rs with the Bun that package.json pins (npm's `bun`).
import { test, expect } from "bun:test";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import * as lib from "@workkit/ai-gateway";
import * as allow from "@workkit/ai-gateway/allowlist";
import { cases, mockApi } from "./suite.mjs";

const MOCK = process.env.MOCK_URL;
if (!MOCK) throw new Error("MOCK_URL must point at the mock upstream");
const mock = mockApi(MOCK);

test("the package runs in Bun", () => {
  expect(typeof Bun).toBe("object");
  expect(lib.platform).toBe("bun");
});

test("bun: outgoing HTTP is Bun's fetch", async () => {
  const gw = lib.createGateway({ providers: { openai: { type: "openai", apiKey: "k", baseUrl: `${MOCK}/v1` } }, defaultProvider: "openai" });
  await gw.run("gpt-4o", { prompt: `fetch ${Date.now()}` });
  const headers = Object.fromEntries((await mock.requests()).at(-1).headers);
  expect(headers["user-agent"]).toStartWith("Bun/");
});

test("the package's wasm is byte-identical to the component every host runs", () => {
  const pkg = readFileSync(new URL("../dist/wasm/ai_gateway.wasm", import.meta.url));
  const sha = createHash("sha256").update(pkg).digest("hex");
  if (process.env.EXPECTED_SHA256) expect(sha).toBe(process.env.EXPECTED_SHA256);
});

for (const [name, f] of Object.entries(cases)) {
  test(`bun: ${name}`, () => f({ lib, allow, MOCK, mock, store: () => lib.memoryStore() }), 30_000);
}

test("bun: fileStore keeps the cache across gateways", async () => {
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const path = `${mkdtempSync(`${tmpdir()}/aigw-`)}/cache.json`;
  const make = () => lib.withCache(lib.createGateway({ providers: { openai: { type: "openai", apiKey: "k", baseUrl: `${MOCK}/v1` } }, defaultProvider: "openai" }), { storage: lib.fileStore(path) });
  const input = { prompt: `bun file store ${Date.now()}` };
  expect((await make().run("gpt-4o", input)).cached).toBe(false);
  expect((await make().run("gpt-4o", input)).cached).toBe(true);
});

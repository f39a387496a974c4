// The same suite inside workerd (miniflare), the package bundled the way
// wrangler bundles a Worker, the response cache in Workers KV.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { redirectTo, startWorker } from "./workerd-harness.mjs";
import { cases, counterCases, redirectCases } from "./suite.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const MOCK = process.env.MOCK_URL;
assert.ok(MOCK, "MOCK_URL must point at the mock upstream");

let mf;
let redirected;
before(async () => {
  // The Durable Object class is exported by the entry (from @workkit/ai-gateway/counters).
  const counters = { durableObjects: { AI_COUNTERS: { className: "GatewayCounters", useSQLite: true } } };
  mf = await startWorker(resolve(here, "workerd-entry.mjs"), resolve(here, "../.work/suite"), { MOCK_URL: MOCK }, counters);
  redirected = await startWorker(resolve(here, "workerd-entry.mjs"), resolve(here, "../.work/suite-redirect"), { MOCK_URL: MOCK }, { ...counters, outboundService: redirectTo(MOCK) });
});
after(async () => {
  await mf?.dispose();
  await redirected?.dispose();
});

const run = async (name, on = mf) => (await on.dispatchFetch(`http://worker/?case=${encodeURIComponent(name)}`)).json();

test("the package runs in workerd", async () => assert.equal((await run("__platform")).platform, "workerd"));

for (const name of [...Object.keys(cases), ...Object.keys(counterCases)]) {
  test(`workerd: ${name}`, async () => {
    const r = await run(name);
    assert.ok(r.ok, r.error);
  });
}

for (const name of Object.keys(redirectCases)) {
  test(`workerd: ${name}`, async () => {
    const r = await run(name, redirected);
    assert.ok(r.ok, r.error);
  });
}

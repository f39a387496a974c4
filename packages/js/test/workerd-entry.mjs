// A Worker that runs one case of suite.mjs per request (?case=NAME), with the
// package as a Worker imports it (export conditions "workerd", "worker").
import * as lib from "@workkit/ai-gateway";
import * as allow from "@workkit/ai-gateway/allowlist";
import { counterStore } from "@workkit/ai-gateway/counters";
import { cases, counterCases, redirectCases, mockApi } from "./suite.mjs";

export { GatewayCounters } from "@workkit/ai-gateway/counters";

export default {
  async fetch(request, env) {
    const name = new URL(request.url).searchParams.get("case");
    if (name === "__platform") return Response.json({ platform: lib.platform });
    const f = cases[name] ?? redirectCases[name] ?? counterCases[name];
    if (!f) return Response.json({ ok: false, error: `no case ${name}` });
    try {
      await f({ lib, allow, MOCK: env.MOCK_URL, mock: mockApi(env.MOCK_URL), store: () => env.CACHE_KV, counters: (name) => counterStore(env.AI_COUNTERS, name) });
      return Response.json({ ok: true });
    } catch (e) {
      return Response.json({ ok: false, error: String(e?.stack ?? e) });
    }
  },
};

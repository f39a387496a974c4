import { instantiate } from "../dist/allowlist/ai_gateway_allowlist.js";
import c1 from "../dist/allowlist/ai_gateway_allowlist.core.wasm";
import c2 from "../dist/allowlist/ai_gateway_allowlist.core2.wasm";
import c3 from "../dist/allowlist/ai_gateway_allowlist.core3.wasm";

const cores = { "ai_gateway_allowlist.core.wasm": c1, "ai_gateway_allowlist.core2.wasm": c2, "ai_gateway_allowlist.core3.wasm": c3 };
export const loadAllowlist = () => instantiate((name) => cores[name], {});

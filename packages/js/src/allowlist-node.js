import { readFileSync } from "node:fs";
import { instantiate } from "../dist/allowlist/ai_gateway_allowlist.js";

const dir = new URL("../dist/allowlist/", import.meta.url);
export const loadAllowlist = () => instantiate((name) => new WebAssembly.Module(readFileSync(new URL(name, dir))), {});

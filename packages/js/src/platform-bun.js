// Bun: JavaScriptCore has no JSPI, so Bun runs what Node runs (the
// synchronous jco build, preview2-shim's Node wasi:http in a worker thread);
// only the platform's name differs.
export * from "./platform-node.js";
export const platform = "bun";

// @workkit/ai-gateway/allowlist: the 20 KB allowlist component (no imports),
// instantiated synchronously on first use. Nothing of the gateway is loaded.
import { allowlistToWit } from "./convert.js";
import { loadAllowlist } from "#allowlist-core";

let component;
const api = () => (component ??= loadAllowlist()).modelAllowlist;

/**
 * `createModelAllowlist({provider: ["exact", {prefix: "family-"}]})`: exact
 * strings match by equality, `{prefix}` by startsWith (an empty prefix
 * matches nothing); unknown providers and empty lists allow nothing.
 */
export function createModelAllowlist(config) {
  const list = api().createModelAllowlist(allowlistToWit(config));
  return { isAllowed: (provider, model) => list.isAllowed(provider, model) };
}

/** One-off check. */
export function isAllowedModel(config, provider, model) {
  return api().isAllowedModel(allowlistToWit(config), provider, model);
}

import type { ModelMatcher } from "../dist/wit/interfaces/workkit-ai-gateway-model-allowlist.js";

/** The WIT's matcher, as the library writes it: a string is `exact`, `{prefix}` is `prefix`. */
export type Matcher = string | { prefix: string };
export type WitMatcher = ModelMatcher;
export type AllowlistConfig = Record<string, Matcher[]>;

export interface ModelAllowlist {
  isAllowed(provider: string, model: string): boolean;
}
export declare function createModelAllowlist(config: AllowlistConfig): ModelAllowlist;
export declare function isAllowedModel(config: AllowlistConfig, provider: string, model: string): boolean;

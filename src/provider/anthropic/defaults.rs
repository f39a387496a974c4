//! Anthropic's defaults: where its API is, its API version, its path, how
//! it takes a key, and its name in Cloudflare AI Gateway. (A leaf; see
//! `provider/defaults.rs`.)

use crate::provider::defaults::{CfGatewayRoute, KeyAuth, ProviderDefaults};

pub const BASE_URL: &str = "https://api.anthropic.com";

/// Sent as `anthropic-version` unless the configuration sets
/// `api-version`.
pub const API_VERSION: &str = "2023-06-01";

/// The header that carries the API version.
pub const VERSION_HEADER: &str = "anthropic-version";

/// Anthropic requires `max_tokens`; this is sent when the caller gives none.
pub const MAX_TOKENS: u32 = 4096;

/// The Messages API, under the base URL.
pub const CHAT_PATH: &str = "v1/messages";

/// Token counting, under the base URL.
pub const COUNT_PATH: &str = "v1/messages/count_tokens";

/// The key as it is, in `x-api-key` (no `Bearer`).
pub const AUTH: KeyAuth = KeyAuth::Header("x-api-key");

/// What the `anthropic` kind fills in.
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "anthropic",
    base_url: BASE_URL,
    cf_gateway: Some(CfGatewayRoute {
        slug: "anthropic",
        prefix: "",
        chat_path: Some(CHAT_PATH),
    }),
    needs: &[],
    default_region: None,
};

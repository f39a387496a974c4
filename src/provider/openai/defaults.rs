//! OpenAI's defaults: where its API is, its paths, how it takes a key, and
//! its name in Cloudflare AI Gateway. (A leaf; see `provider/defaults.rs`.)

use crate::provider::defaults::{CfGatewayRoute, KeyAuth, ProviderDefaults};

/// OpenAI's own API. A server that speaks its format is a `custom`
/// provider with its own base URL.
pub const BASE_URL: &str = "https://api.openai.com/v1";

/// Chat Completions, under the base URL.
pub const CHAT_PATH: &str = "chat/completions";

/// Embeddings, under the base URL.
pub const EMBED_PATH: &str = "embeddings";

/// A bearer token, for OpenAI and every compatible server.
pub const AUTH: KeyAuth = KeyAuth::Bearer;

/// What the `openai` kind fills in.
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "openai",
    base_url: BASE_URL,
    cf_gateway: Some(CfGatewayRoute {
        slug: "openai",
        prefix: "",
        chat_path: Some(CHAT_PATH),
    }),
    needs: &[],
    default_region: None,
};

//! The Gemini API's defaults: where it is, its paths, how it takes a key,
//! and its name in Cloudflare AI Gateway. (A leaf; see
//! `provider/defaults.rs`.)

use crate::provider::defaults::{CfGatewayRoute, KeyAuth, ProviderDefaults};

/// The Gemini API (Google AI Studio keys), version `v1beta`: the version
/// with system instructions, tool config, JSON schema output and thinking.
pub const BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";

/// `models/{model}:generateContent`, under the base URL.
pub const GENERATE: &str = "generateContent";

/// `models/{model}:streamGenerateContent?alt=sse`: the stream as SSE (the
/// default is one JSON array, sent when it is complete).
pub const STREAM: &str = "streamGenerateContent?alt=sse";

/// `models/{model}:batchEmbedContents`.
pub const EMBED: &str = "batchEmbedContents";

/// `x-goog-api-key`: the key stays out of the URL (and out of logs that
/// record URLs).
pub const AUTH: KeyAuth = KeyAuth::Header("x-goog-api-key");

/// What the `gemini` kind fills in.
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "gemini",
    base_url: BASE_URL,
    cf_gateway: Some(CfGatewayRoute {
        slug: "google-ai-studio",
        prefix: "v1beta",
        chat_path: None,
    }),
    needs: &[],
    default_region: None,
};

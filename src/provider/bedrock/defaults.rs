//! Amazon Bedrock Runtime's defaults: where it is, its paths, how it is
//! signed. (A leaf; see `provider/defaults.rs`.)

use crate::provider::defaults::{KeyAuth, Needed, ProviderDefaults};

/// The regional Bedrock Runtime endpoint.
pub const BASE_URL: &str = "https://bedrock-runtime.{region}.amazonaws.com";

/// `model/{modelId}/converse` and `model/{modelId}/converse-stream`.
pub const CONVERSE: &str = "converse";
pub const CONVERSE_STREAM: &str = "converse-stream";

/// The SigV4 service name.
pub const SERVICE: &str = "bedrock";

/// Without AWS credentials, `api-key` is a Bedrock API key, sent as a
/// bearer token.
pub const AUTH: KeyAuth = KeyAuth::Bearer;

/// What the `bedrock` kind fills in. Not routed through Cloudflare AI
/// Gateway: its route needs the request signed for Amazon's host while it
/// is sent to Cloudflare's, which this version does not do.
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "bedrock",
    base_url: BASE_URL,
    cf_gateway: None,
    needs: &[Needed::Region],
    default_region: None,
};

//! Amazon Bedrock Runtime's defaults: where it is, its paths, how it is
//! signed. (A leaf; see `provider/defaults.rs`.)

use crate::provider::defaults::{CfGatewayRoute, KeyAuth, Needed, ProviderDefaults};

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

/// What the `bedrock` kind fills in. Through Cloudflare AI Gateway a
/// request goes to `.../aws-bedrock/bedrock-runtime/{region}/model/...`,
/// signed for Amazon's own URL (`bedrock::signed`).
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "bedrock",
    base_url: BASE_URL,
    cf_gateway: Some(CfGatewayRoute {
        slug: "aws-bedrock",
        prefix: "bedrock-runtime/{region}",
        chat_path: None,
    }),
    needs: &[Needed::Region],
    default_region: None,
};

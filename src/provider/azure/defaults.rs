//! Azure OpenAI's defaults: where a resource's API is, its paths, how it
//! takes a key. (A leaf; see `provider/defaults.rs`.)

use crate::provider::defaults::{CfGatewayRoute, KeyAuth, Needed, ProviderDefaults};

/// A resource's OpenAI API; the paths below are appended to it.
pub const BASE_URL: &str = "https://{resource}.openai.azure.com/openai";

/// The v1 API (no `api-version`; the model is the deployment name):
/// `v1/chat/completions`, `v1/embeddings`.
pub const V1_PREFIX: &str = "v1";

/// The deployment API (with a dated `api-version`):
/// `deployments/{deployment}/chat/completions?api-version=...`.
pub const DEPLOYMENTS: &str = "deployments";

/// The key in `api-key`; a Microsoft Entra token goes as a bearer token
/// (`key-auth: bearer`).
pub const AUTH: KeyAuth = KeyAuth::Header("api-key");

/// The `api-version` sent through Cloudflare AI Gateway when the
/// configuration gives none: its Azure route takes only the deployment API,
/// which needs one (the latest GA version).
pub const CF_API_VERSION: &str = "2024-10-21";

/// What the `azure-openai` kind fills in. Through Cloudflare AI Gateway a
/// request goes to `.../azure-openai/{resource}/{deployment}/chat/completions
/// ?api-version=...`.
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "azure-openai",
    base_url: BASE_URL,
    cf_gateway: Some(CfGatewayRoute {
        slug: "azure-openai",
        prefix: "{resource}",
        chat_path: None,
    }),
    needs: &[Needed::ResourceName],
    default_region: None,
};

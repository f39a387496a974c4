//! Azure OpenAI's defaults: where a resource's API is, its paths, how it
//! takes a key. (A leaf; see `provider/defaults.rs`.)

use crate::provider::defaults::{KeyAuth, Needed, ProviderDefaults};

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

/// What the `azure-openai` kind fills in. Not routed through Cloudflare AI
/// Gateway (its Azure route takes only the deployment API, with the
/// resource and deployment in the path; a later version can add it).
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "azure-openai",
    base_url: BASE_URL,
    cf_gateway: None,
    needs: &[Needed::ResourceName],
    default_region: None,
};

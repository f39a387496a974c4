//! Vertex AI's defaults, for its two kinds: `vertex` (Gemini models, the
//! Gemini wire format) and `vertex-anthropic` (Claude models, Anthropic's
//! Messages format through `rawPredict`). Both take an OAuth access token
//! as a bearer token and name the project and region in the URL. (A leaf;
//! see `provider/defaults.rs`.)

use crate::provider::defaults::{CfGatewayRoute, KeyAuth, Needed, ProviderDefaults};

/// Google's models; the Gemini wire code appends `models/{model}:{method}`.
pub const GOOGLE_BASE_URL: &str = "https://{region-host}aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/publishers/google";

/// Anthropic's models; `models/{model}:rawPredict` is appended.
pub const ANTHROPIC_BASE_URL: &str = "https://{region-host}aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/publishers/anthropic";

/// The global endpoint: the widest choice of models, no region in the host.
pub const DEFAULT_REGION: &str = "global";

/// The Messages API on Vertex: `rawPredict` (one answer) and
/// `streamRawPredict` (SSE, Anthropic's own events).
pub const RAW_PREDICT: &str = "rawPredict";
pub const STREAM_RAW_PREDICT: &str = "streamRawPredict";

/// Sent in the body (not as a header), instead of `model`, which is in the
/// URL.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// `models/{model}:predict`: text embeddings (`instances`/`predictions`).
pub const PREDICT: &str = "predict";

/// An OAuth 2 access token (`gcloud auth print-access-token`, a service
/// account's token), as a bearer token.
pub const AUTH: KeyAuth = KeyAuth::Bearer;

/// What the `vertex` kind fills in.
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "vertex",
    base_url: GOOGLE_BASE_URL,
    cf_gateway: Some(CfGatewayRoute {
        slug: "google-vertex-ai",
        prefix: "v1/projects/{project}/locations/{region}/publishers/google",
        chat_path: None,
    }),
    needs: &[Needed::Project],
    default_region: Some(DEFAULT_REGION),
};

/// What the `vertex-anthropic` kind fills in. Not routed through
/// Cloudflare AI Gateway (its Vertex route is documented for Google's
/// models).
pub const ANTHROPIC_DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "vertex-anthropic",
    base_url: ANTHROPIC_BASE_URL,
    cf_gateway: None,
    needs: &[Needed::Project],
    default_region: Some(DEFAULT_REGION),
};

//! Workers AI's defaults: where its REST API is and how it takes a key.
//! Its run path (`accounts/{account}/ai/run/{model}`) names the account and
//! the model, so it is built per call in `workers_ai/mod.rs`. The gateway
//! does not route Workers AI through Cloudflare AI Gateway. (A leaf; see
//! `provider/defaults.rs`.)

use crate::provider::defaults::{KeyAuth, Needed, ProviderDefaults};

pub const BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// A Cloudflare API token, as a bearer token.
pub const AUTH: KeyAuth = KeyAuth::Bearer;

/// What the `workers-ai` kind fills in.
pub const DEFAULTS: ProviderDefaults = ProviderDefaults {
    kind: "workers-ai",
    base_url: BASE_URL,
    cf_gateway: None,
    needs: &[Needed::AccountId],
    default_region: None,
};

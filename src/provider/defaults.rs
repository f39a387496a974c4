//! The shape of a built-in provider's defaults: what `config::Endpoint::
//! resolve` fills in when a provider's configuration leaves it out, and how
//! a provider takes its API key. Each provider owns its values, in its
//! `defaults.rs` (`openai/defaults.rs`, ...).
//!
//! A leaf (it names only `secrets`): `config.rs` reads the defaults, and
//! everything else in `provider/` reads `config.rs`.

use crate::secrets::ApiKey;

/// What a built-in provider kind (not `custom`) fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderDefaults {
    /// The kind's configuration name, for messages (`"workers-ai"`).
    pub kind: &'static str,
    /// The API's base URL when the configuration gives none.
    pub base_url: &'static str,
    /// How Cloudflare AI Gateway reaches the provider; `None` when it does
    /// not (then `cf-gateway` leaves the provider's URL alone).
    pub cf_gateway: Option<CfGatewayRoute>,
    /// The configuration must give an `account-id` (it is in the URL).
    pub needs_account_id: bool,
}

/// A provider's place in Cloudflare AI Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CfGatewayRoute {
    /// The provider's segment of gateway URLs
    /// (`https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/{slug}`)
    /// and its name in Universal Endpoint steps.
    pub slug: &'static str,
    /// The chat endpoint under that URL, as a Universal Endpoint step names
    /// it.
    pub chat_path: &'static str,
}

/// How a provider takes its API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAuth {
    /// `authorization: Bearer {key}`.
    Bearer,
    /// The key as it is, in the named header.
    Header(&'static str),
}

impl KeyAuth {
    /// The header carrying `key`, or none without a key.
    pub fn headers(self, key: Option<&ApiKey>) -> Vec<(String, String)> {
        let Some(key) = key else {
            return Vec::new();
        };
        vec![match self {
            Self::Bearer => (
                "authorization".to_owned(),
                format!("Bearer {}", key.expose()),
            ),
            Self::Header(name) => (name.to_owned(), key.expose().to_owned()),
        }]
    }
}

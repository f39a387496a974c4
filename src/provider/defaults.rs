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
    /// The API's base URL when the configuration gives none. It may name
    /// the configuration's values: `{region}`, `{project}`, `{resource}`,
    /// and `{region-host}` (`{region}-`, or nothing for region `global`:
    /// Vertex AI's global endpoint has no region in its host).
    pub base_url: &'static str,
    /// How Cloudflare AI Gateway reaches the provider; `None` when it does
    /// not (then `cf-gateway` leaves the provider's URL alone).
    pub cf_gateway: Option<CfGatewayRoute>,
    /// The configuration values the kind cannot do without.
    pub needs: &'static [Needed],
    /// The region when the configuration gives none.
    pub default_region: Option<&'static str>,
}

/// A configuration value a kind needs (it is in the provider's URL, or it
/// signs the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// `account-id` (Workers AI).
    AccountId,
    /// `region` (Bedrock).
    Region,
    /// `project` (Vertex AI).
    Project,
    /// `resource-name` (Azure OpenAI), unless a base URL is given.
    ResourceName,
}

impl Needed {
    /// The configuration field's name.
    pub fn field(self) -> &'static str {
        match self {
            Self::AccountId => "account-id",
            Self::Region => "region",
            Self::Project => "project",
            Self::ResourceName => "resource-name",
        }
    }
}

/// A provider's place in Cloudflare AI Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CfGatewayRoute {
    /// The provider's segment of gateway URLs
    /// (`https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/{slug}`)
    /// and its name in Universal Endpoint steps.
    pub slug: &'static str,
    /// What comes between the slug and the provider's own paths (`v1` for
    /// Mistral; a template like `base_url` for Vertex AI); often empty.
    pub prefix: &'static str,
    /// The chat endpoint under the slug, as a Universal Endpoint step names
    /// it; `None` when it depends on the model (Gemini's
    /// `models/{model}:generateContent`), so the kind cannot be a step.
    pub chat_path: Option<&'static str>,
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

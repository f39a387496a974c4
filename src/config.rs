//! Gateway configuration (WIT `gateway-config`) and its resolution into
//! per-provider endpoints, done once when a gateway is opened. What a
//! built-in provider fills in (base URL, Cloudflare AI Gateway slug, ...) is
//! the provider's own, in `provider/<name>/defaults.rs`; this file only
//! applies it ([`ProviderKind::defaults`]).

pub use crate::secrets::ApiKey;
pub use model_allowlist::{ModelMatcher, ProviderModels};

use crate::error::{GatewayError, Result};
use crate::http::{Headers, join_url};
pub use crate::provider::presets::Preset;
pub use crate::secrets::AwsCredentials;

use crate::provider::anthropic::defaults as anthropic;
use crate::provider::azure::defaults as azure;
use crate::provider::bedrock::defaults as bedrock;
use crate::provider::defaults::{KeyAuth, Needed, ProviderDefaults};
use crate::provider::gemini::defaults as gemini;
use crate::provider::openai::defaults as openai;
use crate::provider::vertex::defaults as vertex;
use crate::provider::workers_ai::defaults as workers_ai;
use crate::types::{FallbackChain, LogLevel, RetryPolicy};
use crate::validate::{check_header, check_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    WorkersAi,
    Custom,
    Gemini,
    Vertex,
    VertexAnthropic,
    Bedrock,
    AzureOpenAi,
    /// An OpenAI-compatible server the gateway knows
    /// (`provider/presets.rs`).
    Preset(Preset),
}

impl ProviderKind {
    /// The wire format the kind speaks; a `custom` provider's is
    /// configured, else OpenAI's.
    pub fn wire_format(self, configured: Option<WireFormat>) -> WireFormat {
        match self {
            Self::OpenAi | Self::AzureOpenAi | Self::Preset(_) => WireFormat::OpenAi,
            Self::Anthropic | Self::VertexAnthropic => WireFormat::Anthropic,
            Self::WorkersAi => WireFormat::WorkersAi,
            Self::Gemini | Self::Vertex => WireFormat::Gemini,
            Self::Bedrock => WireFormat::Bedrock,
            Self::Custom => configured.unwrap_or(WireFormat::OpenAi),
        }
    }

    /// The built-in provider's defaults, from its provider module; `None`
    /// for `custom`, which has none.
    pub fn defaults(self) -> Option<&'static ProviderDefaults> {
        match self {
            Self::OpenAi => Some(&openai::DEFAULTS),
            Self::Anthropic => Some(&anthropic::DEFAULTS),
            Self::WorkersAi => Some(&workers_ai::DEFAULTS),
            Self::Gemini => Some(&gemini::DEFAULTS),
            Self::Vertex => Some(&vertex::DEFAULTS),
            Self::VertexAnthropic => Some(&vertex::ANTHROPIC_DEFAULTS),
            Self::Bedrock => Some(&bedrock::DEFAULTS),
            Self::AzureOpenAi => Some(&azure::DEFAULTS),
            Self::Preset(p) => Some(p.defaults()),
            Self::Custom => None,
        }
    }

    /// The kind's configuration name, for messages.
    pub fn name(self) -> &'static str {
        self.defaults().map_or("custom", |d| d.kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    OpenAi,
    Anthropic,
    WorkersAi,
    Gemini,
    Bedrock,
}

/// How a provider takes its API key (WIT `key-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAuthMode {
    /// The kind's own header.
    #[default]
    ProviderDefault,
    /// `authorization: Bearer`.
    Bearer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    pub api_key: Option<ApiKey>,
    pub base_url: Option<String>,
    pub account_id: Option<String>,
    pub wire_format: Option<WireFormat>,
    pub api_version: Option<String>,
    pub headers: Headers,
    pub region: Option<String>,
    pub project: Option<String>,
    pub resource_name: Option<String>,
    pub aws: Option<AwsCredentials>,
    pub key_auth: KeyAuthMode,
}

impl ProviderConfig {
    /// A provider of `kind` named `name` with every option at its default.
    pub fn new(name: impl Into<String>, kind: ProviderKind) -> Self {
        Self {
            name: name.into(),
            kind,
            api_key: None,
            base_url: None,
            account_id: None,
            wire_format: None,
            api_version: None,
            headers: Headers::new(),
            region: None,
            project: None,
            resource_name: None,
            aws: None,
            key_auth: KeyAuthMode::ProviderDefault,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfGatewayConfig {
    pub account_id: String,
    pub gateway_id: String,
    pub auth_token: Option<ApiKey>,
    pub cache_ttl: Option<u32>,
    pub skip_cache: bool,
}

/// Cloudflare AI Gateway's public base.
pub const CF_GATEWAY_BASE: &str = "https://gateway.ai.cloudflare.com/v1";

impl CfGatewayConfig {
    /// `https://gateway.ai.cloudflare.com/v1/{account}/{gateway}`: the
    /// Universal Endpoint, and the prefix of every per-provider URL.
    pub fn universal_url(&self) -> String {
        format!("{CF_GATEWAY_BASE}/{}/{}", self.account_id, self.gateway_id)
    }

    /// The `cf-aig-*` headers this config adds to every routed request.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h = Vec::new();
        if let Some(t) = &self.auth_token {
            h.push((
                "cf-aig-authorization".into(),
                format!("Bearer {}", t.expose()),
            ));
        }
        if let Some(ttl) = self.cache_ttl {
            h.push(("cf-aig-cache-ttl".into(), ttl.to_string()));
        }
        if self.skip_cache {
            h.push(("cf-aig-skip-cache".into(), "true".into()));
        }
        h
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub pattern: String,
    pub provider: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouterConfig {
    pub routes: Vec<Route>,
    pub fallback: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    pub bucket: String,
    pub ttl_seconds: u32,
    pub namespace: Option<String>,
    pub streams: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPricing {
    pub model: String,
    pub input: u64,
    pub output: u64,
    pub cache_read: Option<u64>,
    pub cache_write: Option<u64>,
    pub reasoning: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CostConfig {
    pub pricing: Vec<ModelPricing>,
    pub budget_micro_usd: Option<u64>,
    pub bucket: Option<String>,
    pub key_prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitScope {
    Global,
    Provider,
    Model,
    Caller,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub name: String,
    pub scope: RateLimitScope,
    pub window_seconds: u32,
    pub max_requests: Option<u64>,
    pub max_tokens: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    pub bucket: String,
    pub limits: Vec<RateLimit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    pub level: LogLevel,
    pub stderr: bool,
    pub include_prompts: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedChain {
    pub name: String,
    pub chain: FallbackChain,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GatewayConfig {
    pub providers: Vec<ProviderConfig>,
    pub default_provider: Option<String>,
    pub cf_gateway: Option<CfGatewayConfig>,
    pub router: Option<RouterConfig>,
    pub retry: Option<RetryPolicy>,
    pub chains: Vec<NamedChain>,
    pub cache: Option<CacheConfig>,
    pub cost: Option<CostConfig>,
    pub rate_limits: Option<RateLimitConfig>,
    pub allowlist: Option<Vec<ProviderModels>>,
    pub logging: Option<LoggingConfig>,
    pub timeout_ms: Option<u64>,
    pub attempt_timeouts: AttemptTimeouts,
}

/// Per-attempt timeouts passed to the host's HTTP client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptTimeouts {
    pub connect_ms: Option<u64>,
    pub first_byte_ms: Option<u64>,
    pub between_bytes_ms: Option<u64>,
}

/// A provider resolved for sending: final base URL (after `cf-gateway`),
/// wire format and every header except the per-call ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub kind: ProviderKind,
    pub wire: WireFormat,
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub account_id: Option<String>,
    /// The configured API version; the provider that uses one (Anthropic)
    /// applies its own default.
    pub api_version: Option<String>,
    /// Provider headers plus `cf-aig-*` when routed through AI Gateway.
    pub headers: Headers,
    /// True when `base_url` points at Cloudflare AI Gateway.
    pub via_cf_gateway: bool,
    /// The region, configured or the kind's default (Bedrock signs with
    /// it).
    pub region: Option<String>,
    /// AWS credentials (Bedrock).
    pub aws: Option<AwsCredentials>,
    /// How the key is sent.
    pub key_auth: KeyAuthMode,
}

impl Endpoint {
    /// Resolve `p` against the optional AI Gateway config.
    pub fn resolve(p: &ProviderConfig, cf: Option<&CfGatewayConfig>) -> Result<Self> {
        let wire = p.kind.wire_format(p.wire_format);
        let defaults = p.kind.defaults();
        let cf_route = defaults.and_then(|d| d.cf_gateway);
        let mut headers = Headers::new();
        for (k, v) in &p.headers {
            check_header(k, v)?;
            headers.push((k.to_ascii_lowercase(), v.clone()));
        }
        let place = Place::of(p, defaults)?;
        let (base_url, via_cf_gateway) = match (&p.base_url, cf, cf_route) {
            (Some(url), _, _) => (url.clone(), false),
            (None, Some(cf), Some(route)) => {
                headers.extend(cf.headers());
                let slug = join_url(&cf.universal_url(), route.slug);
                let url = match route.prefix {
                    "" => slug,
                    prefix => join_url(&slug, &place.fill(prefix)),
                };
                (url, true)
            }
            (None, _, _) => match defaults {
                Some(d) => (place.fill(d.base_url), false),
                None => {
                    return Err(GatewayError::validation(format!(
                        "provider {:?} is custom and needs a base-url",
                        p.name
                    )));
                }
            },
        };
        let scheme_ok = base_url.starts_with("https://")
            || base_url.starts_with("http://")
            || (p.kind == ProviderKind::Custom && base_url.starts_with("component://"));
        if !scheme_ok {
            return Err(GatewayError::validation(format!(
                "provider {:?}: base-url must start with http:// or https:// (or component:// for a custom provider)",
                p.name
            )));
        }
        if wire == WireFormat::Bedrock && p.aws.is_some() && place.region.is_none() {
            return Err(GatewayError::validation(format!(
                "provider {:?} signs with AWS credentials and needs a region",
                p.name
            )));
        }
        Ok(Self {
            name: p.name.clone(),
            kind: p.kind,
            wire,
            base_url,
            api_key: p.api_key.clone(),
            account_id: p.account_id.clone(),
            api_version: p.api_version.clone(),
            headers,
            via_cf_gateway,
            region: place.region,
            aws: p.aws.clone(),
            key_auth: p.key_auth,
        })
    }

    /// The header carrying the key: the provider's own way (`default`), or
    /// a bearer token when the configuration says so.
    pub fn auth_headers(&self, default: KeyAuth) -> Vec<(String, String)> {
        let auth = match self.key_auth {
            KeyAuthMode::ProviderDefault => default,
            KeyAuthMode::Bearer => KeyAuth::Bearer,
        };
        auth.headers(self.api_key.as_ref())
    }
}

/// The configuration values a provider's URL is made of, checked: each is
/// one URL segment of `A-Z a-z 0-9 - _` (so none can change the host or
/// the path), and those the kind needs are there.
#[derive(Debug)]
struct Place {
    region: Option<String>,
    project: Option<String>,
    resource: Option<String>,
}

impl Place {
    fn of(p: &ProviderConfig, defaults: Option<&ProviderDefaults>) -> Result<Self> {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        let place = Self {
            region: given(&p.region)
                .or_else(|| defaults.and_then(|d| d.default_region).map(str::to_owned)),
            project: given(&p.project),
            resource: given(&p.resource_name),
        };
        let values = [
            (Needed::AccountId, given(&p.account_id)),
            (Needed::Region, place.region.clone()),
            (Needed::Project, place.project.clone()),
            (Needed::ResourceName, place.resource.clone()),
        ];
        for (what, v) in &values {
            if let Some(v) = v {
                check_id(&format!("provider {:?} {}", p.name, what.field()), v)?;
            }
        }
        for need in defaults.map_or(&[][..], |d| d.needs) {
            let missing = values.iter().any(|(w, v)| w == need && v.is_none());
            // A base URL of its own replaces the Azure resource's.
            let excused = *need == Needed::ResourceName && p.base_url.is_some();
            if missing && !excused {
                return Err(GatewayError::validation(format!(
                    "provider {:?} is {} and needs {} {}",
                    p.name,
                    p.kind.name(),
                    if *need == Needed::AccountId {
                        "an"
                    } else {
                        "a"
                    },
                    need.field()
                )));
            }
        }
        Ok(place)
    }

    /// `template` with the configuration's values in place.
    fn fill(&self, template: &str) -> String {
        let region = self.region.as_deref().unwrap_or_default();
        let region_host = match region {
            "global" | "" => String::new(),
            r => format!("{r}-"),
        };
        template
            .replace("{region-host}", &region_host)
            .replace("{region}", region)
            .replace("{project}", self.project.as_deref().unwrap_or_default())
            .replace("{resource}", self.resource.as_deref().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests;

//! Gateway configuration (WIT `gateway-config`) and its resolution into
//! per-provider endpoints, done once when a gateway is opened. What a
//! built-in provider fills in (base URL, Cloudflare AI Gateway slug, ...) is
//! the provider's own, in `provider/<name>/defaults.rs`; this file only
//! applies it ([`ProviderKind::defaults`]).

pub use crate::secrets::ApiKey;
pub use model_allowlist::{ModelMatcher, ProviderModels};

use crate::error::{GatewayError, Result};
use crate::http::{Headers, join_url};
use crate::provider::anthropic::defaults as anthropic;
use crate::provider::defaults::ProviderDefaults;
use crate::provider::openai::defaults as openai;
use crate::provider::workers_ai::defaults as workers_ai;
use crate::types::{FallbackChain, LogLevel, RetryPolicy};
use crate::validate::{check_header, check_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Anthropic,
    WorkersAi,
    Custom,
}

impl ProviderKind {
    /// The wire format the kind speaks; a `custom` provider's is
    /// configured, else OpenAI's.
    pub fn wire_format(self, configured: Option<WireFormat>) -> WireFormat {
        match self {
            Self::OpenAi => WireFormat::OpenAi,
            Self::Anthropic => WireFormat::Anthropic,
            Self::WorkersAi => WireFormat::WorkersAi,
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
            Self::Custom => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    OpenAi,
    Anthropic,
    WorkersAi,
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
        let (base_url, via_cf_gateway) = match (&p.base_url, cf, cf_route) {
            (Some(url), _, _) => (url.clone(), false),
            (None, Some(cf), Some(route)) => {
                headers.extend(cf.headers());
                (join_url(&cf.universal_url(), route.slug), true)
            }
            (None, _, _) => match defaults {
                Some(d) => (d.base_url.to_owned(), false),
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

        if let Some(d) = defaults.filter(|d| d.needs_account_id)
            && p.account_id.as_deref().is_none_or(str::is_empty)
        {
            return Err(GatewayError::validation(format!(
                "provider {:?} is {} and needs an account-id",
                p.name, d.kind
            )));
        }
        if let Some(acc) = p.account_id.as_deref().filter(|a| !a.is_empty()) {
            check_id(&format!("provider {:?} account-id", p.name), acc)?;
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cf() -> CfGatewayConfig {
        CfGatewayConfig {
            account_id: "acc".into(),
            gateway_id: "gw".into(),
            auth_token: Some(ApiKey::new("cf-tok")),
            cache_ttl: Some(3600),
            skip_cache: true,
        }
    }

    #[test]
    fn resolve_openai_with_cf_gateway_rewrites_base_and_adds_headers() {
        let p = ProviderConfig::new("openai", ProviderKind::OpenAi);
        let e = Endpoint::resolve(&p, Some(&cf())).unwrap();
        assert_eq!(
            e.base_url,
            "https://gateway.ai.cloudflare.com/v1/acc/gw/openai"
        );
        assert!(e.via_cf_gateway);
        assert_eq!(
            e.headers.to_vec(),
            vec![
                (
                    "cf-aig-authorization".to_owned(),
                    "Bearer cf-tok".to_owned()
                ),
                ("cf-aig-cache-ttl".to_owned(), "3600".to_owned()),
                ("cf-aig-skip-cache".to_owned(), "true".to_owned()),
            ]
        );
    }

    #[test]
    fn resolve_explicit_base_url_wins_over_cf_gateway() {
        let mut p = ProviderConfig::new("claude", ProviderKind::Anthropic);
        p.base_url = Some("http://127.0.0.1:9/".into());
        let e = Endpoint::resolve(&p, Some(&cf())).unwrap();
        assert_eq!(e.base_url, "http://127.0.0.1:9/");
        assert!(e.headers.is_empty());
    }

    #[test]
    fn resolve_workers_ai_is_unaffected_by_cf_gateway() {
        let mut p = ProviderConfig::new("workers", ProviderKind::WorkersAi);
        p.account_id = Some("acc".into());
        let e = Endpoint::resolve(&p, Some(&cf())).unwrap();
        assert_eq!(e.base_url, workers_ai::BASE_URL);
        assert!(!e.via_cf_gateway);
    }

    #[test]
    fn resolve_workers_ai_without_account_is_validation() {
        let p = ProviderConfig::new("w", ProviderKind::WorkersAi);
        assert!(Endpoint::resolve(&p, None).is_err());
    }

    #[test]
    fn resolve_custom_without_base_url_is_validation() {
        let p = ProviderConfig::new("c", ProviderKind::Custom);
        assert!(Endpoint::resolve(&p, Some(&cf())).is_err());
    }

    #[test]
    fn api_key_debug_is_masked() {
        assert_eq!(format!("{:?}", ApiKey::new("sk-123")), "***");
        let mut p = ProviderConfig::new("custom", ProviderKind::Custom);
        p.api_key = Some(ApiKey::new("sk-live-MARKER-1"));
        p.base_url = Some("https://llm.example/v1".into());
        p.headers = vec![
            ("x-api-key".into(), "MARKER-2-secret".into()),
            ("x-title".into(), "visible".into()),
        ]
        .into();
        let shown = format!("{p:?}");
        assert!(!shown.contains("MARKER"), "{shown}");
        assert!(shown.contains("visible"), "{shown}");
        let e = Endpoint::resolve(&p, None).unwrap();
        let shown = format!("{e:?}");
        assert!(!shown.contains("MARKER"), "{shown}");
        let cf = CfGatewayConfig {
            account_id: "acc".into(),
            gateway_id: "gw".into(),
            auth_token: Some(ApiKey::new("cf-MARKER-3")),
            cache_ttl: None,
            skip_cache: false,
        };
        assert!(!format!("{cf:?}").contains("MARKER"));
    }
}

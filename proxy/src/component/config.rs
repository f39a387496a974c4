//! The proxy's settings: the `gateway_config` variable (JSON) plus one
//! variable per secret, read once per instance.
//!
//! ```json
//! {
//!   "providers": [{"name": "openai", "kind": "openai", "api_key_variable": "openai_api_key"}],
//!   "default_provider": "openai",
//!   "routes": [{"pattern": "claude-*", "provider": "anthropic"}],
//!   "models": ["gpt-4o-mini"],
//!   "retry": {"max_attempts": 2},
//!   "cache": {"bucket": "default", "ttl_seconds": 300},
//!   "pricing": [{"model": "gpt-4o-mini", "input": 150000, "output": 600000}],
//!   "state_bucket": "default",
//!   "allowlist": {"openai": ["gpt-4o-mini", {"prefix": "gpt-4.1"}]},
//!   "timeout_ms": 60000,
//!   "first_byte_timeout_ms": 300000, "between_bytes_timeout_ms": 60000,
//!   "logging": {"level": "info", "stderr": true},
//!   "responses": {"bucket": "default", "ttl_seconds": 2592000},
//!   "clients": [{"name": "team-a", "key_variable": "team_a_key",
//!                "budget_micro_usd": 5000000, "requests_per_minute": 600, "tokens_per_minute": 200000}]
//! }
//! ```
//! Without `clients` the proxy needs no key from its callers.
//!
//! `models` is a listing, not an allowlist: it is what `GET /v1/models` and
//! `GET /v1/models/{id}` show (without it, routes and allowlist entries
//! without wildcards). A request for an unlisted model is still served when
//! a route or the default provider takes it; to restrict what is served,
//! use `allowlist`.

use serde::Deserialize;

use super::bindings::fermyon::spin::variables;
use super::bindings::workkit::ai_gateway::types as w;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    pub providers: Vec<Provider>,
    #[serde(default)]
    pub default_provider: Option<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default)]
    pub router_fallback: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub retry: Option<Retry>,
    #[serde(default)]
    pub cache: Option<Cache>,
    #[serde(default)]
    pub pricing: Vec<Pricing>,
    #[serde(default)]
    pub state_bucket: Option<String>,
    #[serde(default)]
    pub allowlist: Option<std::collections::BTreeMap<String, Vec<Matcher>>>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Per upstream attempt: connecting (default 10 s), the first byte of
    /// the answer (default 300 s) and the gap between two chunks of it
    /// (default 60 s), so a stalled upstream ends the client's request
    /// (504, or an error event in a stream) instead of hanging. 0 turns one
    /// off.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    #[serde(default)]
    pub first_byte_timeout_ms: Option<u64>,
    #[serde(default)]
    pub between_bytes_timeout_ms: Option<u64>,
    /// The gateway's log records (WIT `logging-config`); with `stderr` they
    /// are JSON lines on the component's stderr, which `host-test serve`
    /// turns into metrics (docs/adr/0011-operations-signals.md).
    #[serde(default)]
    pub logging: Option<Logging>,
    #[serde(default)]
    pub clients: Vec<Client>,
    /// Stored responses of `POST /v1/responses` (`store`, the default, and
    /// `previous_response_id`).
    #[serde(default)]
    pub responses: Option<Responses>,
}

/// Where `/v1/responses` keeps stored responses, and for how long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Responses {
    /// The `wasi:keyvalue` bucket (default: `state_bucket`, else "default").
    #[serde(default)]
    pub bucket: Option<String>,
    /// How long a stored response lives (default 30 days).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// The stored responses' bucket and TTL in seconds.
pub fn responses_store(c: &ProxyConfig) -> (String, u64) {
    let r = c.responses.as_ref();
    let bucket = r
        .and_then(|r| r.bucket.clone())
        .or_else(|| c.state_bucket.clone())
        .unwrap_or_else(|| "default".into());
    (
        bucket,
        r.and_then(|r| r.ttl_seconds).unwrap_or(30 * 24 * 3600),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// `debug`, `info` (default), `warn` or `error`.
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub stderr: bool,
    #[serde(default)]
    pub include_prompts: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub api_key_variable: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub wire_format: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// `anthropic-version`, or Azure OpenAI's `api-version`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Bedrock's region; Vertex AI's (default `global`).
    #[serde(default)]
    pub region: Option<String>,
    /// Vertex AI's project.
    #[serde(default)]
    pub project: Option<String>,
    /// Azure OpenAI's resource name.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// Bedrock SigV4: the variables holding the access key id, the secret
    /// key and (optional) the session token.
    #[serde(default)]
    pub aws_access_key_id_variable: Option<String>,
    #[serde(default)]
    pub aws_secret_access_key_variable: Option<String>,
    #[serde(default)]
    pub aws_session_token_variable: Option<String>,
    /// `bearer`: send the key as a bearer token (an Entra token for Azure).
    #[serde(default)]
    pub key_auth: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub pattern: String,
    pub provider: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub max_attempts: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    pub bucket: String,
    pub ttl_seconds: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pricing {
    pub model: String,
    pub input: u64,
    pub output: u64,
    #[serde(default)]
    pub cache_read: Option<u64>,
    #[serde(default)]
    pub cache_write: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Matcher {
    Exact(String),
    Prefix { prefix: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub name: String,
    pub key_variable: String,
    #[serde(default)]
    pub budget_micro_usd: Option<u64>,
    #[serde(default)]
    pub requests_per_minute: Option<u64>,
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
}

fn var(name: &str) -> Result<String, String> {
    variables::get(name).map_err(|e| match e {
        variables::Error::Undefined(_) => format!("variable {name:?} is not set"),
        variables::Error::InvalidName(m)
        | variables::Error::Provider(m)
        | variables::Error::Other(m) => {
            format!("variable {name:?}: {m}")
        }
    })
}

/// Read `gateway_config` and the secrets it names.
pub fn load() -> Result<(ProxyConfig, Vec<(String, String)>), String> {
    let text = var("gateway_config")?;
    let config: ProxyConfig =
        serde_json::from_str(&text).map_err(|e| format!("gateway_config is invalid: {e}"))?;
    let mut secrets = Vec::new();
    for c in &config.clients {
        secrets.push((c.name.clone(), var(&c.key_variable)?));
    }
    Ok((config, secrets))
}

fn kind(s: &str) -> Result<w::ProviderKind, String> {
    Ok(match s {
        "openai" => w::ProviderKind::Openai,
        "anthropic" => w::ProviderKind::Anthropic,
        "workers-ai" => w::ProviderKind::WorkersAi,
        "custom" => w::ProviderKind::Custom,
        "gemini" => w::ProviderKind::Gemini,
        "vertex" => w::ProviderKind::Vertex,
        "vertex-anthropic" => w::ProviderKind::VertexAnthropic,
        "bedrock" => w::ProviderKind::Bedrock,
        "azure-openai" => w::ProviderKind::AzureOpenai,
        "groq" => w::ProviderKind::Groq,
        "mistral" => w::ProviderKind::Mistral,
        "deepseek" => w::ProviderKind::Deepseek,
        "xai" => w::ProviderKind::Xai,
        "openrouter" => w::ProviderKind::Openrouter,
        "together" => w::ProviderKind::Together,
        "fireworks" => w::ProviderKind::Fireworks,
        "perplexity" => w::ProviderKind::Perplexity,
        "cerebras" => w::ProviderKind::Cerebras,
        "ollama" => w::ProviderKind::Ollama,
        "vllm" => w::ProviderKind::Vllm,
        other => return Err(format!("unknown provider kind {other:?}")),
    })
}

/// Bedrock's SigV4 credentials, read from the variables the provider names:
/// both the key id and the secret, or neither.
fn aws_credentials(p: &Provider) -> Result<Option<w::AwsCredentials>, String> {
    match (
        &p.aws_access_key_id_variable,
        &p.aws_secret_access_key_variable,
    ) {
        (None, None) if p.aws_session_token_variable.is_none() => Ok(None),
        (Some(id), Some(secret)) => Ok(Some(w::AwsCredentials {
            access_key_id: var(id)?,
            secret_access_key: var(secret)?,
            session_token: p
                .aws_session_token_variable
                .as_deref()
                .map(var)
                .transpose()?,
        })),
        _ => Err(format!(
            "provider {:?}: aws_access_key_id_variable and aws_secret_access_key_variable go \
             together",
            p.name
        )),
    }
}

fn level(s: Option<&str>) -> Result<w::LogLevel, String> {
    Ok(match s.unwrap_or("info") {
        "debug" => w::LogLevel::Debug,
        "info" => w::LogLevel::Info,
        "warn" => w::LogLevel::Warn,
        "error" => w::LogLevel::Error,
        other => return Err(format!("unknown logging level {other:?}")),
    })
}

fn wire(s: &str) -> Result<w::WireFormat, String> {
    Ok(match s {
        "openai" => w::WireFormat::Openai,
        "anthropic" => w::WireFormat::Anthropic,
        "workers-ai" => w::WireFormat::WorkersAi,
        "gemini" => w::WireFormat::Gemini,
        "bedrock" => w::WireFormat::Bedrock,
        other => return Err(format!("unknown wire format {other:?}")),
    })
}

/// The gateway config for one client (or for everyone when `client` is
/// `None`): shared providers, routing, cache; per-client cost and limits.
pub fn gateway_config(
    c: &ProxyConfig,
    client: Option<&Client>,
) -> Result<w::GatewayConfig, String> {
    let providers = c
        .providers
        .iter()
        .map(|p| {
            Ok(w::ProviderConfig {
                name: p.name.clone(),
                kind: kind(&p.kind)?,
                api_key: p.api_key_variable.as_deref().map(var).transpose()?,
                base_url: p.base_url.clone(),
                account_id: p.account_id.clone(),
                wire_format: p.wire_format.as_deref().map(wire).transpose()?,
                api_version: p.api_version.clone(),
                headers: p.headers.clone(),
                region: p.region.clone(),
                project: p.project.clone(),
                resource_name: p.resource_name.clone(),
                aws_credentials: aws_credentials(p)?,
                key_auth: match p.key_auth.as_deref() {
                    None | Some("provider-default") => None,
                    Some("bearer") => Some(w::KeyAuth::Bearer),
                    Some(other) => return Err(format!("unknown key_auth {other:?}")),
                },
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let bucket = c.state_bucket.clone().unwrap_or_else(|| "default".into());
    let budget = client.and_then(|k| k.budget_micro_usd);
    let cost = (!c.pricing.is_empty() || budget.is_some()).then(|| w::CostConfig {
        pricing: c
            .pricing
            .iter()
            .map(|p| w::ModelPricing {
                model: p.model.clone(),
                input: p.input,
                output: p.output,
                cache_read: p.cache_read,
                cache_write: p.cache_write,
                reasoning: None,
            })
            .collect(),
        budget_micro_usd: budget,
        bucket: Some(bucket.clone()),
        key_prefix: Some(format!(
            "aigw:cost:{}",
            client.map_or("all", |k| k.name.as_str())
        )),
    });
    let rate_limits = client.and_then(|k| {
        (k.requests_per_minute.is_some() || k.tokens_per_minute.is_some()).then(|| {
            w::RateLimitConfig {
                bucket: bucket.clone(),
                limits: vec![w::RateLimit {
                    name: format!("client-{}", k.name),
                    scope: w::RateLimitScope::Global,
                    window_seconds: 60,
                    max_requests: k.requests_per_minute,
                    max_tokens: k.tokens_per_minute,
                }],
            }
        })
    });
    Ok(w::GatewayConfig {
        providers,
        default_provider: c.default_provider.clone(),
        cf_gateway: None,
        router: (!c.routes.is_empty() || c.router_fallback.is_some()).then(|| w::RouterConfig {
            routes: c
                .routes
                .iter()
                .map(|r| w::Route {
                    pattern: r.pattern.clone(),
                    provider: r.provider.clone(),
                })
                .collect(),
            fallback: c.router_fallback.clone(),
        }),
        retry: c.retry.as_ref().map(|r| w::RetryPolicy {
            max_attempts: r.max_attempts,
            retry_on: Vec::new(),
            initial_backoff_ms: 200,
            max_backoff_ms: 4000,
            max_retry_after_ms: 30_000,
        }),
        chains: Vec::new(),
        cache: c.cache.as_ref().map(|k| w::CacheConfig {
            bucket: k.bucket.clone(),
            ttl_seconds: k.ttl_seconds,
            namespace: None,
            streams: true,
        }),
        cost,
        rate_limits,
        allowlist: c.allowlist.as_ref().map(|a| {
            use super::bindings::workkit::ai_gateway::model_allowlist as wa;
            a.iter()
                .map(|(provider, models)| wa::ProviderModels {
                    provider: provider.clone(),
                    models: models
                        .iter()
                        .map(|m| match m {
                            Matcher::Exact(e) => wa::ModelMatcher::Exact(e.clone()),
                            Matcher::Prefix { prefix } => wa::ModelMatcher::Prefix(prefix.clone()),
                        })
                        .collect(),
                })
                .collect()
        }),
        logging: c
            .logging
            .as_ref()
            .map(|l| {
                Ok::<_, String>(w::LoggingConfig {
                    level: level(l.level.as_deref())?,
                    stderr: l.stderr,
                    include_prompts: l.include_prompts,
                })
            })
            .transpose()?,
        timeout_ms: c.timeout_ms,
        attempt_timeouts: Some(w::AttemptTimeouts {
            connect_ms: timeout(c.connect_timeout_ms, 10_000),
            first_byte_ms: timeout(c.first_byte_timeout_ms, 300_000),
            between_bytes_ms: timeout(c.between_bytes_timeout_ms, 60_000),
        }),
    })
}

/// A configured timeout, else the default; 0 = none.
fn timeout(configured: Option<u64>, default: u64) -> Option<u64> {
    match configured.unwrap_or(default) {
        0 => None,
        ms => Some(ms),
    }
}

/// The wire format of the configured provider `name`.
pub fn wire_of(c: &ProxyConfig, name: &str) -> crate::params::Wire {
    use crate::params::Wire;
    let Some(p) = c.providers.iter().find(|p| p.name == name) else {
        // Cannot happen (the gateway resolved `name` from this config);
        // fail closed: nothing untyped is forwarded.
        return Wire::Unknown;
    };
    match (p.kind.as_str(), p.wire_format.as_deref()) {
        ("anthropic", _) | ("custom", Some("anthropic")) => Wire::Anthropic,
        ("workers-ai" | "workers_ai", _) | ("custom", Some("workers-ai" | "workers_ai")) => {
            Wire::WorkersAi
        }
        _ => Wire::OpenAi,
    }
}

/// The models `/v1/models` lists: configured ones, else route patterns and
/// allowlist entries without wildcards.
pub fn models(c: &ProxyConfig) -> Vec<(String, String)> {
    if !c.models.is_empty() {
        let owner = c.default_provider.clone().unwrap_or_default();
        return c
            .models
            .iter()
            .map(|m| (m.clone(), owner.clone()))
            .collect();
    }
    let mut out: Vec<(String, String)> = c
        .routes
        .iter()
        .filter(|r| !r.pattern.contains(['*', '?']))
        .map(|r| (r.pattern.clone(), r.provider.clone()))
        .collect();
    for (provider, models) in c.allowlist.iter().flatten() {
        for m in models {
            if let Matcher::Exact(e) = m
                && !out.iter().any(|(id, _)| id == e)
            {
                out.push((e.clone(), provider.clone()));
            }
        }
    }
    out
}

//! Opening a gateway: the whole configuration is checked once, and every
//! provider resolved to an endpoint, so a call never meets a bad config.

use std::collections::BTreeSet;

use super::cost::CostTracker;
use super::router::Router;
use super::{Gateway, ratelimit, retry};
use crate::config::{CfGatewayConfig, Endpoint, GatewayConfig};
use crate::error::{GatewayError, Result};
use crate::secrets::Secrets;
use crate::validate::check_id;
use model_allowlist::Allowlist;

impl Gateway {
    /// Validate the configuration and resolve every provider once.
    pub fn open(config: GatewayConfig) -> Result<Self> {
        if config.providers.is_empty() {
            return Err(GatewayError::validation(
                "the gateway needs at least one provider",
            ));
        }
        if let Some(cf) = &config.cf_gateway {
            check_id("cf-gateway account-id", &cf.account_id)?;
            check_id("cf-gateway gateway-id", &cf.gateway_id)?;
        }
        let mut names = BTreeSet::new();
        let mut endpoints = Vec::with_capacity(config.providers.len());
        for p in &config.providers {
            if p.name.is_empty() {
                return Err(GatewayError::validation("a provider has an empty name"));
            }
            if !names.insert(p.name.as_str()) {
                return Err(GatewayError::validation(format!(
                    "provider name {:?} is used twice",
                    p.name
                )));
            }
            endpoints.push(Endpoint::resolve(p, config.cf_gateway.as_ref())?);
        }
        let known = |n: &str, what: &str| -> Result<()> {
            if names.contains(n) {
                Ok(())
            } else {
                Err(GatewayError::validation(format!(
                    "{what} names unknown provider {n:?}"
                )))
            }
        };
        if let Some(d) = &config.default_provider {
            known(d, "default-provider")?;
        }
        let router = Router::new(config.router.clone().unwrap_or_default())?;
        for r in &router.config().routes {
            known(&r.provider, &format!("route {:?}", r.pattern))?;
        }
        if let Some(f) = &router.config().fallback {
            known(f, "router fallback")?;
        }
        let mut chain_names = BTreeSet::new();
        for c in &config.chains {
            if c.name.is_empty() || !chain_names.insert(c.name.as_str()) {
                return Err(GatewayError::validation(format!(
                    "chain name {:?} is empty or used twice",
                    c.name
                )));
            }
            if c.chain.entries.is_empty() {
                return Err(GatewayError::validation(format!(
                    "chain {:?} has no entries",
                    c.name
                )));
            }
            for e in &c.chain.entries {
                known(&e.provider, &format!("chain {:?}", c.name))?;
            }
        }
        let retry = config.retry.clone().unwrap_or_default();
        retry::validate_policy(&retry)?;
        if let Some(c) = &config.cache {
            if c.bucket.is_empty() {
                return Err(GatewayError::validation("cache bucket is empty"));
            }
            if c.ttl_seconds == 0 {
                return Err(GatewayError::validation(
                    "cache ttl-seconds must be at least 1",
                ));
            }
        }
        if let Some(r) = &config.rate_limits {
            ratelimit::validate(r)?;
        }
        let cost = config.cost.clone().map(CostTracker::new).transpose()?;
        let secrets = configured_secrets(&endpoints, config.cf_gateway.as_ref());
        Ok(Self {
            endpoints,
            default_provider: config.default_provider,
            router,
            cf: config.cf_gateway,
            retry,
            chains: config.chains,
            allowlist: config.allowlist.map(Allowlist::new),
            timeout_ms: config.timeout_ms,
            attempt_timeouts: config.attempt_timeouts,
            cache: config.cache,
            cost,
            rate_limits: config.rate_limits,
            logging: config.logging,
            secrets,
        })
    }
}

/// Every configured credential: API keys, credential headers and the AI
/// Gateway token.
fn configured_secrets(endpoints: &[Endpoint], cf: Option<&CfGatewayConfig>) -> Secrets {
    let keys = endpoints.iter().flat_map(|e| {
        e.api_key
            .as_ref()
            .map(|k| k.expose())
            .into_iter()
            .chain(Secrets::header_values(&e.headers))
            .chain(e.aws.iter().flat_map(|a| {
                std::iter::once(a.secret_access_key.expose())
                    .chain(a.session_token.as_ref().map(|t| t.expose()))
            }))
    });
    let cf_token = cf.and_then(|c| c.auth_token.as_ref()).map(|t| t.expose());
    Secrets::new(keys.chain(cf_token))
}

//! The gateway engine: pure orchestration over the ports. No IO of its own.
//!
//! The files follow the life of one call:
//!
//! | step | file |
//! |---|---|
//! | a gateway is opened: the configuration is checked once | `open.rs` |
//! | the call picks its targets (override → chain → routes → default) and passes the allowlist | `plan.rs` |
//! | the shared start and end of every operation: checks, request record, rate limits, cache lookup, budget, then accounting, response record, trace | `call.rs` |
//! | the call's worst case (input bound, output ceiling) and what it holds against the budget and token limits until it settles | `estimate.rs`, `hold.rs` |
//! | one request sent and its whole answer read | `exchange.rs` |
//! | retries, backoff, moving on along a chain | `retry.rs` |
//! | the operations: `run`, `stream`, `run-fallback`, `embed` | `run.rs`, `stream/`, `universal.rs`, `embed.rs` |
//! | what they use: cache keys and entries, cost, rate limits, routes, trace records | `cache.rs`, `cost.rs`, `ratelimit.rs`, `router.rs`, `trace.rs` |
//!
//! This file holds only the configured [`Gateway`] and the lookups every
//! step shares.

pub mod cache;
mod call;
pub mod cost;
mod count;
mod embed;
mod env;
mod estimate;
mod exchange;
mod hold;
mod open;
mod plan;
pub mod ratelimit;
pub mod retry;
pub mod router;
mod run;
mod stream;
mod target;
pub mod trace;
mod universal;

pub use env::Env;
pub use model_allowlist as allowlist;
pub use stream::{LiveStream, Poll};

use crate::config::{
    AttemptTimeouts, CacheConfig, CfGatewayConfig, Endpoint, LoggingConfig, NamedChain,
    RateLimitConfig,
};
use crate::error::{GatewayError, Result};
use crate::secrets::Secrets;
use crate::types::RetryPolicy;
use cost::CostTracker;
use model_allowlist::Allowlist;
use router::Router;

/// Largest response body the gateway reads into memory (non-streaming).
pub const MAX_BODY: usize = 32 << 20;

/// A configured gateway (WIT `gateway`), made by [`Gateway::open`].
#[derive(Debug)]
pub struct Gateway {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) default_provider: Option<String>,
    pub(crate) router: Router,
    pub(crate) cf: Option<CfGatewayConfig>,
    pub(crate) retry: RetryPolicy,
    pub(crate) chains: Vec<NamedChain>,
    pub(crate) allowlist: Option<Allowlist>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) attempt_timeouts: AttemptTimeouts,
    pub(crate) cache: Option<CacheConfig>,
    pub(crate) cost: Option<CostTracker>,
    pub(crate) rate_limits: Option<RateLimitConfig>,
    pub(crate) logging: Option<LoggingConfig>,
    /// Every configured credential (API keys, tokens, secret headers): never
    /// in an error, trace or log line, whatever an upstream echoes.
    pub(crate) secrets: Secrets,
}

impl Gateway {
    /// Provider names in configuration order.
    pub fn providers(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.name.clone()).collect()
    }

    pub fn default_provider(&self) -> Option<&str> {
        self.default_provider.as_deref()
    }

    pub fn cost_tracker(&self) -> Option<&CostTracker> {
        self.cost.as_ref()
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn allowlist(&self) -> Option<&Allowlist> {
        self.allowlist.as_ref()
    }

    pub fn chains(&self) -> &[NamedChain] {
        &self.chains
    }

    pub(crate) fn endpoint(&self, name: &str) -> Result<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| GatewayError::validation(format!("unknown provider {name:?}")))
    }

    /// The provider a call on `model` uses: the explicit one, else the first
    /// matching route, else the default.
    pub fn resolve_provider(&self, model: &str, provider: Option<&str>) -> Result<&Endpoint> {
        if let Some(p) = provider {
            return self.endpoint(p);
        }
        if let Some(p) = self.router.resolve(model) {
            return self.endpoint(p);
        }
        if let Some(p) = &self.default_provider {
            return self.endpoint(p);
        }
        Err(GatewayError::validation(format!(
            "no provider for model {model:?}: name one, add a route, or set default-provider"
        )))
    }
}

#[cfg(test)]
mod tests;

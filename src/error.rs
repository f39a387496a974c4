//! The gateway's one error type, mirroring WIT `gateway-error`.

use serde::{Deserialize, Serialize};

/// Kind of a [`GatewayError`] without its payload (WIT `error-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    Validation,
    Auth,
    NotFound,
    RateLimited,
    Timeout,
    ServiceUnavailable,
    Upstream,
    BudgetExceeded,
    ModelNotAllowed,
    Internal,
}

impl ErrorKind {
    /// The kebab-case name used in WIT, logs and traces.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::Auth => "auth",
            Self::NotFound => "not-found",
            Self::RateLimited => "rate-limited",
            Self::Timeout => "timeout",
            Self::ServiceUnavailable => "service-unavailable",
            Self::Upstream => "upstream",
            Self::BudgetExceeded => "budget-exceeded",
            Self::ModelNotAllowed => "model-not-allowed",
            Self::Internal => "internal",
        }
    }
}

/// One upstream attempt of a call (WIT `attempt`): what was tried, what it
/// answered and how long it took. Errors carry the list when a call gives up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub provider: String,
    pub model: String,
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<ErrorKind>,
}

/// What is known about a failed upstream call (WIT `upstream-detail`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UpstreamDetail {
    pub message: String,
    pub provider: Option<String>,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub body: Option<String>,
    pub retry_after_ms: Option<u64>,
    pub retryable: bool,
    /// Every attempt of the call, filled in when the call gives up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

/// WIT `timeout-detail`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TimeoutDetail {
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

impl UpstreamDetail {
    /// A detail with only a message, for errors the gateway raises itself.
    pub fn message(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::default()
        }
    }
}

/// The gateway's error (WIT `gateway-error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GatewayError {
    #[error("invalid request: {0}")]
    Validation(String),
    #[error("authentication failed: {}", .0.message)]
    Auth(UpstreamDetail),
    #[error("not found: {}", .0.message)]
    NotFound(UpstreamDetail),
    #[error("rate limited: {}", .0.message)]
    RateLimited(UpstreamDetail),
    #[error("timed out: {}", .0.message)]
    Timeout(TimeoutDetail),
    #[error("service unavailable: {}", .0.message)]
    ServiceUnavailable(UpstreamDetail),
    #[error("upstream error: {}", .0.message)]
    Upstream(UpstreamDetail),
    #[error("budget exceeded: spent {spent_micro_usd} of {budget_micro_usd} micro-USD")]
    BudgetExceeded {
        spent_micro_usd: u64,
        budget_micro_usd: u64,
    },
    #[error("model {model:?} is not allowed for provider {provider:?}")]
    ModelNotAllowed { provider: String, model: String },
    #[error("internal error: {}", .0.as_deref().unwrap_or("unknown"))]
    Internal(Option<String>),
}

impl GatewayError {
    pub fn validation(msg: impl Into<String>) -> Self {
        Self::Validation(msg.into())
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Self::Internal(Some(msg.into()))
    }

    pub fn timeout(msg: impl Into<String>) -> Self {
        Self::Timeout(TimeoutDetail {
            message: msg.into(),
            attempts: Vec::new(),
        })
    }

    /// Record the call's attempts on the error (upstream and timeout errors).
    pub fn with_attempts(mut self, attempts: &[Attempt]) -> Self {
        match &mut self {
            Self::Timeout(t) => t.attempts = attempts.to_vec(),
            other => {
                if let Some(d) = other.detail_mut() {
                    d.attempts = attempts.to_vec();
                }
            }
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Validation(_) => ErrorKind::Validation,
            Self::Auth(_) => ErrorKind::Auth,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::RateLimited(_) => ErrorKind::RateLimited,
            Self::Timeout(_) => ErrorKind::Timeout,
            Self::ServiceUnavailable(_) => ErrorKind::ServiceUnavailable,
            Self::Upstream(_) => ErrorKind::Upstream,
            Self::BudgetExceeded { .. } => ErrorKind::BudgetExceeded,
            Self::ModelNotAllowed { .. } => ErrorKind::ModelNotAllowed,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The upstream detail, for the variants that carry one.
    pub fn detail(&self) -> Option<&UpstreamDetail> {
        match self {
            Self::Auth(d)
            | Self::NotFound(d)
            | Self::RateLimited(d)
            | Self::ServiceUnavailable(d)
            | Self::Upstream(d) => Some(d),
            _ => None,
        }
    }

    pub(crate) fn detail_mut(&mut self) -> Option<&mut UpstreamDetail> {
        match self {
            Self::Auth(d)
            | Self::NotFound(d)
            | Self::RateLimited(d)
            | Self::ServiceUnavailable(d)
            | Self::Upstream(d) => Some(d),
            _ => None,
        }
    }

    /// Whether a retry could succeed: timeouts always; errors with an
    /// upstream detail when the detail says so; never validation, auth,
    /// budget, allowlist or internal errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Timeout(_) => true,
            _ => self.detail().is_some_and(|d| d.retryable),
        }
    }

    /// The server-requested delay before a retry, when known.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.detail().and_then(|d| d.retry_after_ms)
    }

    /// The upstream HTTP status, when a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.detail().and_then(|d| d.status)
    }

    /// Set the provider name on the detail (if any and not yet set).
    pub fn with_provider(mut self, provider: &str) -> Self {
        if let Some(d) = self.detail_mut()
            && d.provider.is_none()
        {
            d.provider = Some(provider.to_owned());
        }
        self
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = GatewayError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_detail_false_is_not_retryable() {
        let e = GatewayError::RateLimited(UpstreamDetail {
            retryable: false,
            ..UpstreamDetail::message("quota")
        });
        assert!(!e.is_retryable());
        assert_eq!(e.kind(), ErrorKind::RateLimited);
    }

    #[test]
    fn timeout_is_retryable_validation_is_not() {
        assert!(GatewayError::timeout("first byte").is_retryable());
        assert!(!GatewayError::validation("x").is_retryable());
    }

    #[test]
    fn with_provider_sets_only_when_missing() {
        let e = GatewayError::Upstream(UpstreamDetail::message("m")).with_provider("a");
        let e = e.with_provider("b");
        assert_eq!(e.detail().and_then(|d| d.provider.as_deref()), Some("a"));
    }
}

//! One provider/model pair a call may try. A leaf: `retry.rs` uses it, so
//! it must not reach the providers.

use crate::config::Endpoint;

/// One provider/model pair to try.
#[derive(Debug, Clone)]
pub(crate) struct Target<'g> {
    pub endpoint: &'g Endpoint,
    pub model: String,
}

impl Target<'_> {
    /// The provider's configured name.
    pub fn provider(&self) -> &str {
        &self.endpoint.name
    }
}

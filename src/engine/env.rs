//! The host services one call runs with.

use crate::ports::{Clock, Http, Kv, LogSink, Random};

/// The host services one call runs with: outbound HTTP, clocks, randomness
/// for jitter, key-value storage and the log sink.
pub struct Env<'a, H: Http> {
    pub http: &'a H,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    pub kv: &'a dyn Kv,
    pub log: &'a dyn LogSink,
}

impl<H: Http> std::fmt::Debug for Env<'_, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

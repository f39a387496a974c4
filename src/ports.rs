//! The ports the engine needs from a host: outbound HTTP, key-value, clocks
//! and randomness. `src/component/` implements them over WASI; tests
//! implement them in memory.

use crate::error::GatewayError;
use crate::http::{HttpRequest, ResponseHead};

/// Time limits for one upstream attempt. Deadlines are in monotonic
/// milliseconds (see [`Clock::monotonic_ms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendOptions {
    /// The whole call must be over by then.
    pub deadline_ms: Option<u64>,
    pub connect_timeout_ms: Option<u64>,
    pub first_byte_timeout_ms: Option<u64>,
    pub between_bytes_timeout_ms: Option<u64>,
}

/// A failure below HTTP: nothing (or nothing complete) came back. How it
/// becomes a gateway error, and whether that is retryable, is
/// `engine::retry::from_transport`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// A deadline or timeout passed; the string says which.
    #[error("{0}")]
    Timeout(String),
    /// Connecting or talking to the server failed (refused, reset, DNS, TLS).
    #[error("{0}")]
    Connection(String),
    /// The request could not be sent as built (host refused it).
    #[error("{0}")]
    Invalid(String),
    /// The response body is larger than the gateway holds in memory. Not
    /// a connection fault: the same request would get the same body.
    #[error("{0}")]
    TooLarge(String),
}

/// What a non-blocking read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadState {
    Data(Vec<u8>),
    /// Nothing yet; the host's readiness signal will fire when there is.
    Pending,
    End,
}

/// A response body being received.
pub trait Body {
    /// The next chunk of bytes, blocking until some arrive; `None` at the
    /// end. Fails with `Timeout` once `deadline_ms` (monotonic) has passed.
    fn read(&mut self, deadline_ms: Option<u64>) -> Result<Option<Vec<u8>>, TransportError>;

    /// Whatever is available now, without blocking.
    fn try_read(&mut self) -> Result<ReadState, TransportError>;
}

/// Outbound HTTP.
pub trait Http {
    type Body: Body;
    /// Send `req` and wait for the response head.
    fn send(
        &self,
        req: &HttpRequest,
        opts: &SendOptions,
    ) -> Result<(ResponseHead, Self::Body), TransportError>;
}

/// Read a whole body, refusing to hold more than `limit` bytes.
pub fn read_to_end<B: Body>(
    body: &mut B,
    limit: usize,
    deadline_ms: Option<u64>,
) -> Result<Vec<u8>, TransportError> {
    let mut all = Vec::new();
    while let Some(chunk) = body.read(deadline_ms)? {
        if all.len() + chunk.len() > limit {
            return Err(TransportError::TooLarge(format!(
                "response body larger than {limit} bytes"
            )));
        }
        all.extend_from_slice(&chunk);
    }
    Ok(all)
}

/// Wall and monotonic time, and sleeping.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Milliseconds on a monotonic clock (arbitrary origin).
    fn monotonic_ms(&self) -> u64;
    /// Block for `ms` milliseconds (without busy-waiting).
    fn sleep_ms(&self, ms: u64);
}

/// Randomness for jitter.
pub trait Random {
    fn next_u64(&self) -> u64;
}

/// A key-value failure reported by the host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("no such key-value store {0:?}")]
    NoSuchStore(String),
    #[error("access to key-value store {0:?} denied")]
    AccessDenied(String),
    #[error("key-value store: {0}")]
    Other(String),
}

impl From<KvError> for GatewayError {
    fn from(e: KvError) -> Self {
        GatewayError::internal(e.to_string())
    }
}

/// Key-value storage (`wasi:keyvalue` store + atomics), by bucket name.
pub trait Kv {
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(&self, bucket: &str, key: &str, value: &[u8]) -> Result<(), KvError>;
    fn delete(&self, bucket: &str, key: &str) -> Result<(), KvError>;
    /// Atomically add `delta` and return the new value (a missing key
    /// counts as 0).
    fn increment(&self, bucket: &str, key: &str, delta: i64) -> Result<i64, KvError>;
    /// Keys starting with `prefix` (all pages).
    fn keys_with_prefix(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, KvError>;
}

/// Where structured log lines go when logging to stderr is enabled.
pub trait LogSink {
    fn line(&self, json: &str);
}

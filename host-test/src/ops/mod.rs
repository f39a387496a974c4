//! Operations signals of `serve` (docs/adr/0011-operations-signals.md):
//! Prometheus metrics, and where each one comes from.
//!
//! - [`metrics`]: the registry, in the Prometheus text exposition format
//!   0.0.4 (the `prometheus` crate's encoder);
//! - [`tap`]: the guest's stderr, line by line. The gateway's `log-record`s
//!   (its `logging` config with `stderr: true`) are JSON lines there; each
//!   one becomes metrics by provider and model the moment it is written,
//!   so a call's metrics exist before its response leaves the component,
//!   and, with an OTLP endpoint, a span ([`otlp`]);
//! - [`otlp`]: OpenTelemetry spans (GenAI conventions), and [`export`]:
//!   their export over OTLP/HTTP.
//!
//! The host's own view of HTTP: requests by route and status in
//! [`crate::serve`], the time to the first token of a stream and to the
//! end of a body in [`body`].

pub mod body;
pub mod export;
pub mod metrics;
pub mod otlp;
pub mod tap;

pub use body::MeteredBody;
pub use export::{Exporter, OtlpConfig};
pub use metrics::{CallInfo, Metrics, Record};
pub use otlp::{HttpSpan, TraceContext};
pub use tap::LogTap;

//! ai-gateway: a multi-provider AI gateway as one WebAssembly component.
//!
//! Layers (data flows down): `component` (the only code that sees the WIT
//! bindings; wasm32 only) → `engine` (routing, retry, fallback, cache, cost,
//! rate limits, logging over the `ports`) → `provider` (wire formats, sans
//! IO; a folder per provider, see its table), `stream` (the event pump) and
//! `sse` (incremental SSE decoder) → the plain values below them
//! (`types`, `config`, `http`, `validate`, `secrets`, `error`). No file
//! imports one that imports it back (`tests/import_graph.rs` checks).
//! See `docs/adr/`.

extern crate alloc;

pub mod config;
pub mod content;
pub mod encoding;
pub mod engine;
pub mod error;
pub mod http;
pub mod ports;
pub mod provider;
pub mod secrets;
pub mod sse;
pub mod stream;
pub mod types;
pub mod validate;

#[cfg(test)]
pub(crate) mod testing;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
#[allow(
    unsafe_code,
    reason = "wit-bindgen's generated ABI glue (exports and imports) is unsafe by nature"
)]
mod component;

pub use error::{ErrorKind, GatewayError};

//! The wasmtime host for `ai-gateway.wasm`, in the shape of wasmtime's own
//! host crates: generated bindings, per-store state and the views it hands
//! out, each imported interface's implementation in its own file, then the
//! runtime and typed calls into the component's exports.
//!
//! - [`bindings`]: every `bindgen!` (the gateway, `wasi:keyvalue`, the
//!   allowlist world);
//! - [`state`]: [`HostState`] and [`InstanceConfig`], building a store;
//! - [`http`]: outbound HTTP hooks (redirect to the mock upstream, for tests
//!   that assert exact provider URLs) and the upstream connection pool;
//! - [`keyvalue`]: `wasi:keyvalue` over [`crate::kv::KvStore`], async;
//! - [`runtime`]: engine and linker setup, [`Runtime`] and [`Instance`];
//! - [`calls`]: one typed wrapper per export;
//! - [`artifacts`]: where `build.rs` put the wasm files.

pub mod artifacts;
pub mod bindings;
mod calls;
pub mod http;
pub mod keyvalue;
pub mod runtime;
pub mod state;

pub use artifacts::{
    allowlist_wasm, default_cache_dir, echo_provider_wasm, gateway_ext_wasm, gateway_wasm,
    proxy_wasm, summarizer_wasm,
};
pub use bindings::allowlist as allowlist_bindings;
pub use bindings::exports::workkit::ai_gateway::model_allowlist as wa;
pub use bindings::exports::workkit::ai_gateway::types as w;
pub use bindings::keyvalue as kv_bindings;
pub use http::{Redirect, UpstreamPool};
pub use runtime::{GatewayHandle, Instance, Runtime, StreamHandle, engine, link};
pub use state::{HostState, InstanceConfig, new_store, new_store_with_stdout};

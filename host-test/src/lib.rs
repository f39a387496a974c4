//! wasmtime host for `ai-gateway.wasm`: the runtime (`host`), the
//! `wasi:keyvalue` store (`kv`), the mock upstream (`mock`) and helpers to
//! build configurations (`cfg`). Used by the CLI, the integration tests and
//! the benchmarks.

pub mod cancel;
pub mod cfg;
pub mod client;
pub mod host;
pub mod kv;
pub mod mock;
pub mod ops;
pub mod serve;

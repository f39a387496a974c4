//! Where the wasm artifacts that `build.rs` builds are, and where compiled
//! code is cached.

use std::path::{Path, PathBuf};

/// The component built by `build.rs`.
pub fn gateway_wasm() -> PathBuf {
    PathBuf::from(env!("AI_GATEWAY_WASM"))
}

/// The OpenAI-compatible proxy component (not yet composed) built by `build.rs`.
pub fn proxy_wasm() -> PathBuf {
    PathBuf::from(env!("AI_GATEWAY_PROXY_WASM"))
}

/// The `gateway-with-providers` build (feature `component-providers`).
pub fn gateway_ext_wasm() -> PathBuf {
    PathBuf::from(env!("AI_GATEWAY_EXT_WASM"))
}

/// The example provider written as a component (`examples/compose/echo-provider`).
pub fn echo_provider_wasm() -> PathBuf {
    PathBuf::from(env!("ECHO_PROVIDER_WASM"))
}

/// The example gateway client (`examples/compose/summarizer`).
pub fn summarizer_wasm() -> PathBuf {
    PathBuf::from(env!("SUMMARIZER_WASM"))
}

/// The standalone allowlist component built by `build.rs`.
pub fn allowlist_wasm() -> PathBuf {
    PathBuf::from(env!("AI_GATEWAY_ALLOWLIST_WASM"))
}

/// Where compiled code is cached between runs.
pub fn default_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasmtime-cache")
}

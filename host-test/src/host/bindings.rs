//! Host bindings of the `gateway` world (this module), and of
//! `wasi:keyvalue` ([`keyvalue`]) and the standalone `allowlist` world
//! ([`allowlist`]).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "workkit:ai-gateway/gateway",
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:keyvalue": crate::host::bindings::keyvalue::wasi::keyvalue,
    },
    require_store_data_send: true,
});

/// Host bindings of `wasi:keyvalue@0.2.0-draft2`, kept apart from the
/// gateway's bindings so those can derive serde (a resource cannot). Every
/// import is async: storage never blocks a runtime thread
/// (docs/adr/0008-redis-crate-async-kv.md).
pub mod keyvalue {
    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async },
        with: {
            "wasi:keyvalue/store.bucket": crate::host::keyvalue::BucketRes,
            "wasi:keyvalue/atomics.cas": crate::host::keyvalue::CasRes,
        },
        require_store_data_send: true,
    });
}

/// Host bindings of the standalone `allowlist` world (no imports).
pub mod allowlist {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "workkit:ai-gateway/allowlist",
        exports: { default: async },
    });
}

//! A store reused across calls (as `serve` reuses idle instances) must not
//! accumulate host resources: after every call the store's resource table
//! is back where it was. wasmtime-wasi-http 48.0.8 kept every
//! `request-options` an outgoing request took ownership of, about 210
//! bytes per upstream request forever; the soak run found it (docs/soak.md)
//! and `host::runtime::link` frees them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use common::{Harness, openai_cfg};
use host_test::cfg;
use host_test::host::w;

#[tokio::test(flavor = "multi_thread")]
async fn leaks_reused_store_returns_every_host_resource() {
    let mut h = Harness::new().await;
    // Attempt timeouts make every outgoing request carry request-options.
    let config = w::GatewayConfig {
        attempt_timeouts: Some(w::AttemptTimeouts {
            connect_ms: Some(5_000),
            first_byte_ms: Some(5_000),
            between_bytes_ms: Some(5_000),
        }),
        ..cfg::gateway(vec![openai_cfg(&h)], Some("openai"))
    };
    let gw = h.open(&config).await;
    h.run(gw, "gpt-4o", &cfg::user("warm up"), &cfg::options())
        .await
        .unwrap();
    let before = h.inst.store.data_mut().table_entries();
    for i in 0..20 {
        h.run(
            gw,
            "gpt-4o",
            &cfg::user(&format!("run {i}")),
            &cfg::options(),
        )
        .await
        .unwrap();
        let events = h
            .stream_all(gw, "gpt-4o", &cfg::user(&format!("stream {i}")), None)
            .await;
        assert!(
            matches!(events.last(), Some(w::StreamEvent::Done(_))),
            "{events:?}"
        );
    }
    assert_eq!(
        h.inst.store.data_mut().table_entries(),
        before,
        "40 calls left host resources behind in the store"
    );
}

//! The OpenAI-compatible proxy (composed with the gateway, served by
//! host-test on wasmtime) driven by the official `openai` Python SDK.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::path::Path;
use std::process::Command;

use host_test::mock::MockServer;
use serde_json::json;

/// The proxy's settings for the SDK tests: the shared front-door config
/// with one client key.
fn proxy_config(mock: &str) -> serde_json::Value {
    common::front::config(
        mock,
        &json!({"clients": [{"name": "sdk-tests", "key_variable": "client_key", "requests_per_minute": 1000}]}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_python_sdk_against_the_proxy() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = repo.join("examples/python/.venv/bin/python");
    assert!(
        python.exists(),
        "needs the Python venv with the openai SDK: .ci/setup creates it"
    );
    let mock = MockServer::start().await.unwrap();
    let vars = [("client_key", "sk-proxy-client")];
    let (server, _kv, _dir) = common::front::serve(&proxy_config(&mock.base_url()), &vars).await;
    let started = std::time::Instant::now();
    let out = Command::new(python)
        .args(["-m", "unittest", "-v", "test_openai_sdk"])
        .current_dir(repo.join("proxy/tests"))
        .env("PROXY_URL", server.base_url())
        .env("PROXY_KEY", "sk-proxy-client")
        .env("MOCK_URL", mock.base_url())
        .env(
            "ANTHROPIC_TOOL_SSE",
            repo.join("tests/fixtures/anthropic/tool_use_response.sse"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openai SDK tests failed:\n{stderr}");
    println!(
        "openai SDK tests: ok in {:.1} s\n{stderr}",
        started.elapsed().as_secs_f64()
    );
}

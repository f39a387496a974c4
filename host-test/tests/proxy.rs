//! The OpenAI-compatible proxy (composed with the gateway, served by
//! host-test on wasmtime) driven by the official `openai` Python SDK.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::Path;
use std::process::Command;

use host_test::host::InstanceConfig;
use host_test::kv::KvStore;
use host_test::mock::MockServer;
use host_test::serve::{ServeConfig, composed_proxy, start};
use serde_json::json;

/// The proxy's settings for tests and benchmarks: the harness's model
/// names routed to the mock.
pub fn proxy_config(mock: &str) -> serde_json::Value {
    json!({
        "providers": [
            {"name": "mock", "kind": "openai", "base_url": format!("{mock}/v1"), "api_key_variable": "upstream_key"},
            {"name": "mock-anthropic", "kind": "anthropic", "base_url": mock, "api_key_variable": "upstream_key"}
        ],
        "default_provider": "mock",
        "routes": [{"pattern": "claude-*", "provider": "mock-anthropic"}],
        "models": ["mock-model", "claude-mock"],
        "clients": [{"name": "sdk-tests", "key_variable": "client_key", "requests_per_minute": 1000}]
    })
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
    let (kv, _dir) = KvStore::temporary().unwrap();
    let mut instance = InstanceConfig::new(kv);
    instance.variables = std::sync::Arc::new(
        [
            ("gateway_config", proxy_config(&mock.base_url()).to_string()),
            ("upstream_key", "sk-upstream".into()),
            ("client_key", "sk-proxy-client".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    );
    let server = start(
        &composed_proxy().unwrap(),
        ServeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            instance,
            pooling: false,
            max_idle: 8,
            otlp: None,
        },
    )
    .await
    .unwrap();
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

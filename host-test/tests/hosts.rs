//! The same `ai-gateway.wasm` on the other hosts, each driven against this
//! process's mock upstream: Cloudflare Workers (jco + real workerd via
//! miniflare) and Python (wasmtime from PyPI). Each test names the setup it
//! needs (`.ci/setup` installs it).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use host_test::host::gateway_wasm;
use host_test::mock::MockServer;
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// SHA-256 of the component every host test runs.
pub fn gateway_sha256() -> String {
    let bytes = std::fs::read(gateway_wasm()).expect("the component is built");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn run(cmd: &mut Command, what: &str) {
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("{what}: ok in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_workerd_runs_the_component() {
    let dir = repo().join("examples/workers");
    assert!(
        dir.join("node_modules/miniflare").exists(),
        "examples/workers needs its npm packages: .ci/setup installs them (npm ci in examples/workers)"
    );
    let mock = MockServer::start().await.unwrap();
    run(
        Command::new("node")
            .arg("build.mjs")
            .current_dir(&dir)
            .env("AI_GATEWAY_WASM", gateway_wasm()),
        "jco transpile + esbuild",
    );
    run(
        Command::new("node")
            .args(["--test", "test/"])
            .current_dir(&dir)
            .env("MOCK_URL", mock.base_url())
            .env("EXPECTED_SHA256", gateway_sha256()),
        "workerd tests (miniflare)",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn python_wasmtime_runs_the_component() {
    let dir = repo().join("examples/python");
    let python = dir.join(".venv/bin/python");
    assert!(
        python.exists(),
        "examples/python needs its venv: .ci/setup creates it (pip install -r requirements.txt)"
    );
    let mock = MockServer::start().await.unwrap();
    run(
        Command::new(python)
            .args(["-m", "unittest", "-v", "test_gateway"])
            .current_dir(&dir)
            .env("MOCK_URL", mock.base_url())
            .env("AI_GATEWAY_WASM", gateway_wasm())
            .env("EXPECTED_SHA256", gateway_sha256()),
        "python (wasmtime-py) tests",
    );
}

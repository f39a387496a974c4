//! The TypeScript package `packages/js` (`@workkit/ai-gateway`) over the same
//! `ai-gateway.wasm`: built by its own script (jco), then its tests against
//! this process's mock upstream in Node and in workerd (miniflare), a check
//! that its wasm is byte-identical to the one every host test runs, `tsc
//! --noEmit` over the README's code, and `npm pack` installed in a fresh
//! directory. `.ci/setup` installs its npm packages (`npm ci`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use host_test::host::{allowlist_wasm, gateway_wasm};
use host_test::mock::MockServer;
use sha2::{Digest, Sha256};

fn package() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packages/js")
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

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("the component is built");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn js_package_runs_in_node_and_workerd() {
    let dir = package();
    assert!(
        dir.join("node_modules/miniflare").exists() && dir.join("node_modules/typescript").exists(),
        "packages/js needs its npm packages: .ci/setup installs them (npm ci in packages/js)"
    );
    run(
        Command::new("node")
            .arg("build.mjs")
            .current_dir(&dir)
            .env("AI_GATEWAY_WASM", gateway_wasm())
            .env("AI_GATEWAY_ALLOWLIST_WASM", allowlist_wasm()),
        "npm run build (jco transpile + jco types)",
    );
    // The package's copy is the very file the other hosts run.
    let copied = std::fs::read(dir.join("dist/wasm/ai_gateway.wasm")).unwrap();
    assert!(
        copied == std::fs::read(gateway_wasm()).unwrap(),
        "dist/wasm/ai_gateway.wasm differs from {}",
        gateway_wasm().display()
    );
    let sums = std::fs::read_to_string(dir.join("dist/SHA256SUMS")).unwrap();
    assert!(sums.contains(&format!(
        "{}  wasm/ai_gateway.wasm",
        sha256(&gateway_wasm())
    )));
    run(
        Command::new("node")
            .args(["node_modules/.bin/tsc", "-p", "test/types"])
            .current_dir(&dir),
        "tsc --noEmit over the README's code",
    );
    let mock = MockServer::start().await.unwrap();
    run(
        Command::new("node")
            // One file at a time: the files share the mock upstream.
            .args([
                "--test",
                "--test-concurrency=1",
                "test/node.test.mjs",
                "test/workerd.test.mjs",
                "test/pack.test.mjs",
            ])
            .current_dir(&dir)
            .env("MOCK_URL", mock.base_url())
            .env("EXPECTED_SHA256", sha256(&gateway_wasm()))
            .env("AI_GATEWAY_WASM", gateway_wasm())
            .env("AI_GATEWAY_ALLOWLIST_WASM", allowlist_wasm()),
        "node --test: Node, workerd (miniflare), npm pack",
    );
    // The same suite in Bun (npm's `bun` package, pinned in package.json).
    run(
        Command::new(dir.join("node_modules/.bin/bun"))
            .args(["test", "./test/bun.test.mjs"])
            .current_dir(&dir)
            .env("MOCK_URL", mock.base_url())
            .env("EXPECTED_SHA256", sha256(&gateway_wasm())),
        "bun test",
    );
}

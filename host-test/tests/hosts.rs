//! The same `ai-gateway.wasm` on the other hosts, each driven against this
//! process's mock upstream: Cloudflare Workers (jco + real workerd via
//! miniflare), Python (wasmtime from PyPI) and Spin (the composed proxy app,
//! checked against Spin 4.0.2's world and served by `host-test serve`). Each
//! test names the setup it needs (`.ci/setup` installs it).

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

use host_test::client::{Client, sse_data};
use host_test::host::{InstanceConfig, allowlist_wasm, gateway_wasm};
use host_test::kv::KvStore;
use host_test::mock::{MockServer, Reply};
use serde_json::json;
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
    // The OpenAI-compatible proxy, composed with this same gateway, is
    // transpiled and tested in workerd too (test/proxy.test.mjs).
    let proxy = host_test::serve::composed_proxy().expect("wac plug (installed by .ci/setup)");
    run(
        Command::new("node")
            .arg("build.mjs")
            .current_dir(&dir)
            .env("AI_GATEWAY_WASM", gateway_wasm())
            .env("AI_GATEWAY_PROXY_WASM", proxy),
        "jco transpile + esbuild",
    );
    run(
        Command::new("node")
            // One file at a time: the files share the mock upstream.
            .args(["--test", "--test-concurrency=1", "test/"])
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
        "examples/python needs its venv: .ci/setup creates it (pip install ./examples/python + pytest)"
    );
    let mock = MockServer::start().await.unwrap();
    run(
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(&dir)
            .env("MOCK_URL", mock.base_url())
            .env("AI_GATEWAY_WASM", gateway_wasm())
            .env("AI_GATEWAY_ALLOWLIST_WASM", allowlist_wasm())
            .env("EXPECTED_SHA256", gateway_sha256()),
        "python (wasmtime-py) tests",
    );
}

/// The gateway's bytes appear unchanged inside a composed component.
fn contains_gateway(composed: &[u8], gateway: &[u8]) -> bool {
    let Some(head) = gateway.get(..64) else {
        return false;
    };
    composed
        .windows(head.len())
        .enumerate()
        .filter(|(_, w)| *w == head)
        .any(|(i, _)| composed.get(i..i + gateway.len()) == Some(gateway))
}

#[tokio::test(flavor = "multi_thread")]
async fn spin_app_targets_spin_4_and_serves_over_http() {
    // 1. Compose with wac and check against Spin 4.0.2's own platform world.
    let composed = host_test::serve::composed_proxy().expect("wac plug (installed by .ci/setup)");
    let spin_wit = repo().join("tests/hosts/spin-4.0.2/wit");
    let wasm_tools = std::env::var("WASM_TOOLS").unwrap_or_else(|_| "wasm-tools".into());
    run(
        Command::new(wasm_tools)
            .args(["component", "targets"])
            .arg(&spin_wit)
            .arg(&composed)
            .args(["--world", "http-trigger-p2"]),
        "wasm-tools component targets --world http-trigger-p2",
    );
    let bytes = std::fs::read(&composed).unwrap();
    let gateway = std::fs::read(gateway_wasm()).unwrap();
    assert!(
        contains_gateway(&bytes, &gateway),
        "the composed app embeds the same ai-gateway.wasm (sha256 {})",
        gateway_sha256()
    );

    // 2. The manifest: the composed file, the key-value store, every variable.
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo().join("examples/spin/spin.toml")).unwrap())
            .unwrap();
    let component = &manifest["component"]["ai-gateway"];
    let source = repo()
        .join("examples/spin")
        .join(component["source"].as_str().unwrap());
    assert_eq!(
        source.canonicalize().unwrap(),
        composed.canonicalize().unwrap()
    );
    assert_eq!(
        component["key_value_stores"].as_array().unwrap()[0].as_str(),
        Some("default")
    );
    let hosts: Vec<&str> = component["allowed_outbound_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        hosts.contains(&"https://api.openai.com") && hosts.contains(&"https://api.anthropic.com")
    );
    let declared = manifest["variables"].as_table().unwrap();
    let passed = component["variables"].as_table().unwrap();
    let config: serde_json::Value =
        serde_json::from_str(declared["gateway_config"]["default"].as_str().unwrap()).unwrap();
    let mut needed: Vec<String> = vec!["gateway_config".into()];
    needed.extend(
        config["providers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["api_key_variable"].as_str().map(str::to_owned)),
    );
    needed.extend(
        config["clients"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["key_variable"].as_str().map(str::to_owned)),
    );
    for v in &needed {
        assert!(
            declared.contains_key(v) && passed.contains_key(v),
            "variable {v} is declared and passed to the component"
        );
    }

    // 3. Serve the same composed component on wasmtime and drive it over HTTP.
    let mock = MockServer::start().await.unwrap();
    let mut cfg = config.clone();
    cfg["providers"][0]["base_url"] = json!(format!("{}/v1", mock.base_url()));
    cfg["providers"][1]["base_url"] = json!(mock.base_url());
    let vars = [
        ("gateway_config", cfg.to_string()),
        ("openai_api_key", "sk-spin-test".into()),
        ("anthropic_api_key", "sk-ant-spin-test".into()),
        ("proxy_key", "caller-key".into()),
    ];
    let (kv, _dir) = KvStore::temporary().unwrap();
    let mut instance = InstanceConfig::new(kv);
    instance.variables = std::sync::Arc::new(
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    );
    let serve_cfg = host_test::serve::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        instance,
        pooling: false,
        max_idle: 4,
        otlp: None,
    };
    let server = host_test::serve::start(&composed, serve_cfg).await.unwrap();
    let url = |p: &str| format!("{}{p}", server.base_url());
    let auth = [("authorization", "Bearer caller-key")];
    let http = Client::new();

    let r = http
        .post_json(
            &url("/v1/chat/completions"),
            &[],
            &json!({"model": "gpt-4o-mini", "messages": []}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "callers need the proxy key");

    let chat =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello Spin"}]});
    let r = http
        .post_json(&url("/v1/chat/completions"), &auth, &chat)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "Hello! I am the ai-gateway mock upstream."
    );
    let upstream = mock.last().unwrap();
    assert_eq!(
        upstream.header("authorization"),
        Some("Bearer sk-spin-test")
    );

    // The cache bucket "default" is the key-value store Spin grants.
    let r = http
        .post_json(&url("/v1/chat/completions"), &auth, &chat)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(mock.hits(), 1, "the second identical call was a cache hit");

    mock.push(Reply::sse(
        host_test::mock::ANTHROPIC_TEXT_SSE,
        std::time::Duration::ZERO,
    ));
    let stream = json!({"model": "claude-sonnet-4-6", "stream": true, "messages": [{"role": "user", "content": "stream"}]});
    let r = http
        .post_json(&url("/v1/chat/completions"), &auth, &stream)
        .await
        .unwrap();
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let data = sse_data(&r.text());
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let text: String = data
        .iter()
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello there!");
    assert!(
        mock.last().unwrap().path.ends_with("/v1/messages"),
        "claude-* routes to the Anthropic provider"
    );
}

/// Spin 4.0.2's WIT, the gateway's package and the spin-sdk app's check
/// world, side by side in `dir` (the check world includes both).
fn spin_wit_with_gateway(dir: &Path) {
    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    copy_dir(&repo().join("tests/hosts/spin-4.0.2/wit"), dir);
    let gateway = dir.join("deps/workkit-ai-gateway");
    std::fs::create_dir_all(&gateway).unwrap();
    for file in ["gateway.wit", "types.wit", "worlds.wit"] {
        std::fs::copy(repo().join("wit").join(file), gateway.join(file)).unwrap();
    }
    let check = dir.join("deps/spin-chat-check");
    std::fs::create_dir_all(&check).unwrap();
    std::fs::copy(
        repo().join("examples/spin/sdk-app/wit-check/check.wit"),
        check.join("check.wit"),
    )
    .unwrap();
}

/// The `import`/`export` lines of `wasm-tools component wit <wasm>`.
fn component_items(wasm: &Path, kind: &str) -> Vec<String> {
    let wasm_tools = std::env::var("WASM_TOOLS").unwrap_or_else(|_| "wasm-tools".into());
    let out = Command::new(wasm_tools)
        .args(["component", "wit"])
        .arg(wasm)
        .output()
        .expect("wasm-tools (installed by .ci/setup)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix(kind)?.strip_prefix(' '))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn spin_sdk_app_with_gateway_dependency_targets_spin_4_and_serves_over_http() {
    let app = host_test::host::proxy_wasm().with_file_name("spin_chat.wasm");
    let gateway_path = gateway_wasm();

    // 1. The manifest: the app's source, the gateway as its component
    //    dependency, inheriting exactly the capabilities it uses.
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(repo().join("examples/spin/spin.toml")).unwrap())
            .unwrap();
    let spin_dir = repo().join("examples/spin");
    let component = &manifest["component"]["chat"];
    assert_eq!(
        spin_dir
            .join(component["source"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        app.canonicalize().unwrap()
    );
    let deps = component["dependencies"].as_table().unwrap();
    assert_eq!(deps.len(), 1, "{deps:?}");
    let dep = &deps["workkit:ai-gateway@0.3.0"];
    assert_eq!(
        spin_dir
            .join(dep["path"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        gateway_path.canonicalize().unwrap(),
        "the dependency is the unchanged ai-gateway.wasm"
    );
    let inherited: Vec<&str> = dep["inherit_configuration"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(inherited, ["allowed_outbound_hosts", "key_value_stores"]);
    assert!(
        component
            .get("dependencies_inherit_configuration")
            .is_none(),
        "Spin 4 refuses the component-level flag next to per-dependency inheritance"
    );
    assert_eq!(
        component["key_value_stores"].as_array().unwrap()[0].as_str(),
        Some("default")
    );
    let declared = manifest["variables"].as_table().unwrap();
    let passed = component["variables"].as_table().unwrap();
    let config: serde_json::Value =
        serde_json::from_str(declared["chat_config"]["default"].as_str().unwrap()).unwrap();
    let mut needed: Vec<String> = vec!["chat_config".into()];
    needed.extend(
        config["providers"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["api_key_variable"].as_str().map(str::to_owned)),
    );
    for v in &needed {
        assert!(
            declared.contains_key(v) && passed.contains_key(v),
            "variable {v} is declared and passed to the chat component"
        );
    }
    assert_eq!(
        config["cache"]["bucket"].as_str(),
        Some("default"),
        "the cache uses the store the manifest grants"
    );

    // 2. What the app itself imports and exports, checked against Spin
    //    4.0.2's platform plus the gateway interfaces the dependency provides.
    let exports = component_items(&app, "export");
    assert_eq!(
        exports,
        ["wasi:http/incoming-handler@0.2.0"],
        "spin-sdk 5 exports the 0.2.0 handler, as spin:up/http-trigger@3.4.0 does"
    );
    let scratch = tempfile::tempdir().unwrap();
    spin_wit_with_gateway(scratch.path());
    let wasm_tools = std::env::var("WASM_TOOLS").unwrap_or_else(|_| "wasm-tools".into());
    run(
        Command::new(&wasm_tools)
            .args(["component", "targets"])
            .arg(scratch.path())
            .arg(&app)
            .args(["--world", "example:spin-chat-check/app-imports"]),
        "wasm-tools component targets <spin_chat.wasm> --world app-imports",
    );

    // 3. Compose as Spin does with a `path` dependency, and check the result:
    //    imports only what Spin 4.0.2's platform lists, and embeds the gateway.
    let composed = repo().join("target/composed/spin-chat.wasm");
    host_test::serve::wac_plug(&app, &gateway_path, &composed).expect("wac plug");
    run(
        Command::new(&wasm_tools)
            .args(["component", "targets"])
            .arg(repo().join("tests/hosts/spin-4.0.2/wit"))
            .arg(&composed)
            .args(["--world", "library"]),
        "wasm-tools component targets <spin-chat composed> --world library",
    );
    let imports = component_items(&composed, "import");
    assert!(
        imports.iter().all(|i| i.ends_with("@0.2.6")
            || i.ends_with("@0.2.0-draft2")
            || i == "fermyon:spin/variables@2.0.0"),
        "{imports:?}"
    );
    assert!(
        !imports.iter().any(|i| i.starts_with("workkit:")),
        "the dependency satisfies every gateway import: {imports:?}"
    );
    assert_eq!(
        component_items(&composed, "export"),
        ["wasi:http/incoming-handler@0.2.0"]
    );
    let bytes = std::fs::read(&composed).unwrap();
    let gateway = std::fs::read(&gateway_path).unwrap();
    assert!(
        contains_gateway(&bytes, &gateway),
        "the composed app embeds the same ai-gateway.wasm (sha256 {})",
        gateway_sha256()
    );

    // 4. Serve the composed component on wasmtime and drive it over HTTP.
    let mock = MockServer::start().await.unwrap();
    let mut cfg = config.clone();
    cfg["providers"][0]["base_url"] = json!(format!("{}/v1", mock.base_url()));
    cfg["providers"][1]["base_url"] = json!(mock.base_url());
    let vars = [
        ("chat_config", cfg.to_string()),
        ("openai_api_key", "sk-spin-test".into()),
        ("anthropic_api_key", "sk-ant-spin-test".into()),
    ];
    let (kv, _dir) = KvStore::temporary().unwrap();
    let mut instance = InstanceConfig::new(kv);
    instance.variables = std::sync::Arc::new(
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    );
    let serve_cfg = host_test::serve::ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        instance,
        pooling: false,
        max_idle: 4,
        otlp: None,
    };
    let server = host_test::serve::start(&composed, serve_cfg).await.unwrap();
    let url = |p: &str| format!("{}{p}", server.base_url());
    let http = Client::new();

    let r = http
        .post_json(&url("/chat"), &[], &json!({"text": "no prompt"}))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["kind"], "validation");
    let r = http.get(&url("/nowhere"), &[]).await.unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(mock.hits(), 0);

    let chat = json!({"prompt": "Hello Spin", "system": "Be brief."});
    let r = http.post_json(&url("/chat"), &[], &chat).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let reply = r.json();
    assert_eq!(reply["text"], host_test::mock::MOCK_TEXT);
    assert_eq!(reply["provider"], "openai");
    assert_eq!(reply["cached"], false);
    let upstream = mock.last().unwrap();
    assert_eq!(
        upstream.header("authorization"),
        Some("Bearer sk-spin-test"),
        "the key came from the Spin variable the config names"
    );
    let sent = upstream.json();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][1]["content"], "Hello Spin");

    // The same call again is served from the key-value store "default".
    let r = http.post_json(&url("/chat"), &[], &chat).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["cached"], true);
    assert_eq!(mock.hits(), 1, "the second identical call was a cache hit");

    // An upstream failure becomes a typed error with a status.
    mock.push(Reply::json(
        401,
        json!({"error": {"message": "bad key", "type": "invalid_request_error"}}),
    ));
    let r = http
        .post_json(&url("/chat"), &[], &json!({"prompt": "again"}))
        .await
        .unwrap();
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.json()["error"]["kind"], "auth");
    assert!(
        !r.text().contains("sk-spin-test"),
        "the key never reaches the client"
    );

    // Streaming: server-sent events as the upstream sends them.
    mock.push(Reply::sse(
        host_test::mock::OPENAI_TEXT_SSE,
        std::time::Duration::ZERO,
    ));
    let r = http
        .post_json(
            &url("/chat/stream"),
            &[],
            &json!({"prompt": "weather?", "model": "gpt-4o"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let events: Vec<serde_json::Value> = sse_data(&r.text())
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = events.iter().filter_map(|e| e["text"].as_str()).collect();
    assert!(text.contains("San Francisco"), "{text}");
    let done = &events.last().unwrap()["done"];
    assert_eq!(done["provider"], "openai", "{events:?}");
    assert_eq!(done["usage"]["output_tokens"], 14);
    assert_eq!(mock.last().unwrap().json()["stream"], true);
}

//! Composition (`examples/compose`): a component of our own that uses the
//! gateway (the summarizer), and a provider written as a component (the echo
//! provider) plugged into the `gateway-with-providers` build -- while the
//! default gateway keeps importing only WASI (component_contract.rs).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::path::{Path, PathBuf};

use host_test::cfg;
use host_test::host::{
    InstanceConfig, Runtime, default_cache_dir, echo_provider_wasm, gateway_ext_wasm, gateway_wasm,
    summarizer_wasm, w,
};
use host_test::kv::KvStore;
use host_test::mock::{MOCK_TEXT, MockServer};
use host_test::serve::{wac_compose, wac_plug};
use wasmtime::component::{ComponentType, Lower};

fn composed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/composed")
        .join(name)
}

/// `import` lines of a component's world, without the WASI CLI ones std adds.
fn imports(wasm: &Path) -> Vec<String> {
    let out = std::process::Command::new(
        std::env::var("WASM_TOOLS").unwrap_or_else(|_| "wasm-tools".into()),
    )
    .args(["component", "wit"])
    .arg(wasm)
    .output()
    .expect("wasm-tools runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let world = text
        .rsplit("\nworld ")
        .next()
        .unwrap_or_default()
        .to_owned();
    world
        .lines()
        .filter_map(|l| l.trim().strip_prefix("import "))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect()
}

fn gateway_with_echo() -> PathBuf {
    let out = composed("gateway-echo.wasm");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/compose/gateway-with-echo.wac");
    wac_compose(
        &script,
        &[
            ("workkit:ai-gateway", &gateway_ext_wasm()),
            ("example:echo-provider", &echo_provider_wasm()),
        ],
        &out,
    )
    .unwrap();
    out
}

#[derive(ComponentType, Lower)]
#[component(record)]
struct Provider {
    #[component(name = "base-url")]
    base_url: String,
    #[component(name = "api-key")]
    api_key: Option<String>,
    model: String,
}

/// Instantiate a composed summarizer and call `summarize`.
async fn summarize(
    wasm: &Path,
    kv: &KvStore,
    provider: Provider,
    text: &str,
) -> Result<String, String> {
    let engine = host_test::host::engine(false, Some(&default_cache_dir())).unwrap();
    let component = wasmtime::component::Component::from_file(&engine, wasm).unwrap();
    let linker = host_test::host::link(&engine).unwrap();
    let mut store = host_test::host::new_store(&engine, &InstanceConfig::new(kv.clone()));
    let instance = linker
        .instantiate_async(&mut store, &component)
        .await
        .unwrap();
    let iface = instance
        .get_export_index(&mut store, None, "example:summarizer/summarize@0.1.0")
        .expect("exports summarize");
    let func = instance
        .get_export_index(&mut store, Some(&iface), "summarize")
        .unwrap();
    let f = instance
        .get_typed_func::<(Provider, &str, u32), (Result<String, String>,)>(&mut store, &func)
        .unwrap();
    let (result,) = f
        .call_async(&mut store, (provider, text, 12))
        .await
        .unwrap();
    result
}

fn only_wasi(imports: &[String]) {
    assert!(!imports.is_empty());
    for i in imports {
        assert!(
            i.starts_with("wasi:"),
            "a composed component imports only WASI, found {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_summarizer_with_gateway_by_wac_plug() {
    let out = composed("summarizer.wasm");
    wac_plug(&summarizer_wasm(), &gateway_wasm(), &out).unwrap();
    only_wasi(&imports(&out));
    let mock = MockServer::start().await.unwrap();
    let (kv, _d) = KvStore::temporary().unwrap();
    let provider = Provider {
        base_url: format!("{}/v1", mock.base_url()),
        api_key: Some("sk-sum".into()),
        model: "gpt-4o-mini".into(),
    };
    let summary = summarize(
        &out,
        &kv,
        provider,
        "A long text about WebAssembly components.",
    )
    .await
    .unwrap();
    assert_eq!(summary, MOCK_TEXT);
    let req = mock.last().unwrap().json();
    assert_eq!(
        req["messages"][0]["content"],
        "Summarize the user's text in at most 12 words. Answer with the summary only."
    );
    assert_eq!(
        req["messages"][1]["content"],
        "A long text about WebAssembly components."
    );
    assert_eq!(
        mock.last().unwrap().header("authorization"),
        Some("Bearer sk-sum")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_provider_component_serves_custom_provider_without_network() {
    let out = gateway_with_echo();
    only_wasi(&imports(&out));
    let mock = MockServer::start().await.unwrap();
    let (kv, _d) = KvStore::temporary().unwrap();
    let runtime = Runtime::new(&out, false, Some(&default_cache_dir())).unwrap();
    let mut inst = runtime.instance(&InstanceConfig::new(kv)).await.unwrap();
    let echo = w::ProviderConfig {
        base_url: Some("component://echo/v1".into()),
        wire_format: Some(w::WireFormat::Openai),
        ..cfg::provider("echo", w::ProviderKind::Custom)
    };
    let http = cfg::openai("openai", "sk-1", Some(&format!("{}/v1", mock.base_url())));
    let gw = inst
        .open(&cfg::gateway(vec![echo, http], Some("echo")))
        .await
        .unwrap()
        .unwrap();
    let out = inst
        .run(gw, "echo-1", &cfg::user("hello components"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (out.provider.as_str(), out.text.as_str()),
        ("echo", "echo: hello components")
    );
    assert_eq!(out.usage.map(|u| u.output_tokens), Some(3));
    let s = inst
        .stream(gw, "echo-1", &cfg::user("stream me"), None)
        .await
        .unwrap()
        .unwrap();
    let events = inst.collect(s).await.unwrap();
    let text: String = events
        .iter()
        .filter_map(|e| {
            if let w::StreamEvent::Text(t) = e {
                Some(t.as_str())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(text, "echo: stream me");
    assert!(matches!(events.last(), Some(w::StreamEvent::Done(d)) if d.usage.is_some()));
    assert_eq!(mock.hits(), 0, "the component provider needs no network");
    // HTTP providers in the same gateway still go out through wasi:http.
    let opts = w::RunOptions {
        provider: Some("openai".into()),
        ..cfg::options()
    };
    let out = inst
        .run(gw, "gpt-4o", &cfg::user("hi"), Some(&opts))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.text, MOCK_TEXT);
    assert_eq!(mock.hits(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_three_components_summarizer_gateway_echo() {
    let gateway = gateway_with_echo();
    let out = composed("summarizer-echo.wasm");
    wac_plug(&summarizer_wasm(), &gateway, &out).unwrap();
    only_wasi(&imports(&out));
    let (kv, _d) = KvStore::temporary().unwrap();
    let provider = Provider {
        base_url: "component://echo/v1".into(),
        api_key: None,
        model: "echo-1".into(),
    };
    let summary = summarize(&out, &kv, provider, "three components, one binary")
        .await
        .unwrap();
    assert_eq!(summary, "echo: three components, one binary");
}

#[tokio::test(flavor = "multi_thread")]
async fn default_gateway_rejects_component_providers_clearly() {
    let mut h = common::Harness::new().await;
    let echo = w::ProviderConfig {
        base_url: Some("component://echo/v1".into()),
        wire_format: Some(w::WireFormat::Openai),
        ..cfg::provider("echo", w::ProviderKind::Custom)
    };
    let gw = h.open(&cfg::gateway(vec![echo], Some("echo"))).await;
    let e = h
        .run(gw, "m", &cfg::user("hi"), &cfg::options())
        .await
        .expect_err("no provider import in the default build");
    match e {
        w::GatewayError::Validation(m) => assert!(m.contains("gateway-with-providers"), "{m}"),
        other => panic!("{other:?}"),
    }
}

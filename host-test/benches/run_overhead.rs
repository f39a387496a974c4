//! In-process cost of `run` in the wasmtime host, against a loopback
//! upstream (host-test's mock on 127.0.0.1):
//!
//! - `direct/keep-alive` and `direct/new-connection`: the same chat request
//!   sent by a native hyper client, the baseline the component is compared
//!   against (with and without connection reuse);
//! - `component/warm/*`: `run` on an instance and gateway that stay open, as
//!   `serve` reuses its instances;
//! - `component/fresh-instance/*`: instantiate from the pre-linked
//!   component, open a gateway, `run`, drop, for every call;
//! - `*/new-connection` uses wasmtime-wasi-http's default sender (a TCP
//!   connection per request), `*/pooled` host-test's keep-alive pool;
//! - `startup/*`: loading the pre-compiled component and instantiating it.
//!
//! Added latency = component median − direct median. Cold compile time is
//! printed once (cranelift, no cache); it is too slow for criterion's loop.
//!
//!     cargo bench -p host-test --bench run_overhead

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark setup: a failure should stop the run"
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use host_test::cfg;
use host_test::host::{InstanceConfig, Runtime, UpstreamPool, engine, gateway_wasm, link};
use host_test::kv::KvStore;
use host_test::mock::MockServer;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use wasmtime::component::Component;

const MODEL: &str = "mock-model";
const PROMPT: &str = "Say hello.";

fn request_body() -> Bytes {
    // What the component sends for this call (model, messages, max tokens).
    Bytes::from(
        serde_json::json!({
            "model": MODEL,
            "messages": [{"role": "user", "content": PROMPT}],
        })
        .to_string(),
    )
}

async fn direct(client: &Client<HttpConnector, Full<Bytes>>, url: &str) {
    let req = http::Request::post(url)
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-bench")
        .body(Full::new(request_body()))
        .unwrap();
    let res = client.request(req).await.unwrap();
    assert!(res.status().is_success());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(
        v.pointer("/choices/0/message/content")
            .is_some_and(serde_json::Value::is_string)
    );
}

fn benches(c: &mut Criterion) {
    // BENCH_RUNTIME=current-thread: everything on one thread (no cross-thread
    // wake-ups between the caller, the host's HTTP tasks and the mock).
    let rt = if std::env::var("BENCH_RUNTIME").as_deref() == Ok("current-thread") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    let mock = rt.block_on(MockServer::start()).unwrap();
    let url = format!("{}/v1/chat/completions", mock.base_url());
    let config = cfg::gateway(
        vec![cfg::openai(
            "mock",
            "sk-bench",
            Some(&format!("{}/v1", mock.base_url())),
        )],
        Some("mock"),
    );
    let input = cfg::user(PROMPT);
    let dir = tempfile::tempdir().unwrap();
    let kv = KvStore::open(&dir.path().join("kv.redb")).unwrap();
    let icfg = InstanceConfig::new(kv);

    let mut g = c.benchmark_group("run");
    g.measurement_time(Duration::from_secs(8));

    let keep_alive = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    g.bench_function("direct/keep-alive", |b| {
        b.iter(|| rt.block_on(direct(&keep_alive, &url)));
    });
    let fresh = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http::<Full<Bytes>>();
    g.bench_function("direct/new-connection", |b| {
        b.iter(|| rt.block_on(direct(&fresh, &url)));
    });

    let runtime = Runtime::new(&gateway_wasm(), true, None).unwrap();
    let pooled = InstanceConfig {
        pool: Some(UpstreamPool::default()),
        ..icfg.clone()
    };
    for (name, icfg) in [("new-connection", &icfg), ("pooled", &pooled)] {
        let mut inst = rt.block_on(runtime.instance(icfg)).unwrap();
        let gw = rt.block_on(inst.open(&config)).unwrap().unwrap();
        g.bench_function(format!("component/warm/{name}"), |b| {
            b.iter(|| {
                let out = rt
                    .block_on(inst.run(gw, MODEL, &input, None))
                    .unwrap()
                    .unwrap();
                assert!(!out.text.is_empty());
            });
        });
        g.bench_function(format!("component/fresh-instance/{name}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut inst = runtime.instance(icfg).await.unwrap();
                    let gw = inst.open(&config).await.unwrap().unwrap();
                    let out = inst.run(gw, MODEL, &input, None).await.unwrap().unwrap();
                    assert!(!out.text.is_empty());
                });
            });
        });
    }
    g.finish();

    // Startup: a pre-compiled (serialized) component and instantiation.
    let eng = engine(true, None).unwrap();
    let started = Instant::now();
    let component = Component::from_file(&eng, gateway_wasm()).unwrap();
    let compile = started.elapsed();
    let bytes = component.serialize().unwrap();
    let wasm_len = std::fs::metadata(gateway_wasm()).map_or(0, |m| m.len());
    println!(
        "cold compile (cranelift, no cache): {:.0} ms for {} KB of wasm -> {} KB of native code",
        compile.as_secs_f64() * 1e3,
        wasm_len / 1024,
        bytes.len() / 1024
    );
    let linker = link(&eng).unwrap();
    let mut g = c.benchmark_group("startup");
    g.bench_function("deserialize", |b| {
        b.iter(|| load(&eng, &bytes));
    });
    let pre = linker.instantiate_pre(&component).unwrap();
    g.bench_function("instantiate-pre", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut store = host_test::host::new_store(&eng, &icfg);
                pre.instantiate_async(&mut store).await.unwrap();
            });
        });
    });
    g.finish();
}

#[allow(
    unsafe_code,
    reason = "wasmtime's deserialize of bytes this process serialized"
)]
fn load(eng: &wasmtime::Engine, bytes: &[u8]) -> Component {
    // SAFETY: the bytes come from `Component::serialize` on the same engine
    // configuration in this process.
    unsafe { Component::deserialize(eng, bytes) }.unwrap()
}

criterion_group!(run_overhead, benches);
criterion_main!(run_overhead);

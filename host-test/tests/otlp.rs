//! OpenTelemetry spans of `serve` over OTLP/HTTP (docs/adr/0012-otlp-spans.md):
//! a collector inside the test receives `POST /v1/traces`, decodes the
//! protobuf with the same generated messages, and the spans of known
//! traffic are checked: names, kinds, parents, GenAI attributes, usage,
//! `error.type` and status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::process::ServeProcess;
use host_test::client::Client;
use host_test::mock::{MockServer, Reply, canned};
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value as AnyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message as _;
use serde_json::{Value, json};

/// What the collector received: each request's content type, and every
/// span with its resource's `service.name`.
#[derive(Default)]
struct Received {
    content_types: Vec<String>,
    spans: Vec<(String, Span)>,
}

/// A minimal OTLP/HTTP traces receiver on 127.0.0.1.
struct Collector {
    url: String,
    received: Arc<Mutex<Received>>,
}

impl Collector {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Received::default()));
        let sink = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let sink = Arc::clone(&sink);
                        async move {
                            let ok = req.method() == hyper::Method::POST
                                && req.uri().path() == "/v1/traces";
                            let ct = req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let status = if ok {
                                let export = ExportTraceServiceRequest::decode(body).unwrap();
                                let mut r = sink.lock().unwrap();
                                r.content_types.push(ct);
                                for rs in export.resource_spans {
                                    let service = rs
                                        .resource
                                        .as_ref()
                                        .and_then(|r| str_attr(&r.attributes, "service.name"))
                                        .unwrap_or_default();
                                    for ss in rs.scope_spans {
                                        for span in ss.spans {
                                            r.spans.push((service.clone(), span));
                                        }
                                    }
                                }
                                200
                            } else {
                                404
                            };
                            let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            resp.headers_mut().insert(
                                "content-type",
                                hyper::header::HeaderValue::from_static("application/x-protobuf"),
                            );
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Self {
            url: format!("http://{addr}/v1/traces"),
            received,
        }
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.received.lock().unwrap().spans.clone()
    }

    /// Wait until `n` spans arrived (at most 20 s).
    async fn wait_for(&self, n: usize) -> Vec<(String, Span)> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let spans = self.spans();
            if spans.len() >= n || Instant::now() > until {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn str_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr(attrs, key) {
        Some(AnyValue::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key) {
        Some(AnyValue::IntValue(i)) => Some(*i),
        _ => None,
    }
}

fn bool_attr(attrs: &[KeyValue], key: &str) -> Option<bool> {
    match attr(attrs, key) {
        Some(AnyValue::BoolValue(b)) => Some(*b),
        _ => None,
    }
}

const COST: i64 = 150;

fn config(mock: &str) -> Value {
    json!({
        "providers": [{"name": "mock", "kind": "openai", "base_url": format!("{mock}/v1"),
                       "api_key_variable": "upstream_key"}],
        "default_provider": "mock",
        "models": ["mock-model"],
        "retry": {"max_attempts": 2},
        "cache": {"bucket": "cache", "ttl_seconds": 300},
        "pricing": [{"model": "mock-model", "input": 5_000_000, "output": 10_000_000}],
        "state_bucket": "state",
        "logging": {"level": "info", "stderr": true},
        "clients": [{"name": "open", "key_variable": "open_key"}]
    })
}

const UPSTREAM_KEY: &str = "sk-upstream-otlp-test";
const CLIENT_KEY: &str = "sk-client-otlp-test";

fn start_serve(
    dir: &tempfile::TempDir,
    mock: &MockServer,
    collector: &Collector,
    delay_ms: &str,
) -> ServeProcess {
    let cfg = dir.path().join("gateway.json");
    std::fs::write(&cfg, config(&mock.base_url()).to_string()).unwrap();
    ServeProcess::start_with_env(
        &[
            "--config".as_ref(),
            cfg.as_os_str(),
            "--var".as_ref(),
            format!("upstream_key={UPSTREAM_KEY}").as_ref(),
            "--var".as_ref(),
            format!("open_key={CLIENT_KEY}").as_ref(),
            "--otlp-endpoint".as_ref(),
            collector.url.as_ref(),
        ],
        &[
            ("OTEL_SERVICE_NAME", "aigw-otlp-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", delay_ms),
        ],
    )
}

async fn post(client: &Client, url: &str, body: &Value, extra: &[(&str, &str)]) -> (u16, String) {
    let auth = format!("Bearer {CLIENT_KEY}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let r = client.post_json(url, &headers, body).await.unwrap();
    (r.status, r.text())
}

fn prompt(text: &str) -> Value {
    json!({"model": "mock-model", "messages": [{"role": "user", "content": text}]})
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn otlp_spans_of_known_traffic_follow_the_genai_conventions() {
    let mock = MockServer::start().await.unwrap();
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let serve = start_serve(&dir, &mock, &collector, "100");
    let chat_url = format!("{}/v1/chat/completions", serve.url);
    let client = Client::new();

    // 1. A success, in the caller's trace.
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let (s, b) = post(
        &client,
        &chat_url,
        &prompt("secret prompt text"),
        &[("traceparent", &traceparent)],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let first = collector.wait_for(2).await;
    assert_eq!(first.len(), 2, "one HTTP span and one chat span");
    // 2. The same call again: a cache hit.
    let (s, b) = post(&client, &chat_url, &prompt("secret prompt text"), &[]).await;
    assert_eq!(s, 200, "{b}");
    let _ = collector.wait_for(4).await;
    // 3. A failure: both attempts answer 503.
    let unavailable = || Reply::raw(503, "application/json", canned::error_body("openai", 503));
    mock.push(unavailable());
    mock.push(unavailable());
    let (s, b) = post(&client, &chat_url, &prompt("fails"), &[]).await;
    assert_eq!(s, 503, "{b}");
    let _ = collector.wait_for(6).await;
    // 4. Embeddings. The gateway writes no log records for `embed` (yet),
    //    so this request has its HTTP span only.
    let (s, b) = post(
        &client,
        &format!("{}/v1/embeddings", serve.url),
        &json!({"model": "mock-model", "input": ["a", "b"]}),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let spans = collector.wait_for(7).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spans = if spans.len() == 7 {
        collector.spans()
    } else {
        spans
    };
    assert_eq!(spans.len(), 7, "{spans:#?}");

    for (service, _) in &spans {
        assert_eq!(
            service, "aigw-otlp-test",
            "OTEL_SERVICE_NAME is the service"
        );
    }
    {
        let r = collector.received.lock().unwrap();
        assert!(
            r.content_types
                .iter()
                .all(|c| c == "application/x-protobuf"),
            "{:?}",
            r.content_types
        );
    }
    let (http, gateway): (Vec<Span>, Vec<Span>) = spans
        .into_iter()
        .map(|(_, s)| s)
        .partition(|s| s.kind == SpanKind::Server as i32);
    assert_eq!(http.len(), 4);
    assert_eq!(gateway.len(), 3);
    // Each gateway call is the child of its request's span, in its trace.
    for g in &gateway {
        let parent = http
            .iter()
            .find(|h| h.span_id == g.parent_span_id)
            .unwrap_or_else(|| panic!("no parent for {}", g.name));
        assert_eq!(parent.trace_id, g.trace_id);
        assert!(parent.start_time_unix_nano <= g.start_time_unix_nano + 1_000_000);
        assert!(g.start_time_unix_nano <= g.end_time_unix_nano);
        assert!(g.end_time_unix_nano <= parent.end_time_unix_nano + 1_000_000);
        assert_eq!(g.kind, SpanKind::Client as i32);
        let a = &g.attributes;
        assert_eq!(str_attr(a, "gen_ai.provider.name").as_deref(), Some("mock"));
        assert_eq!(str_attr(a, "gen_ai.system").as_deref(), Some("mock"));
        assert_eq!(
            str_attr(a, "gen_ai.request.model").as_deref(),
            Some("mock-model")
        );
    }
    // Gateway spans end in order of the calls (they come from one tap each,
    // but the calls were sequential).
    let mut gateway = gateway;
    gateway.sort_by_key(|s| s.start_time_unix_nano);
    let mut http = http;
    http.sort_by_key(|s| s.start_time_unix_nano);

    // 1: the caller's trace and parent; a chat span with usage and cost.
    let h = &http[0];
    assert_eq!(hex(&h.trace_id), TRACE_ID);
    assert_eq!(hex(&h.parent_span_id), PARENT_ID);
    assert_eq!(h.name, "POST /v1/chat/completions");
    assert_eq!(
        str_attr(&h.attributes, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        str_attr(&h.attributes, "http.route").as_deref(),
        Some("/v1/chat/completions")
    );
    assert_eq!(
        int_attr(&h.attributes, "http.response.status_code"),
        Some(200)
    );
    let ok = &gateway[0];
    assert_eq!(ok.name, "chat mock-model");
    let a = &ok.attributes;
    assert_eq!(
        str_attr(a, "gen_ai.operation.name").as_deref(),
        Some("chat")
    );
    assert_eq!(int_attr(a, "gen_ai.usage.input_tokens"), Some(12));
    assert_eq!(int_attr(a, "gen_ai.usage.output_tokens"), Some(9));
    assert_eq!(int_attr(a, "ai_gateway.cost_micro_usd"), Some(COST));
    assert_eq!(int_attr(a, "ai_gateway.attempts"), Some(1));
    assert_eq!(bool_attr(a, "ai_gateway.cached"), Some(false));
    assert_eq!(str_attr(a, "error.type"), None);
    assert!(
        ok.status
            .as_ref()
            .is_none_or(|s| s.code != StatusCode::Error as i32)
    );

    // 2: a cache hit: no tokens used, nothing spent, a new root trace.
    let cached = &gateway[1];
    assert_eq!(cached.name, "chat mock-model");
    assert_ne!(hex(&cached.trace_id), TRACE_ID);
    assert!(http[1].parent_span_id.is_empty(), "a new trace's root");
    let a = &cached.attributes;
    assert_eq!(bool_attr(a, "ai_gateway.cached"), Some(true));
    assert_eq!(int_attr(a, "gen_ai.usage.input_tokens"), None);
    assert_eq!(int_attr(a, "gen_ai.usage.output_tokens"), None);
    assert_eq!(int_attr(a, "ai_gateway.cost_micro_usd").unwrap_or(0), 0);

    // 3: the failure: error.type is the gateway-error kind, status ERROR,
    // both attempts, and the retry as an event.
    let failed = &gateway[2];
    assert_eq!(failed.name, "chat mock-model");
    let a = &failed.attributes;
    assert_eq!(
        str_attr(a, "error.type").as_deref(),
        Some("service_unavailable")
    );
    assert_eq!(int_attr(a, "ai_gateway.attempts"), Some(2));
    let status = failed.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert!(
        status.message.starts_with("service unavailable:"),
        "{status:?}"
    );
    assert_eq!(failed.events.len(), 1, "{:?}", failed.events);
    assert_eq!(failed.events[0].name, "ai_gateway.retry");
    assert_eq!(
        str_attr(&failed.events[0].attributes, "error.type").as_deref(),
        Some("service_unavailable")
    );
    let h = &http[2];
    assert_eq!(
        int_attr(&h.attributes, "http.response.status_code"),
        Some(503)
    );
    assert_eq!(
        str_attr(&h.attributes, "error.type").as_deref(),
        Some("503")
    );
    assert_eq!(
        h.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );

    // 4: embeddings: the request's span.
    assert_eq!(http[3].name, "POST /v1/embeddings");
    assert_eq!(
        str_attr(&http[3].attributes, "http.route").as_deref(),
        Some("/v1/embeddings")
    );

    // No secret, no prompt, no header in any span.
    let dump = format!("{:?}", collector.spans());
    for secret in [UPSTREAM_KEY, CLIENT_KEY, "secret prompt text", "Bearer"] {
        assert!(!dump.contains(secret), "{secret} in a span");
    }

    // The exporter counts what it sent.
    let scrape = client
        .get(&format!("{}/metrics", serve.url), &[])
        .await
        .unwrap()
        .text();
    assert!(
        scrape.contains(r#"aigw_otlp_spans_total{outcome="exported"} 7"#),
        "{scrape}"
    );
}

/// Spans still queued when `serve` is interrupted reach the collector
/// before it exits; an unsampled caller's trace is not exported.
#[tokio::test(flavor = "multi_thread")]
async fn otlp_spans_are_flushed_on_ctrl_c_and_unsampled_traces_skipped() {
    let mock = MockServer::start().await.unwrap();
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    // A batch delay far longer than the test: only the flush sends.
    let mut serve = start_serve(&dir, &mock, &collector, "600000");
    let chat_url = format!("{}/v1/chat/completions", serve.url);
    let client = Client::new();
    let unsampled = format!("00-{TRACE_ID}-{PARENT_ID}-00");
    let (s, b) = post(
        &client,
        &chat_url,
        &prompt("not sampled"),
        &[("traceparent", &unsampled)],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(&client, &chat_url, &prompt("sampled"), &[]).await;
    assert_eq!(s, 200, "{b}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        collector.spans().is_empty(),
        "nothing sent before the flush"
    );
    let status = serve.interrupt();
    assert!(status.success(), "{status:?}\n{}", serve.log());
    let spans = collector.spans();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    assert_eq!(
        names.len(),
        2,
        "the sampled request and its call: {names:?}"
    );
    assert!(names.contains(&"chat mock-model"), "{names:?}");
    assert!(names.contains(&"POST /v1/chat/completions"), "{names:?}");
    assert!(
        spans.iter().all(|(_, s)| hex(&s.trace_id) != TRACE_ID),
        "the unsampled trace is not exported"
    );
}

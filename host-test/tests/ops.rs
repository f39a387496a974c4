//! Operations signals of `serve` (docs/adr/0011-operations-signals.md):
//! `/metrics` after known traffic, counted exactly; `/livez`, `/readyz`.
//!
//! The real binary serves the composed proxy with the gateway's `logging`
//! on stderr; the host turns those records into metrics by provider and
//! model, and measures HTTP itself.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::collections::BTreeMap;

use common::process::ServeProcess;
use host_test::client::{Client, sse_data};
use host_test::mock::{MockServer, Reply, canned};
use serde_json::{Value, json};

const COST: u64 = 150;
/// A budgeted call reserves its worst case first: a 3-byte prompt is at
/// most 3 + 32 + 16 = 51 input tokens (255) and `max_tokens` 9 caps the
/// output (90). Two calls fit: 0 + 345, then 150 + 345.
const WORST: u64 = 345;
const BUDGET: u64 = COST + WORST;

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
        "clients": [
            {"name": "open", "key_variable": "open_key"},
            {"name": "budgeted", "key_variable": "budgeted_key", "budget_micro_usd": BUDGET}
        ]
    })
}

/// An expected series: name, labels, value.
type Expect = (&'static str, Vec<(&'static str, &'static str)>, f64);

/// One sample line: name, labels, value.
type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

/// Parse the text exposition format (the subset the encoder writes).
fn parse(text: &str) -> Samples {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}').unwrap()),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            (name.to_owned(), labels, value.parse().unwrap())
        })
        .collect()
}

/// The value of the series `name` with exactly `labels`, 0 if absent.
fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map_or(0.0, |(_, _, v)| *v)
}

/// Sum of every series of `name`.
fn total(samples: &Samples, name: &str) -> f64 {
    samples
        .iter()
        .filter(|(n, _, _)| n == name)
        .map(|(_, _, v)| v)
        .sum()
}

async fn chat(client: &Client, base: &str, key: &str, body: &Value) -> (u16, String) {
    let auth = format!("Bearer {key}");
    let r = client
        .post_json(
            &format!("{base}/v1/chat/completions"),
            &[("authorization", &auth)],
            body,
        )
        .await
        .unwrap();
    (r.status, r.text())
}

fn prompt(text: &str) -> Value {
    json!({"model": "mock-model", "messages": [{"role": "user", "content": text}]})
}

#[tokio::test(flavor = "multi_thread")]
async fn ops_metrics_count_known_traffic_exactly() {
    let mock = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gateway.json");
    std::fs::write(&cfg, config(&mock.base_url()).to_string()).unwrap();
    let serve = ServeProcess::start(&[
        "--config".as_ref(),
        cfg.as_os_str(),
        "--var".as_ref(),
        "upstream_key=sk-upstream-ops-test".as_ref(),
        "--var".as_ref(),
        "open_key=sk-client-open-ops".as_ref(),
        "--var".as_ref(),
        "budgeted_key=sk-client-budgeted-ops".as_ref(),
    ]);
    let base = serve.url.clone();
    let client = Client::new();

    // Liveness and readiness: the component is compiled and the store answers.
    let live = client.get(&format!("{base}/livez"), &[]).await.unwrap();
    assert_eq!((live.status, live.text().as_str()), (200, "live\n"));
    let ready = client.get(&format!("{base}/readyz"), &[]).await.unwrap();
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));

    // N successes, then K of them again from the cache.
    const N: usize = 4;
    const K: usize = 3;
    for i in 0..N {
        let (s, b) = chat(
            &client,
            &base,
            "sk-client-open-ops",
            &prompt(&format!("ok {i}")),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    for i in 0..K {
        let (s, b) = chat(
            &client,
            &base,
            "sk-client-open-ops",
            &prompt(&format!("ok {i}")),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    assert_eq!(mock.hits(), N, "the repeats came from the cache");

    // M upstream errors: both attempts answer 503.
    const M: usize = 2;
    let unavailable = || Reply::raw(503, "application/json", canned::error_body("openai", 503));
    for i in 0..M {
        mock.push(unavailable());
        mock.push(unavailable());
        let (s, b) = chat(
            &client,
            &base,
            "sk-client-open-ops",
            &prompt(&format!("err {i}")),
        )
        .await;
        assert_eq!(s, 503, "{b}");
    }
    // One 503, then a success on the retry.
    mock.push(unavailable());
    let (s, b) = chat(&client, &base, "sk-client-open-ops", &prompt("retried")).await;
    assert_eq!(s, 200, "{b}");

    // The budgeted client: two calls fit, the third's worst case does not.
    let budgeted = |text: &str| {
        let mut body = prompt(text);
        body["max_tokens"] = json!(9);
        body
    };
    for i in 0..2 {
        let (s, b) = chat(
            &client,
            &base,
            "sk-client-budgeted-ops",
            &budgeted(&format!("b {i}")),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = chat(
        &client,
        &base,
        "sk-client-budgeted-ops",
        &budgeted("b refused"),
    )
    .await;
    assert_eq!(s, 429, "{b}");
    assert!(b.contains("insufficient_quota"), "{b}");

    // One stream, with its usage.
    let mut body = prompt("a stream");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (s, text) = chat(&client, &base, "sk-client-open-ops", &body).await;
    assert_eq!(s, 200, "{text}");
    let usage = sse_data(&text)
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|v| v["usage"].is_object())
        .expect("a usage chunk")["usage"]
        .clone();
    let (stream_in, stream_out) = (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    );
    let stream_cost = stream_in * 5 + stream_out * 10;
    // The same stream again: replayed from the cache, a cache hit too.
    let hits_before = mock.hits();
    let (s, again) = chat(&client, &base, "sk-client-open-ops", &body).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(mock.hits(), hits_before, "the repeat came from the cache");

    let scrape = client.get(&format!("{base}/metrics"), &[]).await.unwrap();
    assert_eq!(scrape.status, 200);
    assert_eq!(
        scrape.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = scrape.text();
    assert!(
        text.contains("# TYPE aigw_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE aigw_time_to_first_token_seconds histogram"),
        "{text}"
    );
    // The README's sample comes from here (`--nocapture`).
    eprintln!("{text}");
    let m = parse(&text);
    let pm = [("provider", "mock"), ("model", "mock-model")];
    let with = |extra: (&'static str, &'static str)| {
        let mut l = pm.to_vec();
        l.push(extra);
        l
    };
    let upstream_ok = (N + 1 + 2) as u64; // N, the retried one, the budgeted two
    let runs = N + K + M + 1 + 3;
    let expect: Vec<Expect> = vec![
        (
            "aigw_requests_total",
            with(("operation", "run")),
            runs as f64,
        ),
        ("aigw_requests_total", with(("operation", "stream")), 2.0),
        (
            "aigw_responses_total",
            with(("operation", "run")),
            (N + K + 1 + 2) as f64,
        ),
        ("aigw_responses_total", with(("operation", "stream")), 2.0),
        ("aigw_cache_hits_total", pm.to_vec(), (K + 1) as f64),
        (
            "aigw_errors_total",
            with(("kind", "service_unavailable")),
            M as f64,
        ),
        ("aigw_errors_total", with(("kind", "budget_exceeded")), 1.0),
        ("aigw_budget_refusals_total", pm.to_vec(), 1.0),
        // Each failed call retried once; the retried success once.
        ("aigw_retries_total", pm.to_vec(), (M + 1) as f64),
        (
            "aigw_tokens_total",
            with(("direction", "input")),
            (upstream_ok * 12 + stream_in) as f64,
        ),
        (
            "aigw_tokens_total",
            with(("direction", "output")),
            (upstream_ok * 9 + stream_out) as f64,
        ),
        (
            "aigw_cost_micro_usd_total",
            pm.to_vec(),
            (upstream_ok * COST + stream_cost) as f64,
        ),
        (
            "aigw_request_duration_seconds_count",
            with(("outcome", "success")),
            (N + K + 1 + 2 + 2) as f64,
        ),
        (
            "aigw_request_duration_seconds_count",
            with(("outcome", "error")),
            (M + 1) as f64,
        ),
        // The live stream and its replay from the cache.
        ("aigw_time_to_first_token_seconds_count", pm.to_vec(), 2.0),
        (
            "aigw_http_requests_total",
            vec![("route", "/v1/chat/completions"), ("status", "200")],
            (N + K + 1 + 2 + 2) as f64,
        ),
        (
            "aigw_http_requests_total",
            vec![("route", "/v1/chat/completions"), ("status", "503")],
            M as f64,
        ),
        (
            "aigw_http_requests_total",
            vec![("route", "/v1/chat/completions"), ("status", "429")],
            1.0,
        ),
    ];
    for (name, labels, want) in &expect {
        assert_eq!(value(&m, name, labels), *want, "{name} {labels:?}\n{text}");
    }
    assert_eq!(total(&m, "aigw_fallbacks_total"), 0.0, "{text}");
    // Operations paths are the host's, never counted as traffic.
    assert_eq!(
        total(&m, "aigw_http_requests_total"),
        (N + K + M + 1 + 3 + 2) as f64
    );
    assert_eq!(mock.hits(), N + 2 * M + 2 + 2 + 1);
    // Secrets never reach metrics or the log.
    for secret in [
        "sk-upstream-ops-test",
        "sk-client-open-ops",
        "sk-client-budgeted-ops",
    ] {
        assert!(!text.contains(secret));
        assert!(!serve.log().contains(secret), "{secret} in the log");
    }
}

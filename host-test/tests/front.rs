//! The proxy's front door for Chat Completions clients: every request
//! parameter of OpenAI's API reference is carried to the upstream or
//! refused with a 400 naming it; every response has a request id; a
//! stalled upstream ends the request; a client that leaves cancels the
//! upstream request at once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::{Duration, Instant};

use host_test::client::{Client, sse_data};
use host_test::kv::KvStore;
use host_test::mock::{MockServer, Reply, StreamOutcome, canned};
use host_test::serve::Server;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn serve(mock: &MockServer, extra: Value) -> (Server, tempfile::TempDir) {
    let (server, _kv, dir) = serve_with(mock, extra, &[]).await;
    (server, dir)
}

/// `serve` with more variables, and the store it uses.
async fn serve_with(
    mock: &MockServer,
    extra: Value,
    vars: &[(&str, &str)],
) -> (Server, KvStore, tempfile::TempDir) {
    common::front::serve(&common::front::config(&mock.base_url(), &extra), vars).await
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// What the proxy must do with a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Read by the proxy itself; any provider (checked elsewhere).
    Typed,
    /// Sent to an OpenAI-format upstream unchanged; refused by name for
    /// an Anthropic one.
    Forwarded,
    /// Refused by name for every upstream (the answer cannot carry it).
    Refused,
    /// A typed gateway option: sent to an OpenAI-format upstream under its
    /// own name; for Anthropic, sent where the pointer says, or (`None`)
    /// refused by name.
    Gateway(Option<&'static str>),
}

/// Every request parameter of `POST /v1/chat/completions` in OpenAI's API
/// reference, with a non-default example value.
fn parameters() -> Vec<(&'static str, Value, Expect)> {
    use Expect::{Forwarded, Gateway, Refused, Typed};
    vec![
        (
            "messages",
            json!([{"role": "user", "content": "hi"}]),
            Typed,
        ),
        ("model", json!("mock-model"), Typed),
        ("audio", json!({"voice": "alloy", "format": "mp3"}), Refused),
        ("frequency_penalty", json!(0.5), Gateway(None)),
        ("function_call", json!("auto"), Refused),
        (
            "functions",
            json!([{"name": "f", "parameters": {}}]),
            Refused,
        ),
        ("logit_bias", json!({"50256": -100}), Gateway(None)),
        ("logprobs", json!(true), Gateway(None)),
        ("max_completion_tokens", json!(40), Typed),
        ("max_tokens", json!(40), Typed),
        ("metadata", json!({"team": "a"}), Gateway(None)),
        ("modalities", json!(["text", "audio"]), Refused),
        ("n", json!(2), Refused),
        (
            "parallel_tool_calls",
            json!(false),
            Gateway(Some("/tool_choice/disable_parallel_tool_use")),
        ),
        (
            "prediction",
            json!({"type": "content", "content": "hi"}),
            Forwarded,
        ),
        ("presence_penalty", json!(0.25), Gateway(None)),
        ("prompt_cache_key", json!("k-1"), Forwarded),
        ("prompt_cache_retention", json!("24h"), Forwarded),
        ("reasoning_effort", json!("low"), Typed),
        ("response_format", json!({"type": "json_object"}), Typed),
        ("safety_identifier", json!("hash-1"), Forwarded),
        ("seed", json!(7), Gateway(None)),
        (
            "service_tier",
            json!("flex"),
            Gateway(Some("/service_tier")),
        ),
        ("stop", json!(["\n\n"]), Typed),
        ("store", json!(true), Forwarded),
        ("stream", json!(false), Typed),
        ("stream_options", json!(null), Typed),
        ("temperature", json!(0.2), Typed),
        ("tool_choice", json!("none"), Typed),
        (
            "tools",
            json!([{"type": "function", "function": {"name": "f"}}]),
            Typed,
        ),
        ("top_logprobs", json!(2), Refused),
        ("top_p", json!(0.9), Typed),
        (
            "user",
            json!("end-user-1"),
            Gateway(Some("/metadata/user_id")),
        ),
        ("verbosity", json!("low"), Forwarded),
        (
            "web_search_options",
            json!({"search_context_size": "low"}),
            Forwarded,
        ),
        // The SDK's `extra_body` lands at the top level as well.
        ("x_vendor_flag", json!({"on": true}), Forwarded),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn front_every_chat_parameter_is_forwarded_or_refused_by_name() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let client = Client::new();
    let url = format!("{}/v1/chat/completions", server.base_url());
    for (name, value, expect) in parameters() {
        for model in ["mock-model", "claude-mock"] {
            mock.reset();
            let mut body = chat(model);
            body[name] = value.clone();
            if name == "model" {
                body["model"] = json!(model);
            }
            if name == "parallel_tool_calls" {
                // It needs tools, as at OpenAI.
                body["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
            }
            let r = client.post_json(&url, &[], &body).await.unwrap();
            let anthropic = model == "claude-mock";
            let refused = match expect {
                Expect::Typed => false,
                Expect::Refused => true,
                Expect::Forwarded => anthropic,
                Expect::Gateway(to) => anthropic && to.is_none(),
            };
            if refused {
                assert_eq!(r.status, 400, "{name} to {model}: {}", r.text());
                let e = r.json();
                assert_eq!(e["error"]["param"], name, "{name} to {model}: {e}");
                let msg = e["error"]["message"].as_str().unwrap();
                assert!(msg.contains(&format!("`{name}`")), "{name}: {msg}");
                assert_eq!(mock.hits(), 0, "{name}: a refused request is not sent");
                continue;
            }
            assert_eq!(r.status, 200, "{name} to {model}: {}", r.text());
            let sent = mock.last().unwrap().json();
            match (expect, anthropic) {
                (Expect::Forwarded | Expect::Gateway(_), false) => {
                    assert_eq!(sent[name], value, "{name} reaches the upstream unchanged");
                }
                (Expect::Gateway(Some(pointer)), true) => {
                    let want = match name {
                        "parallel_tool_calls" => json!(true), // disable = !parallel
                        _ => value.clone(),
                    };
                    assert_eq!(
                        sent.pointer(pointer),
                        Some(&want),
                        "{name} to Anthropic: {sent}"
                    );
                }
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn front_request_id_and_processing_time_on_every_response() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let client = Client::new();
    let base = server.base_url();
    let url = format!("{base}/v1/chat/completions");
    // The client's own id is echoed; a generated one otherwise.
    let r = client
        .post_json(
            &url,
            &[("x-request-id", "client-req-42")],
            &chat("mock-model"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-request-id"), Some("client-req-42"));
    assert!(
        r.header("openai-processing-ms")
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut stream = chat("mock-model");
    stream["stream"] = json!(true);
    let mut refused = chat("mock-model");
    refused["n"] = json!(3);
    for (method, path, body, status) in [
        ("POST", "/v1/chat/completions", chat("mock-model"), 200),
        ("POST", "/v1/chat/completions", stream, 200),
        ("POST", "/v1/chat/completions", refused, 400),
        ("GET", "/v1/models", Value::Null, 200),
        ("GET", "/nowhere", Value::Null, 404),
        // Not a usable id (a space): replaced by a generated one.
        ("GET", "/healthz", Value::Null, 200),
    ] {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let r = client
            .send(
                method,
                &format!("{base}{path}"),
                &[("x-request-id", "has space")],
                bytes,
            )
            .await
            .unwrap();
        assert_eq!(r.status, status, "{path}: {}", r.text());
        let id = r.header("x-request-id").unwrap().to_owned();
        assert!(
            id.len() == 36
                && id.starts_with("req_")
                && id[4..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{path}: {id}"
        );
        assert!(r.header("openai-processing-ms").is_some(), "{path}");
        assert!(seen.insert(id), "ids are unique");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn front_models_by_id_lists_what_models_lists() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let client = Client::new();
    let base = server.base_url();
    let r = client
        .get(&format!("{base}/v1/models/claude-mock"), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"id": "claude-mock", "object": "model", "created": 0, "owned_by": "mock"})
    );
    let r = client
        .get(&format!("{base}/v1/models/gpt-unlisted"), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "model_not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn front_stalled_upstream_ends_the_request_by_the_default_timeouts() {
    let mock = MockServer::start().await.unwrap();
    // host-test's pooled client counts the connect timeout into the first
    // byte's (it cannot tell them apart), so both are short here.
    let timeouts = json!({"connect_timeout_ms": 400, "first_byte_timeout_ms": 400,
                          "between_bytes_timeout_ms": 400});
    let (server, _dir) = serve(&mock, timeouts).await;
    let client = Client::new();
    let url = format!("{}/v1/chat/completions", server.base_url());

    // No answer head: a 504, not a hang.
    mock.push(canned::openai_json("mock-model").delayed(Duration::from_secs(30)));
    let t = Instant::now();
    let r = client
        .post_json(&url, &[], &chat("mock-model"))
        .await
        .unwrap();
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());

    // A stream that stalls after its first event: an error event ends it.
    let events: Vec<u8> = canned::sse_events("openai", &["Hel", "lo"]).concat();
    mock.push(Reply::sse(&events, Duration::from_secs(30)));
    let mut body = chat("mock-model");
    body["stream"] = json!(true);
    let t = Instant::now();
    let r = client.post_json(&url, &[], &body).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let frames = sse_data(&r.text());
    let last: Value = serde_json::from_str(frames.last().unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "timeout_error", "{frames:?}");
    assert!(
        frames.iter().all(|f| f != "[DONE]"),
        "one terminal event: {frames:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn front_client_that_leaves_mid_stream_cancels_the_upstream_at_once() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    // The upstream sends its first event, then pauses for 30 s.
    let events: Vec<u8> = canned::sse_events("openai", &["Hel", "lo"]).concat();
    mock.push(Reply::sse(&events, Duration::from_secs(30)));
    let mut body = chat("mock-model");
    body["stream"] = json!(true);
    let tcp = stream_until_first_delta(&server, "", &body).await;
    drop(tcp);
    let left = Instant::now();
    let outcomes = mock.wait_outcomes(1, Duration::from_secs(5)).await;
    let took = left.elapsed();
    assert!(
        matches!(outcomes.first(), Some(StreamOutcome::ClientClosed { .. })),
        "{outcomes:?}"
    );
    assert!(
        took < Duration::from_secs(1),
        "the upstream saw the close after {took:?}"
    );
    println!("upstream connection closed {took:?} after the client left");
}

/// Open a streamed chat on a raw connection and read until its first text
/// delta: the caller then leaves by dropping the connection.
async fn stream_until_first_delta(
    server: &Server,
    headers: &str,
    body: &Value,
) -> tokio::net::TcpStream {
    let body = body.to_string();
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\"content\":\"Hel\"") {
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
            .await
            .expect("the first event arrives")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    tcp
}

/// A budgeted client that leaves mid-stream: the call ends inside the
/// guest (not by dropping its store), so its worst-case reservation is
/// released and nothing is charged; the instance then serves the next call.
#[tokio::test(flavor = "multi_thread")]
async fn front_client_that_leaves_releases_its_budget_reservation() {
    const BUDGET: u64 = 1_000_000;
    let mock = MockServer::start().await.unwrap();
    let extra = json!({
        "pricing": [{"model": "mock-model", "input": 5_000_000, "output": 10_000_000}],
        "state_bucket": "default",
        "clients": [{"name": "budgeted", "key_variable": "budgeted_key", "budget_micro_usd": BUDGET}]
    });
    let (server, kv, _dir) =
        serve_with(&mock, extra, &[("budgeted_key", "sk-client-budgeted")]).await;
    let counter = |key: &str| -> u64 {
        kv.get("default", &format!("aigw:cost:budgeted:{key}"))
            .unwrap()
            .map_or(0, |b| std::str::from_utf8(&b).unwrap().parse().unwrap())
    };
    let events: Vec<u8> = canned::sse_events("openai", &["Hel", "lo"]).concat();
    mock.push(Reply::sse(&events, Duration::from_secs(30)));
    let mut body = chat("mock-model");
    body["stream"] = json!(true);
    body["max_tokens"] = json!(100);
    let tcp = stream_until_first_delta(
        &server,
        "authorization: Bearer sk-client-budgeted\r\n",
        &body,
    )
    .await;
    let held = counter("reserved");
    assert!(held > 0, "the open stream holds its worst case");
    drop(tcp);
    let left = Instant::now();
    while counter("reserved") != 0 {
        assert!(
            left.elapsed() < Duration::from_secs(5),
            "still reserved {} of {held} after the client left",
            counter("reserved")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "reservation of {held} released {:?} after the client left",
        left.elapsed()
    );
    assert_eq!(counter("total:cost"), 0, "a cancelled call is not charged");

    // The same instances serve the next call, and it is charged exactly.
    mock.push(Reply::raw(
        200,
        "application/json",
        canned::json_answer("openai", "ok"),
    ));
    let client = Client::new();
    let r = client
        .post_json(
            &format!("http://{}/v1/chat/completions", server.addr()),
            &[("authorization", "Bearer sk-client-budgeted")],
            &chat("mock-model"),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(counter("total:cost") > 0, "charged");
    assert_eq!(counter("reserved"), 0, "settled");
}

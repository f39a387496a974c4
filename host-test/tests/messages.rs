//! The proxy's Anthropic Messages front door (`POST /v1/messages`,
//! `/v1/messages/count_tokens`), served by host-test on wasmtime over the
//! mock upstream, through an OpenAI-format and an Anthropic-format provider:
//! the answer and the stream in Anthropic's exact shapes, what reaches the
//! upstream, errors in Anthropic's shape, and what is refused by name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::Duration;

use host_test::client::{Client, Response};
use host_test::mock::{ANTHROPIC_TOOL_SSE, MOCK_TEXT, MockServer, OPENAI_TOOL_SSE, Reply, canned};
use host_test::serve::Server;
use serde_json::{Value, json};

const CLIENT_KEY: &str = "sk-messages-client";

async fn serve(mock: &MockServer, extra: Value) -> (Server, tempfile::TempDir) {
    let config = common::front::config(&mock.base_url(), &extra);
    let (server, _kv, dir) = common::front::serve(&config, &[("client_key", CLIENT_KEY)]).await;
    (server, dir)
}

fn hello(model: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "Say hello."}]})
}

async fn post(server: &Server, path: &str, body: &Value) -> Response {
    post_with(server, path, &[], body).await
}

async fn post_with(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Response {
    Client::new()
        .post_json(&format!("{}{path}", server.base_url()), headers, body)
        .await
        .unwrap()
}

/// The (event name, data) pairs of an SSE body with `event:` lines.
fn events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_else(|| panic!("an event without a name: {e:?}"));
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], name, "the data's type is the event's name");
            (name.to_owned(), data)
        })
        .collect()
}

/// The event names, runs of deltas collapsed into one.
fn names(evs: &[(String, Value)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (n, _) in evs {
        if n == "content_block_delta" && out.last().is_some_and(|l| l == n) {
            continue;
        }
        out.push(n.clone());
    }
    out
}

fn assert_error(r: &Response, status: u16, kind: &str, needle: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let e = r.json();
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["error"]["type"], kind, "{e}");
    let m = e["error"]["message"].as_str().unwrap();
    assert!(m.contains(needle), "{needle:?} not in {m:?}");
    assert_eq!(
        e["request_id"].as_str(),
        r.header("request-id"),
        "the body's request id is the header's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_json_through_openai_and_anthropic_upstreams() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    for model in ["mock-model", "claude-mock"] {
        mock.reset();
        let mut body = hello(model);
        body["system"] = json!("Be brief.");
        body["temperature"] = json!(0.25);
        body["top_p"] = json!(0.5);
        body["stop_sequences"] = json!(["\n\nHuman:"]);
        let r = post(&server, "/v1/messages", &body).await;
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        let m = r.json();
        assert!(m["id"].as_str().unwrap().starts_with("msg_"), "{m}");
        assert_eq!(m["type"], "message");
        assert_eq!(m["role"], "assistant");
        assert_eq!(m["model"], model, "the requested model");
        assert_eq!(m["content"], json!([{"type": "text", "text": MOCK_TEXT}]));
        assert_eq!(m["stop_reason"], "end_turn");
        assert_eq!(m["stop_sequence"], Value::Null);
        assert_eq!(
            m["usage"],
            json!({"input_tokens": 12, "output_tokens": 9, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0})
        );
        assert!(r.header("x-request-id").is_some() && r.header("request-id").is_some());
        let sent = mock.last().unwrap();
        let j = sent.json();
        assert_eq!(j["max_tokens"], 64);
        assert_eq!(j["temperature"], 0.25);
        assert_eq!(j["top_p"], 0.5);
        if model == "mock-model" {
            assert!(sent.path.ends_with("/chat/completions"), "{}", sent.path);
            assert_eq!(
                j["messages"],
                json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}])
            );
            assert_eq!(j["stop"], json!(["\n\nHuman:"]));
        } else {
            assert!(sent.path.ends_with("/v1/messages"), "{}", sent.path);
            assert_eq!(j["system"], "Be brief.");
            assert_eq!(
                j["messages"],
                json!([{"role": "user", "content": "Say hello."}])
            );
            assert_eq!(j["stop_sequences"], json!(["\n\nHuman:"]));
        }
    }

    // Usage: Anthropic's input_tokens are the uncached ones; the stop
    // sequence and thinking of an Anthropic upstream come through.
    mock.reset();
    mock.push(Reply::json(
        200,
        json!({"id": "msg_up", "type": "message", "role": "assistant", "model": "claude-up",
               "content": [{"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
                           {"type": "text", "text": "Done"}],
               "stop_reason": "stop_sequence", "stop_sequence": "END",
               "usage": {"input_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20, "output_tokens": 7}}),
    ));
    let r = post(&server, "/v1/messages", &hello("claude-mock")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = r.json();
    assert_eq!(
        m["content"],
        json!([{"type": "thinking", "thinking": "Hmm.", "signature": "sig"}, {"type": "text", "text": "Done"}]),
        "the thinking block comes back with its signature, to be sent back next turn"
    );
    assert_eq!(m["stop_reason"], "stop_sequence");
    assert_eq!(m["stop_sequence"], "END");
    assert_eq!(
        m["usage"],
        json!({"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_system_and_block_cache_control_reach_the_anthropic_upstream() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let body = json!({
        "model": "claude-mock", "max_tokens": 32,
        "system": [{"type": "text", "text": "LONG INSTRUCTIONS", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "DOCUMENT", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Summarize it."}]}],
    });
    let r = post(&server, "/v1/messages", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.last().unwrap().json();
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "LONG INSTRUCTIONS", "cache_control": {"type": "ephemeral"}},
               {"type": "text", "text": "Be brief."}])
    );
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "DOCUMENT", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Summarize it."}]}])
    );
    // A ttl the gateway cannot carry is refused by name.
    let mut ttl = body.clone();
    ttl["system"][0]["cache_control"]["ttl"] = json!("1h");
    mock.reset();
    let r = post(&server, "/v1/messages", &ttl).await;
    assert_error(
        &r,
        400,
        "invalid_request_error",
        "`system[0].cache_control.ttl`",
    );
    assert_eq!(mock.hits(), 0);
}

/// A Claude Code-style turn: system blocks with `cache_control`, many tools,
/// extended thinking, a history with a signed thinking block, a tool call
/// and its result, streamed through an Anthropic upstream. Every field that
/// shapes the answer arrives unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn messages_claude_code_style_request_arrives_unchanged() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let tools: Vec<Value> = (0..16)
        .map(|i| {
            json!({"name": format!("tool_{i}"), "description": format!("Tool number {i}."),
                   "input_schema": {"type": "object", "properties": {"path": {"type": "string"}},
                                    "required": ["path"]}})
        })
        .collect();
    let system = json!([
        {"type": "text", "text": "You are Claude Code, an agent.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Environment: linux, cwd /repo.", "cache_control": {"type": "ephemeral"}}
    ]);
    let messages = json!([
        {"role": "user", "content": [{"type": "text", "text": "Read README.md", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I will read the file.", "signature": "EqQBCkYIBxgCKkBd"},
            {"type": "text", "text": "Reading it."},
            {"type": "tool_use", "id": "toolu_01", "name": "tool_3", "input": {"path": "README.md"}}
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "# ai-gateway"}
        ]}
    ]);
    let body = json!({
        "model": "claude-mock", "max_tokens": 32000, "stream": true,
        "system": system, "tools": tools, "tool_choice": {"type": "auto"},
        "thinking": {"type": "enabled", "budget_tokens": 10000},
        "metadata": {"user_id": "user_abc_session_1"},
        "messages": messages,
    });
    let beta = [("anthropic-beta", "interleaved-thinking-2025-05-14")];
    let r = post_with(&server, "/v1/messages", &beta, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("event: message_stop"), "{}", r.text());
    let sent = mock.last().unwrap();
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14")
    );
    let j = sent.json();
    for key in [
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "messages",
        "max_tokens",
        "stream",
    ] {
        assert_eq!(j[key], body[key], "{key} arrives unchanged");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_stream_has_anthropics_exact_event_sequence() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    for (model, text) in [
        (
            "mock-model",
            r#"{"city":"San Francisco","temperature":61,"units":"f"}"#,
        ),
        ("claude-mock", "Hello there!"),
    ] {
        let mut body = hello(model);
        body["stream"] = json!(true);
        let r = post(&server, "/v1/messages", &body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("text/event-stream"));
        let evs = events(&r.text());
        assert_eq!(
            names(&evs),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ],
            "{model}"
        );
        let start = &evs[0].1["message"];
        assert!(start["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(start["model"], model);
        assert_eq!(start["content"], json!([]));
        assert!(start["usage"]["input_tokens"].is_u64());
        assert_eq!(
            evs[2].1["content_block"],
            json!({"type": "text", "text": ""})
        );
        let streamed: String = evs
            .iter()
            .filter(|(n, _)| n == "content_block_delta")
            .map(|(_, d)| {
                assert_eq!(d["index"], 0);
                assert_eq!(d["delta"]["type"], "text_delta");
                d["delta"]["text"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(streamed, text, "{model}");
        let delta = &evs[evs.len() - 2].1;
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta["delta"]["stop_sequence"], Value::Null);
        assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);
        let sent = mock.last().unwrap().json();
        assert_eq!(sent["stream"], true);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_tools_stream_and_tool_result_follow_up() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let tools = json!([{"name": "get_weather", "description": "Weather in a city",
                        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]);
    for (model, sse) in [
        ("claude-mock", ANTHROPIC_TOOL_SSE),
        ("mock-model", OPENAI_TOOL_SSE),
    ] {
        mock.reset();
        mock.push(Reply::sse(sse, Duration::ZERO));
        let mut body = hello(model);
        body["stream"] = json!(true);
        body["tools"] = tools.clone();
        body["tool_choice"] = json!({"type": "any"});
        let r = post(&server, "/v1/messages", &body).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let evs = events(&r.text());
        let sent = mock.last().unwrap().json();
        if model == "claude-mock" {
            assert_eq!(sent["tools"], tools);
            assert_eq!(sent["tool_choice"], json!({"type": "any"}));
            assert_eq!(
                names(&evs),
                [
                    "message_start",
                    "ping",
                    "content_block_start",
                    "content_block_delta",
                    "content_block_stop",
                    "content_block_start",
                    "content_block_delta",
                    "content_block_stop",
                    "message_delta",
                    "message_stop"
                ]
            );
        } else {
            assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
            assert_eq!(sent["tool_choice"], "required");
        }
        let (i, start) = evs
            .iter()
            .enumerate()
            .find(|(_, (n, d))| {
                n == "content_block_start" && d["content_block"]["type"] == "tool_use"
            })
            .unwrap();
        let block = &start.1["content_block"];
        assert_eq!(block["name"], "get_weather");
        assert_eq!(block["input"], json!({}));
        let index = start.1["index"].clone();
        let partial: String = evs[i + 1..]
            .iter()
            .take_while(|(n, _)| n == "content_block_delta")
            .map(|(_, d)| {
                assert_eq!(d["index"], index);
                assert_eq!(d["delta"]["type"], "input_json_delta");
                d["delta"]["partial_json"].as_str().unwrap().to_owned()
            })
            .collect();
        let input: Value = serde_json::from_str(&partial).unwrap();
        assert!(input.is_object() && !input.as_object().unwrap().is_empty());
        let delta = &evs[evs.len() - 2].1;
        assert_eq!(delta["delta"]["stop_reason"], "tool_use");

        // The follow-up turn: the tool_use and its tool_result.
        let id = block["id"].as_str().unwrap().to_owned();
        mock.reset();
        let follow = json!({
            "model": model, "max_tokens": 64, "tools": tools,
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": id, "name": "get_weather", "input": input}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": id, "content": [{"type": "text", "text": "18C, sunny"}]},
                    {"type": "text", "text": "Thanks"}]}
            ]
        });
        let r = post(&server, "/v1/messages", &follow).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let sent = mock.last().unwrap().json();
        if model == "claude-mock" {
            assert_eq!(
                sent["messages"],
                json!([
                    {"role": "user", "content": "Weather in Paris?"},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": id, "name": "get_weather", "input": input}]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": id, "content": "18C, sunny"},
                        {"type": "text", "text": "Thanks"}]}
                ])
            );
        } else {
            let ms = sent["messages"].as_array().unwrap();
            assert_eq!(ms[1]["role"], "assistant");
            assert_eq!(ms[1]["content"], "Let me check.");
            assert_eq!(ms[1]["tool_calls"][0]["id"], id.as_str());
            assert_eq!(
                serde_json::from_str::<Value>(
                    ms[1]["tool_calls"][0]["function"]["arguments"]
                        .as_str()
                        .unwrap()
                )
                .unwrap(),
                input
            );
            assert_eq!(
                ms[2],
                json!({"role": "tool", "tool_call_id": id, "content": "18C, sunny"})
            );
            assert_eq!(ms[3], json!({"role": "user", "content": "Thanks"}));
        }
    }

    // A complete (non-streamed) tool_use answer: input as a JSON object.
    mock.reset();
    mock.push(Reply::json(
        200,
        json!({"id": "msg_t", "type": "message", "role": "assistant", "model": "claude-up",
               "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}],
               "stop_reason": "tool_use", "stop_sequence": null,
               "usage": {"input_tokens": 10, "output_tokens": 5}}),
    ));
    let mut body = hello("claude-mock");
    body["tools"] = tools;
    let r = post(&server, "/v1/messages", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = r.json();
    assert_eq!(
        m["content"],
        json!([{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}])
    );
    assert_eq!(m["stop_reason"], "tool_use");
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_errors_in_anthropics_shape() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({"between_bytes_timeout_ms": 400})).await;
    // max_tokens is required, as in Anthropic's API.
    let mut body = hello("mock-model");
    body.as_object_mut().unwrap().remove("max_tokens");
    let r = post(&server, "/v1/messages", &body).await;
    assert_error(&r, 400, "invalid_request_error", "`max_tokens`");
    let r = Client::new()
        .send(
            "POST",
            &format!("{}/v1/messages", server.base_url()),
            &[],
            b"{not json".to_vec(),
        )
        .await
        .unwrap();
    assert_error(&r, 400, "invalid_request_error", "invalid request body");
    let r = Client::new()
        .get(&format!("{}/v1/messages", server.base_url()), &[])
        .await
        .unwrap();
    assert_error(&r, 405, "invalid_request_error", "method not allowed");
    assert_eq!(mock.hits(), 0);

    // Upstream errors, through either upstream format.
    for (provider, model) in [("openai", "mock-model"), ("anthropic", "claude-mock")] {
        for (up, status, kind) in [
            (429, 429, "rate_limit_error"),
            (503, 529, "overloaded_error"),
            (529, 529, "overloaded_error"),
            (500, 500, "api_error"),
            (400, 400, "invalid_request_error"),
            (404, 404, "not_found_error"),
        ] {
            mock.push(Reply::raw(
                up,
                "application/json",
                canned::error_body(provider, up),
            ));
            let r = post(&server, "/v1/messages", &hello(model)).await;
            assert_error(&r, status, kind, "");
        }
    }

    // A stream that fails after it started ends with one error event.
    // (An OpenAI-format upstream: its first event carries text, so the
    // stream has started when the upstream stalls.)
    let events_in: Vec<u8> = canned::sse_events("openai", &["Hel", "lo"]).concat();
    mock.push(Reply::sse(&events_in, Duration::from_secs(30)));
    let mut body = hello("mock-model");
    body["stream"] = json!(true);
    let r = post(&server, "/v1/messages", &body).await;
    assert_eq!(r.status, 200);
    let evs = events(&r.text());
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "error", "{evs:?}");
    assert_eq!(data["error"]["type"], "timeout_error");
    let terminals = evs
        .iter()
        .filter(|(n, _)| n == "error" || n == "message_stop")
        .count();
    assert_eq!(terminals, 1, "{evs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_client_key_by_x_api_key_or_bearer() {
    let mock = MockServer::start().await.unwrap();
    let clients = json!({"clients": [{"name": "team", "key_variable": "client_key"}]});
    let (server, _dir) = serve(&mock, clients).await;
    let body = hello("claude-mock");
    let r = post(&server, "/v1/messages", &body).await;
    assert_error(&r, 401, "authentication_error", "");
    let r = post_with(&server, "/v1/messages", &[("x-api-key", "sk-wrong")], &body).await;
    assert_error(&r, 401, "authentication_error", "");
    assert_eq!(mock.hits(), 0);
    let r = post_with(
        &server,
        "/v1/messages",
        &[
            ("x-api-key", CLIENT_KEY),
            // Not the gateway's default (2023-06-01): the client's wins.
            ("anthropic-version", "2023-01-01"),
        ],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        mock.last().unwrap().header("anthropic-version"),
        Some("2023-01-01"),
        "the client's version reaches the Anthropic upstream"
    );
    let bearer = format!("Bearer {CLIENT_KEY}");
    let r = post_with(
        &server,
        "/v1/messages",
        &[("authorization", bearer.as_str())],
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The Chat endpoint takes the same key by x-api-key too.
    let chat = json!({"model": "mock-model", "messages": [{"role": "user", "content": "hi"}]});
    let r = post_with(
        &server,
        "/v1/chat/completions",
        &[("x-api-key", CLIENT_KEY)],
        &chat,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let sent = mock.last().unwrap();
    assert!(
        !String::from_utf8_lossy(&sent.body).contains(CLIENT_KEY)
            && sent.headers.iter().all(|(_, v)| !v.contains(CLIENT_KEY)),
        "the client's key never reaches the upstream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_fields_are_carried_or_refused_by_name() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;

    // Images, PDFs and thinking blocks (WIT 0.2 content parts): each
    // upstream gets them in its own format; thinking goes back to
    // Anthropic with its signature and is omitted for OpenAI (a hint).
    let image = json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}});
    let pdf = json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"}, "title": "paper"});
    let thinking = json!({"type": "thinking", "thinking": "t", "signature": "s"});
    for model in ["mock-model", "claude-mock"] {
        mock.reset();
        let mut body = hello(model);
        body["messages"] = json!([
            {"role": "user", "content": [image.clone(), pdf.clone(), {"type": "text", "text": "what?"}]},
            {"role": "assistant", "content": [thinking.clone(), {"type": "text", "text": "A cat."}]},
            {"role": "user", "content": "and?"}
        ]);
        let r = post(&server, "/v1/messages", &body).await;
        assert_eq!(r.status, 200, "{model}: {}", r.text());
        let sent = mock.last().unwrap().json();
        if model == "claude-mock" {
            assert_eq!(
                sent["messages"][0]["content"],
                json!([image, pdf, {"type": "text", "text": "what?"}])
            );
            assert_eq!(
                sent["messages"][1]["content"],
                json!([thinking, {"type": "text", "text": "A cat."}])
            );
        } else {
            assert_eq!(
                sent["messages"][0]["content"],
                json!([
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "file", "file": {"filename": "paper", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"}},
                    {"type": "text", "text": "what?"}
                ])
            );
            assert_eq!(
                sent["messages"][1],
                json!({"role": "assistant", "content": "A cat."})
            );
        }
    }
    // What the gateway's parts cannot carry: 400 naming the field.
    mock.reset();
    for (block, field) in [
        (
            json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}),
            "`messages[1].content[0].source.type`",
        ),
        (
            json!({"type": "search_result", "source": "s", "title": "t", "content": []}),
            "`search_result`",
        ),
    ] {
        let mut body = hello("claude-mock");
        body["messages"] = json!([{"role": "user", "content": "hi"},
                                  {"role": "user", "content": [block, {"type": "text", "text": "x"}]}]);
        let r = post(&server, "/v1/messages", &body).await;
        assert_error(&r, 400, "invalid_request_error", field);
    }
    assert_eq!(mock.hits(), 0, "a refused request is not sent");
    let mut body = hello("claude-mock");
    body["messages"] = json!([{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": "boom", "is_error": true}]}]);
    let r = post(&server, "/v1/messages", &body).await;
    assert_error(
        &r,
        400,
        "invalid_request_error",
        "`messages[0].content[0].is_error`",
    );
    assert_eq!(mock.hits(), 0, "a refused request is not sent");

    // Untyped fields: carried unchanged to Anthropic, refused elsewhere.
    for (name, value) in [
        ("top_k", json!(5)),
        (
            "thinking",
            json!({"type": "enabled", "budget_tokens": 2048}),
        ),
        ("service_tier", json!("auto")),
        ("x_vendor_flag", json!({"on": true})),
    ] {
        mock.reset();
        let mut body = hello("claude-mock");
        body[name] = value.clone();
        let r = post(&server, "/v1/messages", &body).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        assert_eq!(mock.last().unwrap().json()[name], value, "{name}");
        let mut body = hello("mock-model");
        body[name] = value.clone();
        let r = post(&server, "/v1/messages", &body).await;
        if name == "thinking" {
            // Lossy and documented: the budget becomes a reasoning effort.
            assert_eq!(r.status, 200, "{}", r.text());
            let sent = mock.last().unwrap().json();
            assert_eq!(sent["reasoning_effort"], "low");
            assert!(sent.get("thinking").is_none());
        } else {
            assert_error(&r, 400, "invalid_request_error", &format!("`{name}`"));
        }
    }

    // metadata.user_id: the caller, and sent on in each format.
    mock.reset();
    let mut body = hello("claude-mock");
    body["metadata"] = json!({"user_id": "end-user-7"});
    assert_eq!(post(&server, "/v1/messages", &body).await.status, 200);
    assert_eq!(
        mock.last().unwrap().json()["metadata"],
        json!({"user_id": "end-user-7"})
    );
    body["model"] = json!("mock-model");
    assert_eq!(post(&server, "/v1/messages", &body).await.status, 200);
    assert_eq!(mock.last().unwrap().json()["user"], "end-user-7");

    // Tools with more than the typed keys go to Anthropic as given.
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}]);
    let mut body = hello("claude-mock");
    body["tools"] = tools.clone();
    body["tool_choice"] = json!({"type": "auto", "disable_parallel_tool_use": true});
    assert_eq!(post(&server, "/v1/messages", &body).await.status, 200);
    let sent = mock.last().unwrap().json();
    assert_eq!(sent["tools"], tools);
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    body["model"] = json!("mock-model");
    let r = post(&server, "/v1/messages", &body).await;
    assert_error(&r, 400, "invalid_request_error", "`tools[0].cache_control`");
    body["tools"] = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    assert_eq!(post(&server, "/v1/messages", &body).await.status, 200);
    assert_eq!(mock.last().unwrap().json()["parallel_tool_calls"], false);

    // anthropic-beta: an upstream header for Anthropic, refused elsewhere.
    let beta = [("anthropic-beta", "prompt-caching-2024-07-31")];
    let r = post_with(&server, "/v1/messages", &beta, &hello("claude-mock")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        mock.last().unwrap().header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    mock.reset();
    let r = post_with(&server, "/v1/messages", &beta, &hello("mock-model")).await;
    assert_error(&r, 400, "invalid_request_error", "`anthropic-beta`");
    assert_eq!(mock.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_count_tokens_exact_through_anthropic_else_a_marked_estimate() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    // Through an Anthropic upstream: its own count_tokens, exactly.
    let body = json!({"model": "claude-mock", "system": "Be brief.", "max_tokens": 10,
                      "thinking": {"type": "enabled", "budget_tokens": 1024},
                      "messages": [{"role": "user", "content": "Say hello."}]});
    let r = post(&server, "/v1/messages/count_tokens", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-token-count"), Some("exact"));
    let sent = mock.last().unwrap();
    assert!(
        sent.path.ends_with("/v1/messages/count_tokens"),
        "{}",
        sent.path
    );
    let j = sent.json();
    assert_eq!(j["system"], "Be brief.");
    assert_eq!(
        j["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert!(
        j.get("max_tokens").is_none(),
        "count_tokens takes no max_tokens: {j}"
    );
    let counted = j["messages"].to_string().len().div_ceil(4) as u64;
    assert_eq!(r.json(), json!({"input_tokens": counted}));
    // Through an OpenAI-format one: the estimate, marked, and no upstream call.
    mock.reset();
    let body = json!({"model": "mock-model", "system": "Be brief.",
                      "messages": [{"role": "user", "content": "Say hello."}]});
    let r = post(&server, "/v1/messages/count_tokens", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-aigw-token-count"), Some("estimate"));
    // ceil(bytes / 4): "Be brief." (9) + "Say hello." (10) = 19 bytes.
    assert_eq!(r.json(), json!({"input_tokens": 5}));
    assert_eq!(mock.hits(), 0, "estimating calls no upstream");
    let mut image = body.clone();
    image["messages"][0]["content"] = json!([{"type": "image", "source": {}}]);
    let r = post(&server, "/v1/messages/count_tokens", &image).await;
    assert_error(
        &r,
        400,
        "invalid_request_error",
        "`messages[0].content[0].source.type`",
    );
}

/// The shared peer harness's checks, with `claude-mock` served by an
/// OpenAI-format default provider (no route to the Anthropic mock).
#[tokio::test(flavor = "multi_thread")]
async fn messages_peer_harness_checks_through_an_openai_default_provider() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({"routes": []})).await;
    let r = post(&server, "/v1/messages", &hello("claude-mock")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(r#""type":"message""#), "{}", r.text());
    assert!(mock.last().unwrap().path.ends_with("/chat/completions"));
    let mut body = hello("claude-mock");
    body["stream"] = json!(true);
    let r = post(&server, "/v1/messages", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("message_stop"), "{}", r.text());
}

/// The official `anthropic` Python SDK (proxy/tests/test_anthropic_sdk.py)
/// against the proxy, with a client key (the SDK sends it as `x-api-key`).
#[tokio::test(flavor = "multi_thread")]
async fn messages_anthropic_python_sdk_against_the_proxy() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = repo.join("examples/python/.venv/bin/python");
    assert!(
        python.exists(),
        "needs the Python venv with the anthropic SDK: .ci/setup creates it"
    );
    let mock = MockServer::start().await.unwrap();
    let clients = json!({"clients": [{"name": "sdk", "key_variable": "client_key"}]});
    let (server, _dir) = serve(&mock, clients).await;
    let started = std::time::Instant::now();
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-m", "unittest", "-v", "test_anthropic_sdk"])
        .current_dir(repo.join("proxy/tests"))
        .env("PROXY_URL", server.base_url())
        .env("PROXY_KEY", CLIENT_KEY)
        .env("MOCK_URL", mock.base_url())
        .env(
            "ANTHROPIC_TOOL_SSE",
            repo.join("tests/fixtures/anthropic/tool_use_response.sse"),
        );
    // Off the runtime's workers: the server keeps serving meanwhile.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "anthropic SDK tests failed:\n{stderr}"
    );
    println!(
        "anthropic SDK tests: ok in {:.1} s\n{stderr}",
        started.elapsed().as_secs_f64()
    );
}

/// Reasoning from the upstream streams as a `thinking` block
/// (`thinking_delta`s) before the text block, with its own index.
#[tokio::test(flavor = "multi_thread")]
async fn messages_stream_thinking_then_text() {
    let mock = MockServer::start().await.unwrap();
    let (server, _dir) = serve(&mock, json!({})).await;
    let named = |v: Value| format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap());
    let sse: String = [
        json!({"type": "message_start", "message": {"model": "claude-up", "usage": {"input_tokens": 30, "cache_read_input_tokens": 20, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me think"}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "4"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 60}}),
        json!({"type": "message_stop"}),
    ]
    .into_iter()
    .map(named)
    .collect();
    mock.push(Reply::sse(sse.as_bytes(), Duration::ZERO));
    let mut body = hello("claude-mock");
    body["stream"] = json!(true);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let r = post(&server, "/v1/messages", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let evs = events(&r.text());
    assert_eq!(
        names(&evs),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        evs[2].1,
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
    );
    assert_eq!(
        evs[3].1["delta"],
        json!({"type": "thinking_delta", "thinking": "Let me think"})
    );
    // The block's signature, as the upstream sent it: the client sends the
    // block back with it next turn.
    assert_eq!(
        evs[4].1["delta"],
        json!({"type": "signature_delta", "signature": "sig"})
    );
    assert_eq!(evs[6].1["index"], 1);
    assert_eq!(
        evs[7].1["delta"],
        json!({"type": "text_delta", "text": "4"})
    );
    let delta = &evs[9].1;
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(
        delta["usage"],
        json!({"input_tokens": 30, "output_tokens": 60, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 0})
    );
    assert_eq!(
        mock.last().unwrap().json()["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
}

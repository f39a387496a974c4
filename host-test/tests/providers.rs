//! `run` end to end, per provider, through the component in wasmtime: the
//! exact outgoing request (method, URL, headers, JSON body) and the
//! normalized result, for plain chat, JSON schema output, tools, the
//! tool-result follow-up turn, prompt caching, and every error class.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use common::{Harness, anthropic_cfg, detail, json, kind, openai_cfg, workers_cfg};
use host_test::cfg;
use host_test::host::w;
use host_test::mock::{Recorded, Reply};
use serde_json::{Value, json};

/// One provider kind under test, with the shapes of its wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum P {
    OpenAi,
    Anthropic,
    Workers,
    /// `custom` speaking the Anthropic format at its own URL with its own header.
    Custom,
}

const ALL: [P; 4] = [P::OpenAi, P::Anthropic, P::Workers, P::Custom];

impl P {
    fn config(self, h: &Harness) -> w::ProviderConfig {
        match self {
            P::OpenAi => openai_cfg(h),
            P::Anthropic => anthropic_cfg(h),
            P::Workers => workers_cfg(h),
            P::Custom => w::ProviderConfig {
                api_key: Some("custom-key".into()),
                base_url: Some(format!("{}/my-llm", h.base())),
                wire_format: Some(w::WireFormat::Anthropic),
                headers: vec![("X-Tenant".into(), "acme".into())],
                ..cfg::provider("mine", w::ProviderKind::Custom)
            },
        }
    }

    fn name(self) -> &'static str {
        match self {
            P::OpenAi => "openai",
            P::Anthropic => "anthropic",
            P::Workers => "workers",
            P::Custom => "mine",
        }
    }

    fn model(self) -> &'static str {
        match self {
            P::OpenAi => "gpt-4o",
            P::Anthropic | P::Custom => "claude-sonnet-4-6",
            P::Workers => "@cf/meta/llama-3.1-8b-instruct",
        }
    }

    fn expected_url(self, h: &Harness) -> String {
        let b = h.base();
        match self {
            P::OpenAi => format!("{b}/v1/chat/completions"),
            P::Anthropic => format!("{b}/v1/messages"),
            P::Custom => format!("{b}/my-llm/v1/messages"),
            P::Workers => {
                format!("{b}/client/v4/accounts/acc123/ai/run/@cf/meta/llama-3.1-8b-instruct")
            }
        }
    }

    fn check_headers(self, r: &Recorded) {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("content-type"), Some("application/json"));
        match self {
            P::OpenAi => {
                assert_eq!(r.header("authorization"), Some("Bearer sk-test-openai"));
                assert_eq!(r.header("x-api-key"), None);
            }
            P::Workers => assert_eq!(r.header("authorization"), Some("Bearer cf-test-token")),
            P::Anthropic => {
                assert_eq!(r.header("x-api-key"), Some("sk-ant-test"));
                assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(r.header("authorization"), None);
            }
            P::Custom => {
                assert_eq!(r.header("x-api-key"), Some("custom-key"));
                assert_eq!(r.header("x-tenant"), Some("acme"));
            }
        }
    }

    /// A successful text reply in this wire format.
    fn text_reply(self, text: &str) -> Reply {
        match self {
            P::OpenAi => Reply::json(
                200,
                json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}
                }),
            ),
            P::Anthropic | P::Custom => Reply::json(
                200,
                json!({
                    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6-20260101",
                    "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                    "usage": {"input_tokens": 20, "output_tokens": 5}
                }),
            ),
            P::Workers => Reply::json(
                200,
                json!({
                    "result": {"response": text, "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25}},
                    "success": true, "errors": [], "messages": []
                }),
            ),
        }
    }

    /// A reply carrying one `get_weather({"location":"Paris"})` call.
    fn tool_reply(self) -> Reply {
        match self {
            P::OpenAi => Reply::json(
                200,
                json!({
                    "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
                        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}}]},
                        "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": 30, "completion_tokens": 10}
                }),
            ),
            P::Anthropic | P::Custom => Reply::json(
                200,
                json!({
                    "model": "claude-sonnet-4-6", "content": [
                        {"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}],
                    "stop_reason": "tool_use", "usage": {"input_tokens": 30, "output_tokens": 10}
                }),
            ),
            P::Workers => Reply::json(
                200,
                json!({
                    "result": {"response": null, "tool_calls": [{"name": "get_weather", "arguments": {"location": "Paris"}}],
                               "usage": {"prompt_tokens": 30, "completion_tokens": 10}},
                    "success": true, "errors": []
                }),
            ),
        }
    }

    /// An error body in this provider's own shape.
    fn error_body(self, message: &str, code: &str) -> Value {
        match self {
            P::OpenAi => {
                json!({"error": {"message": message, "type": code, "param": null, "code": code}})
            }
            P::Anthropic | P::Custom => {
                json!({"type": "error", "error": {"type": code, "message": message}})
            }
            P::Workers => {
                json!({"success": false, "errors": [{"code": 7000, "message": message}], "result": null})
            }
        }
    }
}

async fn setup(p: P) -> (Harness, host_test::host::GatewayHandle) {
    let mut h = Harness::new().await;
    let config = cfg::gateway(vec![p.config(&h)], Some(p.name()));
    let gw = h.open(&config).await;
    (h, gw)
}

fn system_and_user() -> w::AiInput {
    w::AiInput::Messages(vec![
        cfg::message(w::Role::System, "Be brief."),
        cfg::message(w::Role::User, "Hello"),
    ])
}

fn weather_tool() -> w::ToolDefinition {
    w::ToolDefinition {
        name: "get_weather".into(),
        description: Some("Get the current weather for a location".into()),
        parameters: Some(r#"{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}"#.into()),
    }
}

fn weather_schema() -> Value {
    json!({"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]})
}

#[tokio::test(flavor = "multi_thread")]
async fn run_plain_chat_every_provider_exact_request_and_output() {
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        h.mock.push(p.text_reply("Hi there."));
        let opts = w::RunOptions {
            max_tokens: Some(64),
            temperature: Some(0.2),
            ..cfg::options()
        };
        let out = h
            .run(gw, p.model(), &system_and_user(), &opts)
            .await
            .unwrap_or_else(|e| panic!("{p:?}: {e:?}"));
        let r = h.only_request();
        assert_eq!(r.url(), p.expected_url(&h), "{p:?}");
        p.check_headers(&r);
        let expected = match p {
            P::OpenAi => json!({"model": "gpt-4o",
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
                "max_tokens": 64, "temperature": 0.2}),
            P::Anthropic | P::Custom => {
                json!({"model": "claude-sonnet-4-6", "max_tokens": 64, "system": "Be brief.",
                "messages": [{"role": "user", "content": "Hello"}], "temperature": 0.2})
            }
            P::Workers => json!({
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
                "max_tokens": 64, "temperature": 0.2}),
        };
        assert_eq!(r.json(), expected, "{p:?} body");
        // The body is complete in memory, so it goes with its length, never
        // chunked (the mock answers 411 otherwise, on every host).
        let len = r.body.len().to_string();
        assert_eq!(r.header("content-length"), Some(len.as_str()), "{p:?}");
        assert_eq!(r.header("transfer-encoding"), None, "{p:?}");
        assert_eq!(out.text, "Hi there.", "{p:?}");
        assert_eq!(out.provider, p.name());
        assert!(out.tool_calls.is_empty());
        assert_eq!(out.finish_reason, Some(w::FinishReason::Stop), "{p:?}");
        let u = out.usage.expect("usage");
        assert_eq!((u.input_tokens, u.output_tokens), (20, 5), "{p:?}");
        let expected_model = match p {
            P::OpenAi => "gpt-4o-2024-08-06",
            P::Anthropic | P::Custom => "claude-sonnet-4-6-20260101",
            P::Workers => "@cf/meta/llama-3.1-8b-instruct",
        };
        assert_eq!(out.model, expected_model, "{p:?}");
        assert!(out.raw.is_some_and(|r| r.contains("Hi there.")));
        assert_eq!(out.attempts.len(), 1);
        assert_eq!(out.attempts[0].status, Some(200));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_prompt_input_every_provider() {
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        h.mock.push(p.text_reply("ok"));
        let out = h
            .run(
                gw,
                p.model(),
                &w::AiInput::Prompt("Tell me a joke".into()),
                &cfg::options(),
            )
            .await
            .expect("ok");
        assert_eq!(out.text, "ok");
        let body = h.only_request().json();
        match p {
            P::Workers => assert_eq!(body, json!({"prompt": "Tell me a joke"})),
            P::OpenAi => assert_eq!(
                body["messages"],
                json!([{"role": "user", "content": "Tell me a joke"}])
            ),
            P::Anthropic | P::Custom => {
                assert_eq!(
                    body["messages"],
                    json!([{"role": "user", "content": "Tell me a joke"}])
                );
                assert_eq!(
                    body["max_tokens"], 4096,
                    "Anthropic requires max_tokens; the default is sent"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_json_schema_every_provider_uses_its_mechanism_and_returns_json_text() {
    let schema_text =
        r#"{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}"#;
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        let reply = match p {
            P::OpenAi => p.text_reply(r#"{"location":"Paris"}"#),
            P::Anthropic | P::Custom => Reply::json(
                200,
                json!({
                "model": "claude-sonnet-4-6", "content": [{"type": "tool_use", "id": "toolu_9", "name": "json_response", "input": {"location": "Paris"}}],
                "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 5}}),
            ),
            P::Workers => Reply::json(
                200,
                json!({"result": {"response": {"location": "Paris"}}, "success": true, "errors": []}),
            ),
        };
        h.mock.push(reply);
        let opts = w::RunOptions {
            response_format: Some(w::ResponseFormat::JsonSchema(w::JsonSchemaFormat {
                name: "place".into(),
                schema: schema_text.into(),
                strict: true,
                description: None,
            })),
            ..cfg::options()
        };
        let out = h
            .run(
                gw,
                p.model(),
                &cfg::user("Where is the Eiffel tower?"),
                &opts,
            )
            .await
            .expect("ok");
        assert_eq!(json(&out.text), json!({"location": "Paris"}), "{p:?}");
        assert!(
            out.tool_calls.is_empty(),
            "{p:?}: the JSON tool is not a tool call"
        );
        assert_eq!(out.finish_reason, Some(w::FinishReason::Stop), "{p:?}");
        let body = h.only_request().json();
        match p {
            P::OpenAi => assert_eq!(
                body["response_format"],
                json!({"type": "json_schema", "json_schema": {"name": "place", "schema": weather_schema(), "strict": true}})
            ),
            P::Anthropic | P::Custom => {
                assert_eq!(body["tools"][0]["name"], "json_response");
                assert_eq!(body["tools"][0]["input_schema"], weather_schema());
                assert_eq!(
                    body["tool_choice"],
                    json!({"type": "tool", "name": "json_response"})
                );
            }
            P::Workers => assert_eq!(
                body["response_format"],
                json!({"type": "json_schema", "json_schema": weather_schema()})
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_tools_every_provider_request_and_normalized_calls() {
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        h.mock.push(p.tool_reply());
        let opts = w::RunOptions {
            tools: vec![weather_tool()],
            tool_choice: Some(w::ToolChoice::Auto),
            ..cfg::options()
        };
        let out = h
            .run(
                gw,
                p.model(),
                &cfg::user("what's the weather in Paris?"),
                &opts,
            )
            .await
            .expect("ok");
        let expected_id = match p {
            P::OpenAi => "call_1",
            P::Anthropic | P::Custom => "toolu_1",
            P::Workers => "aigw_0", // no id from Workers AI: generated, never `call_`
        };
        assert_eq!(
            out.tool_calls,
            vec![w::ToolCall {
                id: expected_id.into(),
                name: "get_weather".into(),
                arguments: r#"{"location":"Paris"}"#.into(),
                raw_arguments: None
            }],
            "{p:?}: one normalized shape for every provider"
        );
        assert_eq!(out.finish_reason, Some(w::FinishReason::ToolCalls), "{p:?}");
        let body = h.only_request().json();
        match p {
            P::OpenAi => {
                assert_eq!(
                    body["tools"],
                    json!([{"type": "function", "function": {"name": "get_weather",
                    "description": "Get the current weather for a location", "parameters": weather_schema()}}])
                );
                assert_eq!(body["tool_choice"], "auto");
            }
            P::Anthropic | P::Custom => {
                assert_eq!(
                    body["tools"],
                    json!([{"name": "get_weather", "description": "Get the current weather for a location",
                    "input_schema": weather_schema()}])
                );
                assert_eq!(body["tool_choice"], json!({"type": "auto"}));
                assert_eq!(out.text, "Let me check.");
            }
            P::Workers => assert_eq!(
                body["tools"],
                json!([{"name": "get_weather",
                "description": "Get the current weather for a location", "parameters": weather_schema()}])
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_tool_result_follow_up_every_provider() {
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        h.mock.push(p.text_reply("It is 18C in Paris."));
        let mut assistant = cfg::message(w::Role::Assistant, "");
        assistant.tool_calls = vec![w::ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"location":"Paris"}"#.into(),
            raw_arguments: None,
        }];
        let mut result = cfg::message(w::Role::Tool, r#"{"temp_c":18}"#);
        result.tool_call_id = Some("call_1".into());
        let input = w::AiInput::Messages(vec![
            cfg::message(w::Role::User, "weather in Paris?"),
            assistant,
            result,
        ]);
        let opts = w::RunOptions {
            tools: vec![weather_tool()],
            ..cfg::options()
        };
        let out = h.run(gw, p.model(), &input, &opts).await.expect("ok");
        assert_eq!(out.text, "It is 18C in Paris.");
        let body = h.only_request().json();
        let expected = match p {
            P::OpenAi => json!([
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
                {"role": "tool", "content": "{\"temp_c\":18}", "tool_call_id": "call_1"}]),
            P::Anthropic | P::Custom => json!([
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "{\"temp_c\":18}"}]}]),
            P::Workers => json!([
                {"role": "user", "content": "weather in Paris?"},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]},
                {"role": "tool", "content": "{\"temp_c\":18}", "tool_call_id": "call_1"}]),
        };
        assert_eq!(body["messages"], expected, "{p:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_prompt_caching_anthropic_blocks_others_ignore_and_usage_counts_cache() {
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        let reply = match p {
            P::Anthropic | P::Custom => Reply::json(
                200,
                json!({
                "model": "claude-sonnet-4-6", "content": [{"type": "text", "text": "Summary."}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048, "output_tokens": 7}}),
            ),
            P::OpenAi => Reply::json(
                200,
                json!({
                "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": "Summary."}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 2060, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 2048}}}),
            ),
            P::Workers => p.text_reply("Summary."),
        };
        h.mock.push(reply);
        let mut doc = cfg::message(w::Role::System, "A LONG DOCUMENT");
        doc.cache_control = Some(w::CacheControl::Ephemeral);
        let input = w::AiInput::Messages(vec![doc, cfg::message(w::Role::User, "summarize this")]);
        let out = h
            .run(gw, p.model(), &input, &cfg::options())
            .await
            .expect("ok");
        let body = h.only_request().json();
        let text = body.to_string();
        match p {
            P::Anthropic | P::Custom => {
                assert_eq!(
                    body["system"],
                    json!([{"type": "text", "text": "A LONG DOCUMENT", "cache_control": {"type": "ephemeral"}}])
                );
                let u = out.usage.expect("usage");
                assert_eq!(
                    (u.input_tokens, u.cache_read_tokens, u.cache_write_tokens),
                    (2060, 2048, 0)
                );
            }
            P::OpenAi => {
                assert!(
                    !text.contains("cache_control"),
                    "non-Anthropic providers ignore the flag"
                );
                assert_eq!(out.usage.expect("usage").cache_read_tokens, 2048);
            }
            P::Workers => assert!(!text.contains("cache_control")),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_error_statuses_every_provider_map_to_typed_errors() {
    // (status, provider error code, expected kind, retryable)
    let cases = [
        (400, "invalid_request_error", "upstream", false),
        (401, "authentication_error", "auth", false),
        (404, "not_found_error", "not-found", false),
        (429, "rate_limit_error", "rate-limited", true),
        (500, "api_error", "upstream", true),
        (529, "overloaded_error", "service-unavailable", true),
    ];
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        for (status, code, expected, retryable) in cases {
            h.mock.reset();
            let mut reply = Reply::json(status, p.error_body(&format!("failure {status}"), code));
            if status == 429 {
                reply = reply.header("retry-after", "7");
            }
            h.mock.push(reply);
            let e = h
                .run(gw, p.model(), &cfg::user("hi"), &cfg::options())
                .await
                .expect_err("must fail");
            assert_eq!(kind(&e), expected, "{p:?} {status}: {e:?}");
            let d = detail(&e);
            assert_eq!(d.status, Some(status), "{p:?} {status}");
            assert_eq!(d.provider.as_deref(), Some(p.name()));
            assert_eq!(
                d.message,
                format!("failure {status}"),
                "{p:?} {status}: the provider's own message"
            );
            assert_eq!(d.retryable, retryable, "{p:?} {status}");
            assert!(
                d.body
                    .as_deref()
                    .is_some_and(|b| b.contains(&format!("failure {status}")))
            );
            if status == 429 {
                assert_eq!(d.retry_after_ms, Some(7000));
            }
            if p != P::Workers {
                assert_eq!(d.code.as_deref(), Some(code), "{p:?} {status}");
            }
            assert_eq!(h.mock.hits(), 1, "no retry without a retry policy");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_html_and_empty_error_bodies_every_provider() {
    let html = format!(
        "<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
        "x".repeat(5000)
    );
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        h.mock.push(Reply::raw(502, "text/html", html.clone()));
        let e = h
            .run(gw, p.model(), &cfg::user("hi"), &cfg::options())
            .await
            .expect_err("must fail");
        assert_eq!(kind(&e), "service-unavailable");
        let d = detail(&e);
        assert_eq!(d.message, "502 Bad Gateway");
        let body = d.body.as_deref().expect("body kept");
        assert!(
            body.len() <= 2048 + 3,
            "body truncated to 2 KiB, got {}",
            body.len()
        );
        assert!(body.ends_with('…'));
        h.mock.push(Reply::raw(503, "text/plain", ""));
        let e = h
            .run(gw, p.model(), &cfg::user("hi"), &cfg::options())
            .await
            .expect_err("must fail");
        assert_eq!(kind(&e), "service-unavailable");
        assert_eq!(detail(&e).message, "HTTP 503 Service Unavailable");
        assert_eq!(detail(&e).body, None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_non_json_or_invalid_utf8_success_body_is_upstream_error() {
    for p in ALL {
        let (mut h, gw) = setup(p).await;
        h.mock
            .push(Reply::raw(200, "application/json", "this is not json"));
        let e = h
            .run(gw, p.model(), &cfg::user("hi"), &cfg::options())
            .await
            .expect_err("must fail");
        assert_eq!(kind(&e), "upstream", "{p:?}");
        assert_eq!(detail(&e).status, Some(200));
        h.mock.push(Reply::raw(
            200,
            "application/json",
            vec![0xff, 0xfe, 0x7b, 0x00, 0xc3],
        ));
        let e = h
            .run(gw, p.model(), &cfg::user("hi"), &cfg::options())
            .await
            .expect_err("must fail");
        assert_eq!(kind(&e), "upstream", "{p:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_bad_input_is_validation_and_never_reaches_upstream() {
    let (mut h, gw) = setup(P::OpenAi).await;
    let bad_schema = w::RunOptions {
        response_format: Some(w::ResponseFormat::JsonSchema(w::JsonSchemaFormat {
            name: "x".into(),
            schema: "{not json".into(),
            strict: true,
            description: None,
        })),
        ..cfg::options()
    };
    let bad_tool = w::RunOptions {
        tools: vec![w::ToolDefinition {
            name: "t".into(),
            description: None,
            parameters: Some("[1,2]".into()),
        }],
        ..cfg::options()
    };
    let cases: Vec<(&str, w::AiInput, w::RunOptions)> = vec![
        (
            "empty messages",
            w::AiInput::Messages(vec![]),
            cfg::options(),
        ),
        (
            "empty prompt",
            w::AiInput::Prompt(String::new()),
            cfg::options(),
        ),
        (
            "unknown provider",
            cfg::user("hi"),
            w::RunOptions {
                provider: Some("nope".into()),
                ..cfg::options()
            },
        ),
        ("malformed schema", cfg::user("hi"), bad_schema),
        ("non-object tool parameters", cfg::user("hi"), bad_tool),
        (
            "header injection",
            cfg::user("hi"),
            w::RunOptions {
                headers: vec![("x-a".into(), "1\r\nx-b: 2".into())],
                ..cfg::options()
            },
        ),
        (
            "tool message without id",
            w::AiInput::Messages(vec![cfg::message(w::Role::Tool, "42")]),
            cfg::options(),
        ),
    ];
    for (what, input, opts) in cases {
        let e = h.run(gw, "gpt-4o", &input, &opts).await.expect_err(what);
        assert_eq!(kind(&e), "validation", "{what}: {e:?}");
    }
    let e = h
        .run(gw, "", &cfg::user("hi"), &cfg::options())
        .await
        .expect_err("empty model");
    assert_eq!(kind(&e), "validation");
    assert_eq!(h.mock.hits(), 0, "bad input never reaches the upstream");
    // The instance is still alive after all of that.
    h.mock.push(P::OpenAi.text_reply("still here"));
    assert_eq!(
        h.run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
            .await
            .expect("ok")
            .text,
        "still here"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn open_rejects_invalid_configs() {
    let mut h = Harness::new().await;
    let openai = openai_cfg(&h);
    let cases: Vec<(&str, w::GatewayConfig)> = vec![
        ("no providers", cfg::gateway(vec![], None)),
        (
            "unknown default",
            cfg::gateway(vec![openai.clone()], Some("nope")),
        ),
        (
            "duplicate name",
            cfg::gateway(vec![openai.clone(), openai.clone()], None),
        ),
        (
            "workers without account",
            cfg::gateway(vec![cfg::provider("w", w::ProviderKind::WorkersAi)], None),
        ),
        (
            "custom without url",
            cfg::gateway(vec![cfg::provider("c", w::ProviderKind::Custom)], None),
        ),
        (
            "bad base url",
            cfg::gateway(
                vec![w::ProviderConfig {
                    base_url: Some("ftp://x".into()),
                    ..openai.clone()
                }],
                None,
            ),
        ),
        (
            "route to unknown provider",
            w::GatewayConfig {
                router: Some(w::RouterConfig {
                    routes: vec![w::Route {
                        pattern: "gpt-*".into(),
                        provider: "x".into(),
                    }],
                    fallback: None,
                }),
                ..cfg::gateway(vec![openai.clone()], None)
            },
        ),
    ];
    for (what, c) in cases {
        let e = h.open_err(&c).await;
        assert_eq!(kind(&e), "validation", "{what}: {e:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_default_urls_go_to_the_real_provider_hosts() {
    let mut h = Harness::new().await;
    let providers = vec![
        cfg::openai("openai", "sk-1", None),
        cfg::anthropic("anthropic", "sk-2", None),
        cfg::workers_ai("workers", "tok", "acc9", None),
    ];
    let gw = h.open(&cfg::gateway(providers, None)).await;
    for (provider, model, url) in [
        (
            "openai",
            "gpt-4o",
            "https://api.openai.com/v1/chat/completions",
        ),
        (
            "anthropic",
            "claude-sonnet-4-6",
            "https://api.anthropic.com/v1/messages",
        ),
        (
            "workers",
            "@cf/meta/llama-3.1-8b-instruct",
            "https://api.cloudflare.com/client/v4/accounts/acc9/ai/run/@cf/meta/llama-3.1-8b-instruct",
        ),
    ] {
        h.mock.reset();
        let opts = w::RunOptions {
            provider: Some(provider.into()),
            ..cfg::options()
        };
        h.run(gw, model, &cfg::user("hi"), &opts)
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e:?}"));
        assert_eq!(h.only_request().url(), url);
    }
}

fn cf() -> w::CfGatewayConfig {
    w::CfGatewayConfig {
        account_id: "acc".into(),
        gateway_id: "my-gateway".into(),
        auth_token: Some("cf-aig-secret".into()),
        cache_ttl: Some(3600),
        skip_cache: true,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_cf_gateway_rewrites_openai_and_anthropic_with_aig_headers() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        cf_gateway: Some(cf()),
        ..cfg::gateway(
            vec![
                cfg::openai("openai", "sk-1", None),
                cfg::anthropic("anthropic", "sk-2", None),
                cfg::workers_ai("workers", "tok", "acc9", None),
                cfg::openai("direct", "sk-3", Some(&format!("{}/v1", h.base()))),
            ],
            None,
        )
    };
    let gw = h.open(&config).await;
    let cases = [
        (
            "openai",
            "gpt-4o",
            "https://gateway.ai.cloudflare.com/v1/acc/my-gateway/openai/chat/completions",
            true,
        ),
        (
            "anthropic",
            "claude-sonnet-4-6",
            "https://gateway.ai.cloudflare.com/v1/acc/my-gateway/anthropic/v1/messages",
            true,
        ),
        (
            "workers",
            "@cf/meta/llama-3.1-8b-instruct",
            "https://api.cloudflare.com/client/v4/accounts/acc9/ai/run/@cf/meta/llama-3.1-8b-instruct",
            false,
        ),
        (
            "direct",
            "gpt-4o",
            &format!("{}/v1/chat/completions", h.base()),
            false,
        ),
    ];
    for (provider, model, url, routed) in cases {
        h.mock.reset();
        let opts = w::RunOptions {
            provider: Some(provider.into()),
            ..cfg::options()
        };
        let out = h
            .run(gw, model, &cfg::user("hi"), &opts)
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e:?}"));
        assert_eq!(out.provider, provider);
        let r = h.only_request();
        assert_eq!(r.url(), url, "{provider}");
        if routed {
            assert_eq!(
                r.header("cf-aig-authorization"),
                Some("Bearer cf-aig-secret")
            );
            assert_eq!(r.header("cf-aig-cache-ttl"), Some("3600"));
            assert_eq!(r.header("cf-aig-skip-cache"), Some("true"));
        } else {
            for hname in [
                "cf-aig-authorization",
                "cf-aig-cache-ttl",
                "cf-aig-skip-cache",
            ] {
                assert_eq!(
                    r.header(hname),
                    None,
                    "{provider}: {hname} only on routed providers"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn run_api_key_never_appears_in_errors() {
    let (mut h, gw) = setup(P::OpenAi).await;
    h.mock.push(Reply::json(401, json!({"error": {"message": "Incorrect API key provided: sk-test-openai.", "type": "invalid_request_error", "code": "invalid_api_key"}})));
    let e = h
        .run(gw, "gpt-4o", &cfg::user("hi"), &cfg::options())
        .await
        .expect_err("401");
    let all = format!("{e:?}");
    assert!(!all.contains("sk-test-openai"), "the key leaked: {all}");
    assert!(all.contains("***"));
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_providers_default_and_resolve() {
    let mut h = Harness::new().await;
    let config = w::GatewayConfig {
        router: Some(w::RouterConfig {
            routes: vec![
                w::Route {
                    pattern: "gpt-*".into(),
                    provider: "openai".into(),
                },
                w::Route {
                    pattern: "claude-*".into(),
                    provider: "anthropic".into(),
                },
            ],
            fallback: Some("workers".into()),
        }),
        ..cfg::gateway(
            vec![openai_cfg(&h), anthropic_cfg(&h), workers_cfg(&h)],
            Some("anthropic"),
        )
    };
    let gw = h.open(&config).await;
    assert_eq!(
        h.inst.providers(gw).await.expect("ok"),
        ["openai", "anthropic", "workers"]
    );
    assert_eq!(
        h.inst.default_provider(gw).await.expect("ok").as_deref(),
        Some("anthropic")
    );
    let r = |m: &'static str, p: Option<&'static str>| (m, p);
    for ((model, explicit), want) in [
        (r("gpt-4o", None), "openai"),
        (r("claude-opus-4-7", None), "anthropic"),
        (r("@cf/meta/llama", None), "workers"),
        (r("gpt-4o", Some("anthropic")), "anthropic"),
    ] {
        let got = h
            .inst
            .resolve_provider(gw, model, explicit)
            .await
            .expect("no trap")
            .expect("resolves");
        assert_eq!(got, want, "{model} {explicit:?}");
    }
    // Routing is used by run: a claude model goes to the anthropic wire format.
    h.mock.push(P::Anthropic.text_reply("routed"));
    let out = h
        .run(gw, "claude-opus-4-7", &cfg::user("hi"), &cfg::options())
        .await
        .expect("ok");
    assert_eq!(out.provider, "anthropic");
    assert!(h.only_request().path.ends_with("/v1/messages"));
}

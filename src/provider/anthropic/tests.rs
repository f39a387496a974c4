use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKey, Endpoint, ProviderConfig, ProviderKind, WireFormat};
use crate::provider::build_chat;
use crate::provider::fixture_tests::{collapse, decode_checked, done, text, tool};
use crate::types::{Input, JsonSchemaFormat, RunOptions, ToolDefinition};

fn fixture(bytes: &[u8]) -> Vec<StreamEvent> {
    decode_checked(WireFormat::Anthropic, bytes)
}

#[test]
fn stream_basic_fixture_text_and_usage() {
    let ev = fixture(include_bytes!(
        "../../../tests/fixtures/anthropic/basic_response.sse"
    ));
    assert_eq!(
        ev,
        vec![
            text("Hello"),
            text(" there"),
            text("!"),
            done("claude-3-opus-latest", 11, 6, FinishReason::Stop)
        ]
    );
}

#[test]
fn stream_tool_use_fixture_assembles_input_json() {
    let ev = fixture(include_bytes!(
        "../../../tests/fixtures/anthropic/tool_use_response.sse"
    ));
    assert_eq!(
        collapse(&ev),
        vec![
            text("I'll check the current weather in Paris for you."),
            tool(
                "toolu_01NRLabsLyVHZPKxbKvkfSMn",
                "get_weather",
                r#"{"location":"Paris"}"#
            ),
            done("claude-sonnet-4-20250514", 377, 65, FinishReason::ToolCalls),
        ]
    );
}

#[test]
fn stream_incomplete_partial_json_fixture_yields_empty_args_with_raw() {
    let ev = fixture(include_bytes!(
        "../../../tests/fixtures/anthropic/incomplete_partial_json_response.sse"
    ));
    let c = collapse(&ev);
    assert_eq!(c.len(), 3);
    assert_eq!(
        c[0],
        text(
            "I'll create a comprehensive tax guide for someone with multiple W2s and save it in a file called taxes.txt. Let me do that for you now."
        )
    );
    match &c[1] {
        StreamEvent::ToolUse(call) => {
            assert_eq!(call.id, "toolu_01EKqbqmZrGRXy18eN7m9kvY");
            assert_eq!(call.name, "make_file");
            assert_eq!(call.arguments, "{}");
            assert!(
                call.raw_arguments
                    .as_deref()
                    .unwrap()
                    .starts_with("{\"filename\": \"taxes.txt\"")
            );
        }
        other => panic!("expected tool use, got {other:?}"),
    }
    assert_eq!(
        c[2],
        done("claude-3-7-sonnet-20250219", 450, 124, FinishReason::Length)
    );
}

#[test]
fn stream_refusal_fixture_is_content_filter_without_text() {
    let ev = fixture(include_bytes!(
        "../../../tests/fixtures/anthropic/refusal_response.sse"
    ));
    assert_eq!(
        ev,
        vec![done("claude-opus-4-7", 20, 0, FinishReason::ContentFilter)]
    );
}

#[test]
fn stream_fallback_fixture_reports_the_serving_model() {
    for bytes in [
        &include_bytes!("../../../tests/fixtures/anthropic/fallback_response.sse")[..],
        &include_bytes!("../../../tests/fixtures/anthropic/fallback_credit_response.sse")[..],
    ] {
        assert_eq!(
            fixture(bytes),
            vec![
                text("Hello there!"),
                done("claude-sonnet-4-5", 25, 8, FinishReason::Stop)
            ]
        );
    }
}

#[test]
fn stream_compaction_fixture_skips_unknown_block() {
    let ev = fixture(include_bytes!(
        "../../../tests/fixtures/anthropic/compaction_response.sse"
    ));
    assert_eq!(
        ev,
        vec![
            text("Hello there!"),
            done("claude-opus-4-7", 30, 8, FinishReason::Stop)
        ]
    );
}

#[test]
fn stream_without_message_stop_and_without_stop_reason_is_error() {
    let body = include_bytes!("../../../tests/fixtures/anthropic/basic_response.sse");
    let s = std::str::from_utf8(body).unwrap();
    let cut = &s[..s.find("event: message_delta").unwrap()];
    let ev = fixture(cut.as_bytes());
    assert!(
        matches!(
            ev.last(),
            Some(StreamEvent::Error(GatewayError::Upstream(_)))
        ),
        "{ev:?}"
    );
    // With the stop reason but no message_stop the stream is complete.
    let cut = &s[..s.find("event: message_stop").unwrap()];
    assert_eq!(
        fixture(cut.as_bytes()).last(),
        Some(&done("claude-3-opus-latest", 11, 6, FinishReason::Stop))
    );
}

#[test]
fn stream_mid_stream_overloaded_error_is_service_unavailable() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let ev = fixture(body.as_bytes());
    assert_eq!(ev.len(), 2);
    assert!(
        matches!(&ev[1], StreamEvent::Error(GatewayError::ServiceUnavailable(d)) if d.message == "Overloaded")
    );
}

#[test]
fn stream_thinking_cache_usage_and_empty_tool_input() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":20,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me think\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"now\",\"input\":{}}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: some_future_event\ndata: {\"type\":\"some_future_event\"}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":42}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let ev = fixture(body.as_bytes());
    assert_eq!(ev[0], StreamEvent::Reasoning("Let me think".into()));
    assert_eq!(ev[1], tool("t1", "now", "{}"));
    match &ev[2] {
        StreamEvent::Done(d) => assert_eq!(
            d.usage,
            Some(Usage {
                input_tokens: 130,
                output_tokens: 42,
                cache_read_tokens: 100,
                cache_write_tokens: 20,
                reasoning_tokens: 0
            })
        ),
        other => panic!("expected done, got {other:?}"),
    }
}

#[test]
fn stream_json_output_tool_streams_as_text() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"json_response\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":5}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let ev = fixture(body.as_bytes());
    assert_eq!(
        collapse(&ev),
        vec![text("{\"a\":1}"), done("m", 3, 5, FinishReason::Stop)]
    );
}

// ---------------------------------------------------------------- requests

fn endpoint() -> Endpoint {
    let mut p = ProviderConfig::new("anthropic", ProviderKind::Anthropic);
    p.api_key = Some(ApiKey::new("sk-ant-test"));
    Endpoint::resolve(&p, None).unwrap()
}

fn build(input: &Input, opts: &RunOptions) -> (crate::http::HttpRequest, Value) {
    let ep = endpoint();
    let req = build_chat(&ChatCall {
        endpoint: &ep,
        model: "claude-sonnet-4-6",
        input,
        options: opts,
        stream: false,
    })
    .unwrap();
    let body = serde_json::from_slice(&req.body).unwrap();
    (req, body)
}

#[test]
fn request_hoists_system_and_sets_headers() {
    let input = Input::Messages(vec![
        Message::new(Role::System, "Be brief."),
        Message::new(Role::User, "Hello"),
    ]);
    let (req, body) = build(&input, &RunOptions::default());
    assert_eq!(req.url, "https://api.anthropic.com/v1/messages");
    assert_eq!(req.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(req.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(
        body,
        json!({"model": "claude-sonnet-4-6", "max_tokens": 4096, "system": "Be brief.",
               "messages": [{"role": "user", "content": "Hello"}]})
    );
}

#[test]
fn request_cache_control_becomes_ephemeral_blocks() {
    let mut doc = Message::new(Role::System, "LONG DOCUMENT");
    doc.cache_control = true;
    let mut user = Message::new(Role::User, "summarize this");
    user.cache_control = true;
    let input = Input::Messages(vec![doc, user]);
    let (_, body) = build(&input, &RunOptions::default());
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "LONG DOCUMENT", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "summarize this", "cache_control": {"type": "ephemeral"}}]}])
    );
}

#[test]
fn request_tool_results_merge_into_one_user_turn() {
    let mut assistant = Message::new(Role::Assistant, "Checking.");
    assistant.tool_calls = vec![
        ToolCall {
            id: "t1".into(),
            name: "w".into(),
            arguments: r#"{"c":"SF"}"#.into(),
            raw_arguments: None,
        },
        ToolCall {
            id: "t2".into(),
            name: "w".into(),
            arguments: r#"{"c":"NY"}"#.into(),
            raw_arguments: None,
        },
    ];
    let mut r1 = Message::new(Role::Tool, "18C");
    r1.tool_call_id = Some("t1".into());
    let mut r2 = Message::new(Role::Tool, "25C");
    r2.tool_call_id = Some("t2".into());
    let input = Input::Messages(vec![
        Message::new(Role::User, "weather?"),
        assistant,
        r1,
        r2,
    ]);
    let (_, body) = build(&input, &RunOptions::default());
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "t1", "name": "w", "input": {"c": "SF"}},
                {"type": "tool_use", "id": "t2", "name": "w", "input": {"c": "NY"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "25C"}]}
        ])
    );
}

#[test]
fn request_tools_and_choice_map_to_anthropic() {
    let opts = RunOptions {
        tools: vec![ToolDefinition {
            name: "w".into(),
            description: None,
            parameters: Some(r#"{"type":"object"}"#.into()),
        }],
        tool_choice: Some(ToolChoice::Required),
        stop: vec!["END".into()],
        ..RunOptions::default()
    };
    let (_, body) = build(&Input::Prompt("x".into()), &opts);
    assert_eq!(
        body["tools"],
        json!([{"name": "w", "input_schema": {"type": "object"}}])
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    assert_eq!(body["stop_sequences"], json!(["END"]));
}

#[test]
fn request_json_schema_is_a_forced_tool() {
    let opts = RunOptions {
        response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "city".into(),
            schema: r#"{"type":"object","properties":{"name":{"type":"string"}}}"#.into(),
            strict: true,
            description: None,
        })),
        ..RunOptions::default()
    };
    let (_, body) = build(&Input::Prompt("x".into()), &opts);
    assert_eq!(body["tools"][0]["name"], JSON_TOOL);
    assert_eq!(
        body["tools"][0]["input_schema"],
        json!({"type": "object", "properties": {"name": {"type": "string"}}})
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": JSON_TOOL})
    );
}

#[test]
fn request_reasoning_effort_enables_thinking_above_budget() {
    let opts = RunOptions {
        reasoning_effort: Some(ReasoningEffort::Medium),
        max_tokens: Some(1000),
        ..RunOptions::default()
    };
    let (_, body) = build(&Input::Prompt("x".into()), &opts);
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    assert_eq!(body["max_tokens"], 5120);
}

#[test]
fn request_reserved_tool_name_is_validation() {
    let opts = RunOptions {
        tools: vec![ToolDefinition {
            name: JSON_TOOL.into(),
            description: None,
            parameters: None,
        }],
        ..RunOptions::default()
    };
    let ep = endpoint();
    let input = Input::Prompt("x".into());
    let e = build_chat(&ChatCall {
        endpoint: &ep,
        model: "m",
        input: &input,
        options: &opts,
        stream: false,
    })
    .unwrap_err();
    assert_eq!(e.kind(), crate::error::ErrorKind::Validation);
}

// ---------------------------------------------------------------- responses

#[test]
fn parse_chat_text_tools_thinking_and_cache_usage() {
    let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-6",
      "content":[{"type":"thinking","thinking":"hmm","signature":"x"},{"type":"text","text":"Let me check."},
                 {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"SF","unit":"c"}},
                 {"type":"server_tool_use","id":"s","name":"web_search","input":{}}],
      "stop_reason":"tool_use","usage":{"input_tokens":50,"cache_creation_input_tokens":1000,"cache_read_input_tokens":2000,"output_tokens":80}}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "Let me check.");
    assert_eq!(c.reasoning.as_deref(), Some("hmm"));
    assert_eq!(
        c.tool_calls,
        vec![ToolCall {
            id: "toolu_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"location":"SF","unit":"c"}"#.into(),
            raw_arguments: None
        }]
    );
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        c.usage,
        Some(Usage {
            input_tokens: 3050,
            output_tokens: 80,
            cache_read_tokens: 2000,
            cache_write_tokens: 1000,
            reasoning_tokens: 0
        })
    );
}

#[test]
fn parse_chat_json_tool_becomes_text() {
    let body = br#"{"model":"m","content":[{"type":"tool_use","id":"t","name":"json_response","input":{"name":"Paris"}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, r#"{"name":"Paris"}"#);
    assert!(c.tool_calls.is_empty());
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
}

// ------------------------------------------------ regressions (issue 13.4)

#[test]
fn parse_chat_thinking_tokens_become_reasoning_tokens() {
    let body = br#"{"model":"claude-opus-4-6","content":[{"type":"thinking","thinking":"2+2","signature":"s"},{"type":"text","text":"4"}],
        "stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":95,"output_tokens_details":{"thinking_tokens":80}}}"#;
    let u = parse_chat(body).unwrap().usage.unwrap();
    assert_eq!((u.output_tokens, u.reasoning_tokens), (95, 80));
}

#[test]
fn usage_thinking_tokens_never_exceed_output_tokens() {
    let body = br#"{"model":"m","content":[],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":7,"output_tokens_details":{"thinking_tokens":9}}}"#;
    let u = parse_chat(body).unwrap().usage.unwrap();
    assert_eq!((u.output_tokens, u.reasoning_tokens), (7, 7));
}

#[test]
fn stream_message_delta_thinking_tokens_become_reasoning_tokens() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"4\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":60,\"output_tokens_details\":{\"thinking_tokens\":50}}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    match fixture(body.as_bytes()).last() {
        Some(StreamEvent::Done(d)) => assert_eq!(
            d.usage,
            Some(Usage {
                input_tokens: 10,
                output_tokens: 60,
                reasoning_tokens: 50,
                ..Usage::default()
            })
        ),
        other => panic!("expected done, got {other:?}"),
    }
}

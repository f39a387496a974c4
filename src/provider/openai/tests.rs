use serde_json::{Value, json};

use super::*;
use crate::config::{ProviderConfig, ProviderKind, WireFormat};
use crate::provider::build_chat;
use crate::provider::fixture_tests::{collapse, decode_checked, done, text, tool};
use crate::types::{Input, JsonSchemaFormat, RunOptions, ToolDefinition};

const FIX: &str = "gpt-4o-2024-08-06";

fn fixture(name: &str) -> Vec<StreamEvent> {
    let bytes = match name {
        "text_with_usage" => {
            &include_bytes!("../../../tests/fixtures/openai/text_with_usage.sse")[..]
        }
        "tool_call_with_usage" => {
            &include_bytes!("../../../tests/fixtures/openai/tool_call_with_usage.sse")[..]
        }
        "parallel_tool_calls" => {
            &include_bytes!("../../../tests/fixtures/openai/parallel_tool_calls.sse")[..]
        }
        "refusal_with_usage" => {
            &include_bytes!("../../../tests/fixtures/openai/refusal_with_usage.sse")[..]
        }
        "finish_length" => &include_bytes!("../../../tests/fixtures/openai/finish_length.sse")[..],
        "multiple_choices" => {
            &include_bytes!("../../../tests/fixtures/openai/multiple_choices.sse")[..]
        }
        _ => unreachable!("unknown fixture"),
    };
    decode_checked(WireFormat::OpenAi, bytes)
}

#[test]
fn stream_text_with_usage_fixture_gives_text_then_done_with_usage() {
    let ev = fixture("text_with_usage");
    assert_eq!(
        collapse(&ev),
        vec![
            text(r#"{"city":"San Francisco","temperature":61,"units":"f"}"#),
            done(FIX, 79, 14, FinishReason::Stop)
        ]
    );
    assert!(
        ev.iter()
            .filter(|e| matches!(e, StreamEvent::Text(_)))
            .count()
            > 5,
        "deltas stay separate"
    );
}

#[test]
fn stream_tool_call_fixture_assembles_arguments() {
    assert_eq!(
        fixture("tool_call_with_usage"),
        vec![
            tool(
                "call_4XzlGBLtUe9dy3GVNV4jhq7h",
                "get_weather",
                r#"{"city":"New York City"}"#
            ),
            done(FIX, 44, 16, FinishReason::ToolCalls)
        ]
    );
}

#[test]
fn stream_parallel_tool_calls_fixture_assembles_by_index() {
    assert_eq!(
        fixture("parallel_tool_calls"),
        vec![
            tool(
                "call_JMW1whyEaYG438VE1OIflxA2",
                "GetWeatherArgs",
                r#"{"city":"Edinburgh","country":"GB","units":"c"}"#
            ),
            tool(
                "call_DNYTawLBoN8fj3KN6qU9N1Ou",
                "get_stock_price",
                r#"{"ticker":"AAPL","exchange":"NASDAQ"}"#
            ),
            done(FIX, 149, 60, FinishReason::ToolCalls)
        ]
    );
}

#[test]
fn stream_refusal_fixture_is_text_and_content_filter() {
    assert_eq!(
        collapse(&fixture("refusal_with_usage")),
        vec![
            text("I'm sorry, I can't assist with that request."),
            done(FIX, 79, 11, FinishReason::ContentFilter)
        ]
    );
}

#[test]
fn stream_finish_length_fixture_maps_length() {
    assert_eq!(
        collapse(&fixture("finish_length")),
        vec![text("{\""), done(FIX, 79, 1, FinishReason::Length)]
    );
}

#[test]
fn stream_multiple_choices_fixture_follows_choice_zero() {
    assert_eq!(
        collapse(&fixture("multiple_choices")),
        vec![
            text(r#"{"city":"San Francisco","temperature":65,"units":"f"}"#),
            done(FIX, 79, 42, FinishReason::Stop)
        ]
    );
}

#[test]
fn stream_cut_before_finish_is_one_error() {
    let body = include_bytes!("../../../tests/fixtures/openai/text_with_usage.sse");
    let cut = &body[..body.len() / 2];
    let ev = decode_checked(WireFormat::OpenAi, cut);
    assert!(matches!(
        ev.last(),
        Some(StreamEvent::Error(crate::error::GatewayError::Upstream(_)))
    ));
}

#[test]
fn stream_finished_without_done_marker_is_done() {
    let body = include_bytes!("../../../tests/fixtures/openai/text_with_usage.sse");
    let s = std::str::from_utf8(body)
        .unwrap()
        .replace("data: [DONE]", "");
    let ev = decode_checked(WireFormat::OpenAi, s.as_bytes());
    assert_eq!(ev.last(), Some(&done(FIX, 79, 14, FinishReason::Stop)));
}

#[test]
fn stream_error_chunk_is_terminal_error() {
    let body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_overloaded\"}}\n\n";
    let ev = decode_checked(WireFormat::OpenAi, body);
    assert_eq!(ev.len(), 2);
    assert!(
        matches!(&ev[1], StreamEvent::Error(crate::error::GatewayError::ServiceUnavailable(d)) if d.message == "overloaded")
    );
}

#[test]
fn stream_reasoning_deltas_and_malformed_tool_args() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"think\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"ing\",\"content\":\"\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{oops\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"unknown_field\":1}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::OpenAi, body.as_bytes());
    assert_eq!(collapse(&ev)[0], StreamEvent::Reasoning("thinking".into()));
    match &ev[2] {
        StreamEvent::ToolUse(c) => {
            assert_eq!(c.arguments, "{}");
            assert_eq!(c.raw_arguments.as_deref(), Some("{oops"));
        }
        other => panic!("expected tool use, got {other:?}"),
    }
}

// ---------------------------------------------------------------- requests

fn endpoint(base: Option<&str>) -> Endpoint {
    let mut p = ProviderConfig::new("openai", ProviderKind::OpenAi);
    p.api_key = Some(crate::config::ApiKey::new("sk-test"));
    p.base_url = base.map(str::to_owned);
    Endpoint::resolve(&p, None).unwrap()
}

fn body_of(ep: &Endpoint, input: &Input, opts: &RunOptions, stream: bool) -> Value {
    let req = build_chat(&ChatCall {
        endpoint: ep,
        model: "gpt-4o",
        input,
        options: opts,
        stream,
    })
    .unwrap();
    serde_json::from_slice(&req.body).unwrap()
}

#[test]
fn request_tools_schema_and_choice_are_openai_shaped() {
    let ep = endpoint(Some("http://127.0.0.1:1/v1"));
    let opts = RunOptions {
        tools: vec![ToolDefinition {
            name: "get_weather".into(),
            description: Some("Weather".into()),
            parameters: Some(r#"{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}"#.into()),
        }],
        tool_choice: Some(ToolChoice::Named("get_weather".into())),
        max_tokens: Some(100),
        temperature: Some(0.7),
        ..RunOptions::default()
    };
    let b = body_of(&ep, &Input::Prompt("hi".into()), &opts, false);
    assert_eq!(
        b,
        json!({
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 100,
            "temperature": 0.7,
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
        })
    );
    // Key order of the caller's schema is kept (OpenAI emits properties in schema order).
    let req = build_chat(&ChatCall {
        endpoint: &ep,
        model: "gpt-4o",
        input: &Input::Prompt("hi".into()),
        options: &opts,
        stream: false,
    })
    .unwrap();
    let text = String::from_utf8(req.body.to_vec()).unwrap();
    assert!(text.find("\"properties\"").unwrap() < text.find("\"required\"").unwrap());
    assert_eq!(req.header("authorization"), Some("Bearer sk-test"));
}

#[test]
fn request_openai_itself_uses_max_completion_tokens() {
    let ep = endpoint(None);
    let b = body_of(
        &ep,
        &Input::Prompt("hi".into()),
        &RunOptions {
            max_tokens: Some(5),
            ..RunOptions::default()
        },
        false,
    );
    assert_eq!(b["max_completion_tokens"], 5);
    assert!(b.get("max_tokens").is_none());
}

#[test]
fn request_stream_asks_for_usage() {
    let b = body_of(
        &endpoint(None),
        &Input::Prompt("hi".into()),
        &RunOptions::default(),
        true,
    );
    assert_eq!(b["stream"], true);
    assert_eq!(b["stream_options"], json!({"include_usage": true}));
}

#[test]
fn request_json_schema_and_json_mode() {
    let ep = endpoint(None);
    let schema = RunOptions {
        response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "city".into(),
            schema: r#"{"type":"object","properties":{"name":{"type":"string"}}}"#.into(),
            strict: true,
            description: None,
        })),
        ..RunOptions::default()
    };
    let b = body_of(&ep, &Input::Prompt("hi".into()), &schema, false);
    assert_eq!(
        b["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "city", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}, "strict": true}})
    );
    let json_mode = RunOptions {
        response_format: Some(ResponseFormat::Json),
        ..RunOptions::default()
    };
    let b = body_of(&ep, &Input::Prompt("hi".into()), &json_mode, false);
    assert_eq!(b["response_format"], json!({"type": "json_object"}));
    assert_eq!(
        b["messages"][0],
        json!({"role": "system", "content": JSON_INSTRUCTION}),
        "json_object needs the word JSON"
    );
    let b = body_of(
        &ep,
        &Input::Prompt("answer in JSON".into()),
        &json_mode,
        false,
    );
    assert_eq!(b["messages"].as_array().unwrap().len(), 1);
}

#[test]
fn request_tool_result_follow_up_messages() {
    let ep = endpoint(None);
    let mut assistant = Message::new(Role::Assistant, "");
    assistant.tool_calls.push(ToolCall {
        id: "call_1".into(),
        name: "get_weather".into(),
        arguments: r#"{"location":"SF"}"#.into(),
        raw_arguments: None,
    });
    let mut result = Message::new(Role::Tool, "18C");
    result.tool_call_id = Some("call_1".into());
    let input = Input::Messages(vec![
        Message::new(Role::User, "weather?"),
        assistant,
        result,
    ]);
    let b = body_of(&ep, &input, &RunOptions::default(), false);
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"SF\"}"}}]},
            {"role": "tool", "content": "18C", "tool_call_id": "call_1"}
        ])
    );
}

// ---------------------------------------------------------------- responses

#[test]
fn parse_chat_text_usage_and_cached_reasoning_tokens() {
    let body = br#"{"id":"x","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":192}}}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "Hello!");
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        c.usage,
        Some(Usage {
            input_tokens: 2006,
            output_tokens: 300,
            cache_read_tokens: 1920,
            cache_write_tokens: 0,
            reasoning_tokens: 192
        })
    );
}

#[test]
fn parse_chat_tool_calls_normalized() {
    let body = br#"{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"SF\"}"}}]},"finish_reason":"tool_calls"}]}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "");
    assert_eq!(
        c.tool_calls,
        vec![ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"location":"SF"}"#.into(),
            raw_arguments: None
        }]
    );
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
}

#[test]
fn parse_chat_non_json_and_no_choices_are_upstream_errors() {
    assert_eq!(
        parse_chat(b"<html>oops</html>").unwrap_err().kind(),
        crate::error::ErrorKind::Upstream
    );
    assert_eq!(
        parse_chat(b"{\"choices\":[]}").unwrap_err().kind(),
        crate::error::ErrorKind::Upstream
    );
    assert_eq!(
        parse_chat(&[0xff, 0xfe, 0x00]).unwrap_err().kind(),
        crate::error::ErrorKind::Upstream
    );
}

#[test]
fn parse_embed_sorts_by_index() {
    let body = br#"{"data":[{"index":1,"embedding":[0.5]},{"index":0,"embedding":[0.25,1.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":4,"total_tokens":4}}"#;
    let (v, u, m) = parse_embed(body).unwrap();
    assert_eq!(v, vec![vec![0.25, 1.0], vec![0.5]]);
    assert_eq!(u.unwrap().input_tokens, 4);
    assert_eq!(m.as_deref(), Some("text-embedding-3-small"));
}

#[test]
fn parse_embed_repeated_or_skipped_index_is_upstream_error() {
    // Found by `cargo fuzz run openai`: `[0, 0]` was accepted for two
    // inputs, the second input getting the first one's vector.
    for body in [
        &br#"{"data":[{"index":0,"embedding":[0.5]},{"index":0,"embedding":[0.25]}]}"#[..],
        br#"{"data":[{"index":0,"embedding":[0.5]},{"index":2,"embedding":[0.25]}]}"#,
        br#"{"data":[{"index":1,"embedding":[0.5]},{"embedding":[0.25]}]}"#,
    ] {
        let e = parse_embed(body).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::Upstream);
        assert!(e.to_string().contains("index"), "{e}");
    }
    // Absent indexes are positions.
    let (v, _, _) = parse_embed(br#"{"data":[{"embedding":[1.0]},{"embedding":[2.0]}]}"#).unwrap();
    assert_eq!(v, vec![vec![1.0], vec![2.0]]);
}

// ------------------------------------------------ regressions (issue 13.4)

#[test]
fn stream_usage_chunk_reasoning_tokens_reach_done() {
    // The recorded usage chunk, with a reasoning model's count in it.
    let body = include_bytes!("../../../tests/fixtures/openai/text_with_usage.sse");
    let s = std::str::from_utf8(body).unwrap().replace(
        r#""completion_tokens_details":{"reasoning_tokens":0}"#,
        r#""completion_tokens_details":{"reasoning_tokens":9}"#,
    );
    assert_ne!(s.as_bytes(), body, "the fixture carries reasoning_tokens");
    let ev = decode_checked(WireFormat::OpenAi, s.as_bytes());
    match ev.last() {
        Some(StreamEvent::Done(d)) => assert_eq!(
            d.usage,
            Some(Usage {
                input_tokens: 79,
                output_tokens: 14,
                reasoning_tokens: 9,
                ..Usage::default()
            })
        ),
        other => panic!("expected done, got {other:?}"),
    }
}

#[test]
fn usage_reasoning_tokens_never_exceed_output_tokens() {
    let body = br#"{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":1,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":40}}}"#;
    let u = parse_chat(body).unwrap().usage.unwrap();
    assert_eq!((u.output_tokens, u.reasoning_tokens), (3, 3));
}

#[test]
fn parse_chat_missing_or_empty_call_ids_are_generated_with_aigw_prefix() {
    let body = br#"{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
        {"type":"function","function":{"name":"a","arguments":"{}"}},
        {"id":"","type":"function","function":{"name":"b","arguments":"{}"}},
        {"id":"call_0","type":"function","function":{"name":"c","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#;
    let ids: Vec<String> = parse_chat(body)
        .unwrap()
        .tool_calls
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec!["aigw_0", "aigw_1", "call_0"]);
}

#[test]
fn stream_missing_call_id_is_generated_with_aigw_prefix() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}},{\"index\":1,\"id\":\"call_0\",\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::OpenAi, body.as_bytes());
    assert_eq!(ev[0], tool("aigw_0", "a", "{}"));
    assert_eq!(ev[1], tool("call_0", "b", "{}"));
}

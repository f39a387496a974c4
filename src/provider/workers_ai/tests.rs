use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKey, ProviderConfig, ProviderKind, WireFormat};
use crate::provider::build_chat;
use crate::provider::fixture_tests::{collapse, decode_checked, text};
use crate::types::{JsonSchemaFormat, RunOptions, ToolDefinition};

fn endpoint() -> Endpoint {
    let mut p = ProviderConfig::new("workers", ProviderKind::WorkersAi);
    p.api_key = Some(ApiKey::new("cf-token"));
    p.account_id = Some("acc123".into());
    Endpoint::resolve(&p, None).unwrap()
}

fn build(input: &Input, opts: &RunOptions, stream: bool) -> (crate::http::HttpRequest, Value) {
    let ep = endpoint();
    let call = ChatCall {
        endpoint: &ep,
        model: "@cf/meta/llama-3.1-8b-instruct",
        input,
        options: opts,
        stream,
    };
    let req = build_chat(&call).unwrap();
    let body = serde_json::from_slice(&req.body).unwrap();
    (req, body)
}

#[test]
fn request_prompt_url_and_token() {
    let (req, body) = build(
        &Input::Prompt("Hello".into()),
        &RunOptions::default(),
        false,
    );
    assert_eq!(
        req.url,
        "https://api.cloudflare.com/client/v4/accounts/acc123/ai/run/@cf/meta/llama-3.1-8b-instruct"
    );
    assert_eq!(req.header("authorization"), Some("Bearer cf-token"));
    assert_eq!(body, json!({"prompt": "Hello"}));
}

#[test]
fn request_messages_tools_and_schema() {
    let opts = RunOptions {
        tools: vec![ToolDefinition {
            name: "w".into(),
            description: Some("d".into()),
            parameters: Some(r#"{"type":"object"}"#.into()),
        }],
        response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "s".into(),
            schema: r#"{"type":"object","properties":{"a":{"type":"number"}}}"#.into(),
            strict: true,
            description: None,
        })),
        max_tokens: Some(64),
        ..RunOptions::default()
    };
    let input = Input::Messages(vec![Message::new(Role::User, "hi")]);
    let (_, body) = build(&input, &opts, true);
    assert_eq!(
        body,
        json!({
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 64,
            "tools": [{"name": "w", "description": "d", "parameters": {"type": "object"}}],
            "response_format": {"type": "json_schema", "json_schema": {"type": "object", "properties": {"a": {"type": "number"}}}},
            "stream": true
        })
    );
}

#[test]
fn request_tool_choice_none_drops_tools() {
    let opts = RunOptions {
        tools: vec![ToolDefinition {
            name: "w".into(),
            description: None,
            parameters: None,
        }],
        tool_choice: Some(ToolChoice::None),
        ..RunOptions::default()
    };
    let (_, body) = build(&Input::Prompt("x".into()), &opts, false);
    assert!(body.get("tools").is_none());
}

#[test]
fn parse_chat_response_usage_and_traditional_tool_calls() {
    let body = br#"{"result":{"response":null,"tool_calls":[{"name":"getWeather","arguments":{"latitude":"51.5","longitude":"-0.1"}}],"usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29}},"success":true,"errors":[],"messages":[]}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "");
    assert_eq!(
        c.tool_calls,
        vec![ToolCall {
            id: "call_0".into(),
            name: "getWeather".into(),
            arguments: r#"{"latitude":"51.5","longitude":"-0.1"}"#.into(),
            raw_arguments: None
        }]
    );
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(c.usage.unwrap().input_tokens, 20);
}

#[test]
fn parse_chat_json_mode_object_response_is_json_text() {
    let body = br#"{"result":{"response":{"name":"India","capital":"New Delhi"}},"success":true,"errors":[]}"#;
    assert_eq!(
        parse_chat(body).unwrap().text,
        r#"{"name":"India","capital":"New Delhi"}"#
    );
}

#[test]
fn parse_chat_openai_shaped_result_is_understood() {
    let body = br#"{"result":{"model":"@cf/openai/gpt-oss-20b","choices":[{"index":0,"message":{"role":"assistant","content":"hey"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}},"success":true}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "hey");
    assert_eq!(c.model, "@cf/openai/gpt-oss-20b");
}

#[test]
fn parse_chat_success_false_is_upstream_error() {
    let body = br#"{"result":null,"success":false,"errors":[{"code":5006,"message":"Capacity temporarily exceeded"}]}"#;
    let e = parse_chat(body).unwrap_err();
    assert_eq!(e.detail().unwrap().message, "Capacity temporarily exceeded");
}

#[test]
fn stream_deltas_usage_and_done() {
    let body = concat!(
        "data: {\"response\":\"Hel\",\"p\":\"abc\"}\n\n",
        "data: {\"response\":\"lo\"}\n\n",
        "data: {\"response\":\"\",\"tool_calls\":[{\"name\":\"f\",\"arguments\":{\"x\":1}}]}\n\n",
        "data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::WorkersAi, body.as_bytes());
    let c = collapse(&ev);
    assert_eq!(c[0], text("Hello"));
    assert!(
        matches!(&c[1], StreamEvent::ToolUse(t) if t.name == "f" && t.arguments == r#"{"x":1}"#)
    );
    match &c[2] {
        StreamEvent::Done(d) => {
            assert_eq!(
                d.usage,
                Some(Usage {
                    input_tokens: 5,
                    output_tokens: 2,
                    ..Usage::default()
                })
            );
            assert_eq!(d.finish_reason, Some(FinishReason::ToolCalls));
        }
        other => panic!("expected done, got {other:?}"),
    }
}

#[test]
fn stream_without_done_marker_is_error() {
    let ev = decode_checked(WireFormat::WorkersAi, b"data: {\"response\":\"Hel\"}\n\n");
    assert!(matches!(ev.last(), Some(StreamEvent::Error(_))));
}

#[test]
fn embed_request_and_parse() {
    let (url, _, body) = embed_request(
        &endpoint(),
        "@cf/baai/bge-small-en-v1.5",
        &["a".into(), "b".into()],
    )
    .unwrap();
    assert!(url.ends_with("/ai/run/@cf/baai/bge-small-en-v1.5"));
    assert_eq!(body, json!({"text": ["a", "b"]}));
    let (v, _, _) =
        parse_embed(br#"{"result":{"shape":[2,2],"data":[[0.1,0.2],[0.3,0.4]]},"success":true}"#)
            .unwrap();
    assert_eq!(v, vec![vec![0.1, 0.2], vec![0.3, 0.4]]);
}

use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKey, Endpoint, ProviderConfig, ProviderKind};
use crate::provider::build_chat;
use crate::types::{Input, JsonSchemaFormat, RunOptions, ToolDefinition};

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

// ---------------------------------------------------------------- WIT 0.2

#[test]
fn request_images_documents_and_thinking_round_trip_as_blocks() {
    use crate::types::{Content, ImageSource, Media, Part, ReasoningBlock, ToolCall};
    let user = Message {
        content: Content::Parts(vec![
            Part::Image {
                source: ImageSource::Url("data:image/png;base64,iVBORw0KGgo=".into()),
                detail: None,
                cache_control: false,
            },
            Part::Image {
                source: ImageSource::Url("https://example.com/cat.png".into()),
                detail: None,
                cache_control: false,
            },
            Part::Document {
                document: Media {
                    media_type: "application/pdf".into(),
                    base64: "JVBERi0xLjQK".into(),
                },
                title: Some("paper".into()),
                cache_control: true,
            },
            Part::Text {
                text: "Compare them.".into(),
                cache_control: false,
            },
        ]),
        ..Message::new(Role::User, "")
    };
    // The assistant turn as the API returned it: thinking with its
    // signature, a redacted block, then the tool call.
    let assistant = Message {
        content: Content::Parts(vec![
            Part::Reasoning(ReasoningBlock {
                text: "Let me look.".into(),
                signature: Some("EqQBCkYIBxgCKkBd".into()),
                redacted: None,
            }),
            Part::Reasoning(ReasoningBlock {
                text: String::new(),
                signature: None,
                redacted: Some("EmwKAhgBEgy3va3p".into()),
            }),
            // Another provider's reasoning has no signature: omitted.
            Part::Reasoning(ReasoningBlock {
                text: "unsigned".into(),
                signature: None,
                redacted: None,
            }),
        ]),
        tool_calls: vec![ToolCall {
            id: "toolu_1".into(),
            name: "lookup".into(),
            arguments: "{\"q\":\"cat\"}".into(),
            raw_arguments: None,
        }],
        ..Message::new(Role::Assistant, "")
    };
    let result = Message {
        tool_call_id: Some("toolu_1".into()),
        ..Message::new(Role::Tool, "a cat")
    };
    let (_, body) = build(
        &Input::Messages(vec![user, assistant, result]),
        &RunOptions::default(),
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"},
                 "title": "paper", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Compare them."}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Let me look.", "signature": "EqQBCkYIBxgCKkBd"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3p"},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "cat"}}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a cat"}]}
        ])
    );
}

#[test]
fn request_typed_options_map_or_are_refused_by_name() {
    let tools = vec![ToolDefinition {
        name: "f".into(),
        description: None,
        parameters: None,
    }];
    let opts = RunOptions {
        tools: tools.clone(),
        parallel_tool_calls: Some(false),
        end_user: Some("user-42".into()),
        service_tier: Some("standard_only".into()),
        ..RunOptions::default()
    };
    let (_, body) = build(&Input::Prompt("hi".into()), &opts);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    assert_eq!(body["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(body["service_tier"], json!("standard_only"));
    for (name, opts) in [
        (
            "presence-penalty",
            RunOptions {
                presence_penalty: Some(0.1),
                ..RunOptions::default()
            },
        ),
        (
            "frequency-penalty",
            RunOptions {
                frequency_penalty: Some(0.1),
                ..RunOptions::default()
            },
        ),
        (
            "logit-bias",
            RunOptions {
                logit_bias: vec![(1, 1)],
                ..RunOptions::default()
            },
        ),
        (
            "seed",
            RunOptions {
                seed: Some(1),
                ..RunOptions::default()
            },
        ),
        (
            "logprobs",
            RunOptions {
                logprobs: true,
                ..RunOptions::default()
            },
        ),
        (
            "metadata",
            RunOptions {
                metadata: vec![("a".into(), "b".into())],
                ..RunOptions::default()
            },
        ),
    ] {
        let ep = endpoint();
        let e = build_chat(&ChatCall {
            endpoint: &ep,
            model: "claude-sonnet-4-6",
            input: &Input::Prompt("hi".into()),
            options: &opts,
            stream: false,
        })
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Validation);
        assert!(
            e.to_string().contains(name) && e.to_string().contains("anthropic"),
            "{name}: {e}"
        );
    }
}

#[test]
fn response_thinking_blocks_keep_their_signatures() {
    let body = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-6",
        "content":[{"type":"thinking","thinking":"Let me think.","signature":"EqQBCkYIBxgC"},
                   {"type":"redacted_thinking","data":"EmwKAhgB"},
                   {"type":"text","text":"42"}],
        "stop_reason":"end_turn","usage":{"input_tokens":10,"output_tokens":20}}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "42");
    assert_eq!(c.reasoning.as_deref(), Some("Let me think."));
    assert_eq!(c.reasoning_blocks.len(), 2);
    assert_eq!(
        c.reasoning_blocks[0].signature.as_deref(),
        Some("EqQBCkYIBxgC")
    );
    assert_eq!(c.reasoning_blocks[1].redacted.as_deref(), Some("EmwKAhgB"));
}

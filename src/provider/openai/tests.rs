use serde_json::{Value, json};

use super::*;
use crate::config::{ProviderConfig, ProviderKind};
use crate::provider::build_chat;
use crate::types::{Input, JsonSchemaFormat, RunOptions, ToolCall, ToolDefinition};

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
        json!({"role": "system", "content": openai_compat::JSON_INSTRUCTION}),
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

// ---------------------------------------------------------------- WIT 0.2

fn png() -> crate::types::Media {
    crate::types::Media {
        media_type: "image/png".into(),
        base64: "iVBORw0KGgo=".into(),
    }
}

#[test]
fn request_parts_become_image_url_and_file_parts_reasoning_is_omitted() {
    use crate::types::{Content, ImageSource, Part, ReasoningBlock};
    let ep = endpoint(Some("http://127.0.0.1:1/v1"));
    let user = Message {
        content: Content::Parts(vec![
            Part::Text {
                text: "What is in these?".into(),
                cache_control: true,
            },
            Part::Image {
                source: ImageSource::Url("https://example.com/cat.png".into()),
                detail: None,
                cache_control: false,
            },
            Part::Image {
                source: ImageSource::Inline(png()),
                detail: Some(crate::types::ImageDetail::Low),
                cache_control: false,
            },
            Part::Document {
                document: crate::types::Media {
                    media_type: "application/pdf".into(),
                    base64: "JVBERi0xLjQK".into(),
                },
                title: Some("paper.pdf".into()),
                cache_control: false,
            },
        ]),
        ..Message::new(Role::User, "")
    };
    let assistant = Message {
        content: Content::Parts(vec![
            Part::Reasoning(ReasoningBlock {
                text: "thinking".into(),
                signature: Some("sig".into()),
                redacted: None,
            }),
            Part::Text {
                text: "A cat.".into(),
                cache_control: false,
            },
        ]),
        ..Message::new(Role::Assistant, "")
    };
    let input = Input::Messages(vec![user, assistant]);
    let b = body_of(&ep, &input, &RunOptions::default(), false);
    assert_eq!(
        b["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                {"type": "file", "file": {"filename": "paper.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"}}
            ]},
            {"role": "assistant", "content": "A cat."}
        ])
    );
}

#[test]
fn request_typed_options_are_sent_by_their_openai_names() {
    let ep = endpoint(None);
    let opts = RunOptions {
        tools: vec![ToolDefinition {
            name: "f".into(),
            description: None,
            parameters: None,
        }],
        parallel_tool_calls: Some(false),
        presence_penalty: Some(0.5),
        frequency_penalty: Some(-0.25),
        logit_bias: vec![(50256, -100), (15496, 5)],
        seed: Some(7),
        logprobs: true,
        top_logprobs: Some(3),
        end_user: Some("user-42".into()),
        metadata: vec![("team".into(), "a".into())],
        service_tier: Some("flex".into()),
        ..RunOptions::default()
    };
    let b = body_of(&ep, &Input::Prompt("hi".into()), &opts, false);
    assert_eq!(b["parallel_tool_calls"], json!(false));
    assert_eq!(b["presence_penalty"], json!(0.5));
    assert_eq!(b["frequency_penalty"], json!(-0.25));
    assert_eq!(b["logit_bias"], json!({"50256": -100, "15496": 5}));
    assert_eq!(b["seed"], json!(7));
    assert_eq!(b["logprobs"], json!(true));
    assert_eq!(b["top_logprobs"], json!(3));
    assert_eq!(b["user"], json!("user-42"));
    assert_eq!(b["metadata"], json!({"team": "a"}));
    assert_eq!(b["service_tier"], json!("flex"));
    // None of them is sent when not asked for.
    let plain = body_of(
        &ep,
        &Input::Prompt("hi".into()),
        &RunOptions::default(),
        false,
    );
    for k in [
        "parallel_tool_calls",
        "presence_penalty",
        "logit_bias",
        "seed",
        "logprobs",
        "user",
        "metadata",
        "service_tier",
    ] {
        assert!(plain.get(k).is_none(), "{k} sent unasked: {plain}");
    }
}

#[test]
fn response_logprobs_and_refusal_are_parsed() {
    let body = br#"{"id":"c","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,
        "message":{"role":"assistant","content":null,"refusal":"I can't help with that."},
        "logprobs":{"content":null,"refusal":[{"token":"I","logprob":-0.01,"bytes":[73],
            "top_logprobs":[{"token":"I","logprob":-0.01,"bytes":[73]},{"token":"Sorry","logprob":-4.6,"bytes":null}]}]},
        "finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}}"#;
    let c = openai_compat::parse_chat(body).unwrap();
    assert_eq!(c.text, "");
    assert_eq!(c.refusal.as_deref(), Some("I can't help with that."));
    assert_eq!(c.logprobs.len(), 1);
    assert_eq!(c.logprobs[0].token, "I");
    assert_eq!(c.logprobs[0].bytes.as_deref(), Some(&[73u8][..]));
    assert_eq!(c.logprobs[0].top.len(), 2);
    assert_eq!(c.logprobs[0].top[1].token, "Sorry");
}

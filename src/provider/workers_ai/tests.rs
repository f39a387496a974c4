use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKey, ProviderConfig, ProviderKind};
use crate::provider::build_chat;
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
            id: "aigw_0".into(),
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
fn embed_request_and_parse() {
    let req = embed_request(
        &endpoint(),
        "@cf/baai/bge-small-en-v1.5",
        &["a".into(), "b".into()],
    )
    .unwrap();
    assert!(req.url.ends_with("/ai/run/@cf/baai/bge-small-en-v1.5"));
    assert_eq!(req.body, json!({"text": ["a", "b"]}));
    let (v, _, _) =
        parse_embed(br#"{"result":{"shape":[2,2],"data":[[0.1,0.2],[0.3,0.4]]},"success":true}"#)
            .unwrap();
    assert_eq!(v, vec![vec![0.1, 0.2], vec![0.3, 0.4]]);
}

// ------------------------------------------------ regressions (issue 13.4)

fn tools_with(choice: ToolChoice) -> RunOptions {
    RunOptions {
        tools: vec![ToolDefinition {
            name: "get_weather".into(),
            description: None,
            parameters: None,
        }],
        tool_choice: Some(choice),
        ..RunOptions::default()
    }
}

fn build_err(opts: &RunOptions) -> GatewayError {
    let ep = endpoint();
    let input = Input::Prompt("weather in Paris?".into());
    build_chat(&ChatCall {
        endpoint: &ep,
        model: "@cf/meta/llama-3.1-8b-instruct",
        input: &input,
        options: opts,
        stream: false,
    })
    .unwrap_err()
}

#[test]
fn parse_chat_result_text_field_is_the_text_not_empty() {
    let body = br#"{"result":{"text":"Bonjour","usage":{"prompt_tokens":4,"completion_tokens":2}},"success":true,"errors":[]}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "Bonjour");
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
    assert_eq!(c.usage.unwrap().output_tokens, 2);
}

#[test]
fn parse_chat_response_wins_over_text_and_null_response_falls_back() {
    let both = br#"{"result":{"response":"from response","text":"from text"},"success":true}"#;
    assert_eq!(parse_chat(both).unwrap().text, "from response");
    let null = br#"{"result":{"response":null,"text":"from text"},"success":true}"#;
    assert_eq!(parse_chat(null).unwrap().text, "from text");
}

#[test]
fn parse_chat_bare_string_result_is_the_text_not_an_upstream_error() {
    let body = br#"{"result":"hello","success":true,"errors":[],"messages":[]}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "hello");
    assert!(c.tool_calls.is_empty());
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
}

#[test]
fn parse_chat_text_completion_choice_is_the_text_not_an_upstream_error() {
    // `object: text_completion`, as Qwen3 on Workers AI documents it.
    let body = br#"{"result":{"id":"cmpl-1","object":"text_completion","model":"@cf/qwen/qwen3-30b-a3b-fp8","choices":[{"index":0,"text":"hi there","finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}},"success":true}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "hi there");
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
}

#[test]
fn request_tool_choice_required_is_validation_not_silently_dropped() {
    let e = build_err(&tools_with(ToolChoice::Required));
    match e {
        GatewayError::Validation(m) => {
            assert!(m.contains("tool-choice required"), "{m}");
            assert!(m.contains("\"workers\""), "names the provider: {m}");
        }
        other => panic!("expected validation, got {other:?}"),
    }
}

#[test]
fn request_tool_choice_named_is_validation_not_silently_dropped() {
    let e = build_err(&tools_with(ToolChoice::Named("get_weather".into())));
    match e {
        GatewayError::Validation(m) => {
            assert!(m.contains("tool-choice named(\"get_weather\")"), "{m}");
            assert!(m.contains("\"workers\""), "names the provider: {m}");
        }
        other => panic!("expected validation, got {other:?}"),
    }
}

#[test]
fn request_tool_choice_auto_still_sends_the_tools() {
    let (_, body) = build(
        &Input::Prompt("x".into()),
        &tools_with(ToolChoice::Auto),
        false,
    );
    assert_eq!(body["tools"][0]["name"], "get_weather");
    assert!(body.get("tool_choice").is_none());
}

#[test]
fn parse_chat_generated_ids_never_collide_with_provider_call_ids() {
    let body = br#"{"result":{"response":"","tool_calls":[{"name":"a","arguments":{}},{"id":"call_0","name":"b","arguments":{}}]},"success":true}"#;
    let ids: Vec<String> = parse_chat(body)
        .unwrap()
        .tool_calls
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec!["aigw_0".to_owned(), "call_0".to_owned()]);
}

#[test]
fn usage_reasoning_tokens_are_kept_and_never_exceed_output_tokens() {
    let body = br#"{"result":{"response":"4","usage":{"prompt_tokens":10,"completion_tokens":50,"total_tokens":60,"completion_tokens_details":{"reasoning_tokens":42}}},"success":true}"#;
    let u = parse_chat(body).unwrap().usage.unwrap();
    assert_eq!((u.output_tokens, u.reasoning_tokens), (50, 42));
    let over = br#"{"result":{"response":"4","usage":{"prompt_tokens":10,"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":42}}},"success":true}"#;
    let u = parse_chat(over).unwrap().usage.unwrap();
    assert_eq!((u.output_tokens, u.reasoning_tokens), (5, 5));
}

#[test]
fn openai_shaped_result_reasoning_tokens_are_kept() {
    let body = br#"{"result":{"model":"@cf/openai/gpt-oss-20b","choices":[{"index":0,"message":{"role":"assistant","content":"4"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":30,"completion_tokens_details":{"reasoning_tokens":28}}},"success":true}"#;
    assert_eq!(
        parse_chat(body).unwrap().usage.unwrap().reasoning_tokens,
        28
    );
}

// ---------------------------------------------------------------- WIT 0.2

fn try_build(input: &Input, opts: &RunOptions) -> Result<crate::http::HttpRequest> {
    let ep = endpoint();
    build_chat(&ChatCall {
        endpoint: &ep,
        model: "@cf/meta/llama-3.1-8b-instruct",
        input,
        options: opts,
        stream: false,
    })
}

#[test]
fn request_images_are_refused_by_name_reasoning_is_omitted() {
    use crate::types::{Content, ImageSource, Media, Part, ReasoningBlock};
    let image = Message {
        content: Content::Parts(vec![Part::Image {
            source: ImageSource::Inline(Media {
                media_type: "image/png".into(),
                base64: "iVBORw0KGgo=".into(),
            }),
            detail: None,
            cache_control: false,
        }]),
        ..Message::new(Role::User, "")
    };
    let e = try_build(&Input::Messages(vec![image]), &RunOptions::default()).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::Validation);
    assert!(
        e.to_string().contains("image parts") && e.to_string().contains("messages[0].content[0]"),
        "{e}"
    );
    let with_reasoning = vec![
        Message::new(Role::User, "hi"),
        Message {
            content: Content::Parts(vec![
                Part::Reasoning(ReasoningBlock {
                    text: "hmm".into(),
                    ..ReasoningBlock::default()
                }),
                Part::Text {
                    text: "Hello".into(),
                    cache_control: false,
                },
            ]),
            ..Message::new(Role::Assistant, "")
        },
        Message::new(Role::User, "again"),
    ];
    let (_, b) = build(
        &Input::Messages(with_reasoning),
        &RunOptions::default(),
        false,
    );
    assert_eq!(
        b["messages"][1],
        json!({"role": "assistant", "content": "Hello"})
    );
}

#[test]
fn request_typed_options_are_sent_or_refused_by_name() {
    let opts = RunOptions {
        presence_penalty: Some(0.5),
        frequency_penalty: Some(0.5),
        seed: Some(9),
        ..RunOptions::default()
    };
    let (_, b) = build(&Input::Prompt("hi".into()), &opts, false);
    assert_eq!(
        (
            b["presence_penalty"].clone(),
            b["frequency_penalty"].clone(),
            b["seed"].clone()
        ),
        (json!(0.5), json!(0.5), json!(9))
    );
    for (name, opts) in [
        (
            "logit-bias",
            RunOptions {
                logit_bias: vec![(1, 1)],
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
            "end-user",
            RunOptions {
                end_user: Some("u".into()),
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
        (
            "service-tier",
            RunOptions {
                service_tier: Some("flex".into()),
                ..RunOptions::default()
            },
        ),
    ] {
        let e = try_build(&Input::Prompt("hi".into()), &opts).unwrap_err();
        assert!(
            e.to_string().contains(name) && e.to_string().contains("workers-ai"),
            "{name}: {e}"
        );
    }
}

use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKey, ProviderConfig, ProviderKind};
use crate::error::ErrorKind;
use crate::provider::{build_chat, build_embed, parse_chat_reply, parse_embed};
use crate::types::{Input, JsonSchemaFormat, Media, RunOptions, ToolDefinition};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIX}{name}")).unwrap()
}

fn endpoint(kind: ProviderKind) -> Endpoint {
    let mut p = ProviderConfig::new("g", kind);
    p.api_key = Some(ApiKey::new("goog-test-key"));
    p.project = Some("proj".into());
    Endpoint::resolve(&p, None).unwrap()
}

fn build(
    ep: &Endpoint,
    input: &Input,
    opts: &RunOptions,
    stream: bool,
) -> (String, Value, crate::http::HttpRequest) {
    let req = build_chat(&ChatCall {
        endpoint: ep,
        model: "gemini-2.5-flash",
        input,
        options: opts,
        stream,
    })
    .unwrap();
    let body = serde_json::from_slice(&req.body).unwrap();
    (req.url.clone(), body, req)
}

#[test]
fn request_url_auth_system_and_generation_config() {
    let ep = endpoint(ProviderKind::Gemini);
    let input = Input::Messages(vec![
        Message::new(Role::System, "Be brief."),
        Message::new(Role::User, "Hello"),
    ]);
    let opts = RunOptions {
        max_tokens: Some(100),
        temperature: Some(0.5),
        stop: vec!["END".into()],
        seed: Some(7),
        ..RunOptions::default()
    };
    let (url, body, req) = build(&ep, &input, &opts, false);
    assert_eq!(
        url,
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(req.header("x-goog-api-key"), Some("goog-test-key"));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(
        body,
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "generationConfig": {"maxOutputTokens": 100, "temperature": 0.5,
                "stopSequences": ["END"], "seed": 7}
        })
    );
    let (url, _, _) = build(&ep, &input, &opts, true);
    assert!(url.ends_with("models/gemini-2.5-flash:streamGenerateContent?alt=sse"));
}

#[test]
fn vertex_sends_a_bearer_token_to_the_project_url() {
    let ep = endpoint(ProviderKind::Vertex);
    let (url, _, req) = build(
        &ep,
        &Input::Prompt("hi".into()),
        &RunOptions::default(),
        false,
    );
    assert_eq!(
        url,
        "https://aiplatform.googleapis.com/v1/projects/proj/locations/global/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(req.header("authorization"), Some("Bearer goog-test-key"));
    assert_eq!(req.header("x-goog-api-key"), None);
}

#[test]
fn tools_json_schema_and_thinking() {
    let ep = endpoint(ProviderKind::Gemini);
    let opts = RunOptions {
        tools: vec![ToolDefinition {
            name: "get_weather".into(),
            description: Some("Weather".into()),
            parameters: Some(r#"{"type":"object","properties":{"city":{"type":"string"}}}"#.into()),
        }],
        tool_choice: Some(ToolChoice::Named("get_weather".into())),
        response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "w".into(),
            schema: r#"{"type":"object"}"#.into(),
            strict: true,
            description: None,
        })),
        reasoning_effort: Some(crate::types::ReasoningEffort::Low),
        logprobs: true,
        top_logprobs: Some(3),
        ..RunOptions::default()
    };
    let (_, body, _) = build(&ep, &Input::Prompt("hi".into()), &opts, false);
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
            "parametersJsonSchema": {"type":"object","properties":{"city":{"type":"string"}}}}]}])
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
    let g = &body["generationConfig"];
    assert_eq!(g["responseMimeType"], "application/json");
    assert_eq!(g["responseJsonSchema"], json!({"type": "object"}));
    assert_eq!(
        g["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    assert_eq!(g["responseLogprobs"], true);
    assert_eq!(g["logprobs"], 3);
}

#[test]
fn a_reasoning_round_trip_keeps_thoughts_and_signatures_in_place() {
    // The answer Gemini gave: thoughts, then a signed function call.
    let c = parse_chat(&fixture("thinking_function_call_signature.json")).unwrap();
    assert_eq!(c.tool_calls.len(), 1);
    let signed: Vec<_> = c
        .reasoning_blocks
        .iter()
        .filter(|b| b.signature.is_some())
        .collect();
    assert!(!signed.is_empty(), "{:?}", c.reasoning_blocks);
    let mut history = Message::new(Role::Assistant, "");
    history.content = Content::Parts(
        c.reasoning_blocks
            .iter()
            .cloned()
            .map(Part::Reasoning)
            .collect(),
    );
    history.tool_calls = c.tool_calls.clone();
    let mut result = Message::new(Role::Tool, r#"{"now": "2025-07-28"}"#);
    result.tool_call_id = Some(c.tool_calls[0].id.clone());
    let input = Input::Messages(vec![
        Message::new(Role::User, "How many days?"),
        history,
        result,
    ]);
    let (_, body, _) = build(
        &endpoint(ProviderKind::Gemini),
        &input,
        &RunOptions::default(),
        false,
    );
    let model = &body["contents"][1];
    assert_eq!(model["role"], "model");
    let parts = model["parts"].as_array().unwrap();
    // Every signature Gemini gave comes back, the function call's on it.
    let raw: Value =
        serde_json::from_slice(&fixture("thinking_function_call_signature.json")).unwrap();
    let orig = raw["candidates"][0]["content"]["parts"].as_array().unwrap();
    let call_sig = orig
        .iter()
        .find(|p| p.get("functionCall").is_some())
        .unwrap()["thoughtSignature"]
        .clone();
    let sent_call = parts
        .iter()
        .find(|p| p.get("functionCall").is_some())
        .unwrap();
    assert_eq!(sent_call["thoughtSignature"], call_sig);
    assert_eq!(sent_call["functionCall"]["name"], c.tool_calls[0].name);
    // The tool result is named after the call it answers.
    assert_eq!(
        body["contents"][2],
        json!({"role": "user", "parts": [{"functionResponse": {"name": c.tool_calls[0].name,
            "response": {"now": "2025-07-28"}}}]})
    );
}

#[test]
fn images_and_documents_are_inline_data_or_file_data() {
    let mut m = Message::new(Role::User, "");
    m.content = Content::Parts(vec![
        Part::Image {
            source: ImageSource::Inline(Media {
                media_type: "image/png".into(),
                base64: "iVBORw0KGgo=".into(),
            }),
            detail: None,
            cache_control: false,
        },
        Part::Image {
            source: ImageSource::Url("https://example.com/cat.jpg".into()),
            detail: None,
            cache_control: false,
        },
        Part::Document {
            document: Media {
                media_type: "application/pdf".into(),
                base64: "JVBERi0=".into(),
            },
            title: None,
            cache_control: false,
        },
    ]);
    let (_, body, _) = build(
        &endpoint(ProviderKind::Gemini),
        &Input::Messages(vec![m]),
        &RunOptions::default(),
        false,
    );
    assert_eq!(
        body["contents"][0]["parts"],
        json!([
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}
        ])
    );
}

#[test]
fn options_gemini_cannot_honour_are_refused_by_name() {
    let ep = endpoint(ProviderKind::Gemini);
    let opts = RunOptions {
        logit_bias: vec![(1, 2)],
        ..RunOptions::default()
    };
    let e = build_chat(&ChatCall {
        endpoint: &ep,
        model: "gemini-2.5-flash",
        input: &Input::Prompt("hi".into()),
        options: &opts,
        stream: false,
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert!(
        e.to_string().contains("logit-bias") && e.to_string().contains("\"g\""),
        "{e}"
    );
    // A model name cannot leave `models/`.
    let e = build_chat(&ChatCall {
        endpoint: &ep,
        model: "../files/x",
        input: &Input::Prompt("hi".into()),
        options: &RunOptions::default(),
        stream: false,
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
}

#[test]
fn recorded_replies_parse() {
    let c = parse_chat(&fixture("text_reply_short.json")).unwrap();
    assert!(c.text.contains("Mountain View"), "{}", c.text);
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
    let u = c.usage.unwrap();
    assert!(u.input_tokens > 0 && u.output_tokens > 0, "{u:?}");

    let c = parse_chat(&fixture("cached_content_usage.json")).unwrap();
    let u = c.usage.unwrap();
    assert_eq!(u.cache_read_tokens, 3055);
    assert_eq!(u.reasoning_tokens, 1549);
    assert!(u.output_tokens >= 1549 && u.input_tokens >= 3055, "{u:?}");

    let c = parse_chat(&fixture("thinking_function_call_signature.json")).unwrap();
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert!(c.reasoning.is_some());
    assert!(c.usage.unwrap().reasoning_tokens > 0);

    let c = parse_chat(&fixture("prompt_blocked_prohibited_content.json")).unwrap();
    assert_eq!(c.finish_reason, Some(FinishReason::ContentFilter));
    assert!(c.refusal.unwrap().contains("PROHIBITED_CONTENT"));

    let c = parse_chat(&fixture("vertex/finish_reason_safety_redacted.json")).unwrap();
    assert_eq!(c.finish_reason, Some(FinishReason::ContentFilter));
}

#[test]
fn recorded_error_is_typed_with_its_status_name() {
    let ep = endpoint(ProviderKind::Gemini);
    let head = crate::http::ResponseHead {
        status: 400,
        headers: vec![("content-type".into(), "application/json".into())].into(),
    };
    let e = crate::provider::error_for(&ep, &head, &fixture("error_400_api_key_invalid.json"), 0);
    // A 400, but its reason is API_KEY_INVALID: a credential problem.
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(
        e.detail().unwrap().code.as_deref(),
        Some("INVALID_ARGUMENT")
    );
    assert!(!e.detail().unwrap().retryable);
    let head = crate::http::ResponseHead {
        status: 403,
        headers: vec![].into(),
    };
    let e = crate::provider::error_for(
        &ep,
        &head,
        &fixture("vertex/error_403_permission_denied.json"),
        0,
    );
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(
        e.detail().unwrap().code.as_deref(),
        Some("PERMISSION_DENIED")
    );
    let ok = crate::http::ResponseHead {
        status: 200,
        headers: vec![].into(),
    };
    assert!(parse_chat_reply(&ep, &ok, &fixture("text_reply_short.json")).is_ok());
}

#[test]
fn embeddings_batch_and_parse() {
    let ep = endpoint(ProviderKind::Gemini);
    let opts = EmbedOptions {
        dimensions: Some(768),
        ..EmbedOptions::default()
    };
    let req = build_embed(
        &ep,
        "gemini-embedding-001",
        &["a".into(), "b".into()],
        &opts,
    )
    .unwrap();
    assert!(
        req.url
            .ends_with("/v1beta/models/gemini-embedding-001:batchEmbedContents")
    );
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body["requests"][1],
        json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]},
            "outputDimensionality": 768})
    );
    let raw = fixture("batch_embed_contents.replayed.json");
    let n = serde_json::from_slice::<Value>(&raw).unwrap()["embeddings"]
        .as_array()
        .unwrap()
        .len();
    let (vectors, _, _) = parse_embed(&ep, &raw, n).unwrap();
    assert_eq!(vectors.len(), n);
    assert_eq!(vectors[0].len(), 768);
    // Vertex AI embeds through `predict`.
    let v = endpoint(ProviderKind::Vertex);
    let req = build_embed(
        &v,
        "text-embedding-005",
        &["a".into()],
        &EmbedOptions::default(),
    )
    .unwrap();
    assert!(
        req.url
            .ends_with("/publishers/google/models/text-embedding-005:predict"),
        "{}",
        req.url
    );
    let body = br#"{"predictions": [{"embeddings": {"values": [0.5, -1], "statistics": {"token_count": 3.0, "truncated": false}}}]}"#;
    let (vectors, usage, _) = parse_embed(&v, body, 1).unwrap();
    assert_eq!(vectors, vec![vec![0.5, -1.0]]);
    assert_eq!(usage.unwrap().input_tokens, 3);
}

#[test]
fn a_streamed_turn_s_signature_goes_back_on_its_function_call() {
    // A stream gives the thoughts, then the call's signature: recorded as
    // one block with both.
    let mut history = Message::new(Role::Assistant, "");
    history.content = Content::Parts(vec![Part::Reasoning(ReasoningBlock {
        text: "Thinking about the weather.".into(),
        signature: Some("sig-on-the-call".into()),
        redacted: None,
    })]);
    history.tool_calls = vec![ToolCall {
        id: "aigw_0".into(),
        name: "get_weather".into(),
        arguments: r#"{"city":"Oslo"}"#.into(),
        raw_arguments: None,
    }];
    let mut result = Message::new(Role::Tool, "12");
    result.tool_call_id = Some("aigw_0".into());
    let input = Input::Messages(vec![Message::new(Role::User, "Weather?"), history, result]);
    let (_, body, _) = build(
        &endpoint(ProviderKind::Gemini),
        &input,
        &RunOptions::default(),
        false,
    );
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            {"text": "Thinking about the weather.", "thought": true},
            {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
             "thoughtSignature": "sig-on-the-call"}
        ])
    );
}

#[test]
fn malformed_tool_arguments_and_an_untyped_image_url_on_vertex_are_refused() {
    let mut history = Message::new(Role::Assistant, "");
    history.tool_calls = vec![ToolCall {
        id: "c1".into(),
        name: "t".into(),
        arguments: "{not json".into(),
        raw_arguments: None,
    }];
    let input = Input::Messages(vec![Message::new(Role::User, "x"), history]);
    let ep = endpoint(ProviderKind::Gemini);
    let e = build_chat(&ChatCall {
        endpoint: &ep,
        model: "gemini-2.5-flash",
        input: &input,
        options: &RunOptions::default(),
        stream: false,
    })
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert!(e.to_string().contains("tool call arguments"), "{e}");
    let mut m = Message::new(Role::User, "");
    m.content = Content::Parts(vec![Part::Image {
        source: ImageSource::Url("https://example.com/image?id=7".into()),
        detail: None,
        cache_control: false,
    }]);
    let input = Input::Messages(vec![m]);
    let v = endpoint(ProviderKind::Vertex);
    let e = build_chat(&ChatCall {
        endpoint: &v,
        model: "gemini-2.5-flash",
        input: &input,
        options: &RunOptions::default(),
        stream: false,
    })
    .unwrap_err();
    assert!(e.to_string().contains("media type"), "{e}");
    // The Gemini API takes it without one.
    let (_, body, _) = build(&ep, &input, &RunOptions::default(), false);
    assert_eq!(
        body["contents"][0]["parts"][0],
        json!({"fileData": {"fileUri": "https://example.com/image?id=7"}})
    );
}

//! The providers of WIT 0.3 end to end through the component in wasmtime:
//! Gemini, Vertex AI (Gemini and Claude), Bedrock (SigV4 and API keys),
//! Azure OpenAI and a preset. Each call goes to the provider's real URL
//! (the host's redirect hook sends it to the mock, which records the URL
//! asked for); the tests assert the exact outgoing request (URL, headers
//! including the key or signature, body) and the normalized output, for
//! `run`, `stream`, `embed`, JSON schema, tools with a tool-result
//! follow-up, an image input, a reasoning round trip, and an option the
//! provider cannot honour.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use common::{Harness, json, kind};
use host_test::cfg;
use host_test::host::w;
use host_test::mock::Reply;
use host_test::mock::canned::{
    BEDROCK_REASONING_JSON, BEDROCK_THINKING_STREAM, EVENTSTREAM, GEMINI_THINKING_JSON,
    GEMINI_THINKING_SSE, MOCK_TEXT, json_answer,
};
use serde_json::{Value, json};

const GEMINI_MODEL: &str = "gemini-2.5-flash";
const CLAUDE_ON_BEDROCK: &str = "anthropic.claude-sonnet-4-20250514-v1:0";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn providers() -> Vec<w::ProviderConfig> {
    vec![
        w::ProviderConfig {
            api_key: Some("goog-key-0123456789".into()),
            ..cfg::provider("gemini", w::ProviderKind::Gemini)
        },
        w::ProviderConfig {
            api_key: Some("ya29.vertex-token".into()),
            project: Some("my-proj".into()),
            region: Some("us-central1".into()),
            ..cfg::provider("vertex", w::ProviderKind::Vertex)
        },
        w::ProviderConfig {
            api_key: Some("ya29.vertex-token".into()),
            project: Some("my-proj".into()),
            region: Some("us-east5".into()),
            ..cfg::provider("vertex-claude", w::ProviderKind::VertexAnthropic)
        },
        w::ProviderConfig {
            region: Some("us-east-1".into()),
            aws_credentials: Some(w::AwsCredentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: AWS_SECRET.into(),
                session_token: Some("session-token-0123456789".into()),
            }),
            ..cfg::provider("bedrock", w::ProviderKind::Bedrock)
        },
        w::ProviderConfig {
            region: Some("eu-west-1".into()),
            api_key: Some("bedrock-api-key-0123456789".into()),
            ..cfg::provider("bedrock-key", w::ProviderKind::Bedrock)
        },
        w::ProviderConfig {
            api_key: Some("azure-key-0123456789".into()),
            resource_name: Some("contoso".into()),
            ..cfg::provider("azure", w::ProviderKind::AzureOpenai)
        },
        w::ProviderConfig {
            api_key: Some("gsk-0123456789".into()),
            ..cfg::provider("groq", w::ProviderKind::Groq)
        },
    ]
}

async fn setup() -> (Harness, host_test::host::GatewayHandle) {
    let mut h = Harness::new().await;
    let gw = h.open(&cfg::gateway(providers(), Some("gemini"))).await;
    (h, gw)
}

fn on(provider: &str) -> w::RunOptions {
    w::RunOptions {
        provider: Some(provider.into()),
        ..cfg::options()
    }
}

fn weather_tool() -> w::ToolDefinition {
    w::ToolDefinition {
        name: "get_weather".into(),
        description: Some("Weather".into()),
        parameters: Some(r#"{"type":"object","properties":{"city":{"type":"string"}}}"#.into()),
    }
}

fn image_message() -> w::Message {
    w::Message {
        content: w::Content::Parts(vec![
            w::ContentPart::Text(w::TextPart {
                text: "What is this?".into(),
                cache_control: None,
            }),
            w::ContentPart::Image(w::ImagePart {
                source: w::ImageSource::Inline(w::Media {
                    media_type: "image/png".into(),
                    base64: "iVBORw0KGgo=".into(),
                }),
                detail: None,
                cache_control: None,
            }),
        ]),
        ..cfg::message(w::Role::User, "")
    }
}

/// The history of a turn that called a tool, and the tool's answer.
fn follow_up(out: &w::AiOutput, result: &str) -> w::AiInput {
    let assistant = w::Message {
        content: w::Content::Parts(
            out.reasoning_blocks
                .iter()
                .cloned()
                .map(w::ContentPart::Reasoning)
                .collect(),
        ),
        tool_calls: out.tool_calls.clone(),
        ..cfg::message(w::Role::Assistant, "")
    };
    let tool = w::Message {
        tool_call_id: Some(out.tool_calls[0].id.clone()),
        ..cfg::message(w::Role::Tool, result)
    };
    w::AiInput::Messages(vec![cfg::message(w::Role::User, "Go."), assistant, tool])
}

// ------------------------------------------------------------------ gemini

#[tokio::test(flavor = "multi_thread")]
async fn gemini_run_sends_its_format_and_key_and_normalizes_the_answer() {
    let (mut h, gw) = setup().await;
    let input = w::AiInput::Messages(vec![
        cfg::message(w::Role::System, "Be brief."),
        cfg::message(w::Role::User, "Hello"),
    ]);
    let opts = w::RunOptions {
        max_tokens: Some(64),
        temperature: Some(0.2),
        ..on("gemini")
    };
    let out = h.run(gw, GEMINI_MODEL, &input, &opts).await.unwrap();
    let r = h.only_request();
    assert_eq!(
        r.url(),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(r.header("x-goog-api-key"), Some("goog-key-0123456789"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.json(),
        json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "generationConfig": {"maxOutputTokens": 64, "temperature": 0.2}})
    );
    assert_eq!(out.text, MOCK_TEXT);
    assert_eq!(out.provider, "gemini");
    assert_eq!(out.model, "gemini-2.5-flash");
    assert_eq!(out.finish_reason, Some(w::FinishReason::Stop));
    let u = out.usage.unwrap();
    assert_eq!((u.input_tokens, u.output_tokens), (12, 9));
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_stream_of_a_recorded_thinking_turn_keeps_its_signature() {
    let (mut h, gw) = setup().await;
    h.mock
        .push(Reply::sse(GEMINI_THINKING_SSE, std::time::Duration::ZERO));
    let ev = h
        .stream_all(
            gw,
            GEMINI_MODEL,
            &cfg::user("Days to New Year?"),
            Some(&on("gemini")),
        )
        .await;
    assert!(
        h.only_request()
            .url()
            .ends_with(":streamGenerateContent?alt=sse")
    );
    let pos = |f: &dyn Fn(&w::StreamEvent) -> bool| ev.iter().position(f);
    let reasoning = pos(&|e| matches!(e, w::StreamEvent::Reasoning(_)));
    let sig = pos(&|e| matches!(e, w::StreamEvent::ReasoningSignature(_)));
    let call = pos(&|e| matches!(e, w::StreamEvent::ToolUse(_)));
    assert!(
        reasoning < sig && sig < call && reasoning.is_some(),
        "{ev:?}"
    );
    match ev.last() {
        Some(w::StreamEvent::Done(d)) => {
            assert_eq!(d.finish_reason, Some(w::FinishReason::ToolCalls));
            assert!(d.usage.unwrap().reasoning_tokens > 0);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_tools_follow_up_and_reasoning_round_trip() {
    for provider in ["gemini", "vertex"] {
        gemini_round_trip(provider).await;
    }
}

async fn gemini_round_trip(provider: &str) {
    let (mut h, gw) = setup().await;
    h.mock.push(Reply::raw(
        200,
        "application/json",
        GEMINI_THINKING_JSON.to_vec(),
    ));
    let opts = w::RunOptions {
        tools: vec![weather_tool()],
        reasoning_effort: Some(w::ReasoningEffort::Low),
        ..on(provider)
    };
    let out = h
        .run(gw, GEMINI_MODEL, &cfg::user("Go."), &opts)
        .await
        .unwrap();
    let first = h.only_request().json();
    assert_eq!(
        first["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    assert_eq!(
        first["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    assert_eq!(out.finish_reason, Some(w::FinishReason::ToolCalls));
    assert!(!out.tool_calls.is_empty() && !out.reasoning_blocks.is_empty());
    h.mock.reset();
    h.run(
        gw,
        GEMINI_MODEL,
        &follow_up(&out, r#"{"now": "2025-07-28"}"#),
        &opts,
    )
    .await
    .unwrap();
    let sent = h.only_request().json();
    let recorded: Value = serde_json::from_slice(GEMINI_THINKING_JSON).unwrap();
    let recorded_call = recorded["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p.get("functionCall").is_some())
        .unwrap()
        .clone();
    let model_turn = &sent["contents"][1];
    assert_eq!(model_turn["role"], "model");
    let sent_call = model_turn["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p.get("functionCall").is_some())
        .unwrap();
    // The function call goes back as Gemini sent it, signature and all.
    assert_eq!(
        sent_call["thoughtSignature"],
        recorded_call["thoughtSignature"]
    );
    assert_eq!(
        sent_call["functionCall"]["name"],
        recorded_call["functionCall"]["name"]
    );
    assert_eq!(
        sent["contents"][2]["parts"][0]["functionResponse"],
        json!({"name": recorded_call["functionCall"]["name"], "response": {"now": "2025-07-28"}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gemini_json_schema_image_embed_and_a_refused_option() {
    for provider in ["gemini", "vertex"] {
        gemini_json_image_embed_refusal(provider).await;
    }
}

async fn gemini_json_image_embed_refusal(provider: &str) {
    let (mut h, gw) = setup().await;
    h.mock.push(Reply::raw(
        200,
        "application/json",
        json_answer("gemini", r#"{"city": "Oslo"}"#),
    ));
    let opts = w::RunOptions {
        response_format: Some(w::ResponseFormat::JsonSchema(w::JsonSchemaFormat {
            name: "place".into(),
            schema: r#"{"type":"object","properties":{"city":{"type":"string"}}}"#.into(),
            strict: true,
            description: None,
        })),
        ..on(provider)
    };
    let input = w::AiInput::Messages(vec![image_message()]);
    let out = h.run(gw, GEMINI_MODEL, &input, &opts).await.unwrap();
    assert_eq!(json(&out.text), json!({"city": "Oslo"}));
    let body = h.only_request().json();
    assert_eq!(
        body["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        body["contents"][0]["parts"][1],
        json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})
    );
    h.mock.reset();
    let (model, method) = match provider {
        "gemini" => ("gemini-embedding-001", ":batchEmbedContents"),
        _ => ("text-embedding-005", ":predict"),
    };
    let e = h
        .inst
        .embed(
            gw,
            model,
            &["a".into(), "b".into()],
            Some(&w::EmbedOptions {
                provider: Some(provider.into()),
                dimensions: None,
                timeout_ms: None,
            }),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.embeddings.len(), 2);
    assert!(
        h.only_request()
            .url()
            .ends_with(&format!("/models/{model}{method}")),
        "{provider}"
    );
    h.mock.reset();
    let opts = w::RunOptions {
        metadata: vec![("team".into(), "a".into())],
        ..on(provider)
    };
    let err = h
        .run(gw, GEMINI_MODEL, &cfg::user("hi"), &opts)
        .await
        .unwrap_err();
    assert_eq!(kind(&err), "validation");
    assert!(
        format!("{err:?}").contains(&format!(
            "({provider}) does not support the option metadata"
        )),
        "{err:?}"
    );
    assert_eq!(h.mock.hits(), 0);
}

// ------------------------------------------------------------------ vertex

#[tokio::test(flavor = "multi_thread")]
async fn vertex_gemini_and_claude_go_to_the_project_with_a_bearer_token() {
    let (mut h, gw) = setup().await;
    h.run(gw, GEMINI_MODEL, &cfg::user("hi"), &on("vertex"))
        .await
        .unwrap();
    let r = h.only_request();
    assert_eq!(
        r.url(),
        "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(r.header("authorization"), Some("Bearer ya29.vertex-token"));
    h.mock.reset();
    let out = h
        .run(
            gw,
            "claude-sonnet-4@20250514",
            &cfg::user("hi"),
            &on("vertex-claude"),
        )
        .await
        .unwrap();
    let r = h.only_request();
    assert_eq!(
        r.url(),
        "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict"
    );
    let body = r.json();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    assert!(body.get("model").is_none());
    assert_eq!(r.header("anthropic-version"), None);
    assert_eq!(out.text, MOCK_TEXT);
    h.mock.reset();
    let ev = h
        .stream_all(
            gw,
            "claude-sonnet-4@20250514",
            &cfg::user("hi"),
            Some(&on("vertex-claude")),
        )
        .await;
    assert!(h.only_request().url().ends_with(":streamRawPredict"));
    assert!(matches!(ev.last(), Some(w::StreamEvent::Done(_))), "{ev:?}");
    h.mock.reset();
    let e = h
        .inst
        .embed(
            gw,
            "text-embedding-005",
            &["a".into()],
            Some(&w::EmbedOptions {
                provider: Some("vertex".into()),
                dimensions: None,
                timeout_ms: None,
            }),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.embeddings, vec![vec![0.0, 0.5]]);
    assert!(
        h.only_request()
            .url()
            .ends_with("/models/text-embedding-005:predict")
    );
}

// ----------------------------------------------------------------- bedrock

/// botocore's signature for the request the mock received (the tests'
/// Python venv has botocore; `.ci/setup` installs it).
fn botocore_authorization(r: &host_test::mock::Recorded, unix_seconds: u64) -> String {
    use base64::Engine as _;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let python = format!("{root}/examples/python/.venv/bin/python");
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .filter(|(k, _)| k == "content-type")
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let input = json!({
        "method": "POST", "url": r.url(), "headers": headers,
        "body_b64": base64::engine::general_purpose::STANDARD.encode(&r.body),
        "region": "us-east-1", "service": "bedrock",
        "access_key_id": "AKIDEXAMPLE", "secret_access_key": AWS_SECRET,
        "session_token": "session-token-0123456789", "unix_seconds": unix_seconds,
    });
    let mut child = std::process::Command::new(python)
        .arg(format!("{root}/tests/tools/botocore_sign.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python with botocore: run .ci/setup");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["authorization"].as_str().unwrap().to_owned()
}

/// `20150830T123600Z` → seconds since the epoch.
fn amz_seconds(d: &str) -> u64 {
    let n = |a: usize, b: usize| d[a..b].parse::<i64>().unwrap();
    let (y, m, day) = (n(0, 4), n(4, 6), n(6, 8));
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(9, 11) * 3600 + n(11, 13) * 60 + n(13, 15)) as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn bedrock_run_is_signed_as_botocore_signs_it() {
    let (mut h, gw) = setup().await;
    let out = h
        .run(
            gw,
            CLAUDE_ON_BEDROCK,
            &cfg::user("Hello"),
            &w::RunOptions {
                max_tokens: Some(50),
                ..on("bedrock")
            },
        )
        .await
        .unwrap();
    let r = h.only_request();
    assert_eq!(
        r.url(),
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-sonnet-4-20250514-v1%3A0/converse"
    );
    assert_eq!(
        r.json(),
        json!({"messages": [{"role": "user", "content": [{"text": "Hello"}]}], "inferenceConfig": {"maxTokens": 50}})
    );
    assert_eq!(
        r.header("x-amz-security-token"),
        Some("session-token-0123456789")
    );
    let date = r.header("x-amz-date").expect("x-amz-date");
    let auth = r.header("authorization").expect("signed");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
        "{auth}"
    );
    assert_eq!(auth, botocore_authorization(&r, amz_seconds(date)));
    assert!(!format!("{r:?}").contains(AWS_SECRET));
    assert_eq!(out.text, MOCK_TEXT);
    assert_eq!(out.finish_reason, Some(w::FinishReason::Stop));
    // A Bedrock API key: a bearer token, nothing signed.
    h.mock.reset();
    h.run(
        gw,
        CLAUDE_ON_BEDROCK,
        &cfg::user("Hello"),
        &on("bedrock-key"),
    )
    .await
    .unwrap();
    let r = h.only_request();
    assert!(
        r.url()
            .starts_with("https://bedrock-runtime.eu-west-1.amazonaws.com/model/")
    );
    assert_eq!(
        r.header("authorization"),
        Some("Bearer bedrock-api-key-0123456789")
    );
    assert_eq!(r.header("x-amz-date"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn bedrock_stream_of_a_recorded_thinking_turn_and_its_round_trip() {
    let (mut h, gw) = setup().await;
    h.mock.push(Reply::raw(
        200,
        EVENTSTREAM,
        BEDROCK_THINKING_STREAM.to_vec(),
    ));
    let ev = h
        .stream_all(
            gw,
            CLAUDE_ON_BEDROCK,
            &cfg::user("Count the r's"),
            Some(&on("bedrock")),
        )
        .await;
    let r = h.only_request();
    assert!(r.url().ends_with("/converse-stream"));
    assert!(r.header("authorization").is_some());
    let sig = ev.iter().find_map(|e| match e {
        w::StreamEvent::ReasoningSignature(s) => Some(s.clone()),
        _ => None,
    });
    assert!(sig.is_some(), "{ev:?}");
    assert!(matches!(ev.last(), Some(w::StreamEvent::Done(_))), "{ev:?}");
    // The non-streamed recorded turn with a signature, sent back unchanged
    // with a tool call and its result.
    h.mock.reset();
    h.mock.push(Reply::raw(
        200,
        "application/json",
        BEDROCK_REASONING_JSON.to_vec(),
    ));
    let opts = w::RunOptions {
        tools: vec![weather_tool()],
        ..on("bedrock")
    };
    let mut out = h
        .run(gw, CLAUDE_ON_BEDROCK, &cfg::user("Go."), &opts)
        .await
        .unwrap();
    let recorded: Value = serde_json::from_slice(BEDROCK_REASONING_JSON).unwrap();
    let recorded_sig = recorded["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]["signature"].clone();
    assert_eq!(
        out.reasoning_blocks[0].signature.as_deref(),
        recorded_sig.as_str()
    );
    out.tool_calls = vec![w::ToolCall {
        id: "tooluse_1".into(),
        name: "get_weather".into(),
        arguments: r#"{"city":"Oslo"}"#.into(),
        raw_arguments: None,
    }];
    h.mock.reset();
    h.run(gw, CLAUDE_ON_BEDROCK, &follow_up(&out, "12 degrees"), &opts)
        .await
        .unwrap();
    let sent = h.only_request().json();
    assert_eq!(
        sent["messages"][1]["content"][0]["reasoningContent"]["reasoningText"]["signature"],
        recorded_sig
    );
    assert_eq!(
        sent["messages"][1]["content"][1],
        json!({"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Oslo"}}})
    );
    assert_eq!(
        sent["messages"][2]["content"][0],
        json!({"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "12 degrees"}]}})
    );
    assert_eq!(
        sent["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "get_weather"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bedrock_json_schema_image_and_refused_options() {
    let (mut h, gw) = setup().await;
    h.mock.push(Reply::json(
        200,
        json!({"output": {"message": {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "json_response", "input": {"city": "Oslo"}}}]}},
               "stopReason": "tool_use", "usage": {"inputTokens": 5, "outputTokens": 3}}),
    ));
    let opts = w::RunOptions {
        response_format: Some(w::ResponseFormat::JsonSchema(w::JsonSchemaFormat {
            name: "place".into(),
            schema: r#"{"type":"object"}"#.into(),
            strict: true,
            description: None,
        })),
        ..on("bedrock-key")
    };
    let out = h
        .run(
            gw,
            CLAUDE_ON_BEDROCK,
            &w::AiInput::Messages(vec![image_message()]),
            &opts,
        )
        .await
        .unwrap();
    assert_eq!(json(&out.text), json!({"city": "Oslo"}));
    assert_eq!(out.finish_reason, Some(w::FinishReason::Stop));
    let body = h.only_request().json();
    assert_eq!(
        body["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "json_response"}})
    );
    assert_eq!(
        body["messages"][0]["content"][1],
        json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}})
    );
    h.mock.reset();
    let opts = w::RunOptions {
        presence_penalty: Some(0.5),
        ..on("bedrock")
    };
    let err = h
        .run(gw, CLAUDE_ON_BEDROCK, &cfg::user("hi"), &opts)
        .await
        .unwrap_err();
    assert_eq!(kind(&err), "validation");
    assert!(
        format!("{err:?}").contains("option presence-penalty"),
        "{err:?}"
    );
    let e = h
        .inst
        .embed(
            gw,
            "amazon.titan-embed-text-v2:0",
            &["a".into()],
            Some(&w::EmbedOptions {
                provider: Some("bedrock".into()),
                dimensions: None,
                timeout_ms: None,
            }),
        )
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(kind(&e), "validation");
    assert_eq!(h.mock.hits(), 0);
}

// ------------------------------------------------------- azure and presets

#[tokio::test(flavor = "multi_thread")]
async fn azure_openai_and_a_preset_run_stream_and_embed() {
    let (mut h, gw) = setup().await;
    let out = h
        .run(gw, "gpt-4o-prod", &cfg::user("hi"), &on("azure"))
        .await
        .unwrap();
    let r = h.only_request();
    assert_eq!(
        r.url(),
        "https://contoso.openai.azure.com/openai/v1/chat/completions"
    );
    assert_eq!(r.header("api-key"), Some("azure-key-0123456789"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.json()["model"], "gpt-4o-prod");
    assert_eq!(out.text, MOCK_TEXT);
    h.mock.reset();
    let ev = h
        .stream_all(gw, "gpt-4o-prod", &cfg::user("hi"), Some(&on("azure")))
        .await;
    assert!(matches!(ev.last(), Some(w::StreamEvent::Done(_))));
    h.mock.reset();
    let e = h
        .inst
        .embed(
            gw,
            "embed-prod",
            &["a".into()],
            Some(&w::EmbedOptions {
                provider: Some("azure".into()),
                dimensions: None,
                timeout_ms: None,
            }),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.embeddings.len(), 1);
    assert_eq!(
        h.only_request().url(),
        "https://contoso.openai.azure.com/openai/v1/embeddings"
    );
    h.mock.reset();
    h.run(gw, "llama-3.3-70b-versatile", &cfg::user("hi"), &on("groq"))
        .await
        .unwrap();
    let r = h.only_request();
    assert_eq!(r.url(), "https://api.groq.com/openai/v1/chat/completions");
    assert_eq!(r.header("authorization"), Some("Bearer gsk-0123456789"));
    let opts = w::RunOptions {
        logprobs: Some(true),
        ..on("groq")
    };
    let err = h
        .run(gw, "llama-3.3-70b-versatile", &cfg::user("hi"), &opts)
        .await
        .unwrap_err();
    assert_eq!(kind(&err), "validation");
    assert!(format!("{err:?}").contains("option logprobs"), "{err:?}");
}

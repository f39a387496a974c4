use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKey, AwsCredentials, ProviderConfig, ProviderKind};
use crate::error::ErrorKind;
use crate::http::HttpRequest;
use crate::provider::build_chat;
use crate::types::{ImageSource, Input, Media, RunOptions, ToolDefinition};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bedrock/");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIX}{name}")).unwrap()
}

const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

fn endpoint(aws: bool) -> Endpoint {
    let mut p = ProviderConfig::new("br", ProviderKind::Bedrock);
    p.region = Some("us-east-1".into());
    if aws {
        p.aws = Some(AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: ApiKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: None,
        });
    } else {
        p.api_key = Some(ApiKey::new("bedrock-api-key-test"));
    }
    Endpoint::resolve(&p, None).unwrap()
}

fn build(ep: &Endpoint, model: &str, input: &Input, opts: &RunOptions) -> Result<HttpRequest> {
    build_chat(&ChatCall {
        endpoint: ep,
        model,
        input,
        options: opts,
        stream: false,
    })
}

#[test]
fn request_is_signed_with_sigv4_at_send_time() {
    let ep = endpoint(true);
    let req = build(
        &ep,
        MODEL,
        &Input::Prompt("Hello".into()),
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!(
        req.url,
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    assert_eq!(req.header("authorization"), None, "signed only when sent");
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"messages": [{"role": "user", "content": [{"text": "Hello"}]}]})
    );
    // 2015-08-30T12:36:00Z, the AWS test suite's time.
    let s = signed(&ep, &req, 1_440_938_160_000).unwrap().unwrap();
    assert_eq!(s.header("x-amz-date"), Some("20150830T123600Z"));
    let auth = s.header("authorization").unwrap();
    assert!(
        auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
        ),
        "{auth}"
    );
    // The same request and time sign the same; the secret is nowhere.
    let again = signed(&ep, &req, 1_440_938_160_000).unwrap().unwrap();
    assert_eq!(again.header("authorization"), Some(auth));
    assert!(!format!("{s:?}").contains("wJalrXUtnFEMI"));
    // A Bedrock API key is a bearer token, and nothing is signed.
    let ep = endpoint(false);
    let req = build(
        &ep,
        MODEL,
        &Input::Prompt("Hello".into()),
        &RunOptions::default(),
    )
    .unwrap();
    assert_eq!(
        req.header("authorization"),
        Some("Bearer bedrock-api-key-test")
    );
    assert!(signed(&ep, &req, 0).unwrap().is_none());
}

#[test]
fn model_ids_are_one_encoded_segment() {
    let ep = endpoint(false);
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7";
    let req = build(&ep, arn, &Input::Prompt("x".into()), &RunOptions::default()).unwrap();
    assert_eq!(
        req.url,
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-7/converse"
    );
    for evil in ["../../x", "m?x=1", "m#f", "a/../../b"] {
        let req = build(
            &ep,
            evil,
            &Input::Prompt("x".into()),
            &RunOptions::default(),
        )
        .unwrap();
        let path = req
            .url
            .strip_prefix("https://bedrock-runtime.us-east-1.amazonaws.com/model/")
            .unwrap();
        assert!(
            !path.contains('/') || path.ends_with("/converse") && path.matches('/').count() == 1,
            "{path}"
        );
        assert!(!path.contains('?') && !path.contains('#'), "{path}");
    }
}

#[test]
fn tools_results_reasoning_and_cache_points() {
    let mut history = Message::new(Role::Assistant, "");
    history.content = Content::Parts(vec![Part::Reasoning(ReasoningBlock {
        text: "Think.".into(),
        signature: Some("sig-1".into()),
        redacted: None,
    })]);
    history.tool_calls = vec![ToolCall {
        id: "tooluse_1".into(),
        name: "weather".into(),
        arguments: r#"{"location":"Seattle"}"#.into(),
        raw_arguments: None,
    }];
    let mut result = Message::new(Role::Tool, r#"{"temp": 12}"#);
    result.tool_call_id = Some("tooluse_1".into());
    let mut system = Message::new(Role::System, "Be brief.");
    system.cache_control = true;
    let input = Input::Messages(vec![
        system,
        Message::new(Role::User, "Weather?"),
        history,
        result,
    ]);
    let opts = RunOptions {
        tools: vec![ToolDefinition {
            name: "weather".into(),
            description: None,
            parameters: Some(r#"{"type":"object"}"#.into()),
        }],
        tool_choice: Some(ToolChoice::Required),
        max_tokens: Some(50),
        ..RunOptions::default()
    };
    let req = build(&endpoint(false), MODEL, &input, &opts).unwrap();
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "Weather?"}]},
                {"role": "assistant", "content": [
                    {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "sig-1"}}},
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "weather", "input": {"location": "Seattle"}}}
                ]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp": 12}}]}}
                ]}
            ],
            "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
            "inferenceConfig": {"maxTokens": 50},
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "weather", "inputSchema": {"json": {"type": "object"}}}}],
                "toolChoice": {"any": {}}
            }
        })
    );
}

#[test]
fn images_inline_only_and_refused_options_name_themselves() {
    let ep = endpoint(false);
    let mut m = Message::new(Role::User, "");
    m.content = Content::Parts(vec![Part::Image {
        source: ImageSource::Inline(Media {
            media_type: "image/png".into(),
            base64: "iVBORw0KGgo=".into(),
        }),
        detail: None,
        cache_control: false,
    }]);
    let req = build(
        &ep,
        MODEL,
        &Input::Messages(vec![m.clone()]),
        &RunOptions::default(),
    )
    .unwrap();
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body["messages"][0]["content"][0],
        json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}})
    );
    m.content = Content::Parts(vec![Part::Image {
        source: ImageSource::Url("https://example.com/a.png".into()),
        detail: None,
        cache_control: false,
    }]);
    let e = build(
        &ep,
        MODEL,
        &Input::Messages(vec![m]),
        &RunOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert!(e.to_string().contains("inline"), "{e}");
    let opts = RunOptions {
        seed: Some(1),
        ..RunOptions::default()
    };
    let e = build(&ep, MODEL, &Input::Prompt("x".into()), &opts).unwrap_err();
    assert!(
        e.to_string().contains("option seed") && e.to_string().contains("bedrock"),
        "{e}"
    );
}

#[test]
fn recorded_responses_parse() {
    let c = parse_chat(&fixture("text_with_usage.json")).unwrap();
    assert!(!c.text.is_empty());
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
    let c = parse_chat(&fixture("reasoning_signature.json")).unwrap();
    let b = &c.reasoning_blocks[0];
    assert!(b.text.contains("strawberry"));
    assert!(b.signature.as_deref().unwrap().starts_with("EvYBCkgICxAB"));
    let c = parse_chat(&fixture("tool_use.json")).unwrap();
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(c.tool_calls[0].id, "tooluse_rTk04lpyTTTvtXcoOyVT6p");
    assert_eq!(c.tool_calls[0].arguments, r#"{"location":"Seattle"}"#);
    let u = parse_chat(&fixture("cache_read.reserialized.json"))
        .unwrap()
        .usage
        .unwrap();
    assert_eq!(
        (u.input_tokens, u.cache_read_tokens, u.output_tokens),
        (1324, 1322, 5)
    );
    let u = parse_chat(&fixture("cache_write.reserialized.json"))
        .unwrap()
        .usage
        .unwrap();
    assert_eq!(u.cache_write_tokens, 1322);
}

#[test]
fn recorded_error_is_typed_from_its_header() {
    let raw: Value = serde_json::from_slice(&fixture("error_400_validation.wrapped.json")).unwrap();
    let head = crate::http::ResponseHead {
        status: 400,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "x-amzn-errortype".into(),
                raw["headers"]["x-amzn-errortype"].as_str().unwrap().into(),
            ),
        ]
        .into(),
    };
    let body = raw["body"].to_string();
    let e = crate::provider::error_for(&endpoint(false), &head, body.as_bytes(), 0);
    assert_eq!(e.kind(), ErrorKind::Upstream);
    let d = e.detail().unwrap();
    assert_eq!(d.code.as_deref(), Some("ValidationException"));
    assert!(d.message.contains("messages.1 is empty"));
    assert!(!d.retryable);
}

#[test]
fn a_region_is_needed_and_embeddings_are_refused() {
    let e = Endpoint::resolve(&ProviderConfig::new("b", ProviderKind::Bedrock), None).unwrap_err();
    assert!(e.to_string().contains("region"), "{e}");
    let e =
        crate::provider::build_embed(&endpoint(false), MODEL, &["x".into()], &Default::default())
            .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
}

#[test]
fn through_cloudflare_the_request_is_signed_for_amazons_url() {
    let mut p = ProviderConfig::new("br", ProviderKind::Bedrock);
    p.region = Some("us-east-1".into());
    p.aws = endpoint(true).aws;
    let cf = crate::config::CfGatewayConfig {
        account_id: "acc".into(),
        gateway_id: "gw".into(),
        auth_token: Some(ApiKey::new("cf-token-0123456789")),
        cache_ttl: None,
        skip_cache: false,
    };
    let via = Endpoint::resolve(&p, Some(&cf)).unwrap();
    let input = Input::Prompt("Hello".into());
    let req = build(&via, MODEL, &input, &RunOptions::default()).unwrap();
    assert_eq!(
        req.url,
        "https://gateway.ai.cloudflare.com/v1/acc/gw/aws-bedrock/bedrock-runtime/us-east-1/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    let at = 1_440_938_160_000;
    let s = signed(&via, &req, at).unwrap().unwrap();
    assert_eq!(s.url, req.url, "sent to Cloudflare");
    assert_eq!(
        s.header("cf-aig-authorization"),
        Some("Bearer cf-token-0123456789")
    );
    // The same signature as the direct request to Amazon: Amazon's host,
    // Cloudflare's headers unsigned.
    let direct = endpoint(true);
    let dreq = build(&direct, MODEL, &input, &RunOptions::default()).unwrap();
    let d = signed(&direct, &dreq, at).unwrap().unwrap();
    assert_eq!(s.header("authorization"), d.header("authorization"));
}

#[test]
fn thinking_raises_max_tokens_and_document_names_are_valid_and_unique() {
    let opts = RunOptions {
        max_tokens: Some(1000),
        reasoning_effort: Some(crate::types::ReasoningEffort::Medium),
        ..RunOptions::default()
    };
    let doc = |title: Option<&str>| Part::Document {
        document: Media {
            media_type: "application/pdf".into(),
            base64: "JVBERi0=".into(),
        },
        title: title.map(str::to_owned),
        cache_control: false,
    };
    let mut a = Message::new(Role::User, "");
    a.content = Content::Parts(vec![doc(Some("Q3 report.pdf")), doc(None)]);
    let mut b = Message::new(Role::User, "");
    b.content = Content::Parts(vec![doc(None)]);
    let input = Input::Messages(vec![a, Message::new(Role::Assistant, "ok"), b]);
    let req = build(&endpoint(false), MODEL, &input, &opts).unwrap();
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["inferenceConfig"]["maxTokens"], 4096 + 1024);
    assert_eq!(
        body["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 4096}})
    );
    let names = |m: usize| {
        body["messages"][m]["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["document"]["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(0), ["Q3 report pdf", "document-2"]);
    assert_eq!(names(2), ["document-3"]);
}

//! The presets, Azure OpenAI and Claude on Vertex AI: their URLs, headers
//! and differences, as sent.

use serde_json::{Value, json};

use super::*;
use crate::config::{ApiKey, Endpoint, KeyAuthMode, ProviderConfig, ProviderKind};
use crate::error::ErrorKind;
use crate::http::HttpRequest;
use crate::provider::{ChatCall, build_chat, build_count};
use crate::types::{Input, RunOptions, ToolChoice, ToolDefinition};

fn endpoint(kind: ProviderKind, edit: impl FnOnce(&mut ProviderConfig)) -> Endpoint {
    let mut p = ProviderConfig::new("p", kind);
    p.api_key = Some(ApiKey::new("key-for-tests"));
    edit(&mut p);
    Endpoint::resolve(&p, None).unwrap()
}

fn build(
    ep: &Endpoint,
    model: &str,
    opts: &RunOptions,
    stream: bool,
) -> crate::error::Result<(HttpRequest, Value)> {
    let req = build_chat(&ChatCall {
        endpoint: ep,
        model,
        input: &Input::Prompt("hi".into()),
        options: opts,
        stream,
    })?;
    let body = serde_json::from_slice(&req.body).unwrap_or_default();
    Ok((req, body))
}

#[test]
fn each_preset_names_its_base_url_and_takes_a_bearer_key() {
    for (preset, url) in [
        (
            Preset::Groq,
            "https://api.groq.com/openai/v1/chat/completions",
        ),
        (
            Preset::DeepSeek,
            "https://api.deepseek.com/chat/completions",
        ),
        (
            Preset::OpenRouter,
            "https://openrouter.ai/api/v1/chat/completions",
        ),
        (Preset::Ollama, "http://localhost:11434/v1/chat/completions"),
    ] {
        let ep = endpoint(ProviderKind::Preset(preset), |_| {});
        let (req, body) = build(&ep, "m", &RunOptions::default(), false).unwrap();
        assert_eq!(req.url, url);
        assert_eq!(req.header("authorization"), Some("Bearer key-for-tests"));
        // Not OpenAI itself: `max_tokens`, never `max_completion_tokens`.
        assert!(body.get("max_completion_tokens").is_none());
    }
}

#[test]
fn mistral_renames_seed_and_required_and_takes_no_stream_options() {
    let ep = endpoint(ProviderKind::Preset(Preset::Mistral), |_| {});
    let opts = RunOptions {
        seed: Some(42),
        tools: vec![ToolDefinition {
            name: "t".into(),
            description: None,
            parameters: None,
        }],
        tool_choice: Some(ToolChoice::Required),
        ..RunOptions::default()
    };
    let (req, body) = build(&ep, "mistral-small-latest", &opts, true).unwrap();
    assert_eq!(req.url, "https://api.mistral.ai/v1/chat/completions");
    assert_eq!(body["random_seed"], 42);
    assert!(body.get("seed").is_none());
    assert_eq!(body["tool_choice"], "any");
    assert!(body.get("stream_options").is_none());
    assert_eq!(body["stream"], true);
}

#[test]
fn options_a_preset_cannot_honour_are_refused_by_name() {
    let groq = endpoint(ProviderKind::Preset(Preset::Groq), |_| {});
    let opts = RunOptions {
        logit_bias: vec![(50256, -100)],
        ..RunOptions::default()
    };
    let e = build(&groq, "llama-3.3-70b-versatile", &opts, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert_eq!(
        e.to_string(),
        "invalid request: provider \"p\" (groq) does not support the option logit-bias"
    );
    let ollama = endpoint(ProviderKind::Preset(Preset::Ollama), |_| {});
    let opts = RunOptions {
        tool_choice: Some(ToolChoice::Required),
        ..RunOptions::default()
    };
    let e = build(&ollama, "llama3.2", &opts, false).unwrap_err();
    assert!(e.to_string().contains("tool-choice required"), "{e}");
    // vLLM takes what OpenAI takes but a service tier.
    let vllm = endpoint(ProviderKind::Preset(Preset::Vllm), |_| {});
    let opts = RunOptions {
        logit_bias: vec![(1, 1)],
        seed: Some(1),
        ..RunOptions::default()
    };
    let (_, body) = build(&vllm, "m", &opts, false).unwrap();
    assert_eq!(body["logit_bias"], json!({"1": 1}));
}

#[test]
fn azure_openai_v1_and_deployment_urls_and_its_key_header() {
    let ep = endpoint(ProviderKind::AzureOpenAi, |p| {
        p.resource_name = Some("contoso".into())
    });
    let (req, body) = build(&ep, "gpt-4o-prod", &RunOptions::default(), false).unwrap();
    assert_eq!(
        req.url,
        "https://contoso.openai.azure.com/openai/v1/chat/completions"
    );
    assert_eq!(req.header("api-key"), Some("key-for-tests"));
    assert_eq!(req.header("authorization"), None);
    assert_eq!(body["model"], "gpt-4o-prod");
    // OpenAI's models: `max_completion_tokens`, which its reasoning
    // deployments require.
    let opts = RunOptions {
        max_tokens: Some(99),
        ..RunOptions::default()
    };
    let (_, body) = build(&ep, "o4-mini-prod", &opts, false).unwrap();
    assert_eq!(body["max_completion_tokens"], 99);
    assert!(body.get("max_tokens").is_none());
    let ep = endpoint(ProviderKind::AzureOpenAi, |p| {
        p.resource_name = Some("contoso".into());
        p.api_version = Some("2024-10-21".into());
        p.key_auth = KeyAuthMode::Bearer;
    });
    let (req, _) = build(&ep, "gpt-4o-prod", &RunOptions::default(), false).unwrap();
    assert_eq!(
        req.url,
        "https://contoso.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(req.header("authorization"), Some("Bearer key-for-tests"));
    assert_eq!(req.header("api-key"), None);
    let e = build(&ep, "../x", &RunOptions::default(), false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    let req = crate::provider::build_embed(&ep, "embed-prod", &["a".into()], &Default::default())
        .unwrap();
    assert!(
        req.url
            .ends_with("/openai/deployments/embed-prod/embeddings?api-version=2024-10-21")
    );
}

#[test]
fn azure_recorded_content_filter_error_and_filtered_reply() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/azure-openai/");
    let ep = endpoint(ProviderKind::AzureOpenAi, |p| {
        p.resource_name = Some("r".into())
    });
    let body = std::fs::read(format!("{dir}error_400_content_filter.json")).unwrap();
    let head = crate::http::ResponseHead {
        status: 400,
        headers: vec![].into(),
    };
    let e = crate::provider::error_for(&ep, &head, &body, 0);
    assert_eq!(e.kind(), ErrorKind::Upstream);
    assert_eq!(e.detail().unwrap().code.as_deref(), Some("content_filter"));
    assert!(!e.detail().unwrap().retryable);
    let ok = crate::http::ResponseHead {
        status: 200,
        headers: vec![].into(),
    };
    let body = std::fs::read(format!("{dir}chat_completion_filter_results.json")).unwrap();
    let c = crate::provider::parse_chat_reply(&ep, &ok, &body).unwrap();
    assert!(!c.text.is_empty());
    let body = std::fs::read(format!("{dir}chat_completion_stream.sse")).unwrap();
    let ev =
        crate::provider::fixture_tests::decode_checked(crate::config::WireFormat::OpenAi, &body);
    assert!(
        matches!(ev.last(), Some(crate::types::StreamEvent::Done(_))),
        "{ev:?}"
    );
}

#[test]
fn claude_on_vertex_uses_raw_predict_and_its_version_in_the_body() {
    let ep = endpoint(ProviderKind::VertexAnthropic, |p| {
        p.project = Some("proj".into());
        p.region = Some("us-east5".into());
    });
    let (req, body) = build(
        &ep,
        "claude-sonnet-4@20250514",
        &RunOptions::default(),
        false,
    )
    .unwrap();
    assert_eq!(
        req.url,
        "https://us-east5-aiplatform.googleapis.com/v1/projects/proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict"
    );
    assert_eq!(req.header("authorization"), Some("Bearer key-for-tests"));
    assert_eq!(req.header("anthropic-version"), None);
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    assert!(body.get("model").is_none());
    let (req, body) = build(
        &ep,
        "claude-sonnet-4@20250514",
        &RunOptions::default(),
        true,
    )
    .unwrap();
    assert!(req.url.ends_with(":streamRawPredict"));
    assert_eq!(body["stream"], true);
    let count = build_count(&ChatCall {
        endpoint: &ep,
        model: "claude-sonnet-4@20250514",
        input: &Input::Prompt("hi".into()),
        options: &RunOptions::default(),
        stream: false,
    })
    .unwrap();
    assert!(
        count
            .url
            .ends_with("/publishers/anthropic/models/count-tokens:rawPredict")
    );
}

#[test]
fn azure_through_cloudflare_uses_its_deployment_route() {
    let mut p = ProviderConfig::new("az", ProviderKind::AzureOpenAi);
    p.api_key = Some(ApiKey::new("key-for-tests"));
    p.resource_name = Some("contoso".into());
    let cf = crate::config::CfGatewayConfig {
        account_id: "acc".into(),
        gateway_id: "gw".into(),
        auth_token: None,
        cache_ttl: None,
        skip_cache: false,
    };
    let ep = Endpoint::resolve(&p, Some(&cf)).unwrap();
    let (req, _) = build(&ep, "gpt-4o-prod", &RunOptions::default(), false).unwrap();
    assert_eq!(
        req.url,
        "https://gateway.ai.cloudflare.com/v1/acc/gw/azure-openai/contoso/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(req.header("api-key"), Some("key-for-tests"));
}

//! Resolving provider configurations into endpoints.

use super::*;

fn cf() -> CfGatewayConfig {
    CfGatewayConfig {
        account_id: "acc".into(),
        gateway_id: "gw".into(),
        auth_token: Some(ApiKey::new("cf-tok")),
        cache_ttl: Some(3600),
        skip_cache: true,
    }
}

#[test]
fn resolve_openai_with_cf_gateway_rewrites_base_and_adds_headers() {
    let p = ProviderConfig::new("openai", ProviderKind::OpenAi);
    let e = Endpoint::resolve(&p, Some(&cf())).unwrap();
    assert_eq!(
        e.base_url,
        "https://gateway.ai.cloudflare.com/v1/acc/gw/openai"
    );
    assert!(e.via_cf_gateway);
    assert_eq!(
        e.headers.to_vec(),
        vec![
            (
                "cf-aig-authorization".to_owned(),
                "Bearer cf-tok".to_owned()
            ),
            ("cf-aig-cache-ttl".to_owned(), "3600".to_owned()),
            ("cf-aig-skip-cache".to_owned(), "true".to_owned()),
        ]
    );
}

#[test]
fn resolve_explicit_base_url_wins_over_cf_gateway() {
    let mut p = ProviderConfig::new("claude", ProviderKind::Anthropic);
    p.base_url = Some("http://127.0.0.1:9/".into());
    let e = Endpoint::resolve(&p, Some(&cf())).unwrap();
    assert_eq!(e.base_url, "http://127.0.0.1:9/");
    assert!(e.headers.is_empty());
}

#[test]
fn resolve_workers_ai_is_unaffected_by_cf_gateway() {
    let mut p = ProviderConfig::new("workers", ProviderKind::WorkersAi);
    p.account_id = Some("acc".into());
    let e = Endpoint::resolve(&p, Some(&cf())).unwrap();
    assert_eq!(e.base_url, workers_ai::BASE_URL);
    assert!(!e.via_cf_gateway);
}

#[test]
fn resolve_fills_each_kinds_url_from_its_place() {
    let mut v = ProviderConfig::new("v", ProviderKind::Vertex);
    v.project = Some("proj-1".into());
    let e = Endpoint::resolve(&v, None).unwrap();
    assert_eq!(
        e.base_url,
        "https://aiplatform.googleapis.com/v1/projects/proj-1/locations/global/publishers/google"
    );
    v.region = Some("europe-west4".into());
    let e = Endpoint::resolve(&v, Some(&cf())).unwrap();
    assert_eq!(
        e.base_url,
        "https://gateway.ai.cloudflare.com/v1/acc/gw/google-vertex-ai/v1/projects/proj-1/locations/europe-west4/publishers/google"
    );
    let e = Endpoint::resolve(&v, None).unwrap();
    assert!(
        e.base_url
            .starts_with("https://europe-west4-aiplatform.googleapis.com/")
    );
    let mut b = ProviderConfig::new("b", ProviderKind::Bedrock);
    b.region = Some("us-west-2".into());
    let e = Endpoint::resolve(&b, None).unwrap();
    assert_eq!(
        e.base_url,
        "https://bedrock-runtime.us-west-2.amazonaws.com"
    );
    assert_eq!(e.region.as_deref(), Some("us-west-2"));
    let e = Endpoint::resolve(&b, Some(&cf())).unwrap();
    assert_eq!(
        e.base_url,
        "https://gateway.ai.cloudflare.com/v1/acc/gw/aws-bedrock/bedrock-runtime/us-west-2"
    );
    let mut a = ProviderConfig::new("az", ProviderKind::AzureOpenAi);
    a.resource_name = Some("my-res".into());
    let e = Endpoint::resolve(&a, None).unwrap();
    assert_eq!(e.base_url, "https://my-res.openai.azure.com/openai");
    let g =
        Endpoint::resolve(&ProviderConfig::new("g", ProviderKind::Gemini), Some(&cf())).unwrap();
    assert_eq!(
        g.base_url,
        "https://gateway.ai.cloudflare.com/v1/acc/gw/google-ai-studio/v1beta"
    );
    let m = ProviderConfig::new("m", ProviderKind::Preset(Preset::Mistral));
    let e = Endpoint::resolve(&m, Some(&cf())).unwrap();
    assert_eq!(
        e.base_url,
        "https://gateway.ai.cloudflare.com/v1/acc/gw/mistral/v1"
    );
    assert_eq!(
        Endpoint::resolve(&m, None).unwrap().base_url,
        "https://api.mistral.ai/v1"
    );
}

#[test]
fn resolve_refuses_a_missing_or_url_steering_place() {
    for (kind, field) in [
        (ProviderKind::Vertex, "project"),
        (ProviderKind::VertexAnthropic, "project"),
        (ProviderKind::Bedrock, "region"),
        (ProviderKind::AzureOpenAi, "resource-name"),
    ] {
        let e = Endpoint::resolve(&ProviderConfig::new("p", kind), None).unwrap_err();
        assert!(e.to_string().contains(field), "{e}");
    }
    let mut b = ProviderConfig::new("b", ProviderKind::Bedrock);
    b.region = Some("us-east-1.evil.example/x".into());
    let e = Endpoint::resolve(&b, None).unwrap_err();
    assert!(e.to_string().contains("region"), "{e}");
    let mut a = ProviderConfig::new("az", ProviderKind::AzureOpenAi);
    a.base_url = Some("https://proxy.example/openai".into());
    assert!(Endpoint::resolve(&a, None).is_ok());
}

#[test]
fn resolve_workers_ai_without_account_is_validation() {
    let p = ProviderConfig::new("w", ProviderKind::WorkersAi);
    assert!(Endpoint::resolve(&p, None).is_err());
}

#[test]
fn resolve_custom_without_base_url_is_validation() {
    let p = ProviderConfig::new("c", ProviderKind::Custom);
    assert!(Endpoint::resolve(&p, Some(&cf())).is_err());
}

#[test]
fn api_key_debug_is_masked() {
    assert_eq!(format!("{:?}", ApiKey::new("sk-123")), "***");
    let mut p = ProviderConfig::new("custom", ProviderKind::Custom);
    p.api_key = Some(ApiKey::new("sk-live-MARKER-1"));
    p.base_url = Some("https://llm.example/v1".into());
    p.headers = vec![
        ("x-api-key".into(), "MARKER-2-secret".into()),
        ("x-title".into(), "visible".into()),
    ]
    .into();
    let shown = format!("{p:?}");
    assert!(!shown.contains("MARKER"), "{shown}");
    assert!(shown.contains("visible"), "{shown}");
    let e = Endpoint::resolve(&p, None).unwrap();
    let shown = format!("{e:?}");
    assert!(!shown.contains("MARKER"), "{shown}");
    let cf = CfGatewayConfig {
        account_id: "acc".into(),
        gateway_id: "gw".into(),
        auth_token: Some(ApiKey::new("cf-MARKER-3")),
        cache_ttl: None,
        skip_cache: false,
    };
    assert!(!format!("{cf:?}").contains("MARKER"));
}

//! Builders for the component's WIT config and input types, so the CLI and
//! the tests read like the seed's examples.

use crate::host::w;

/// A provider with only the required fields set.
pub fn provider(name: &str, kind: w::ProviderKind) -> w::ProviderConfig {
    w::ProviderConfig {
        name: name.into(),
        kind,
        api_key: None,
        base_url: None,
        account_id: None,
        wire_format: None,
        api_version: None,
        headers: Vec::new(),
        region: None,
        project: None,
        resource_name: None,
        aws_credentials: None,
        key_auth: None,
    }
}

pub fn openai(name: &str, key: &str, base_url: Option<&str>) -> w::ProviderConfig {
    w::ProviderConfig {
        api_key: Some(key.into()),
        base_url: base_url.map(str::to_owned),
        ..provider(name, w::ProviderKind::Openai)
    }
}

pub fn anthropic(name: &str, key: &str, base_url: Option<&str>) -> w::ProviderConfig {
    w::ProviderConfig {
        api_key: Some(key.into()),
        base_url: base_url.map(str::to_owned),
        ..provider(name, w::ProviderKind::Anthropic)
    }
}

pub fn workers_ai(
    name: &str,
    token: &str,
    account: &str,
    base_url: Option<&str>,
) -> w::ProviderConfig {
    w::ProviderConfig {
        api_key: Some(token.into()),
        account_id: Some(account.into()),
        base_url: base_url.map(str::to_owned),
        ..provider(name, w::ProviderKind::WorkersAi)
    }
}

/// A gateway config with these providers and nothing else.
pub fn gateway(
    providers: Vec<w::ProviderConfig>,
    default_provider: Option<&str>,
) -> w::GatewayConfig {
    w::GatewayConfig {
        providers,
        default_provider: default_provider.map(str::to_owned),
        cf_gateway: None,
        router: None,
        retry: None,
        chains: Vec::new(),
        cache: None,
        cost: None,
        rate_limits: None,
        allowlist: None,
        logging: None,
        timeout_ms: None,
        attempt_timeouts: None,
    }
}

/// Every option unset.
pub fn options() -> w::RunOptions {
    w::RunOptions {
        provider: None,
        timeout_ms: None,
        response_format: None,
        tools: Vec::new(),
        tool_choice: None,
        max_tokens: None,
        temperature: None,
        top_p: None,
        stop: Vec::new(),
        reasoning_effort: None,
        extra_body: None,
        headers: Vec::new(),
        retry: None,
        fallback: None,
        cache: None,
        cache_key: None,
        caller: None,
        parallel_tool_calls: None,
        presence_penalty: None,
        frequency_penalty: None,
        logit_bias: Vec::new(),
        seed: None,
        logprobs: None,
        top_logprobs: None,
        end_user: None,
        metadata: Vec::new(),
        service_tier: None,
        request_id: None,
    }
}

pub fn message(role: w::Role, content: &str) -> w::Message {
    w::Message {
        role,
        content: w::Content::Text(content.into()),
        cache_control: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

pub fn user(content: &str) -> w::AiInput {
    w::AiInput::Messages(vec![message(w::Role::User, content)])
}

pub fn retry(max_attempts: u32) -> w::RetryPolicy {
    w::RetryPolicy {
        max_attempts,
        retry_on: Vec::new(),
        initial_backoff_ms: 10,
        max_backoff_ms: 100,
        max_retry_after_ms: 60_000,
    }
}

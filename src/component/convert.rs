//! WIT types ⇄ domain types. The only place that knows both.

use super::bindings::exports::workkit::ai_gateway::model_allowlist as wa;
use super::bindings::exports::workkit::ai_gateway::types as w;
use crate::config as c;
use crate::engine::cost;
use crate::error::{ErrorKind, GatewayError, UpstreamDetail};
use crate::types as d;

mod parts;

use parts::{cached, content, logprob, reasoning_to};

// ---------------------------------------------------------------- errors

fn kind_from(k: w::ErrorKind) -> ErrorKind {
    match k {
        w::ErrorKind::Validation => ErrorKind::Validation,
        w::ErrorKind::Auth => ErrorKind::Auth,
        w::ErrorKind::NotFound => ErrorKind::NotFound,
        w::ErrorKind::RateLimited => ErrorKind::RateLimited,
        w::ErrorKind::Timeout => ErrorKind::Timeout,
        w::ErrorKind::ServiceUnavailable => ErrorKind::ServiceUnavailable,
        w::ErrorKind::Upstream => ErrorKind::Upstream,
        w::ErrorKind::BudgetExceeded => ErrorKind::BudgetExceeded,
        w::ErrorKind::ModelNotAllowed => ErrorKind::ModelNotAllowed,
        w::ErrorKind::Internal => ErrorKind::Internal,
    }
}

fn kind_to(k: ErrorKind) -> w::ErrorKind {
    match k {
        ErrorKind::Validation => w::ErrorKind::Validation,
        ErrorKind::Auth => w::ErrorKind::Auth,
        ErrorKind::NotFound => w::ErrorKind::NotFound,
        ErrorKind::RateLimited => w::ErrorKind::RateLimited,
        ErrorKind::Timeout => w::ErrorKind::Timeout,
        ErrorKind::ServiceUnavailable => w::ErrorKind::ServiceUnavailable,
        ErrorKind::Upstream => w::ErrorKind::Upstream,
        ErrorKind::BudgetExceeded => w::ErrorKind::BudgetExceeded,
        ErrorKind::ModelNotAllowed => w::ErrorKind::ModelNotAllowed,
        ErrorKind::Internal => w::ErrorKind::Internal,
    }
}

fn detail(d: UpstreamDetail) -> w::UpstreamDetail {
    w::UpstreamDetail {
        message: d.message,
        provider: d.provider,
        status: d.status,
        code: d.code,
        body: d.body,
        retry_after_ms: d.retry_after_ms,
        retryable: d.retryable,
        attempts: d.attempts.into_iter().map(attempt).collect(),
    }
}

pub fn error(e: GatewayError) -> w::GatewayError {
    match e {
        GatewayError::Validation(m) => w::GatewayError::Validation(m),
        GatewayError::Auth(x) => w::GatewayError::Auth(detail(x)),
        GatewayError::NotFound(x) => w::GatewayError::NotFound(detail(x)),
        GatewayError::RateLimited(x) => w::GatewayError::RateLimited(detail(x)),
        GatewayError::Timeout(t) => w::GatewayError::Timeout(w::TimeoutDetail {
            message: t.message,
            attempts: t.attempts.into_iter().map(attempt).collect(),
        }),
        GatewayError::ServiceUnavailable(x) => w::GatewayError::ServiceUnavailable(detail(x)),
        GatewayError::Upstream(x) => w::GatewayError::Upstream(detail(x)),
        GatewayError::BudgetExceeded {
            spent_micro_usd,
            budget_micro_usd,
        } => w::GatewayError::BudgetExceeded(w::BudgetDetail {
            spent_micro_usd,
            budget_micro_usd,
        }),
        GatewayError::ModelNotAllowed { provider, model } => {
            w::GatewayError::ModelNotAllowed(w::ModelRef { provider, model })
        }
        GatewayError::Internal(m) => w::GatewayError::Internal(m),
    }
}

// ---------------------------------------------------------------- input

fn tool_call_from(t: w::ToolCall) -> d::ToolCall {
    d::ToolCall {
        id: t.id,
        name: t.name,
        arguments: t.arguments,
        raw_arguments: t.raw_arguments,
    }
}

fn tool_call_to(t: d::ToolCall) -> w::ToolCall {
    w::ToolCall {
        id: t.id,
        name: t.name,
        arguments: t.arguments,
        raw_arguments: t.raw_arguments,
    }
}

fn message(m: w::Message) -> d::Message {
    d::Message {
        role: match m.role {
            w::Role::System => d::Role::System,
            w::Role::User => d::Role::User,
            w::Role::Assistant => d::Role::Assistant,
            w::Role::Tool => d::Role::Tool,
        },
        content: content(m.content),
        cache_control: cached(m.cache_control),
        tool_calls: m.tool_calls.into_iter().map(tool_call_from).collect(),
        tool_call_id: m.tool_call_id,
    }
}

pub fn input(i: w::AiInput) -> d::Input {
    match i {
        w::AiInput::Prompt(p) => d::Input::Prompt(p),
        w::AiInput::Messages(m) => d::Input::Messages(m.into_iter().map(message).collect()),
    }
}

pub fn retry(p: w::RetryPolicy) -> d::RetryPolicy {
    d::RetryPolicy {
        max_attempts: p.max_attempts,
        retry_on: p.retry_on.into_iter().map(kind_from).collect(),
        initial_backoff_ms: p.initial_backoff_ms,
        max_backoff_ms: p.max_backoff_ms,
        max_retry_after_ms: p.max_retry_after_ms,
    }
}

fn entry(e: w::FallbackEntry) -> d::FallbackEntry {
    d::FallbackEntry {
        provider: e.provider,
        model: e.model,
    }
}

pub fn entries(e: Vec<w::FallbackEntry>) -> Vec<d::FallbackEntry> {
    e.into_iter().map(entry).collect()
}

fn chain(c: w::FallbackChain) -> d::FallbackChain {
    d::FallbackChain {
        entries: entries(c.entries),
        on: c.on.into_iter().map(kind_from).collect(),
    }
}

pub fn options(o: Option<w::RunOptions>) -> d::RunOptions {
    let Some(o) = o else {
        return d::RunOptions::default();
    };
    d::RunOptions {
        provider: o.provider,
        timeout_ms: o.timeout_ms,
        response_format: o.response_format.map(|f| match f {
            w::ResponseFormat::Text => d::ResponseFormat::Text,
            w::ResponseFormat::Json => d::ResponseFormat::Json,
            w::ResponseFormat::JsonSchema(s) => {
                d::ResponseFormat::JsonSchema(d::JsonSchemaFormat {
                    name: s.name,
                    schema: s.schema,
                    strict: s.strict,
                    description: s.description,
                })
            }
        }),
        tools: o
            .tools
            .into_iter()
            .map(|t| d::ToolDefinition {
                name: t.name,
                description: t.description,
                parameters: t.parameters,
            })
            .collect(),
        tool_choice: o.tool_choice.map(|t| match t {
            w::ToolChoice::Auto => d::ToolChoice::Auto,
            w::ToolChoice::None => d::ToolChoice::None,
            w::ToolChoice::Required => d::ToolChoice::Required,
            w::ToolChoice::Named(n) => d::ToolChoice::Named(n),
        }),
        max_tokens: o.max_tokens,
        temperature: o.temperature,
        top_p: o.top_p,
        stop: o.stop,
        reasoning_effort: o.reasoning_effort.map(|r| match r {
            w::ReasoningEffort::Low => d::ReasoningEffort::Low,
            w::ReasoningEffort::Medium => d::ReasoningEffort::Medium,
            w::ReasoningEffort::High => d::ReasoningEffort::High,
        }),
        extra_body: o.extra_body,
        headers: o.headers.into(),
        retry: o.retry.map(retry),
        fallback: o.fallback.map(chain),
        cache: o.cache.map(|m| match m {
            w::CacheMode::ReadWrite => d::CacheMode::ReadWrite,
            w::CacheMode::Bypass => d::CacheMode::Bypass,
            w::CacheMode::Refresh => d::CacheMode::Refresh,
        }),
        cache_key: o.cache_key,
        caller: o.caller,
        parallel_tool_calls: o.parallel_tool_calls,
        presence_penalty: o.presence_penalty,
        frequency_penalty: o.frequency_penalty,
        logit_bias: o.logit_bias,
        seed: o.seed,
        logprobs: o.logprobs.unwrap_or(false),
        top_logprobs: o.top_logprobs,
        end_user: o.end_user,
        metadata: o.metadata,
        service_tier: o.service_tier,
        request_id: o.request_id,
    }
}

pub fn embed_options(o: Option<w::EmbedOptions>) -> d::EmbedOptions {
    o.map(|o| d::EmbedOptions {
        provider: o.provider,
        dimensions: o.dimensions,
        timeout_ms: o.timeout_ms,
    })
    .unwrap_or_default()
}

// ---------------------------------------------------------------- config

pub fn allowlist(a: Vec<wa::ProviderModels>) -> Vec<c::ProviderModels> {
    a.into_iter()
        .map(|p| c::ProviderModels {
            provider: p.provider,
            models: p
                .models
                .into_iter()
                .map(|m| match m {
                    wa::ModelMatcher::Exact(e) => c::ModelMatcher::Exact(e),
                    wa::ModelMatcher::Prefix(p) => c::ModelMatcher::Prefix(p),
                })
                .collect(),
        })
        .collect()
}

pub fn pricing(p: w::ModelPricing) -> c::ModelPricing {
    c::ModelPricing {
        model: p.model,
        input: p.input,
        output: p.output,
        cache_read: p.cache_read,
        cache_write: p.cache_write,
        reasoning: p.reasoning,
    }
}

pub fn cost_config(x: w::CostConfig) -> c::CostConfig {
    c::CostConfig {
        pricing: x.pricing.into_iter().map(pricing).collect(),
        budget_micro_usd: x.budget_micro_usd,
        bucket: x.bucket,
        key_prefix: x.key_prefix,
    }
}

pub fn router_config(r: w::RouterConfig) -> c::RouterConfig {
    c::RouterConfig {
        routes: r
            .routes
            .into_iter()
            .map(|r| c::Route {
                pattern: r.pattern,
                provider: r.provider,
            })
            .collect(),
        fallback: r.fallback,
    }
}

fn provider(p: w::ProviderConfig) -> c::ProviderConfig {
    use c::Preset as P;
    c::ProviderConfig {
        name: p.name,
        kind: match p.kind {
            w::ProviderKind::Openai => c::ProviderKind::OpenAi,
            w::ProviderKind::Anthropic => c::ProviderKind::Anthropic,
            w::ProviderKind::WorkersAi => c::ProviderKind::WorkersAi,
            w::ProviderKind::Custom => c::ProviderKind::Custom,
            w::ProviderKind::Gemini => c::ProviderKind::Gemini,
            w::ProviderKind::Vertex => c::ProviderKind::Vertex,
            w::ProviderKind::VertexAnthropic => c::ProviderKind::VertexAnthropic,
            w::ProviderKind::Bedrock => c::ProviderKind::Bedrock,
            w::ProviderKind::AzureOpenai => c::ProviderKind::AzureOpenAi,
            w::ProviderKind::Groq => c::ProviderKind::Preset(P::Groq),
            w::ProviderKind::Mistral => c::ProviderKind::Preset(P::Mistral),
            w::ProviderKind::Deepseek => c::ProviderKind::Preset(P::DeepSeek),
            w::ProviderKind::Xai => c::ProviderKind::Preset(P::Xai),
            w::ProviderKind::Openrouter => c::ProviderKind::Preset(P::OpenRouter),
            w::ProviderKind::Together => c::ProviderKind::Preset(P::Together),
            w::ProviderKind::Fireworks => c::ProviderKind::Preset(P::Fireworks),
            w::ProviderKind::Perplexity => c::ProviderKind::Preset(P::Perplexity),
            w::ProviderKind::Cerebras => c::ProviderKind::Preset(P::Cerebras),
            w::ProviderKind::Ollama => c::ProviderKind::Preset(P::Ollama),
            w::ProviderKind::Vllm => c::ProviderKind::Preset(P::Vllm),
        },
        api_key: p.api_key.map(c::ApiKey::new),
        base_url: p.base_url,
        account_id: p.account_id,
        wire_format: p.wire_format.map(|f| match f {
            w::WireFormat::Openai => c::WireFormat::OpenAi,
            w::WireFormat::Anthropic => c::WireFormat::Anthropic,
            w::WireFormat::WorkersAi => c::WireFormat::WorkersAi,
            w::WireFormat::Gemini => c::WireFormat::Gemini,
            w::WireFormat::Bedrock => c::WireFormat::Bedrock,
        }),
        api_version: p.api_version,
        headers: p.headers.into(),
        region: p.region,
        project: p.project,
        resource_name: p.resource_name,
        aws: p.aws_credentials.map(|a| c::AwsCredentials {
            access_key_id: a.access_key_id,
            secret_access_key: c::ApiKey::new(a.secret_access_key),
            session_token: a.session_token.map(c::ApiKey::new),
        }),
        key_auth: match p.key_auth {
            None | Some(w::KeyAuth::ProviderDefault) => c::KeyAuthMode::ProviderDefault,
            Some(w::KeyAuth::Bearer) => c::KeyAuthMode::Bearer,
        },
    }
}

fn level_from(l: w::LogLevel) -> d::LogLevel {
    match l {
        w::LogLevel::Debug => d::LogLevel::Debug,
        w::LogLevel::Info => d::LogLevel::Info,
        w::LogLevel::Warn => d::LogLevel::Warn,
        w::LogLevel::Error => d::LogLevel::Error,
    }
}

pub fn gateway_config(g: w::GatewayConfig) -> c::GatewayConfig {
    c::GatewayConfig {
        providers: g.providers.into_iter().map(provider).collect(),
        default_provider: g.default_provider,
        cf_gateway: g.cf_gateway.map(|cf| c::CfGatewayConfig {
            account_id: cf.account_id,
            gateway_id: cf.gateway_id,
            auth_token: cf.auth_token.map(c::ApiKey::new),
            cache_ttl: cf.cache_ttl,
            skip_cache: cf.skip_cache,
        }),
        router: g.router.map(router_config),
        retry: g.retry.map(retry),
        chains: g
            .chains
            .into_iter()
            .map(|n| c::NamedChain {
                name: n.name,
                chain: chain(n.chain),
            })
            .collect(),
        cache: g.cache.map(|x| c::CacheConfig {
            bucket: x.bucket,
            ttl_seconds: x.ttl_seconds,
            namespace: x.namespace,
            streams: x.streams,
        }),
        cost: g.cost.map(cost_config),
        rate_limits: g.rate_limits.map(|r| c::RateLimitConfig {
            bucket: r.bucket,
            limits: r
                .limits
                .into_iter()
                .map(|l| c::RateLimit {
                    name: l.name,
                    scope: match l.scope {
                        w::RateLimitScope::Global => c::RateLimitScope::Global,
                        w::RateLimitScope::Provider => c::RateLimitScope::Provider,
                        w::RateLimitScope::Model => c::RateLimitScope::Model,
                        w::RateLimitScope::Caller => c::RateLimitScope::Caller,
                    },
                    window_seconds: l.window_seconds,
                    max_requests: l.max_requests,
                    max_tokens: l.max_tokens,
                })
                .collect(),
        }),
        allowlist: g.allowlist.map(allowlist),
        logging: g.logging.map(|l| c::LoggingConfig {
            level: level_from(l.level),
            stderr: l.stderr,
            include_prompts: l.include_prompts,
        }),
        timeout_ms: g.timeout_ms,
        attempt_timeouts: g
            .attempt_timeouts
            .map(|t| c::AttemptTimeouts {
                connect_ms: t.connect_ms,
                first_byte_ms: t.first_byte_ms,
                between_bytes_ms: t.between_bytes_ms,
            })
            .unwrap_or_default(),
    }
}

// ---------------------------------------------------------------- output

pub fn usage(u: d::Usage) -> w::Usage {
    w::Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_tokens,
        cache_write_tokens: u.cache_write_tokens,
        reasoning_tokens: u.reasoning_tokens,
    }
}

pub fn usage_from(u: w::Usage) -> d::Usage {
    d::Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_tokens,
        cache_write_tokens: u.cache_write_tokens,
        reasoning_tokens: u.reasoning_tokens,
    }
}

fn finish(f: d::FinishReason) -> w::FinishReason {
    match f {
        d::FinishReason::Stop => w::FinishReason::Stop,
        d::FinishReason::Length => w::FinishReason::Length,
        d::FinishReason::ToolCalls => w::FinishReason::ToolCalls,
        d::FinishReason::ContentFilter => w::FinishReason::ContentFilter,
        d::FinishReason::Other(s) => w::FinishReason::Other(s),
    }
}

pub fn attempt(a: d::Attempt) -> w::Attempt {
    w::Attempt {
        provider: a.provider,
        model: a.model,
        status: a.status,
        duration_ms: a.duration_ms,
        error: a.error.map(kind_to),
    }
}

pub fn log_record(r: d::LogRecord) -> w::LogRecord {
    w::LogRecord {
        level: match r.level {
            d::LogLevel::Debug => w::LogLevel::Debug,
            d::LogLevel::Info => w::LogLevel::Info,
            d::LogLevel::Warn => w::LogLevel::Warn,
            d::LogLevel::Error => w::LogLevel::Error,
        },
        event: match r.event {
            d::LogEvent::Request => w::LogEvent::Request,
            d::LogEvent::Retry => w::LogEvent::Retry,
            d::LogEvent::Response => w::LogEvent::Response,
            d::LogEvent::Error => w::LogEvent::Error,
        },
        timestamp_ms: r.timestamp_ms,
        operation: r.operation,
        provider: r.provider,
        model: r.model,
        duration_ms: r.duration_ms,
        usage: r.usage.map(usage),
        cost_micro_usd: r.cost_micro_usd,
        attempts: r.attempts,
        cached: r.cached,
        error: r.error,
        prompt: r.prompt,
        request_id: r.request_id,
    }
}

pub fn output(o: d::Output) -> w::AiOutput {
    w::AiOutput {
        text: o.text,
        reasoning: o.reasoning,
        reasoning_blocks: o.reasoning_blocks.into_iter().map(reasoning_to).collect(),
        refusal: o.refusal,
        logprobs: o.logprobs.into_iter().map(logprob).collect(),
        tool_calls: o.tool_calls.into_iter().map(tool_call_to).collect(),
        usage: o.usage.map(usage),
        provider: o.provider,
        model: o.model,
        finish_reason: o.finish_reason.map(finish),
        raw: o.raw,
        cached: o.cached,
        cost_micro_usd: o.cost_micro_usd,
        attempts: o.attempts.into_iter().map(attempt).collect(),
        trace: o.trace.into_iter().map(log_record).collect(),
    }
}

pub fn event(e: d::StreamEvent) -> w::StreamEvent {
    match e {
        d::StreamEvent::Text(t) => w::StreamEvent::Text(t),
        d::StreamEvent::Reasoning(r) => w::StreamEvent::Reasoning(r),
        d::StreamEvent::ToolUse(t) => w::StreamEvent::ToolUse(tool_call_to(t)),
        d::StreamEvent::ReasoningSignature(s) => w::StreamEvent::ReasoningSignature(s),
        d::StreamEvent::ReasoningRedacted(s) => w::StreamEvent::ReasoningRedacted(s),
        d::StreamEvent::Refusal(r) => w::StreamEvent::Refusal(r),
        d::StreamEvent::Logprobs(l) => {
            w::StreamEvent::Logprobs(l.into_iter().map(logprob).collect())
        }
        d::StreamEvent::Done(x) => w::StreamEvent::Done(w::StreamDone {
            usage: x.usage.map(usage),
            finish_reason: x.finish_reason.map(finish),
            provider: x.provider,
            model: x.model,
            cached: x.cached,
            cost_micro_usd: x.cost_micro_usd,
        }),
        d::StreamEvent::Error(e) => w::StreamEvent::Error(error(e)),
    }
}

pub fn embed_output(o: d::EmbedOutput) -> w::EmbedOutput {
    w::EmbedOutput {
        embeddings: o.embeddings,
        usage: o.usage.map(usage),
        provider: o.provider,
        model: o.model,
    }
}

pub fn totals(t: cost::CostTotals) -> w::CostTotals {
    w::CostTotals {
        requests: t.requests,
        usage: usage(t.usage),
        cost_micro_usd: t.cost_micro_usd,
        by_model: t
            .by_model
            .into_iter()
            .map(|(model, m)| w::ModelTotals {
                model,
                requests: m.requests,
                usage: usage(m.usage),
                cost_micro_usd: m.cost_micro_usd,
            })
            .collect(),
    }
}

pub fn budget(b: cost::BudgetStatus) -> w::BudgetStatus {
    w::BudgetStatus {
        spent_micro_usd: b.spent_micro_usd,
        budget_micro_usd: b.budget_micro_usd,
        remaining_micro_usd: b.remaining_micro_usd,
        exceeded: b.exceeded,
    }
}

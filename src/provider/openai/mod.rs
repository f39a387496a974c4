//! OpenAI-compatible Chat Completions: OpenAI itself and every server that
//! speaks its format (Groq, Together, vLLM, Ollama, LM Studio, ...).

pub mod defaults;
mod stream;
mod wire;

pub use stream::OpenAiStream;

use super::common::{ChatCall, ProviderRequest, bad_body, caller_json, from_json, tool_schemas};
use super::openai_compat::{self, add_json_instruction};
use super::presets::{OPENAI_QUIRKS, Quirks};
use crate::config::{Endpoint, ProviderKind};
use crate::error::{GatewayError, Result};
use crate::http::join_url;
use crate::types::{
    Content, EmbedOptions, Message, Part, ReasoningEffort, ResponseFormat, Role, ToolChoice,
};
use wire::{
    ChatRequest, ReqContent, ReqFile, ReqFunction, ReqFunctionCall, ReqFunctionName, ReqImageUrl,
    ReqJsonSchema, ReqMessage, ReqPart, ReqResponseFormat, ReqTool, ReqToolCall, ReqToolChoice,
};

/// OpenAI's own API (and Azure OpenAI) rejects `max_tokens` for reasoning
/// models and wants `max_completion_tokens`; most compatible servers know
/// only `max_tokens`.
fn is_openai_itself(endpoint: &Endpoint) -> bool {
    // Azure OpenAI runs OpenAI's models and takes the same field (its
    // reasoning deployments refuse `max_tokens`).
    endpoint.kind == ProviderKind::AzureOpenAi
        || endpoint.kind == ProviderKind::OpenAi
            && (endpoint.via_cf_gateway
                || endpoint.base_url.trim_end_matches('/') == defaults::BASE_URL)
}

/// The server's differences from OpenAI's format: a preset's, else none.
fn quirks(endpoint: &Endpoint) -> Quirks {
    match endpoint.kind {
        ProviderKind::Preset(p) => p.quirks(),
        _ => OPENAI_QUIRKS,
    }
}

/// A preset's refused options, by name (`provider/presets.rs`).
fn refuse_unsupported(endpoint: &Endpoint, opts: &crate::types::RunOptions) -> Result<()> {
    let ProviderKind::Preset(p) = endpoint.kind else {
        return Ok(());
    };
    let set = |name: &str| match name {
        "parallel-tool-calls" => opts.parallel_tool_calls.is_some(),
        "presence-penalty" => opts.presence_penalty.is_some(),
        "frequency-penalty" => opts.frequency_penalty.is_some(),
        "logit-bias" => !opts.logit_bias.is_empty(),
        "seed" => opts.seed.is_some(),
        "logprobs" => opts.logprobs,
        "end-user" => opts.end_user.is_some(),
        "metadata" => !opts.metadata.is_empty(),
        "service-tier" => opts.service_tier.is_some(),
        _ => false,
    };
    let refused: Vec<(&str, bool)> = p.refused_options().iter().map(|n| (*n, set(n))).collect();
    super::common::refuse_options(&endpoint.name, endpoint.kind.name(), &refused)?;
    let q = p.quirks();
    let forced = match &opts.tool_choice {
        Some(ToolChoice::Required) if q.required_tool_choice.is_none() => Some("required"),
        Some(ToolChoice::Named(_)) if !q.named_tool_choice => Some("named"),
        _ => None,
    };
    match forced {
        Some(c) => Err(GatewayError::validation(format!(
            "tool-choice {c} is not supported by provider {:?} ({}): it cannot force a tool \
             call; use tool-choice auto or none",
            endpoint.name,
            endpoint.kind.name()
        ))),
        None => Ok(()),
    }
}

/// Where a path goes: under the base URL, or where Azure OpenAI puts it.
fn url(endpoint: &Endpoint, model: &str, path: &str) -> Result<String> {
    match endpoint.kind {
        ProviderKind::AzureOpenAi => super::azure::url(endpoint, model, path),
        _ => Ok(join_url(&endpoint.base_url, path)),
    }
}

/// The key header: Azure OpenAI's own, a bearer token for the others (or
/// as `key-auth` says).
fn auth(endpoint: &Endpoint) -> Vec<(String, String)> {
    match endpoint.kind {
        ProviderKind::AzureOpenAi => endpoint.auth_headers(super::azure::defaults::AUTH),
        _ => endpoint.auth_headers(defaults::AUTH),
    }
}

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<ProviderRequest> {
    let opts = call.options;
    refuse_unsupported(call.endpoint, opts)?;
    let q = quirks(call.endpoint);
    let mut messages = call.input.to_messages();
    add_json_instruction(&mut messages, opts.response_format.as_ref());
    let native = is_openai_itself(call.endpoint);
    let tools = tool_schemas(&opts.tools)?
        .into_iter()
        .map(|(t, schema)| ReqTool {
            kind: "function",
            function: ReqFunction {
                name: &t.name,
                description: t.description.as_deref(),
                parameters: schema,
            },
        })
        .collect::<Vec<_>>();
    let body = ChatRequest {
        model: call.model,
        messages: messages.iter().map(req_message).collect(),
        max_tokens: if native { None } else { opts.max_tokens },
        max_completion_tokens: if native { opts.max_tokens } else { None },
        temperature: opts.temperature,
        top_p: opts.top_p,
        stop: &opts.stop,
        tools,
        tool_choice: opts.tool_choice.as_ref().map(|c| tool_choice(c, &q)),
        response_format: response_format(opts.response_format.as_ref())?,
        reasoning_effort: opts.reasoning_effort.map(effort),
        parallel_tool_calls: opts.parallel_tool_calls,
        presence_penalty: opts.presence_penalty,
        frequency_penalty: opts.frequency_penalty,
        logit_bias: opts
            .logit_bias
            .iter()
            .map(|(t, b)| (t.to_string(), *b))
            .collect(),
        seed: opts.seed.filter(|_| q.seed_field == "seed"),
        random_seed: opts.seed.filter(|_| q.seed_field == "random_seed"),
        logprobs: opts.logprobs,
        top_logprobs: opts.top_logprobs,
        user: opts.end_user.as_deref(),
        metadata: opts
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        service_tier: opts.service_tier.as_deref(),
        stream: call.stream,
        stream_options: (call.stream && q.stream_options).then_some(wire::StreamOptions {
            include_usage: true,
        }),
    };
    ProviderRequest::new(
        url(call.endpoint, call.model, defaults::CHAT_PATH)?,
        auth(call.endpoint),
        &body,
    )
}

fn req_message(m: &Message) -> ReqMessage<'_> {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let content =
        if m.role == Role::Assistant && m.content.text().is_empty() && !m.tool_calls.is_empty() {
            None
        } else {
            Some(req_content(&m.content))
        };
    ReqMessage {
        role,
        content,
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| ReqToolCall {
                id: &c.id,
                kind: "function",
                function: ReqFunctionCall {
                    name: &c.name,
                    arguments: &c.arguments,
                },
            })
            .collect(),
        tool_call_id: if m.role == Role::Tool {
            m.tool_call_id.as_deref()
        } else {
            None
        },
    }
}

/// Text stays a string; images become `image_url` parts and PDFs `file`
/// parts. Reasoning blocks and prompt-caching hints have no field here
/// (the WIT documents both as hints): omitted.
fn req_content(c: &Content) -> ReqContent<'_> {
    if let Some(text) = c.plain_text() {
        return ReqContent::Text(text);
    }
    let Content::Parts(parts) = c else {
        return ReqContent::Text(c.text());
    };
    if parts
        .iter()
        .all(|p| matches!(p, Part::Text { .. } | Part::Reasoning(_)))
    {
        return ReqContent::Text(c.text());
    }
    ReqContent::Parts(
        parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text, .. } => Some(ReqPart::Text { text }),
                Part::Image { source, detail, .. } => Some(ReqPart::ImageUrl {
                    image_url: ReqImageUrl {
                        url: source.url(),
                        detail: detail.map(crate::types::ImageDetail::name),
                    },
                }),
                Part::Document {
                    document, title, ..
                } => Some(ReqPart::File {
                    file: ReqFile {
                        filename: title.as_deref(),
                        file_data: format!(
                            "data:{};base64,{}",
                            document.media_type, document.base64
                        ),
                    },
                }),
                Part::Reasoning(_) => None,
            })
            .collect(),
    )
}

fn tool_choice<'a>(c: &'a ToolChoice, q: &Quirks) -> ReqToolChoice<'a> {
    match c {
        ToolChoice::Auto => ReqToolChoice::Mode("auto"),
        ToolChoice::None => ReqToolChoice::Mode("none"),
        ToolChoice::Required => ReqToolChoice::Mode(q.required_tool_choice.unwrap_or("required")),
        ToolChoice::Named(name) => ReqToolChoice::Function {
            kind: "function",
            function: ReqFunctionName { name },
        },
    }
}

fn response_format(f: Option<&ResponseFormat>) -> Result<Option<ReqResponseFormat<'_>>> {
    Ok(match f {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::Json) => Some(ReqResponseFormat::JsonObject),
        Some(ResponseFormat::JsonSchema(s)) => Some(ReqResponseFormat::JsonSchema {
            json_schema: ReqJsonSchema {
                name: &s.name,
                description: s.description.as_deref(),
                schema: caller_json(Some(&s.schema), "response-format schema")?,
                strict: s.strict,
            },
        }),
    })
}

fn effort(e: ReasoningEffort) -> &'static str {
    match e {
        ReasoningEffort::Low => "low",
        ReasoningEffort::Medium => "medium",
        ReasoningEffort::High => "high",
    }
}

pub(crate) fn embed_request(
    endpoint: &Endpoint,
    model: &str,
    input: &[String],
    options: &EmbedOptions,
) -> Result<ProviderRequest> {
    ProviderRequest::new(
        url(endpoint, model, defaults::EMBED_PATH)?,
        auth(endpoint),
        &wire::EmbedRequest {
            model,
            input,
            encoding_format: "float",
            dimensions: options.dimensions,
        },
    )
}

pub(crate) fn parse_embed(body: &[u8]) -> Result<super::common::Embeddings> {
    let r: wire::EmbedResponse = from_json(body, "embeddings response")?;
    let mut items: Vec<(usize, Vec<f32>)> = r
        .data
        .into_iter()
        .enumerate()
        .map(|(i, d)| (d.index.unwrap_or(i), d.embedding))
        .collect();
    items.sort_by_key(|(i, _)| *i);
    // Each input exactly once: sorted, the indexes must be 0..n. (A repeated
    // or skipped index would silently pair a vector with the wrong input.)
    if let Some((_, (i, _))) = items.iter().enumerate().find(|(pos, (i, _))| pos != i) {
        return Err(bad_body(format!(
            "embeddings response has a repeated or out-of-range index {i}"
        )));
    }
    Ok((
        items.into_iter().map(|(_, e)| e).collect(),
        r.usage.as_ref().map(openai_compat::usage),
        r.model,
    ))
}

#[cfg(test)]
mod tests;

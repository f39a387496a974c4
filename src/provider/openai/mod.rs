//! OpenAI-compatible Chat Completions: OpenAI itself and every server that
//! speaks its format (Groq, Together, vLLM, Ollama, LM Studio, ...).

pub mod defaults;
mod stream;
mod wire;

pub use stream::OpenAiStream;

use super::common::{ChatCall, ProviderRequest, bad_body, caller_json, from_json};
use super::openai_compat::{self, add_json_instruction};
use crate::config::{Endpoint, ProviderKind};
use crate::error::Result;
use crate::http::join_url;
use crate::types::{
    Content, EmbedOptions, Message, Part, ReasoningEffort, ResponseFormat, Role, ToolChoice,
};
use wire::{
    ChatRequest, ReqContent, ReqFile, ReqFunction, ReqFunctionCall, ReqFunctionName, ReqImageUrl,
    ReqJsonSchema, ReqMessage, ReqPart, ReqResponseFormat, ReqTool, ReqToolCall, ReqToolChoice,
};

/// OpenAI's own API rejects `max_tokens` for reasoning models and wants
/// `max_completion_tokens`; most compatible servers know only `max_tokens`.
fn is_openai_itself(endpoint: &Endpoint) -> bool {
    endpoint.kind == ProviderKind::OpenAi
        && (endpoint.via_cf_gateway
            || endpoint.base_url.trim_end_matches('/') == defaults::BASE_URL)
}

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<ProviderRequest> {
    let opts = call.options;
    let mut messages = call.input.to_messages();
    add_json_instruction(&mut messages, opts.response_format.as_ref());
    let native = is_openai_itself(call.endpoint);
    let tools = opts
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Ok(ReqTool {
                kind: "function",
                function: ReqFunction {
                    name: &t.name,
                    description: t.description.as_deref(),
                    parameters: caller_json(
                        t.parameters.as_deref(),
                        &format!("tools[{i}].parameters"),
                    )?,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let body = ChatRequest {
        model: call.model,
        messages: messages.iter().map(req_message).collect(),
        max_tokens: if native { None } else { opts.max_tokens },
        max_completion_tokens: if native { opts.max_tokens } else { None },
        temperature: opts.temperature,
        top_p: opts.top_p,
        stop: &opts.stop,
        tools,
        tool_choice: opts.tool_choice.as_ref().map(tool_choice),
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
        seed: opts.seed,
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
        stream_options: call.stream.then_some(wire::StreamOptions {
            include_usage: true,
        }),
    };
    ProviderRequest::new(
        join_url(&call.endpoint.base_url, defaults::CHAT_PATH),
        defaults::AUTH.headers(call.endpoint.api_key.as_ref()),
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

fn tool_choice(c: &ToolChoice) -> ReqToolChoice<'_> {
    match c {
        ToolChoice::Auto => ReqToolChoice::Mode("auto"),
        ToolChoice::None => ReqToolChoice::Mode("none"),
        ToolChoice::Required => ReqToolChoice::Mode("required"),
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
        join_url(&endpoint.base_url, defaults::EMBED_PATH),
        defaults::AUTH.headers(endpoint.api_key.as_ref()),
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

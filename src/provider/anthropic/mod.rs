//! Anthropic Messages API: system hoisting, prompt-caching blocks, tool use
//! and results, JSON output through a forced tool, extended thinking.

pub mod defaults;
mod stream;
mod wire;

pub use stream::AnthropicStream;

use serde_json::json;

use super::common::{ChatCall, JSON_TOOL, ProviderRequest, caller_json, from_json, tool_schemas};
use crate::config::ProviderKind;
use crate::error::{GatewayError, Result};
use crate::http::{encode_path, join_url};
use crate::types::{
    Completion, Content, FinishReason, ImageSource, Message, Part, ReasoningBlock, ReasoningEffort,
    ResponseFormat, Role, RunOptions, ToolCall, ToolChoice, Usage,
};
use crate::validate::check_path_model;
use wire::{
    CacheControl, MessagesRequest, ReqBlock, ReqMessage, ReqMetadata, ReqSource, ReqTool,
    ReqToolChoice, System, Thinking,
};

/// The provider's name in errors.
const NAME: &str = "anthropic";

/// Options the Messages API has no field for: refused by name.
fn refuse_unsupported(provider: &str, opts: &RunOptions) -> Result<()> {
    super::common::refuse_options(
        provider,
        NAME,
        &[
            ("presence-penalty", opts.presence_penalty.is_some()),
            ("frequency-penalty", opts.frequency_penalty.is_some()),
            ("logit-bias", !opts.logit_bias.is_empty()),
            ("seed", opts.seed.is_some()),
            ("logprobs", opts.logprobs),
            ("metadata", !opts.metadata.is_empty()),
        ],
    )
}

pub(crate) fn thinking_budget(e: ReasoningEffort) -> u32 {
    match e {
        ReasoningEffort::Low => 1024,
        ReasoningEffort::Medium => 4096,
        ReasoningEffort::High => 16384,
    }
}

/// The description of the JSON-output tool when the schema has none.
const JSON_TOOL_DESCRIPTION: &str = "Give your answer as the input of this tool, as JSON.";

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<ProviderRequest> {
    let messages = call.input.to_messages();
    let body = messages_request(call, &messages)?;
    if call.endpoint.kind == ProviderKind::VertexAnthropic {
        return on_vertex(call, &body);
    }
    ProviderRequest::new(
        join_url(&call.endpoint.base_url, defaults::CHAT_PATH),
        headers(call),
        &body,
    )
}

/// The same request for Claude on Vertex AI: `models/{model}:rawPredict`
/// (or `streamRawPredict`), `model` out of the body and
/// `anthropic_version: vertex-2023-10-16` in it, a bearer token.
fn on_vertex(call: &ChatCall<'_>, body: &MessagesRequest<'_>) -> Result<ProviderRequest> {
    use crate::provider::vertex::defaults as vertex;
    check_path_model(call.model)?;
    if call.model.contains('/') {
        return Err(GatewayError::validation(format!(
            "model {:?} has a '/', which a Vertex AI model name cannot have",
            call.model
        )));
    }
    let method = if call.stream {
        vertex::STREAM_RAW_PREDICT
    } else {
        vertex::RAW_PREDICT
    };
    let mut req = ProviderRequest::new(
        join_url(
            &call.endpoint.base_url,
            &format!("models/{}:{method}", encode_path(call.model)),
        ),
        call.endpoint.auth_headers(vertex::AUTH),
        body,
    )?;
    if let Some(map) = req.body.as_object_mut() {
        map.shift_remove("model");
        map.insert(
            "anthropic_version".into(),
            serde_json::Value::String(vertex::ANTHROPIC_VERSION.into()),
        );
    }
    Ok(req)
}

/// The request that counts the input tokens of the same call: the fields
/// that make the prompt (`model`, `system`, `messages`, `tools`,
/// `tool_choice`, `thinking`), nothing about sampling or length.
pub(crate) fn count_request(call: &ChatCall<'_>) -> Result<ProviderRequest> {
    let messages = call.input.to_messages();
    let m = messages_request(call, &messages)?;
    let body = wire::CountRequest {
        model: m.model,
        system: m.system,
        messages: m.messages,
        tools: m.tools,
        tool_choice: m.tool_choice,
        thinking: m.thinking,
    };
    if call.endpoint.kind == ProviderKind::VertexAnthropic {
        // Vertex AI counts through its own `count-tokens` model; the body
        // keeps `model`.
        let mut req = ProviderRequest::new(
            join_url(&call.endpoint.base_url, "models/count-tokens:rawPredict"),
            call.endpoint
                .auth_headers(crate::provider::vertex::defaults::AUTH),
            &body,
        )?;
        if let Some(map) = req.body.as_object_mut() {
            map.insert(
                "anthropic_version".into(),
                crate::provider::vertex::defaults::ANTHROPIC_VERSION.into(),
            );
        }
        return Ok(req);
    }
    ProviderRequest::new(
        join_url(&call.endpoint.base_url, defaults::COUNT_PATH),
        headers(call),
        &body,
    )
}

/// The `extra-body` keys the counting endpoint takes (those that make the
/// prompt); the others are about sampling and length.
pub(crate) const COUNT_EXTRA_KEYS: [&str; 5] =
    ["system", "tools", "tool_choice", "thinking", "mcp_servers"];

/// `{"input_tokens": n}`.
pub(crate) fn parse_count(body: &[u8]) -> Result<u64> {
    let r: wire::CountResponse = from_json(body, "count_tokens response")?;
    Ok(r.input_tokens)
}

fn headers(call: &ChatCall<'_>) -> Vec<(String, String)> {
    let version = call.endpoint.api_version.as_deref();
    let mut headers = vec![(
        defaults::VERSION_HEADER.to_owned(),
        version.unwrap_or(defaults::API_VERSION).to_owned(),
    )];
    headers.extend(call.endpoint.auth_headers(defaults::AUTH));
    headers
}

fn messages_request<'a>(
    call: &ChatCall<'a>,
    messages: &'a [Message],
) -> Result<MessagesRequest<'a>> {
    let opts = call.options;
    if opts.tools.iter().any(|t| t.name == JSON_TOOL) {
        return Err(GatewayError::validation(format!(
            "tool name {JSON_TOOL:?} is reserved for JSON output on Anthropic"
        )));
    }
    refuse_unsupported(&call.endpoint.name, opts)?;
    let (system, rest): (Vec<&Message>, Vec<&Message>) =
        messages.iter().partition(|m| m.role == Role::System);

    let mut tools = tool_schemas(&opts.tools)?
        .into_iter()
        .map(|(t, schema)| ReqTool {
            name: &t.name,
            description: t.description.as_deref(),
            input_schema: schema,
        })
        .collect::<Vec<_>>();
    let mut tool_choice = opts.tool_choice.as_ref().map(|c| match c {
        ToolChoice::Auto => ReqToolChoice::mode("auto"),
        ToolChoice::None => ReqToolChoice::mode("none"),
        ToolChoice::Required => ReqToolChoice::mode("any"),
        ToolChoice::Named(name) => ReqToolChoice::tool(name),
    });

    let thinking = opts.reasoning_effort.map(thinking_budget);
    let json_schema = match &opts.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::Json) => Some((json!({"type": "object"}), None)),
        Some(ResponseFormat::JsonSchema(s)) => Some((
            caller_json(Some(&s.schema), "response-format schema")?,
            s.description.as_deref(),
        )),
    };
    if let Some((schema, description)) = json_schema {
        tools.push(ReqTool {
            name: JSON_TOOL,
            description: Some(description.unwrap_or(JSON_TOOL_DESCRIPTION)),
            input_schema: schema,
        });
        // Forced tool use is incompatible with extended thinking, and with
        // tools of the caller's the model must stay free to call those.
        if opts.tools.is_empty() && thinking.is_none() {
            tool_choice = Some(ReqToolChoice::tool(JSON_TOOL));
        }
    }
    if let Some(parallel) = opts.parallel_tool_calls {
        let choice = tool_choice.get_or_insert_with(|| ReqToolChoice::mode("auto"));
        if choice.kind == "none" {
            return Err(GatewayError::validation(format!(
                "provider {:?} ({NAME}) takes parallel-tool-calls only when tools may be called \
                 (tool-choice is none)",
                call.endpoint.name
            )));
        }
        choice.disable_parallel_tool_use = Some(!parallel);
    }

    let mut max_tokens = opts.max_tokens.unwrap_or(defaults::MAX_TOKENS);
    if let Some(budget) = thinking {
        max_tokens = max_tokens.max(budget.saturating_add(1024));
    }
    let body = MessagesRequest {
        model: call.model,
        max_tokens,
        system: system_field(&system),
        messages: conversation(&rest)?,
        temperature: opts.temperature,
        top_p: opts.top_p,
        stop_sequences: &opts.stop,
        tools,
        tool_choice,
        thinking: thinking.map(|budget_tokens| Thinking {
            kind: "enabled",
            budget_tokens,
        }),
        metadata: opts
            .end_user
            .as_deref()
            .map(|user_id| ReqMetadata { user_id }),
        service_tier: opts.service_tier.as_deref(),
        stream: call.stream,
    };
    Ok(body)
}

/// The prompt-caching marker of a block the caller flagged.
fn cache_control(flagged: bool) -> Option<CacheControl> {
    flagged.then_some(CacheControl::Ephemeral)
}

/// System messages hoisted into `system`: a string, or text blocks when any
/// of them asks for prompt caching.
fn system_field<'a>(system: &[&'a Message]) -> Option<System<'a>> {
    if system.is_empty() {
        return None;
    }
    let plain: Option<Vec<_>> = system
        .iter()
        .map(|m| m.content.plain_text().filter(|_| !m.cache_control))
        .collect();
    if let Some(texts) = plain {
        return Some(System::Text(texts.join("\n\n")));
    }
    let mut blocks = Vec::new();
    for m in system {
        let mut own = content_blocks(&m.content);
        mark_last(&mut own, m.cache_control);
        blocks.append(&mut own);
    }
    Some(System::Blocks(blocks))
}

/// Mark the last block that can be a prompt-caching breakpoint.
fn mark_last(blocks: &mut [ReqBlock<'_>], flagged: bool) {
    if flagged {
        for b in blocks.iter_mut().rev() {
            if b.set_cache_control(CacheControl::Ephemeral) {
                break;
            }
        }
    }
}

/// A message's content as blocks. Reasoning blocks go back with their
/// signature (or redacted data); one without (another provider's) is
/// omitted, as the WIT documents.
fn content_blocks(content: &Content) -> Vec<ReqBlock<'_>> {
    let parts = match content {
        Content::Text(t) if t.is_empty() => return Vec::new(),
        Content::Text(t) => {
            return vec![ReqBlock::Text {
                text: t,
                cache_control: None,
            }];
        }
        Content::Parts(p) => p,
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for p in parts {
        blocks.push(match p {
            Part::Text {
                text,
                cache_control: c,
            } => ReqBlock::Text {
                text,
                cache_control: cache_control(*c),
            },
            // `detail` is a hint Anthropic has no setting for.
            Part::Image {
                source,
                cache_control: c,
                ..
            } => ReqBlock::Image {
                source: image_source(source),
                cache_control: cache_control(*c),
            },
            Part::Document {
                document,
                title,
                cache_control: c,
            } => ReqBlock::Document {
                source: ReqSource::Base64 {
                    media_type: (&document.media_type).into(),
                    data: (&document.base64).into(),
                },
                title: title.as_deref(),
                cache_control: cache_control(*c),
            },
            Part::Reasoning(ReasoningBlock {
                redacted: Some(data),
                ..
            }) => ReqBlock::RedactedThinking { data },
            Part::Reasoning(ReasoningBlock {
                text,
                signature: Some(signature),
                ..
            }) => ReqBlock::Thinking {
                thinking: text,
                signature,
            },
            Part::Reasoning(_) => continue,
        });
    }
    blocks
}

/// Inline bytes (or a `data:` URL, unpacked) as base64; any other URL as
/// a URL the API fetches.
fn image_source(source: &ImageSource) -> ReqSource<'_> {
    match (source, source.inline()) {
        (ImageSource::Inline(m), _) => ReqSource::Base64 {
            media_type: (&m.media_type).into(),
            data: (&m.base64).into(),
        },
        (_, Some(m)) => {
            let m = m.into_owned();
            ReqSource::Base64 {
                media_type: m.media_type.into(),
                data: m.base64.into(),
            }
        }
        (ImageSource::Url(url), None) => ReqSource::Url { url },
    }
}

/// User/assistant/tool messages as Anthropic content blocks. Tool results
/// become `tool_result` blocks in a user turn; consecutive turns of the same
/// role are merged (parallel tool results must share one user turn).
fn conversation<'a>(messages: &[&'a Message]) -> Result<Vec<ReqMessage<'a>>> {
    let mut turns: Vec<(&'static str, Vec<ReqBlock<'a>>)> = Vec::new();
    for m in messages {
        let (role, mut blocks) = match m.role {
            Role::User | Role::System => ("user", content_blocks(&m.content)),
            Role::Assistant => {
                let mut blocks = content_blocks(&m.content);
                for c in &m.tool_calls {
                    blocks.push(ReqBlock::ToolUse {
                        id: &c.id,
                        name: &c.name,
                        input: crate::types::parse_json_object(
                            &c.arguments,
                            "tool call arguments",
                        )?,
                        cache_control: None,
                    });
                }
                ("assistant", blocks)
            }
            Role::Tool => (
                "user",
                vec![ReqBlock::ToolResult {
                    tool_use_id: m.tool_call_id.as_deref().unwrap_or_default(),
                    content: m.content.text(),
                    cache_control: None,
                }],
            ),
        };
        if blocks.is_empty() {
            // An empty user turn is refused by the API; an empty text
            // block too. Keep the turn (it may be a tool-call-only
            // assistant turn whose calls were above).
            blocks.push(ReqBlock::Text {
                text: "",
                cache_control: None,
            });
        }
        mark_last(&mut blocks, m.cache_control);
        match turns.last_mut() {
            Some((r, b)) if *r == role => b.append(&mut blocks),
            _ => turns.push((role, blocks)),
        }
    }
    Ok(turns
        .into_iter()
        .map(|(role, blocks)| {
            let content = match blocks.as_slice() {
                [
                    ReqBlock::Text {
                        text,
                        cache_control: None,
                    },
                ] => wire::Content::Text(text),
                _ => wire::Content::Blocks(blocks),
            };
            ReqMessage { role, content }
        })
        .collect())
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn usage(u: &wire::WireUsage) -> Usage {
    let write = u.cache_creation_input_tokens.unwrap_or(0);
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let output_tokens = u.output_tokens.unwrap_or(0);
    Usage {
        input_tokens: u
            .input_tokens
            .unwrap_or(0)
            .saturating_add(write)
            .saturating_add(read),
        output_tokens,
        cache_read_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: u
            .output_tokens_details
            .and_then(|d| d.thinking_tokens)
            .unwrap_or(0)
            .min(output_tokens),
    }
}

pub(crate) fn parse_chat(body: &[u8]) -> Result<Completion> {
    let r: wire::MessagesResponse = from_json(body, "messages response")?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut blocks = Vec::new();
    let mut tool_calls = Vec::new();
    let mut json_output = false;
    for block in r.content {
        match block {
            wire::RespBlock::Text { text: t } => text.push_str(&t),
            wire::RespBlock::Thinking {
                thinking,
                signature,
            } => {
                reasoning.push_str(&thinking);
                blocks.push(ReasoningBlock {
                    text: thinking,
                    signature: signature.filter(|s| !s.is_empty()),
                    redacted: None,
                });
            }
            wire::RespBlock::RedactedThinking { data } => blocks.push(ReasoningBlock {
                text: String::new(),
                signature: None,
                redacted: Some(data),
            }),
            wire::RespBlock::ToolUse { name, input, .. } if name == JSON_TOOL => {
                json_output = true;
                text = input.to_string();
            }
            wire::RespBlock::ToolUse { id, name, input } => {
                let args = if input.is_null() {
                    "{}".to_owned()
                } else {
                    input.to_string()
                };
                tool_calls.push(ToolCall::from_raw_arguments(id, name, &args));
            }
            wire::RespBlock::Other => {}
        }
    }
    let mut finish = r.stop_reason.as_deref().map(finish_reason);
    if json_output && tool_calls.is_empty() && finish == Some(FinishReason::ToolCalls) {
        finish = Some(FinishReason::Stop);
    }
    Ok(Completion {
        text,
        reasoning: (!reasoning.is_empty()).then_some(reasoning),
        reasoning_blocks: blocks,
        refusal: None,
        logprobs: Vec::new(),
        tool_calls,
        usage: r.usage.as_ref().map(usage),
        model: r.model.unwrap_or_default(),
        finish_reason: finish,
    })
}

#[cfg(test)]
mod tests;

//! Amazon Bedrock Runtime's Converse API (`model/{id}/converse`,
//! `model/{id}/converse-stream`), signed with SigV4 ([`sigv4`]) or sent
//! with a Bedrock API key. Its stream is `application/vnd.amazon.eventstream`
//! ([`eventstream`], framing; [`BedrockStream`], the events).
//!
//! What maps to what:
//! - system messages → `system` blocks; a cache hint → a `cachePoint`
//!   block after the flagged content;
//! - images → `image` blocks (inline bytes only: Converse fetches no URLs);
//!   documents → `document` blocks (`pdf`, named by their title);
//! - reasoning blocks → `reasoningContent` (`reasoningText` with its
//!   signature, or `redactedContent`), unchanged;
//! - tool calls and results → `toolUse` and `toolResult` blocks;
//! - reasoning effort → Claude's `thinking` in
//!   `additionalModelRequestFields`;
//! - a model id (`anthropic.claude-...-v1:0`, an inference profile, an
//!   ARN with `/`) is one percent-encoded path segment, so it can never
//!   change the path.

pub mod defaults;
pub mod eventstream;
pub mod sigv4;
mod stream;
mod wire;

pub use stream::BedrockStream;

use std::borrow::Cow;

use super::common::{ChatCall, ProviderRequest, bad_body, caller_json, from_json, tool_schemas};
use crate::config::Endpoint;
use crate::content::unsupported_part;
use crate::error::{GatewayError, Result};
use crate::http::{HttpRequest, encode_component, join_url};
use crate::types::{
    Completion, Content, FinishReason, Message, Part, ReasoningBlock, ResponseFormat, Role,
    RunOptions, ToolCall, ToolChoice, Usage,
};
use crate::validate::check_model;
use wire::{
    BytesSource, CachePoint, ConverseRequest, Empty, InferenceConfig, InputSchema, ReqBlock,
    ReqDocument, ReqImage, ReqMessage, ReqReasoning, ReqTool, ReqToolChoice, ReqToolResult,
    ReqToolUse, ServiceTier, ToolConfig, ToolName, ToolResultContent, ToolSpec,
};

/// Options Converse has no field for: refused by name.
fn refuse_unsupported(endpoint: &Endpoint, opts: &RunOptions) -> Result<()> {
    super::common::refuse_options(
        &endpoint.name,
        "bedrock",
        &[
            ("parallel-tool-calls", opts.parallel_tool_calls.is_some()),
            ("presence-penalty", opts.presence_penalty.is_some()),
            ("frequency-penalty", opts.frequency_penalty.is_some()),
            ("logit-bias", !opts.logit_bias.is_empty()),
            ("seed", opts.seed.is_some()),
            ("logprobs", opts.logprobs),
            ("end-user", opts.end_user.is_some()),
            ("metadata", !opts.metadata.is_empty()),
        ],
    )
}

/// A model id as one path segment: everything but RFC 3986's unreserved
/// characters is percent-encoded, `:` and `/` included.
fn model_segment(model: &str) -> Result<String> {
    check_model(model)?;
    Ok(encode_component(model))
}

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<ProviderRequest> {
    let opts = call.options;
    refuse_unsupported(call.endpoint, opts)?;
    let name = &call.endpoint.name;
    let messages = call.input.to_messages();
    let (system, rest): (Vec<&Message>, Vec<&Message>) =
        messages.iter().partition(|m| m.role == Role::System);
    let mut system_blocks = Vec::new();
    // Documents are numbered across the request: Converse wants their
    // names unique.
    let mut documents = 0usize;
    for (i, m) in system.iter().enumerate() {
        system_blocks.extend(blocks(name, &m.content, i, &mut documents)?);
        if m.cache_control {
            system_blocks.push(cache_point());
        }
    }
    let conversation = conversation(name, &rest, &mut documents)?;
    let has_tool_use = rest.iter().any(|m| !m.tool_calls.is_empty());
    let mut tools = tool_schemas(&opts.tools)?
        .into_iter()
        .map(|(t, schema)| ReqTool {
            tool_spec: ToolSpec {
                name: &t.name,
                description: t.description.as_deref(),
                input_schema: InputSchema { json: schema },
            },
        })
        .collect::<Vec<_>>();
    let mut tool_choice = match &opts.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => Some(ReqToolChoice::Auto(Empty {})),
        Some(ToolChoice::Required) => Some(ReqToolChoice::Any(Empty {})),
        Some(ToolChoice::Named(n)) => Some(ReqToolChoice::Tool(ToolName { name: n })),
        // Converse has no "none": without tools the model cannot call one;
        // a conversation that used tools must still declare them.
        Some(ToolChoice::None) if !has_tool_use => {
            tools.clear();
            None
        }
        Some(ToolChoice::None) => {
            return Err(GatewayError::validation(format!(
                "provider {name:?} (bedrock) cannot take tool-choice none in a conversation \
                 with tool calls: Converse has no such choice"
            )));
        }
    };
    // JSON output: Converse has no JSON mode; a forced tool carries it, as
    // for Anthropic (`JSON_TOOL`).
    if let Some(schema) = match &opts.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::Json) => Some(serde_json::json!({"type": "object"})),
        Some(ResponseFormat::JsonSchema(s)) => {
            Some(caller_json(Some(&s.schema), "response-format schema")?)
        }
    } {
        if opts
            .tools
            .iter()
            .any(|t| t.name == super::common::JSON_TOOL)
        {
            return Err(GatewayError::validation(format!(
                "tool name {:?} is reserved for JSON output on Bedrock",
                super::common::JSON_TOOL
            )));
        }
        tools.push(ReqTool {
            tool_spec: ToolSpec {
                name: super::common::JSON_TOOL,
                description: Some("Give your answer as the input of this tool, as JSON."),
                input_schema: InputSchema { json: schema },
            },
        });
        if opts.tools.is_empty() && opts.reasoning_effort.is_none() {
            tool_choice = Some(ReqToolChoice::Tool(ToolName {
                name: super::common::JSON_TOOL,
            }));
        }
    }
    let thinking = opts.reasoning_effort.map(|e| {
        let budget = super::anthropic::thinking_budget(e);
        serde_json::json!({"thinking": {"type": "enabled", "budget_tokens": budget}})
    });
    let body = ConverseRequest {
        messages: conversation,
        system: system_blocks,
        inference_config: InferenceConfig {
            // Claude needs room above its thinking budget, as on Anthropic's
            // own API (the WIT documents the raise); unset, Converse gives
            // the model's maximum.
            max_tokens: match (opts.max_tokens, opts.reasoning_effort) {
                (Some(m), Some(e)) => {
                    Some(m.max(super::anthropic::thinking_budget(e).saturating_add(1024)))
                }
                (m, _) => m,
            },
            temperature: opts.temperature,
            top_p: opts.top_p,
            stop_sequences: &opts.stop,
        },
        tool_config: (!tools.is_empty()).then_some(ToolConfig { tools, tool_choice }),
        additional_model_request_fields: thinking,
        service_tier: opts
            .service_tier
            .as_deref()
            .map(|kind| ServiceTier { kind }),
    };
    let action = if call.stream {
        defaults::CONVERSE_STREAM
    } else {
        defaults::CONVERSE
    };
    let url = join_url(
        &call.endpoint.base_url,
        &format!("model/{}/{action}", model_segment(call.model)?),
    );
    let headers = if call.endpoint.aws.is_some() {
        Vec::new()
    } else {
        call.endpoint.auth_headers(defaults::AUTH)
    };
    ProviderRequest::new(url, headers, &body)
}

fn cache_point<'a>() -> ReqBlock<'a> {
    ReqBlock::CachePoint(CachePoint { kind: "default" })
}

/// User, assistant and tool messages as Converse turns; tool results go
/// in a user turn, and consecutive turns of one role are merged.
fn conversation<'a>(
    provider: &str,
    messages: &[&'a Message],
    documents: &mut usize,
) -> Result<Vec<ReqMessage<'a>>> {
    let mut turns: Vec<ReqMessage<'a>> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let (role, mut content) = match m.role {
            Role::User | Role::System => ("user", blocks(provider, &m.content, i, documents)?),
            Role::Assistant => {
                let mut b = blocks(provider, &m.content, i, documents)?;
                for c in &m.tool_calls {
                    b.push(ReqBlock::ToolUse(ReqToolUse {
                        tool_use_id: &c.id,
                        name: &c.name,
                        input: crate::types::parse_json_object(
                            &c.arguments,
                            "tool call arguments",
                        )?,
                    }));
                }
                ("assistant", b)
            }
            Role::Tool => {
                let text = m.content.text();
                let content = match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(v @ serde_json::Value::Object(_)) => ToolResultContent::Json(v),
                    _ => ToolResultContent::Text(Cow::Owned(text.into_owned())),
                };
                (
                    "user",
                    vec![ReqBlock::ToolResult(ReqToolResult {
                        tool_use_id: m.tool_call_id.as_deref().unwrap_or_default(),
                        content: vec![content],
                    })],
                )
            }
        };
        if m.cache_control {
            content.push(cache_point());
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.content.append(&mut content),
            _ => turns.push(ReqMessage { role, content }),
        }
    }
    Ok(turns)
}

/// A message's content as Converse blocks.
fn blocks<'a>(
    provider: &str,
    content: &'a Content,
    at: usize,
    documents: &mut usize,
) -> Result<Vec<ReqBlock<'a>>> {
    let parts = match content {
        Content::Text(t) if t.is_empty() => return Ok(Vec::new()),
        Content::Text(t) => return Ok(vec![ReqBlock::Text(t)]),
        Content::Parts(p) => p,
    };
    let who = format!("provider {provider:?} (bedrock)");
    let mut out = Vec::with_capacity(parts.len());
    for (j, p) in parts.iter().enumerate() {
        let where_ = || format!("messages[{at}].content[{j}]");
        match p {
            Part::Text {
                text,
                cache_control,
            } => {
                out.push(ReqBlock::Text(text));
                if *cache_control {
                    out.push(cache_point());
                }
            }
            Part::Image {
                source,
                cache_control,
                ..
            } => {
                let Some(media) = source.inline() else {
                    return Err(GatewayError::validation(format!(
                        "{who} takes images as inline bytes, not URLs ({})",
                        where_()
                    )));
                };
                let format = match media.media_type.as_str() {
                    "image/png" => "png",
                    "image/jpeg" | "image/jpg" => "jpeg",
                    "image/gif" => "gif",
                    "image/webp" => "webp",
                    other => {
                        return Err(GatewayError::validation(format!(
                            "{who} does not accept images of type {other:?} ({})",
                            where_()
                        )));
                    }
                };
                let bytes = match media {
                    Cow::Borrowed(m) => Cow::Borrowed(m.base64.as_str()),
                    Cow::Owned(m) => Cow::Owned(m.base64),
                };
                out.push(ReqBlock::Image(ReqImage {
                    format,
                    source: BytesSource { bytes },
                }));
                if *cache_control {
                    out.push(cache_point());
                }
            }
            Part::Document {
                document,
                title,
                cache_control,
            } => {
                if document.media_type != "application/pdf" {
                    return Err(unsupported_part(&who, &where_(), p));
                }
                *documents += 1;
                let name = document_name(title.as_deref(), *documents);
                out.push(ReqBlock::Document(ReqDocument {
                    format: "pdf",
                    name,
                    source: BytesSource {
                        bytes: Cow::Borrowed(&document.base64),
                    },
                }));
                if *cache_control {
                    out.push(cache_point());
                }
            }
            Part::Reasoning(ReasoningBlock {
                redacted: Some(data),
                ..
            }) => out.push(ReqBlock::ReasoningContent(ReqReasoning::RedactedContent(
                data,
            ))),
            Part::Reasoning(ReasoningBlock {
                text,
                signature: Some(signature),
                ..
            }) => out.push(ReqBlock::ReasoningContent(ReqReasoning::ReasoningText {
                text,
                signature: Some(signature),
            })),
            // Without a signature the block is another provider's: a hint.
            Part::Reasoning(_) => {}
        }
    }
    Ok(out)
}

/// A document block's name, which Converse requires and restricts: letters,
/// digits, single spaces, `-`, `(`, `)`, `[`, `]`, at most 200 characters.
/// The title with every other character made a space (`report.pdf` is
/// `report pdf`), or `document-{n}` without a usable title.
fn document_name(title: Option<&str>, n: usize) -> Cow<'_, str> {
    let Some(title) = title else {
        return Cow::Owned(format!("document-{n}"));
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || "-()[]".contains(c);
    if title.len() <= 200 && title.split(' ').all(|w| !w.is_empty() && w.chars().all(ok)) {
        return Cow::Borrowed(title);
    }
    let cleaned: String = title
        .chars()
        .map(|c| if ok(c) { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let cut: String = cleaned.chars().take(200).collect();
    match cut.trim() {
        "" => Cow::Owned(format!("document-{n}")),
        t => Cow::Owned(t.to_owned()),
    }
}

/// Parse a `converse` response.
pub(crate) fn parse_chat(body: &[u8]) -> Result<Completion> {
    let r: wire::ConverseResponse = from_json(body, "converse response")?;
    let Some(message) = r.output.and_then(|o| o.message) else {
        return Err(bad_body("converse response has no output message".into()));
    };
    let mut out = Completion {
        usage: r.usage.as_ref().map(usage),
        ..Completion::default()
    };
    let mut reasoning = String::new();
    let mut json_output = false;
    for b in message.content {
        if let Some(t) = b.text {
            out.text.push_str(&t);
        }
        if let Some(t) = b.tool_use {
            let args = t
                .input
                .filter(serde_json::Value::is_object)
                .map_or_else(|| "{}".to_owned(), |v| v.to_string());
            if t.name == super::common::JSON_TOOL {
                json_output = true;
                out.text.push_str(&args);
            } else {
                out.tool_calls.push(ToolCall {
                    id: t.tool_use_id,
                    name: t.name,
                    arguments: args,
                    raw_arguments: None,
                });
            }
        }
        if let Some(rc) = b.reasoning_content {
            if let Some(rt) = rc.reasoning_text {
                reasoning.push_str(&rt.text);
                out.reasoning_blocks.push(ReasoningBlock {
                    text: rt.text,
                    signature: rt.signature,
                    redacted: None,
                });
            }
            if let Some(data) = rc.redacted_content {
                out.reasoning_blocks.push(ReasoningBlock {
                    redacted: Some(data),
                    ..ReasoningBlock::default()
                });
            }
        }
    }
    if !reasoning.is_empty() {
        out.reasoning = Some(reasoning);
    }
    out.finish_reason = r
        .stop_reason
        .as_deref()
        .map(|s| finish_reason(s, json_output && out.tool_calls.is_empty()));
    Ok(out)
}

/// Converse stop reasons. A forced JSON-output tool is `stop`, not
/// `tool-calls`.
fn finish_reason(r: &str, json_output: bool) -> FinishReason {
    match r {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "tool_use" if json_output => FinishReason::Stop,
        "tool_use" => FinishReason::ToolCalls,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// `inputTokens` excludes the cache; the gateway's input count includes it.
fn usage(u: &wire::WireUsage) -> Usage {
    Usage {
        input_tokens: u
            .input_tokens
            .saturating_add(u.cache_read_input_tokens)
            .saturating_add(u.cache_write_input_tokens),
        output_tokens: u.output_tokens,
        cache_read_tokens: u.cache_read_input_tokens,
        cache_write_tokens: u.cache_write_input_tokens,
        reasoning_tokens: 0,
    }
}

/// `req` signed for `endpoint` when it signs with AWS credentials (SigV4,
/// at `now_ms`); `None` when nothing is to sign. Signing happens as the
/// request is sent, so every attempt carries a fresh date.
pub fn signed(endpoint: &Endpoint, req: &HttpRequest, now_ms: u64) -> Result<Option<HttpRequest>> {
    let Some(aws) = endpoint.aws.as_ref() else {
        return Ok(None);
    };
    let region = endpoint.region.as_deref().unwrap_or_default();
    let creds = sigv4::AwsCredentials {
        access_key_id: aws.access_key_id.clone(),
        secret_access_key: aws.secret_access_key.expose().to_owned(),
        session_token: aws.session_token.as_ref().map(|t| t.expose().to_owned()),
    };
    // Through Cloudflare AI Gateway the request is signed for Amazon's own
    // URL (Cloudflare forwards it there); its `cf-aig-*` headers are
    // Cloudflare's and stay out of the signature.
    let amazon_url = match req.url.strip_prefix(&endpoint.base_url) {
        Some(path) if endpoint.via_cf_gateway => {
            join_url(&defaults::BASE_URL.replace("{region}", region), path)
        }
        _ => req.url.clone(),
    };
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| !k.starts_with("cf-aig-"))
        .cloned()
        .collect();
    let added = sigv4::sign(
        &sigv4::SignRequest {
            method: "POST",
            url: &amazon_url,
            headers: &headers,
            body: &req.body,
            region,
            service: defaults::SERVICE,
            unix_seconds: now_ms / 1000,
        },
        &creds,
    )
    .map_err(|e| GatewayError::validation(format!("provider {:?}: {e}", endpoint.name)))?;
    let mut out = req.clone();
    for h in added {
        out.headers.push(h);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests;

//! The Gemini API (`generateContent`, `streamGenerateContent?alt=sse`,
//! `batchEmbedContents`), also spoken by Gemini models on Vertex AI (the
//! `vertex` kind; only the base URL and the key differ).
//!
//! What maps to what:
//! - system messages → `systemInstruction`; assistant → role `model`; a
//!   tool result → a `functionResponse` part in a user turn, named after
//!   the call it answers (Gemini matches results by name);
//! - images → `inlineData` (inline or `data:` URL) or `fileData` (a URL);
//!   documents → `inlineData` (`application/pdf`);
//! - reasoning blocks → `thought: true` parts with their
//!   `thoughtSignature`; a block with a signature and no text is a
//!   signature Gemini put on a function call or the answer's text, and goes
//!   back on the first function call of the turn (else its last text);
//! - JSON output → `responseMimeType: application/json` and
//!   `responseJsonSchema`; tool choice → `toolConfig` modes `AUTO`, `ANY`
//!   (with `allowedFunctionNames` for a named tool), `NONE`;
//! - reasoning effort → `thinkingConfig.thinkingBudget` (with
//!   `includeThoughts`).

pub mod defaults;
mod stream;
mod wire;

pub use stream::GeminiStream;

use std::borrow::Cow;

use super::common::{
    ChatCall, Embeddings, ProviderRequest, bad_body, caller_json, from_json, tool_schemas,
};
use crate::config::Endpoint;
use crate::error::{GatewayError, Result};
use crate::http::{encode_path, join_url};
use crate::types::{
    Completion, Content, EmbedOptions, FinishReason, ImageSource, Message, Part, ReasoningBlock,
    ResponseFormat, Role, RunOptions, TokenLogprob, ToolCall, ToolChoice, TopLogprob, Usage,
};
use crate::validate::check_path_model;
use wire::{
    BatchEmbedRequest, Blob, EmbedRequest, FileData, FunctionCallingConfig, FunctionDeclaration,
    GenerateRequest, GenerationConfig, ReqContent, ReqFunctionCall, ReqFunctionResponse, ReqPart,
    ReqTools, ThinkingConfig, ToolConfig,
};

/// Options the Gemini API has no field for: refused by name.
fn refuse_unsupported(endpoint: &Endpoint, opts: &RunOptions) -> Result<()> {
    super::common::refuse_options(
        &endpoint.name,
        endpoint.kind.name(),
        &[
            ("parallel-tool-calls", opts.parallel_tool_calls.is_some()),
            ("logit-bias", !opts.logit_bias.is_empty()),
            ("end-user", opts.end_user.is_some()),
            ("metadata", !opts.metadata.is_empty()),
            ("service-tier", opts.service_tier.is_some()),
        ],
    )
}

/// `{base}/models/{model}:{method}`. The model is one path segment: the
/// characters model names use, and never `/` (which would leave
/// `models/`).
fn model_url(endpoint: &Endpoint, model: &str, method: &str) -> Result<String> {
    check_path_model(model)?;
    let model = model.strip_prefix("models/").unwrap_or(model);
    if model.contains('/') {
        return Err(GatewayError::validation(format!(
            "model {model:?} has a '/', which a Gemini model name cannot have"
        )));
    }
    Ok(join_url(
        &endpoint.base_url,
        &format!("models/{}:{method}", encode_path(model)),
    ))
}

/// The auth header: `x-goog-api-key` for the Gemini API, a bearer token
/// for Vertex AI.
fn auth(endpoint: &Endpoint) -> Vec<(String, String)> {
    let default = match endpoint.kind {
        crate::config::ProviderKind::Vertex => super::vertex::defaults::AUTH,
        _ => defaults::AUTH,
    };
    endpoint.auth_headers(default)
}

/// Thinking budget per effort, as Gemini 2.5's documentation gives them.
fn thinking_budget(e: crate::types::ReasoningEffort) -> u32 {
    use crate::types::ReasoningEffort as E;
    match e {
        E::Low => 1024,
        E::Medium => 8192,
        E::High => 24576,
    }
}

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<ProviderRequest> {
    let opts = call.options;
    refuse_unsupported(call.endpoint, opts)?;
    let vertex = call.endpoint.kind == crate::config::ProviderKind::Vertex;
    let messages = call.input.to_messages();
    let (system, rest): (Vec<&Message>, Vec<&Message>) =
        messages.iter().partition(|m| m.role == Role::System);
    let system_instruction = if system.is_empty() {
        None
    } else {
        let mut parts = Vec::new();
        for m in &system {
            parts.extend(parts_of(&m.content, vertex)?);
        }
        Some(ReqContent { role: None, parts })
    };
    let contents = conversation(&rest, vertex)?;
    let tools = if opts.tools.is_empty() {
        Vec::new()
    } else {
        let declarations = tool_schemas(&opts.tools)?
            .into_iter()
            .map(|(t, schema)| FunctionDeclaration {
                name: &t.name,
                description: t.description.as_deref(),
                parameters: schema,
            })
            .collect::<Vec<_>>();
        vec![ReqTools {
            function_declarations: declarations,
        }]
    };
    let tool_config = opts.tool_choice.as_ref().map(|c| {
        let (mode, allowed) = match c {
            ToolChoice::Auto => ("AUTO", Vec::new()),
            ToolChoice::None => ("NONE", Vec::new()),
            ToolChoice::Required => ("ANY", Vec::new()),
            ToolChoice::Named(n) => ("ANY", vec![n.as_str()]),
        };
        ToolConfig {
            function_calling_config: FunctionCallingConfig {
                mode,
                allowed_function_names: allowed,
            },
        }
    });
    let (response_mime_type, response_json_schema) = match &opts.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::Json) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema(s)) => (
            Some("application/json"),
            Some(caller_json(Some(&s.schema), "response-format schema")?),
        ),
    };
    let body = GenerateRequest {
        contents,
        system_instruction,
        tools,
        tool_config,
        generation_config: GenerationConfig {
            max_output_tokens: opts.max_tokens,
            temperature: opts.temperature,
            top_p: opts.top_p,
            stop_sequences: &opts.stop,
            presence_penalty: opts.presence_penalty,
            frequency_penalty: opts.frequency_penalty,
            seed: opts.seed,
            response_mime_type,
            response_json_schema,
            response_logprobs: opts.logprobs.then_some(true),
            logprobs: opts.top_logprobs,
            thinking_config: opts.reasoning_effort.map(|e| ThinkingConfig {
                thinking_budget: thinking_budget(e),
                include_thoughts: true,
            }),
        },
    };
    let method = if call.stream {
        defaults::STREAM
    } else {
        defaults::GENERATE
    };
    ProviderRequest::new(
        model_url(call.endpoint, call.model, method)?,
        auth(call.endpoint),
        &body,
    )
}

/// User, assistant and tool messages as Gemini turns. A tool result is a
/// `functionResponse` named after the call it answers (found in an earlier
/// assistant turn by id); consecutive turns of one role are merged, so
/// parallel results share one turn, as Gemini expects.
fn conversation<'a>(messages: &[&'a Message], vertex: bool) -> Result<Vec<ReqContent<'a>>> {
    let mut turns: Vec<ReqContent<'a>> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let (role, parts) = match m.role {
            Role::User | Role::System => ("user", parts_of(&m.content, vertex)?),
            Role::Assistant => ("model", model_parts(m, vertex)?),
            Role::Tool => ("user", vec![tool_result(messages, i, m)?]),
        };
        match turns.last_mut() {
            Some(last) if last.role == Some(role) => last.parts.extend(parts),
            _ => turns.push(ReqContent {
                role: Some(role),
                parts,
            }),
        }
    }
    Ok(turns)
}

/// A tool message as a `functionResponse`: its JSON object as it is, any
/// other text as `{"result": text}`, the shape Google's documentation uses.
fn tool_result<'a>(messages: &[&'a Message], at: usize, m: &'a Message) -> Result<ReqPart<'a>> {
    let id = m.tool_call_id.as_deref().unwrap_or_default();
    let name = messages
        .get(..at)
        .unwrap_or_default()
        .iter()
        .rev()
        .flat_map(|m| m.tool_calls.iter())
        .find(|c| c.id == id)
        .map(|c| c.name.as_str())
        .ok_or_else(|| {
            GatewayError::validation(format!(
                "messages[{at}] answers tool call {id:?}, which no earlier assistant message \
                 made: Gemini needs the tool's name"
            ))
        })?;
    let text = m.content.text();
    let response = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => serde_json::json!({ "result": text }),
    };
    Ok(ReqPart {
        function_response: Some(ReqFunctionResponse { name, response }),
        ..ReqPart::default()
    })
}

/// An assistant turn: its thoughts, text and function calls, with the
/// signatures Gemini gave them. In a turn with function calls Gemini signs
/// the first call; a stream delivers that signature after the thoughts, so
/// it may come back joined to a thought block: the turn's first signature
/// goes on the first call, whichever block holds it. Without calls a
/// signature stays on its thought, and a loose one goes on the last text.
fn model_parts<'a>(m: &'a Message, vertex: bool) -> Result<Vec<ReqPart<'a>>> {
    let mut calls = m
        .tool_calls
        .iter()
        .map(|c| {
            let args = crate::types::parse_json_object(&c.arguments, "tool call arguments")?;
            Ok(ReqPart {
                function_call: Some(ReqFunctionCall {
                    name: &c.name,
                    args,
                }),
                ..ReqPart::default()
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let has_calls = !calls.is_empty();
    let mut parts = Vec::new();
    let mut moved_signature: Option<&'a str> = None;
    let mut rest = Vec::new();
    let content_parts: &'a [Part] = match &m.content {
        Content::Parts(ps) => ps,
        Content::Text(_) => &[],
    };
    for p in content_parts {
        match p {
            // Another provider's redacted block: a hint.
            Part::Reasoning(ReasoningBlock {
                redacted: Some(_), ..
            }) => {}
            Part::Reasoning(b) => {
                let keep_here = !has_calls && !b.text.is_empty();
                if !keep_here && moved_signature.is_none() {
                    moved_signature = b.signature.as_deref();
                }
                if !b.text.is_empty() {
                    parts.push(ReqPart {
                        text: Some(&b.text),
                        thought: true,
                        thought_signature: b.signature.as_deref().filter(|_| keep_here),
                        ..ReqPart::default()
                    });
                }
            }
            other => rest.push(other),
        }
    }
    let mut content = match &m.content {
        Content::Text(t) if t.is_empty() => Vec::new(),
        Content::Text(t) => vec![ReqPart {
            text: Some(t),
            ..ReqPart::default()
        }],
        Content::Parts(_) => rest
            .into_iter()
            .map(|p| part(p, vertex))
            .collect::<Result<_>>()?,
    };
    if let Some(sig) = moved_signature {
        match calls.first_mut().or(content.last_mut()) {
            Some(p) => p.thought_signature = Some(sig),
            None => parts.push(ReqPart {
                text: Some(""),
                thought_signature: Some(sig),
                ..ReqPart::default()
            }),
        }
    }
    parts.append(&mut content);
    parts.append(&mut calls);
    Ok(parts)
}

/// A user (or system) message's parts.
fn parts_of(content: &Content, vertex: bool) -> Result<Vec<ReqPart<'_>>> {
    match content {
        Content::Text(t) => Ok(vec![ReqPart {
            text: Some(t),
            ..ReqPart::default()
        }]),
        Content::Parts(ps) => ps
            .iter()
            .filter(|p| !matches!(p, Part::Reasoning(_)))
            .map(|p| part(p, vertex))
            .collect(),
    }
}

/// One content part. Cache hints are hints: Gemini caches implicitly.
fn part(p: &Part, vertex: bool) -> Result<ReqPart<'_>> {
    Ok(match p {
        Part::Text { text, .. } => ReqPart {
            text: Some(text),
            ..ReqPart::default()
        },
        Part::Image { source, .. } => match (source, source.inline()) {
            (ImageSource::Inline(m), _) => ReqPart {
                inline_data: Some(Blob {
                    mime_type: Cow::Borrowed(&m.media_type),
                    data: Cow::Borrowed(&m.base64),
                }),
                ..ReqPart::default()
            },
            (_, Some(m)) => {
                let m = m.into_owned();
                ReqPart {
                    inline_data: Some(Blob {
                        mime_type: Cow::Owned(m.media_type),
                        data: Cow::Owned(m.base64),
                    }),
                    ..ReqPart::default()
                }
            }
            (ImageSource::Url(url), None) => {
                let mime_type = media_type_of(url);
                if mime_type.is_none() && vertex {
                    return Err(GatewayError::validation(format!(
                        "Vertex AI needs an image URL's media type, and {url:?} does not end in \
                         .png, .jpg, .jpeg, .gif or .webp: send the image inline"
                    )));
                }
                ReqPart {
                    file_data: Some(FileData {
                        mime_type,
                        file_uri: url,
                    }),
                    ..ReqPart::default()
                }
            }
        },
        Part::Document { document, .. } => ReqPart {
            inline_data: Some(Blob {
                mime_type: Cow::Borrowed(&document.media_type),
                data: Cow::Borrowed(&document.base64),
            }),
            ..ReqPart::default()
        },
        Part::Reasoning(_) => ReqPart::default(),
    })
}

/// An image URL's media type, from its extension.
fn media_type_of(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// Parse a `generateContent` response (or one stream chunk's worth).
pub(crate) fn parse_chat(body: &[u8]) -> Result<Completion> {
    let r: wire::GenerateResponse = from_json(body, "generateContent response")?;
    let model = r.model_version.clone().unwrap_or_default();
    let usage = r.usage_metadata.as_ref().map(usage);
    let Some(c) = r.candidates.into_iter().next() else {
        // No candidate: the prompt itself was blocked.
        return match r.prompt_feedback.and_then(|f| f.block_reason) {
            Some(reason) => Ok(Completion {
                refusal: Some(format!("the prompt was blocked ({reason})")),
                usage,
                model,
                finish_reason: Some(FinishReason::ContentFilter),
                ..Completion::default()
            }),
            None => Err(bad_body(
                "generateContent response has no candidates".into(),
            )),
        };
    };
    let mut out = Completion {
        usage,
        model,
        ..Completion::default()
    };
    let mut reasoning = String::new();
    for (i, p) in c
        .content
        .map(|c| c.parts)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        match (p.function_call, p.thought) {
            (Some(f), _) => {
                if let Some(s) = p.thought_signature {
                    out.reasoning_blocks.push(ReasoningBlock {
                        signature: Some(s),
                        ..ReasoningBlock::default()
                    });
                }
                out.tool_calls.push(tool_call(f, i));
            }
            (None, true) => {
                let text = p.text.unwrap_or_default();
                reasoning.push_str(&text);
                out.reasoning_blocks.push(ReasoningBlock {
                    text,
                    signature: p.thought_signature,
                    redacted: None,
                });
            }
            (None, false) => {
                out.text.push_str(p.text.as_deref().unwrap_or_default());
                if let Some(s) = p.thought_signature {
                    out.reasoning_blocks.push(ReasoningBlock {
                        signature: Some(s),
                        ..ReasoningBlock::default()
                    });
                }
            }
        }
    }
    if !reasoning.is_empty() {
        out.reasoning = Some(reasoning);
    }
    out.logprobs = c.logprobs_result.map(logprobs).unwrap_or_default();
    out.finish_reason = c
        .finish_reason
        .as_deref()
        .map(|r| finish_reason(r, !out.tool_calls.is_empty()));
    Ok(out)
}

fn tool_call(f: wire::RespFunctionCall, i: usize) -> ToolCall {
    let args = f
        .args
        .filter(serde_json::Value::is_object)
        .map_or_else(|| "{}".to_owned(), |a| a.to_string());
    ToolCall {
        id: f
            .id
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| super::common::generated_call_id(i)),
        name: f.name,
        arguments: args,
        raw_arguments: None,
    }
}

fn logprobs(r: wire::LogprobsResult) -> Vec<TokenLogprob> {
    let mut tops = r.top_candidates.into_iter();
    r.chosen_candidates
        .into_iter()
        .map(|c| TokenLogprob {
            token: c.token,
            logprob: c.log_probability,
            bytes: None,
            top: tops
                .next()
                .map(|t| {
                    t.candidates
                        .into_iter()
                        .map(|t| TopLogprob {
                            token: t.token,
                            logprob: t.log_probability,
                            bytes: None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Gemini's finish reasons. `STOP` with function calls is `tool-calls`;
/// the safety family (`SAFETY`, `RECITATION`, `BLOCKLIST`,
/// `PROHIBITED_CONTENT`, `SPII`, `IMAGE_SAFETY`) is `content-filter`.
fn finish_reason(r: &str, has_calls: bool) -> FinishReason {
    match r {
        "STOP" if has_calls => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        other => FinishReason::Other(other.to_ascii_lowercase()),
    }
}

/// `promptTokenCount` includes cached tokens; output is the candidates'
/// tokens plus the thoughts'.
fn usage(u: &wire::UsageMetadata) -> Usage {
    let output = u
        .candidates_token_count
        .saturating_add(u.thoughts_token_count);
    Usage {
        input_tokens: u
            .prompt_token_count
            .saturating_add(u.tool_use_prompt_token_count),
        output_tokens: output,
        cache_read_tokens: u.cached_content_token_count.min(u.prompt_token_count),
        cache_write_tokens: 0,
        reasoning_tokens: u.thoughts_token_count,
    }
}

/// `batchEmbedContents`: one request per input, in order.
pub(crate) fn embed_request(
    endpoint: &Endpoint,
    model: &str,
    input: &[String],
    options: &EmbedOptions,
) -> Result<ProviderRequest> {
    let url = model_url(endpoint, model, defaults::EMBED)?;
    let name = format!("models/{}", model.strip_prefix("models/").unwrap_or(model));
    let body = BatchEmbedRequest {
        requests: input
            .iter()
            .map(|t| EmbedRequest {
                model: name.clone(),
                content: ReqContent {
                    role: None,
                    parts: vec![ReqPart {
                        text: Some(t),
                        ..ReqPart::default()
                    }],
                },
                output_dimensionality: options.dimensions,
            })
            .collect(),
    };
    ProviderRequest::new(url, auth(endpoint), &body)
}

/// `{"embeddings": [{"values": [...]}]}`; the API reports no usage.
pub(crate) fn parse_embed(body: &[u8]) -> Result<Embeddings> {
    let r: wire::BatchEmbedResponse = from_json(body, "batchEmbedContents response")?;
    Ok((
        r.embeddings.into_iter().map(|e| e.values).collect(),
        None,
        None,
    ))
}

#[cfg(test)]
mod tests;

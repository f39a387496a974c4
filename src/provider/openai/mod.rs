//! OpenAI-compatible Chat Completions: OpenAI itself and every server that
//! speaks its format (Groq, Together, vLLM, Ollama, LM Studio, ...).

mod wire;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::common::{ChatCall, StreamDecoder, bad_body, caller_json, from_json, generated_call_id};
use super::error_map::map_stream_error;
use crate::config::{Endpoint, OPENAI_BASE, ProviderKind};
use crate::engine::retry;
use crate::error::Result;
use crate::http::join_url;
use crate::sse::SseEvent;
use crate::types::{
    Completion, EmbedOptions, FinishReason, Message, ReasoningEffort, ResponseFormat, Role,
    StreamDone, StreamEvent, ToolCall, ToolChoice, Usage,
};
use wire::{ChatRequest, ReqFunction, ReqFunctionCall, ReqMessage, ReqTool, ReqToolCall};

type Built = (String, Vec<(String, String)>, Value);

/// The system message added in JSON mode when no message mentions JSON
/// (OpenAI rejects `json_object` otherwise).
pub(crate) const JSON_INSTRUCTION: &str = "Respond only with a valid JSON object.";

pub(crate) fn auth_headers(endpoint: &Endpoint) -> Vec<(String, String)> {
    endpoint
        .api_key
        .as_ref()
        .map(|k| vec![("authorization".to_owned(), format!("Bearer {}", k.expose()))])
        .unwrap_or_default()
}

/// OpenAI's own API rejects `max_tokens` for reasoning models and wants
/// `max_completion_tokens`; most compatible servers know only `max_tokens`.
fn is_openai_itself(endpoint: &Endpoint) -> bool {
    endpoint.kind == ProviderKind::OpenAi
        && (endpoint.via_cf_gateway || endpoint.base_url.trim_end_matches('/') == OPENAI_BASE)
}

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<Built> {
    let opts = call.options;
    let mut messages = call.input.to_messages();
    if matches!(opts.response_format, Some(ResponseFormat::Json)) && !mentions_json(&messages) {
        messages.insert(0, Message::new(Role::System, JSON_INSTRUCTION));
    }
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
        stream: call.stream,
        stream_options: call.stream.then_some(wire::StreamOptions {
            include_usage: true,
        }),
    };
    let body = serde_json::to_value(&body)
        .map_err(|e| crate::error::GatewayError::internal(e.to_string()))?;
    Ok((
        join_url(&call.endpoint.base_url, "chat/completions"),
        auth_headers(call.endpoint),
        body,
    ))
}

pub(crate) fn mentions_json(messages: &[Message]) -> bool {
    messages
        .iter()
        .any(|m| m.content.to_ascii_lowercase().contains("json"))
}

fn req_message(m: &Message) -> ReqMessage<'_> {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let content = if m.role == Role::Assistant && m.content.is_empty() && !m.tool_calls.is_empty() {
        None
    } else {
        Some(m.content.as_str())
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

pub(crate) fn tool_choice(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::None => json!("none"),
        ToolChoice::Required => json!("required"),
        ToolChoice::Named(n) => json!({"type": "function", "function": {"name": n}}),
    }
}

fn response_format(f: Option<&ResponseFormat>) -> Result<Option<Value>> {
    Ok(match f {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::Json) => Some(json!({"type": "json_object"})),
        Some(ResponseFormat::JsonSchema(s)) => {
            let mut js = serde_json::Map::new();
            js.insert("name".into(), json!(s.name));
            if let Some(d) = &s.description {
                js.insert("description".into(), json!(d));
            }
            js.insert(
                "schema".into(),
                caller_json(Some(&s.schema), "response-format schema")?,
            );
            js.insert("strict".into(), json!(s.strict));
            Some(json!({"type": "json_schema", "json_schema": js}))
        }
    })
}

fn effort(e: ReasoningEffort) -> &'static str {
    match e {
        ReasoningEffort::Low => "low",
        ReasoningEffort::Medium => "medium",
        ReasoningEffort::High => "high",
    }
}

pub(crate) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn usage(u: &wire::WireUsage) -> Usage {
    let output_tokens = u.completion_tokens.unwrap_or(0);
    Usage {
        input_tokens: u.prompt_tokens.unwrap_or(0),
        output_tokens,
        cache_read_tokens: u
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0),
        cache_write_tokens: 0,
        reasoning_tokens: u
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
            // A subset of the output tokens, whatever a server claims.
            .min(output_tokens),
    }
}

/// Text of a message `content`: a string, or the text parts of an array.
fn content_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .concat(),
        _ => String::new(),
    }
}

fn arguments_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn parse_chat(body: &[u8]) -> Result<Completion> {
    let r: wire::ChatResponse = from_json(body, "chat completion")?;
    completion_from(r)
}

/// Parse an already-decoded chat completion object (Workers AI returns this
/// shape for some models inside `result`).
pub(crate) fn parse_chat_value(v: Value) -> Result<Completion> {
    let r: wire::ChatResponse = serde_json::from_value(v)
        .map_err(|e| bad_body(format!("chat completion has an unexpected shape: {e}")))?;
    completion_from(r)
}

fn completion_from(r: wire::ChatResponse) -> Result<Completion> {
    let choice = r
        .choices
        .into_iter()
        .find(|c| c.index.unwrap_or(0) == 0)
        .ok_or_else(|| bad_body("chat completion has no choices".into()))?;
    let msg = match (choice.message, choice.text) {
        (Some(m), _) => m,
        // A text-completion choice (`object: text_completion`), which some
        // Workers AI models return: its text is `text`, not a message.
        (None, Some(text)) => wire::RespMessage {
            content: Some(Value::String(text)),
            ..wire::RespMessage::default()
        },
        (None, None) => {
            return Err(bad_body("chat completion choice has no message".into()));
        }
    };
    let mut text = content_text(msg.content.as_ref());
    let mut finish = choice.finish_reason.as_deref().map(finish_reason);
    if let Some(refusal) = msg.refusal.filter(|r| !r.is_empty()) {
        if text.is_empty() {
            text = refusal;
        }
        finish = Some(FinishReason::ContentFilter);
    }
    let tool_calls = msg
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let f = c.function;
            let name = f.as_ref().and_then(|f| f.name.clone()).unwrap_or_default();
            let args = arguments_text(f.as_ref().and_then(|f| f.arguments.as_ref()));
            let id =
                c.id.filter(|id| !id.is_empty())
                    .unwrap_or_else(|| generated_call_id(i));
            ToolCall::from_raw_arguments(id, name, &args)
        })
        .collect();
    Ok(Completion {
        text,
        reasoning: msg
            .reasoning_content
            .or(msg.reasoning)
            .filter(|r| !r.is_empty()),
        tool_calls,
        usage: r.usage.as_ref().map(usage),
        model: r.model.unwrap_or_default(),
        finish_reason: finish,
    })
}

pub(crate) fn embed_request(
    endpoint: &Endpoint,
    model: &str,
    input: &[String],
    options: &EmbedOptions,
) -> Built {
    let body = json!(wire::EmbedRequest {
        model,
        input,
        encoding_format: "float",
        dimensions: options.dimensions,
    });
    (
        join_url(&endpoint.base_url, "embeddings"),
        auth_headers(endpoint),
        body,
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
        r.usage.as_ref().map(usage),
        r.model,
    ))
}

// ---------------------------------------------------------------- streaming

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Decoder state for one OpenAI-compatible stream. Follows choice 0 only
/// (the gateway never asks for `n > 1`); tool-call deltas are assembled by
/// `index` and emitted, in index order, when the choice finishes.
#[derive(Debug)]
pub struct StreamState {
    model: String,
    calls: BTreeMap<u32, PartialCall>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    refused: bool,
    ended: bool,
}

impl StreamState {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            calls: BTreeMap::new(),
            finish: None,
            usage: None,
            refused: false,
            ended: false,
        }
    }

    fn flush_calls(&mut self, out: &mut Vec<StreamEvent>) {
        for (i, c) in std::mem::take(&mut self.calls) {
            let id = if c.id.is_empty() {
                generated_call_id(i)
            } else {
                c.id
            };
            out.push(StreamEvent::ToolUse(ToolCall::from_raw_arguments(
                id,
                c.name,
                &c.arguments,
            )));
        }
    }

    fn done(&mut self, out: &mut Vec<StreamEvent>) {
        self.flush_calls(out);
        self.ended = true;
        let finish = if self.refused {
            Some(FinishReason::ContentFilter)
        } else {
            self.finish.take()
        };
        out.push(StreamEvent::Done(StreamDone {
            usage: self.usage,
            finish_reason: finish,
            provider: String::new(),
            model: self.model.clone(),
            cached: false,
            cost_micro_usd: None,
        }));
    }

    fn fail(&mut self, out: &mut Vec<StreamEvent>, e: crate::error::GatewayError) {
        self.ended = true;
        out.push(StreamEvent::Error(e));
    }
}

impl StreamDecoder for StreamState {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if ev.data.trim() == "[DONE]" {
            self.done(out);
            return;
        }
        if ev
            .event
            .as_deref()
            .is_some_and(|e| e != "message" && e != "error")
        {
            return; // named events are not part of the Chat Completions format
        }
        let chunk: wire::Chunk = match serde_json::from_str(&ev.data) {
            Ok(c) => c,
            Err(e) => {
                let err = bad_body(format!("stream chunk is not valid JSON: {e}"));
                self.fail(out, err);
                return;
            }
        };
        if let Some(err) = &chunk.error {
            let wrapped = json!({ "error": err });
            self.fail(out, map_stream_error(None, &wrapped));
            return;
        }
        if let Some(m) = chunk.model.filter(|m| !m.is_empty() && **m != *self.model) {
            self.model = m.into_owned();
        }
        if let Some(u) = &chunk.usage {
            self.usage = Some(usage(u));
        }
        for choice in chunk
            .choices
            .into_iter()
            .filter(|c| c.index.unwrap_or(0) == 0)
        {
            if let Some(d) = choice.delta {
                if let Some(r) = d
                    .reasoning_content
                    .or(d.reasoning)
                    .filter(|r| !r.is_empty())
                {
                    out.push(StreamEvent::Reasoning(r));
                }
                if let Some(t) = d.content.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::Text(t));
                }
                if let Some(r) = d.refusal.filter(|r| !r.is_empty()) {
                    self.refused = true;
                    out.push(StreamEvent::Text(r));
                }
                for (pos, tc) in d.tool_calls.unwrap_or_default().into_iter().enumerate() {
                    let index = tc.index.unwrap_or(u32::try_from(pos).unwrap_or(u32::MAX));
                    let call = self.calls.entry(index).or_default();
                    if let Some(id) = tc.id.filter(|i| !i.is_empty()) {
                        call.id = id.into_owned();
                    }
                    if let Some(f) = tc.function {
                        if let Some(n) = f.name.filter(|n| !n.is_empty()) {
                            call.name = n.into_owned();
                        }
                        if let Some(a) = f.arguments {
                            call.arguments.push_str(&a);
                        }
                    }
                }
            }
            if let Some(f) = choice.finish_reason {
                self.finish = Some(finish_reason(&f));
                self.flush_calls(out);
            }
        }
    }

    fn on_eof(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if self.finish.is_some() {
            // Finished but the server omitted `[DONE]`: complete, not cut.
            self.done(out);
        } else {
            self.fail(
                out,
                retry::cut_stream("the stream ended before the model finished"),
            );
        }
    }
}

#[cfg(test)]
mod tests;

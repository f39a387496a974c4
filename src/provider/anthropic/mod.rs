//! Anthropic Messages API: system hoisting, prompt-caching blocks, tool use
//! and results, JSON output through a forced tool, extended thinking.

mod wire;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::common::{ChatCall, JSON_TOOL, StreamDecoder, bad_body, caller_json, from_json};
use super::error_map::map_stream_error;
use crate::engine::retry;
use crate::error::{GatewayError, Result};
use crate::http::join_url;
use crate::sse::SseEvent;
use crate::types::{
    Completion, FinishReason, Message, ReasoningEffort, ResponseFormat, Role, StreamDone,
    StreamEvent, ToolCall, ToolChoice, Usage,
};
use wire::{MessagesRequest, ReqMessage};

type Built = (String, Vec<(String, String)>, Value);

/// Anthropic requires `max_tokens`; this is sent when the caller gives none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

pub(crate) fn thinking_budget(e: ReasoningEffort) -> u32 {
    match e {
        ReasoningEffort::Low => 1024,
        ReasoningEffort::Medium => 4096,
        ReasoningEffort::High => 16384,
    }
}

fn cache_control() -> Value {
    json!({"type": "ephemeral"})
}

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<Built> {
    let opts = call.options;
    if opts.tools.iter().any(|t| t.name == JSON_TOOL) {
        return Err(GatewayError::validation(format!(
            "tool name {JSON_TOOL:?} is reserved for JSON output on Anthropic"
        )));
    }
    let messages = call.input.to_messages();
    let (system, rest): (Vec<&Message>, Vec<&Message>) =
        messages.iter().partition(|m| m.role == Role::System);

    let mut tools = opts
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut tool = serde_json::Map::new();
            tool.insert("name".into(), json!(t.name));
            if let Some(d) = &t.description {
                tool.insert("description".into(), json!(d));
            }
            tool.insert(
                "input_schema".into(),
                caller_json(t.parameters.as_deref(), &format!("tools[{i}].parameters"))?,
            );
            Ok(Value::Object(tool))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut tool_choice = match &opts.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => Some(json!({"type": "auto"})),
        Some(ToolChoice::None) => Some(json!({"type": "none"})),
        Some(ToolChoice::Required) => Some(json!({"type": "any"})),
        Some(ToolChoice::Named(n)) => Some(json!({"type": "tool", "name": n})),
    };

    let thinking = opts.reasoning_effort.map(thinking_budget);
    let json_schema = match &opts.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::Json) => Some((json!({"type": "object"}), None)),
        Some(ResponseFormat::JsonSchema(s)) => Some((
            caller_json(Some(&s.schema), "response-format schema")?,
            s.description.clone(),
        )),
    };
    if let Some((schema, description)) = json_schema {
        tools.push(json!({
            "name": JSON_TOOL,
            "description": description
                .unwrap_or_else(|| "Give your answer as the input of this tool, as JSON.".into()),
            "input_schema": schema,
        }));
        // Forced tool use is incompatible with extended thinking, and with
        // tools of the caller's the model must stay free to call those.
        if opts.tools.is_empty() && thinking.is_none() {
            tool_choice = Some(json!({"type": "tool", "name": JSON_TOOL}));
        }
    }

    let mut max_tokens = opts.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
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
        thinking: thinking.map(|b| json!({"type": "enabled", "budget_tokens": b})),
        stream: call.stream,
    };
    let body = serde_json::to_value(&body).map_err(|e| GatewayError::internal(e.to_string()))?;
    let mut headers = vec![(
        "anthropic-version".to_owned(),
        call.endpoint.api_version.clone(),
    )];
    if let Some(k) = &call.endpoint.api_key {
        headers.push(("x-api-key".to_owned(), k.expose().to_owned()));
    }
    Ok((
        join_url(&call.endpoint.base_url, "v1/messages"),
        headers,
        body,
    ))
}

/// System messages hoisted into `system`: a string, or text blocks when any
/// of them asks for prompt caching.
fn system_field(system: &[&Message]) -> Option<Value> {
    if system.is_empty() {
        return None;
    }
    if system.iter().all(|m| !m.cache_control) {
        let joined: Vec<&str> = system.iter().map(|m| m.content.as_str()).collect();
        return Some(json!(joined.join("\n\n")));
    }
    Some(Value::Array(
        system
            .iter()
            .map(|m| {
                let mut b = json!({"type": "text", "text": m.content});
                if m.cache_control {
                    super::common::set_field(&mut b, "cache_control", cache_control());
                }
                b
            })
            .collect(),
    ))
}

/// User/assistant/tool messages as Anthropic content blocks. Tool results
/// become `tool_result` blocks in a user turn; consecutive turns of the same
/// role are merged (parallel tool results must share one user turn).
fn conversation(messages: &[&Message]) -> Result<Vec<ReqMessage>> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in messages {
        let (role, mut blocks) = match m.role {
            Role::User | Role::System => ("user", vec![json!({"type": "text", "text": m.content})]),
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for c in &m.tool_calls {
                    let input =
                        crate::types::parse_json_object(&c.arguments, "tool call arguments")?;
                    blocks.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input}),
                    );
                }
                ("assistant", blocks)
            }
            Role::Tool => (
                "user",
                vec![json!({
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.as_deref().unwrap_or_default(),
                    "content": m.content,
                })],
            ),
        };
        if m.cache_control
            && let Some(last) = blocks.last_mut()
        {
            super::common::set_field(last, "cache_control", cache_control());
        }
        match turns.last_mut() {
            Some((r, b)) if *r == role => b.append(&mut blocks),
            _ => turns.push((role, blocks)),
        }
    }
    Ok(turns
        .into_iter()
        .map(|(role, blocks)| {
            let content = match blocks.as_slice() {
                [b] if b["type"] == "text" && b.get("cache_control").is_none() => b["text"].clone(),
                _ => Value::Array(blocks),
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
    let mut tool_calls = Vec::new();
    let mut json_output = false;
    for block in r.content {
        match block {
            wire::RespBlock::Text { text: t } => text.push_str(&t),
            wire::RespBlock::Thinking { thinking } => reasoning.push_str(&thinking),
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
        tool_calls,
        usage: r.usage.as_ref().map(usage),
        model: r.model.unwrap_or_default(),
        finish_reason: finish,
    })
}

// ---------------------------------------------------------------- streaming

#[derive(Debug)]
enum Block {
    Tool {
        id: String,
        name: String,
        json: String,
    },
    /// Our JSON-output tool: its input is streamed out as text.
    JsonOutput,
    Other,
}

/// Decoder state for one Anthropic stream.
#[derive(Debug)]
pub struct StreamState {
    model: String,
    usage: Option<wire::WireUsage>,
    blocks: BTreeMap<u32, Block>,
    finish: Option<FinishReason>,
    tool_calls: usize,
    json_output: bool,
    ended: bool,
}

impl StreamState {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            usage: None,
            blocks: BTreeMap::new(),
            finish: None,
            tool_calls: 0,
            json_output: false,
            ended: false,
        }
    }

    fn close_block(&mut self, index: u32, out: &mut Vec<StreamEvent>) {
        if let Some(Block::Tool { id, name, json }) = self.blocks.remove(&index) {
            self.tool_calls += 1;
            out.push(StreamEvent::ToolUse(ToolCall::from_raw_arguments(
                id, name, &json,
            )));
        }
    }

    fn done(&mut self, out: &mut Vec<StreamEvent>) {
        // Blocks the stream never closed (e.g. cut by max_tokens) still
        // yield their tool call, with `{}` arguments if the JSON is partial.
        let open: Vec<u32> = self.blocks.keys().copied().collect();
        for i in open {
            self.close_block(i, out);
        }
        self.ended = true;
        let mut finish = self.finish.take();
        if self.json_output && self.tool_calls == 0 && finish == Some(FinishReason::ToolCalls) {
            finish = Some(FinishReason::Stop);
        }
        out.push(StreamEvent::Done(StreamDone {
            usage: self.usage.as_ref().map(usage),
            finish_reason: finish,
            provider: String::new(),
            model: self.model.clone(),
            cached: false,
            cost_micro_usd: None,
        }));
    }

    fn fail(&mut self, e: GatewayError, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        out.push(StreamEvent::Error(e));
    }

    /// `message_delta` usage: later values win where present (the API sends
    /// cumulative output tokens, and may resend input and cache counts).
    fn merge_usage(&mut self, u: wire::WireUsage) {
        let base = self.usage.get_or_insert_with(wire::WireUsage::default);
        base.input_tokens = u.input_tokens.or(base.input_tokens);
        base.output_tokens = u.output_tokens.or(base.output_tokens);
        base.cache_creation_input_tokens = u
            .cache_creation_input_tokens
            .or(base.cache_creation_input_tokens);
        base.cache_read_input_tokens = u.cache_read_input_tokens.or(base.cache_read_input_tokens);
        base.output_tokens_details = u.output_tokens_details.or(base.output_tokens_details);
    }
}

impl StreamDecoder for StreamState {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let msg: wire::StreamMsg = match serde_json::from_str(&ev.data) {
            Ok(m) => m,
            Err(e) => {
                self.fail(
                    bad_body(format!("stream event is not valid JSON: {e}")),
                    out,
                );
                return;
            }
        };
        match msg {
            wire::StreamMsg::MessageStart { message } => {
                if let Some(m) = message.model.filter(|m| !m.is_empty()) {
                    self.model = m;
                }
                if let Some(u) = message.usage {
                    self.merge_usage(u);
                }
            }
            wire::StreamMsg::ContentBlockStart {
                index,
                content_block,
            } => {
                let block = match content_block {
                    wire::StartBlock::Text { text } => {
                        if !text.is_empty() {
                            out.push(StreamEvent::Text(text));
                        }
                        Block::Other
                    }
                    wire::StartBlock::Thinking { thinking } => {
                        if !thinking.is_empty() {
                            out.push(StreamEvent::Reasoning(thinking));
                        }
                        Block::Other
                    }
                    wire::StartBlock::ToolUse { name, .. } if name == JSON_TOOL => {
                        self.json_output = true;
                        Block::JsonOutput
                    }
                    wire::StartBlock::ToolUse { id, name } => Block::Tool {
                        id,
                        name,
                        json: String::new(),
                    },
                    wire::StartBlock::Fallback { to } => {
                        if let Some(m) = to.and_then(|t| t.model) {
                            self.model = m;
                        }
                        Block::Other
                    }
                    wire::StartBlock::Other => Block::Other,
                };
                self.blocks.insert(index, block);
            }
            wire::StreamMsg::ContentBlockDelta { index, delta } => match delta {
                wire::BlockDelta::TextDelta { text } if !text.is_empty() => {
                    out.push(StreamEvent::Text(text));
                }
                wire::BlockDelta::ThinkingDelta { thinking } if !thinking.is_empty() => {
                    out.push(StreamEvent::Reasoning(thinking));
                }
                wire::BlockDelta::InputJsonDelta { partial_json } => {
                    match self.blocks.get_mut(&index) {
                        Some(Block::Tool { json, .. }) => json.push_str(&partial_json),
                        Some(Block::JsonOutput) if !partial_json.is_empty() => {
                            out.push(StreamEvent::Text(partial_json));
                        }
                        _ => {}
                    }
                }
                _ => {}
            },
            wire::StreamMsg::ContentBlockStop { index } => self.close_block(index, out),
            wire::StreamMsg::MessageDelta { delta, usage } => {
                if let Some(r) = delta.and_then(|d| d.stop_reason) {
                    self.finish = Some(finish_reason(&r));
                }
                if let Some(u) = usage {
                    self.merge_usage(u);
                }
            }
            wire::StreamMsg::MessageStop => self.done(out),
            wire::StreamMsg::Error { error } => {
                let e = map_stream_error(None, &json!({ "error": error }));
                self.fail(e, out);
            }
            wire::StreamMsg::Ping | wire::StreamMsg::Unknown => {}
        }
    }

    fn on_eof(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if self.finish.is_some() {
            self.done(out);
        } else {
            self.fail(
                retry::cut_stream("the stream ended before message_stop"),
                out,
            );
        }
    }
}

#[cfg(test)]
mod tests;

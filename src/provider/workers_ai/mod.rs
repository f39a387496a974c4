//! Cloudflare Workers AI over its REST API:
//! `POST {base}/accounts/{account}/ai/run/{model}` with a bearer token.
//!
//! Responses come wrapped as `{"result": {...}, "success": true, "errors": []}`.
//! `result.response` is the text (or an object in JSON mode); tool calls are
//! `[{"name", "arguments": {...}}]` (older models) or OpenAI-style
//! `[{"id", "function": {"name", "arguments": "..."}}]`; some newer models
//! return a whole chat-completion object as `result`.

mod wire;

use std::collections::HashMap;

use serde_json::{Value, json};

use super::common::{ChatCall, StreamDecoder, bad_body, caller_json, from_json, generated_call_id};
use super::error_map::map_stream_error;
use super::openai;
use crate::config::Endpoint;
use crate::engine::retry;
use crate::error::{GatewayError, Result, UpstreamDetail};
use crate::http::{encode_path, join_url};
use crate::sse::SseEvent;
use crate::types::{
    Completion, FinishReason, Input, Message, ResponseFormat, Role, StreamDone, StreamEvent,
    ToolCall, ToolChoice, Usage,
};
use crate::validate::check_path_model;

type Built = (String, Vec<(String, String)>, Value);

/// The run URL of `model`. A `custom` provider with this wire format and no
/// account id posts to `{base}/{model}`.
fn run_url(endpoint: &Endpoint, model: &str) -> Result<String> {
    check_path_model(model)?;
    Ok(match &endpoint.account_id {
        Some(acc) => join_url(
            &endpoint.base_url,
            &format!(
                "accounts/{}/ai/run/{}",
                encode_path(acc),
                encode_path(model)
            ),
        ),
        None => join_url(&endpoint.base_url, &encode_path(model)),
    })
}

pub(crate) fn chat_request(call: &ChatCall<'_>) -> Result<Built> {
    let opts = call.options;
    let mut body = serde_json::Map::new();
    match call.input {
        Input::Prompt(p) if opts.response_format.is_none() => {
            body.insert("prompt".into(), json!(p));
        }
        input => {
            let mut messages = input.to_messages();
            if matches!(opts.response_format, Some(ResponseFormat::Json))
                && !openai::mentions_json(&messages)
            {
                messages.insert(0, Message::new(Role::System, openai::JSON_INSTRUCTION));
            }
            body.insert(
                "messages".into(),
                Value::Array(messages.iter().map(message).collect()),
            );
        }
    }
    if let Some(n) = opts.max_tokens {
        body.insert("max_tokens".into(), json!(n));
    }
    if let Some(t) = opts.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = opts.top_p {
        body.insert("top_p".into(), json!(p));
    }
    // The run API has no tool_choice: `none` drops the tools, `auto` sends
    // them and lets the model decide, and a forced choice is refused rather
    // than silently downgraded to `auto`.
    check_tool_choice(call)?;
    if !opts.tools.is_empty() && opts.tool_choice != Some(ToolChoice::None) {
        let tools = opts
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
                    "parameters".into(),
                    caller_json(t.parameters.as_deref(), &format!("tools[{i}].parameters"))?,
                );
                Ok(Value::Object(tool))
            })
            .collect::<Result<Vec<_>>>()?;
        body.insert("tools".into(), Value::Array(tools));
    }
    match &opts.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::Json) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema(s)) => {
            let schema = caller_json(Some(&s.schema), "response-format schema")?;
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": schema}),
            );
        }
    }
    if call.stream {
        body.insert("stream".into(), json!(true));
    }
    Ok((
        run_url(call.endpoint, call.model)?,
        openai::auth_headers(call.endpoint),
        Value::Object(body),
    ))
}

/// Refuse `tool-choice` `required` or `named`: the Workers AI run API
/// (`/ai/run/{model}`, traditional function calling) documents no
/// `tool_choice`, so the model would be free to answer without the tool.
fn check_tool_choice(call: &ChatCall<'_>) -> Result<()> {
    let choice = match &call.options.tool_choice {
        Some(ToolChoice::Required) => "required".to_owned(),
        Some(ToolChoice::Named(n)) => format!("named({n:?})"),
        Some(ToolChoice::Auto | ToolChoice::None) | None => return Ok(()),
    };
    Err(GatewayError::validation(format!(
        "tool-choice {choice} is not supported by provider {:?} (workers-ai): the Workers AI \
         run API cannot force a tool call; use tool-choice auto or none (a model whose own \
         schema takes `tool_choice` can be given it through extra-body)",
        call.endpoint.name
    )))
}

fn message(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut v = json!({"role": role, "content": m.content});
    if !m.tool_calls.is_empty() {
        super::common::set_field(
            &mut v,
            "tool_calls",
            Value::Array(
                m.tool_calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function",
                               "function": {"name": c.name, "arguments": c.arguments}})
                    })
                    .collect(),
            ),
        );
    }
    if let (Role::Tool, Some(id)) = (m.role, &m.tool_call_id) {
        super::common::set_field(&mut v, "tool_call_id", json!(id));
    }
    v
}

fn usage(u: &wire::WireUsage) -> Usage {
    let output_tokens = u.completion_tokens.unwrap_or(0);
    Usage {
        input_tokens: u.prompt_tokens.unwrap_or(0),
        output_tokens,
        // A subset of the output tokens, whatever the provider claims.
        reasoning_tokens: u
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
            .min(output_tokens),
        ..Usage::default()
    }
}

/// The envelope's `result`, or the error it reports.
fn unwrap_envelope(env: wire::Envelope) -> Result<Value> {
    if env.success == Some(false) || env.result.is_none() {
        let first = env.errors.first();
        let message = first
            .and_then(|e| e.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("Workers AI reported failure without a result")
            .to_owned();
        let code = first.and_then(|e| e.get("code")).map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        return Err(GatewayError::Upstream(UpstreamDetail {
            message,
            code,
            ..UpstreamDetail::default()
        }));
    }
    env.result
        .ok_or_else(|| bad_body("Workers AI response has no result".into()))
}

/// The id the provider gave a tool call, if any.
fn provider_call_id(v: &Value) -> Option<&str> {
    v.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A tool call from one `tool_calls` entry; `i` is its position in the
/// response, used for a generated id when the provider gave none (see
/// [`generated_call_id`]).
fn tool_call(i: usize, v: &Value) -> ToolCall {
    let id = provider_call_id(v).map_or_else(|| generated_call_id(i), str::to_owned);
    let f = v.get("function").unwrap_or(v);
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let args = match f.get("arguments") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    ToolCall::from_raw_arguments(id, name, &args)
}

/// A `response` or `text` value as text: `None` when absent, null or empty.
fn result_text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Null | Value::String(_)) | None => None,
        Some(other) => Some(other.to_string()), // JSON mode returns an object
    }
}

fn text_completion(text: String) -> Completion {
    Completion {
        text,
        reasoning: None,
        tool_calls: Vec::new(),
        usage: None,
        model: String::new(),
        finish_reason: Some(FinishReason::Stop),
    }
}

pub(crate) fn parse_chat(body: &[u8]) -> Result<Completion> {
    let env: wire::Envelope = from_json(body, "Workers AI response")?;
    let result = unwrap_envelope(env)?;
    if result.get("choices").is_some() {
        return openai::parse_chat_value(result);
    }
    // Some models' documented output is a bare string.
    if let Value::String(s) = result {
        return Ok(text_completion(s));
    }
    let r: wire::RunResult = serde_json::from_value(result)
        .map_err(|e| bad_body(format!("Workers AI result has an unexpected shape: {e}")))?;
    let text = result_text(r.response)
        .or_else(|| result_text(r.text))
        .unwrap_or_default();
    let tool_calls: Vec<ToolCall> = r
        .tool_calls
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, v)| tool_call(i, v))
        .collect();
    let finish = if tool_calls.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    };
    Ok(Completion {
        text,
        reasoning: None,
        tool_calls,
        usage: r.usage.as_ref().map(usage),
        model: String::new(),
        finish_reason: Some(finish),
    })
}

pub(crate) fn embed_request(endpoint: &Endpoint, model: &str, input: &[String]) -> Result<Built> {
    Ok((
        run_url(endpoint, model)?,
        openai::auth_headers(endpoint),
        json!({ "text": input }),
    ))
}

pub(crate) fn parse_embed(body: &[u8]) -> Result<super::common::Embeddings> {
    let env: wire::Envelope = from_json(body, "Workers AI response")?;
    let result = unwrap_envelope(env)?;
    let r: wire::EmbedResult = serde_json::from_value(result).map_err(|e| {
        bad_body(format!(
            "Workers AI embedding result has an unexpected shape: {e}"
        ))
    })?;
    Ok((r.data, r.usage.as_ref().map(usage), None))
}

// ---------------------------------------------------------------- streaming

/// Decoder state for a Workers AI stream: `data: {"response": "..."}`
/// deltas, optional `tool_calls`, `usage` in the last data event, `[DONE]`.
///
/// Tool calls are collected and emitted, in order of first appearance, just
/// before `done`: a model may repeat a call (same provider id) in a later
/// frame, and the caller must see it once, or it would run the tool twice.
#[derive(Debug)]
pub struct StreamState {
    model: String,
    usage: Option<Usage>,
    calls: Vec<ToolCall>,
    /// Provider id -> position in `calls`.
    by_id: HashMap<String, usize>,
    ended: bool,
}

impl StreamState {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            usage: None,
            calls: Vec::new(),
            by_id: HashMap::new(),
            ended: false,
        }
    }

    /// Record one `tool_calls` entry. A provider id already seen updates
    /// that call (a non-empty name or arguments in the later frame win)
    /// instead of adding a second one.
    fn add_call(&mut self, v: &Value) {
        let Some(id) = provider_call_id(v) else {
            let call = tool_call(self.calls.len(), v);
            self.calls.push(call);
            return;
        };
        if let Some(&at) = self.by_id.get(id) {
            let later = tool_call(at, v);
            if let Some(call) = self.calls.get_mut(at) {
                if !later.name.is_empty() {
                    call.name = later.name;
                }
                if later.raw_arguments.is_some() || later.arguments != "{}" {
                    call.arguments = later.arguments;
                    call.raw_arguments = later.raw_arguments;
                }
            }
            return;
        }
        self.by_id.insert(id.to_owned(), self.calls.len());
        let call = tool_call(self.calls.len(), v);
        self.calls.push(call);
    }

    fn done(&mut self, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        let finish = if self.calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        };
        out.extend(
            std::mem::take(&mut self.calls)
                .into_iter()
                .map(StreamEvent::ToolUse),
        );
        out.push(StreamEvent::Done(StreamDone {
            usage: self.usage,
            finish_reason: Some(finish),
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
        let chunk: wire::StreamChunk = match serde_json::from_str(&ev.data) {
            Ok(c) => c,
            Err(e) => {
                self.fail(
                    bad_body(format!("stream chunk is not valid JSON: {e}")),
                    out,
                );
                return;
            }
        };
        if let Some(err) = chunk
            .error
            .or_else(|| chunk.errors.and_then(|e| e.into_iter().next()))
        {
            self.fail(map_stream_error(None, &json!({ "error": err })), out);
            return;
        }
        match chunk.response {
            Some(Value::String(s)) if !s.is_empty() => out.push(StreamEvent::Text(s)),
            Some(Value::Null | Value::String(_)) | None => {}
            Some(other) => out.push(StreamEvent::Text(other.to_string())),
        }
        for v in chunk.tool_calls.unwrap_or_default() {
            self.add_call(&v);
        }
        if let Some(u) = &chunk.usage {
            self.usage = Some(usage(u));
        }
    }

    fn on_eof(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        self.fail(retry::cut_stream("the stream ended before [DONE]"), out);
    }
}

#[cfg(test)]
mod tests;

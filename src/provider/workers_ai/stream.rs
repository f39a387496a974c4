//! The Workers AI stream: `data: {"response": "..."}` deltas, optional
//! `tool_calls`, `usage` in the last data event, `[DONE]`.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::wire;
use super::{provider_call_id, tool_call, usage};
use crate::engine::retry;
use crate::error::GatewayError;
use crate::provider::common::{StreamDecoder, bad_body};
use crate::provider::error_map::map_stream_error;
use crate::sse::SseEvent;
use crate::types::{FinishReason, StreamDone, StreamEvent, ToolCall, Usage};

/// Decoder state for a Workers AI stream: `data: {"response": "..."}`
/// deltas, optional `tool_calls`, `usage` in the last data event, `[DONE]`.
///
/// Tool calls are collected and emitted, in order of first appearance, just
/// before `done`: a model may repeat a call (same provider id) in a later
/// frame, and the caller must see it once, or it would run the tool twice.
#[derive(Debug)]
pub struct WorkersAiStream {
    model: String,
    usage: Option<Usage>,
    calls: Vec<ToolCall>,
    /// Provider id -> position in `calls`.
    by_id: HashMap<String, usize>,
    ended: bool,
}

impl WorkersAiStream {
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

impl StreamDecoder for WorkersAiStream {
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

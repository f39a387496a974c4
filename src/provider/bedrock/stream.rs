//! The Converse stream: event-stream messages (framed by
//! [`super::eventstream`]; the pump hands each to this decoder as an
//! [`SseEvent`] whose `event` is the `:event-type` and whose `data` is the
//! JSON payload): `messageStart`, `contentBlockStart` (a tool use's id and
//! name), `contentBlockDelta` (text, tool input JSON pieces, reasoning text,
//! its signature, redacted reasoning), `contentBlockStop`, `messageStop`
//! (the stop reason), `metadata` (usage), in that order. An exception
//! message arrives as event `exception:{type}` (`ThrottlingException`, ...)
//! and ends the stream with that error.

use std::collections::BTreeMap;

use super::{finish_reason, usage, wire};
use crate::engine::retry;
use crate::error::GatewayError;
use crate::provider::common::{JSON_TOOL, StreamDecoder, bad_body};
use crate::provider::error_map::map_stream_error;
use crate::sse::SseEvent;
use crate::types::{StreamDone, StreamEvent, ToolCall};

#[derive(Debug)]
struct OpenTool {
    id: String,
    name: String,
    json: String,
}

/// Decoder state for one Converse stream.
#[derive(Debug)]
pub struct BedrockStream {
    model: String,
    tools: BTreeMap<u32, OpenTool>,
    usage: Option<wire::WireUsage>,
    stop: Option<String>,
    json_output: bool,
    /// Tool calls of the caller's tools (not the JSON-output one).
    calls: usize,
    ended: bool,
}

impl BedrockStream {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            tools: BTreeMap::new(),
            usage: None,
            stop: None,
            json_output: false,
            calls: 0,
            ended: false,
        }
    }

    fn fail(&mut self, e: GatewayError, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        out.push(StreamEvent::Error(e));
    }

    fn close(&mut self, index: u32, out: &mut Vec<StreamEvent>) {
        if let Some(t) = self.tools.remove(&index) {
            self.calls += 1;
            out.push(StreamEvent::ToolUse(ToolCall::from_raw_arguments(
                t.id, t.name, &t.json,
            )));
        }
    }

    fn done(&mut self, out: &mut Vec<StreamEvent>) {
        let open: Vec<u32> = self.tools.keys().copied().collect();
        for i in open {
            self.close(i, out);
        }
        self.ended = true;
        out.push(StreamEvent::Done(StreamDone {
            usage: self.usage.as_ref().map(usage),
            finish_reason: self
                .stop
                .as_deref()
                .map(|s| finish_reason(s, self.json_output && self.calls == 0)),
            provider: String::new(),
            model: self.model.clone(),
            cached: false,
            cost_micro_usd: None,
        }));
    }

    fn parse<T: serde::de::DeserializeOwned + Default>(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<StreamEvent>,
    ) -> Option<T> {
        match serde_json::from_str(&ev.data) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(
                    bad_body(format!(
                        "converse-stream event {} is not valid JSON: {e}",
                        ev.event.as_deref().unwrap_or("?")
                    )),
                    out,
                );
                None
            }
        }
    }
}

impl StreamDecoder for BedrockStream {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let kind = ev.event.as_deref().unwrap_or_default();
        if let Some(exception) = kind.strip_prefix("exception:") {
            // In the stream AWS names exceptions in lower camel case
            // (`throttlingException`); its HTTP errors and the error map use
            // the type's own name (`ThrottlingException`).
            let exception = type_name(exception);
            let message = serde_json::from_str::<serde_json::Value>(&ev.data)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or_else(|| ev.data.clone());
            let e = map_stream_error(
                None,
                &serde_json::json!({"error": {"type": exception, "message": message}}),
            );
            self.fail(e, out);
            return;
        }
        match kind {
            "contentBlockStart" => {
                let Some(s) = self.parse::<wire::BlockStart>(ev, out) else {
                    return;
                };
                if let Some(t) = s.start.and_then(|s| s.tool_use) {
                    if t.name == JSON_TOOL {
                        self.json_output = true;
                    }
                    self.tools.insert(
                        s.content_block_index,
                        OpenTool {
                            id: t.tool_use_id,
                            name: t.name,
                            json: String::new(),
                        },
                    );
                }
            }
            "contentBlockDelta" => {
                let Some(d) = self.parse::<wire::BlockDelta>(ev, out) else {
                    return;
                };
                let index = d.content_block_index;
                let Some(delta) = d.delta else { return };
                if let Some(t) = delta.text.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::Text(t));
                }
                if let Some(piece) = delta.tool_use {
                    match self.tools.get_mut(&index) {
                        // Our JSON-output tool: its input is the answer.
                        Some(t) if t.name == JSON_TOOL && !piece.input.is_empty() => {
                            out.push(StreamEvent::Text(piece.input));
                        }
                        Some(t) if t.name == JSON_TOOL => {}
                        Some(t) => t.json.push_str(&piece.input),
                        None => {}
                    }
                }
                if let Some(r) = delta.reasoning_content {
                    if let Some(t) = r.text.filter(|t| !t.is_empty()) {
                        out.push(StreamEvent::Reasoning(t));
                    }
                    if let Some(s) = r.signature.filter(|s| !s.is_empty()) {
                        out.push(StreamEvent::ReasoningSignature(s));
                    }
                    if let Some(d) = r.redacted_content {
                        out.push(StreamEvent::ReasoningRedacted(d));
                    }
                }
            }
            "contentBlockStop" => {
                let Some(s) = self.parse::<wire::BlockStop>(ev, out) else {
                    return;
                };
                match self.tools.get(&s.content_block_index) {
                    Some(t) if t.name == JSON_TOOL => {
                        self.tools.remove(&s.content_block_index);
                    }
                    _ => self.close(s.content_block_index, out),
                }
            }
            "messageStop" => {
                if let Some(s) = self.parse::<wire::MessageStop>(ev, out) {
                    self.stop = s.stop_reason.or(Some("end_turn".into()));
                }
            }
            "metadata" => {
                if let Some(m) = self.parse::<wire::Metadata>(ev, out) {
                    self.usage = m.usage.or(self.usage);
                    if self.stop.is_some() {
                        self.done(out);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_eof(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if self.stop.is_some() {
            self.done(out);
        } else {
            self.fail(
                retry::cut_stream("the stream ended before messageStop"),
                out,
            );
        }
    }
}

/// `throttlingException` → `ThrottlingException`.
fn type_name(exception: &str) -> String {
    let mut c = exception.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;

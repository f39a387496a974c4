//! The Gemini stream (`streamGenerateContent?alt=sse`): each SSE event is a
//! whole `GenerateContentResponse` holding the next parts: text deltas,
//! thought parts (`thought: true`) with their `thoughtSignature`, and
//! function calls, each complete in one chunk. Usage is cumulative (the
//! last wins); the chunk with a `finishReason` is the last. There is no end
//! event: the body ends after it.

use super::{finish_reason, logprobs, tool_call, usage, wire};
use crate::engine::retry;
use crate::error::GatewayError;
use crate::provider::common::{StreamDecoder, bad_body};
use crate::provider::error_map::map_stream_error;
use crate::sse::SseEvent;
use crate::types::{FinishReason, StreamDone, StreamEvent};

/// Decoder state for one Gemini stream.
#[derive(Debug)]
pub struct GeminiStream {
    model: String,
    usage: Option<wire::UsageMetadata>,
    finish: Option<String>,
    blocked: Option<String>,
    tool_calls: usize,
    ended: bool,
}

impl GeminiStream {
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_owned(),
            usage: None,
            finish: None,
            blocked: None,
            tool_calls: 0,
            ended: false,
        }
    }

    fn fail(&mut self, e: GatewayError, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        out.push(StreamEvent::Error(e));
    }

    fn done(&mut self, out: &mut Vec<StreamEvent>) {
        self.ended = true;
        let finish = match (&self.finish, &self.blocked) {
            (Some(r), _) => finish_reason(r, self.tool_calls > 0),
            (None, Some(_)) => FinishReason::ContentFilter,
            (None, None) => FinishReason::Stop,
        };
        out.push(StreamEvent::Done(StreamDone {
            usage: self.usage.as_ref().map(usage),
            finish_reason: Some(finish),
            provider: String::new(),
            model: self.model.clone(),
            cached: false,
            cost_micro_usd: None,
        }));
    }
}

impl StreamDecoder for GeminiStream {
    fn on_event(&mut self, ev: &SseEvent, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        let value: serde_json::Value = match serde_json::from_str(&ev.data) {
            Ok(v) => v,
            Err(e) => {
                self.fail(
                    bad_body(format!("stream event is not valid JSON: {e}")),
                    out,
                );
                return;
            }
        };
        // An error mid-stream: `{"error": {"code", "message", "status"}}`.
        if value.get("error").is_some() {
            let e = map_stream_error(None, &value);
            self.fail(e, out);
            return;
        }
        let chunk: wire::GenerateResponse = match serde_json::from_value(value) {
            Ok(c) => c,
            Err(e) => {
                self.fail(
                    bad_body(format!(
                        "stream event is not a GenerateContentResponse: {e}"
                    )),
                    out,
                );
                return;
            }
        };
        if let Some(m) = chunk.model_version.filter(|m| !m.is_empty()) {
            self.model = m;
        }
        if let Some(u) = chunk.usage_metadata {
            self.usage = Some(u);
        }
        if let Some(r) = chunk.prompt_feedback.and_then(|f| f.block_reason) {
            out.push(StreamEvent::Refusal(format!(
                "the prompt was blocked ({r})"
            )));
            self.blocked = Some(r);
        }
        let Some(c) = chunk.candidates.into_iter().next() else {
            if self.blocked.is_some() {
                self.done(out);
            }
            return;
        };
        for p in c.content.map(|c| c.parts).unwrap_or_default() {
            if let Some(f) = p.function_call {
                if let Some(s) = p.thought_signature.filter(|s| !s.is_empty()) {
                    out.push(StreamEvent::ReasoningSignature(s));
                }
                out.push(StreamEvent::ToolUse(tool_call(f, self.tool_calls)));
                self.tool_calls += 1;
                continue;
            }
            let text = p.text.unwrap_or_default();
            match p.thought {
                true if !text.is_empty() => out.push(StreamEvent::Reasoning(text)),
                false if !text.is_empty() => out.push(StreamEvent::Text(text)),
                _ => {}
            }
            if let Some(s) = p.thought_signature.filter(|s| !s.is_empty()) {
                out.push(StreamEvent::ReasoningSignature(s));
            }
        }
        if let Some(lp) = c.logprobs_result.map(logprobs).filter(|l| !l.is_empty()) {
            out.push(StreamEvent::Logprobs(lp));
        }
        if let Some(r) = c.finish_reason.filter(|r| !r.is_empty()) {
            self.finish = Some(r);
        }
    }

    fn on_eof(&mut self, out: &mut Vec<StreamEvent>) {
        if self.ended {
            return;
        }
        if self.finish.is_some() || self.blocked.is_some() {
            self.done(out);
        } else {
            self.fail(
                retry::cut_stream("the stream ended before a chunk with a finishReason"),
                out,
            );
        }
    }
}

#[cfg(test)]
mod tests;

//! The OpenAI Chat Completions stream: `data:` chunks of `choices[].delta`,
//! tool-call pieces by `index`, `usage` in a last chunk, `[DONE]`.

use std::collections::BTreeMap;

use serde_json::json;

use super::wire;
use crate::engine::retry;
use crate::provider::common::{StreamDecoder, bad_body, generated_call_id};
use crate::provider::error_map::map_stream_error;
use crate::provider::openai_compat::{finish_reason, usage};
use crate::sse::SseEvent;
use crate::types::{FinishReason, StreamDone, StreamEvent, ToolCall, Usage};

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
pub struct OpenAiStream {
    model: String,
    calls: BTreeMap<u32, PartialCall>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    refused: bool,
    ended: bool,
}

impl OpenAiStream {
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

impl StreamDecoder for OpenAiStream {
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
                    out.push(StreamEvent::Refusal(r));
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
            if let Some(l) = choice.logprobs {
                let tokens = l.into_tokens();
                if !tokens.is_empty() {
                    out.push(StreamEvent::Logprobs(tokens));
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

//! The Anthropic Messages stream: `message_start`, content blocks (text,
//! thinking with its `signature_delta`, redacted thinking, tool use with
//! `input_json_delta`), `message_delta` with the stop reason and usage,
//! `message_stop`.

use std::collections::BTreeMap;

use serde_json::json;

use super::wire;
use super::{finish_reason, usage};
use crate::engine::retry;
use crate::error::GatewayError;
use crate::provider::common::{JSON_TOOL, StreamDecoder, bad_body};
use crate::provider::error_map::map_stream_error;
use crate::sse::SseEvent;
use crate::types::{FinishReason, StreamDone, StreamEvent, ToolCall};

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
pub struct AnthropicStream {
    model: String,
    usage: Option<wire::WireUsage>,
    blocks: BTreeMap<u32, Block>,
    finish: Option<FinishReason>,
    tool_calls: usize,
    json_output: bool,
    ended: bool,
}

impl AnthropicStream {
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

impl StreamDecoder for AnthropicStream {
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
                    wire::StartBlock::Thinking {
                        thinking,
                        signature,
                    } => {
                        if !thinking.is_empty() {
                            out.push(StreamEvent::Reasoning(thinking));
                        }
                        if let Some(s) = signature.filter(|s| !s.is_empty()) {
                            out.push(StreamEvent::ReasoningSignature(s));
                        }
                        Block::Other
                    }
                    wire::StartBlock::RedactedThinking { data } => {
                        out.push(StreamEvent::ReasoningRedacted(data));
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
                wire::BlockDelta::SignatureDelta { signature } if !signature.is_empty() => {
                    out.push(StreamEvent::ReasoningSignature(signature));
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

//! The stream pump: upstream bytes → SSE events (`sse.rs`, shared) → the
//! provider's decoder ([`decoder`] picks it by wire format) → normalized
//! stream events, with the one guarantee every consumer relies on: exactly
//! one terminal event (`done` or `error`), after which nothing more is
//! produced.

use std::collections::VecDeque;

use crate::config::WireFormat;
use crate::error::{GatewayError, UpstreamDetail};
use crate::provider::StreamDecoder;
use crate::provider::anthropic::AnthropicStream;
use crate::provider::bedrock::BedrockStream;
use crate::provider::bedrock::eventstream::{self, EventStreamDecoder};
use crate::provider::gemini::GeminiStream;
use crate::provider::openai::OpenAiStream;
use crate::provider::workers_ai::WorkersAiStream;
use crate::sse::{SseDecoder, SseEvent};
use crate::types::StreamEvent;

/// The stream decoder for a wire format. `model` is the requested model,
/// used when the provider does not name one.
pub fn decoder(wire: WireFormat, model: &str) -> Box<dyn StreamDecoder + Send> {
    match wire {
        WireFormat::OpenAi => Box::new(OpenAiStream::new(model)),
        WireFormat::Anthropic => Box::new(AnthropicStream::new(model)),
        WireFormat::WorkersAi => Box::new(WorkersAiStream::new(model)),
        WireFormat::Gemini => Box::new(GeminiStream::new(model)),
        WireFormat::Bedrock => Box::new(BedrockStream::new(model)),
    }
}

/// How a wire format frames its events: SSE, or AWS's binary event
/// stream (Bedrock), whose messages become events named by their
/// `:event-type` (`exception:{type}` for an exception message).
#[derive(Debug)]
enum Framing {
    Sse(SseDecoder),
    EventStream(EventStreamDecoder, Vec<eventstream::Message>),
}

impl Framing {
    fn of(wire: WireFormat) -> Self {
        match wire {
            WireFormat::Bedrock => Self::EventStream(EventStreamDecoder::new(), Vec::new()),
            _ => Self::Sse(SseDecoder::new()),
        }
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), String> {
        match self {
            Self::Sse(d) => d.feed(bytes, out).map_err(|e| e.to_string()),
            Self::EventStream(d, messages) => {
                let r = d.feed(bytes, messages).map_err(|e| e.to_string());
                for m in messages.drain(..) {
                    out.push(event_of(&m)?);
                }
                r
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), String> {
        match self {
            Self::Sse(d) => d.finish(out).map_err(|e| e.to_string()),
            Self::EventStream(d, _) => d.finish().map_err(|e| e.to_string()),
        }
    }
}

/// An event-stream message as the event its decoder reads.
fn event_of(m: &eventstream::Message) -> Result<SseEvent, String> {
    let mut data = std::str::from_utf8(&m.payload)
        .map_err(|_| "an event-stream payload is not UTF-8 JSON".to_owned())?
        .to_owned();
    // An `error` message says what went wrong in its headers; its body is
    // empty.
    if m.header_str(":message-type") == Some("error")
        && data.trim().is_empty()
        && let Some(message) = m.header_str(":error-message")
    {
        data = serde_json::json!({ "message": message }).to_string();
    }
    let event = match m.header_str(":message-type") {
        Some("exception") | Some("error") => format!(
            "exception:{}",
            m.header_str(":exception-type")
                .or_else(|| m.header_str(":error-code"))
                .unwrap_or("UnknownException")
        ),
        _ => m.header_str(":event-type").unwrap_or_default().to_owned(),
    };
    Ok(SseEvent {
        event: Some(event),
        data,
        id: None,
    })
}

#[derive(Debug)]
pub struct EventPump {
    sse: Framing,
    decoder: Box<dyn StreamDecoder + Send>,
    scratch_sse: Vec<SseEvent>,
    scratch_out: Vec<StreamEvent>,
    queue: VecDeque<StreamEvent>,
    /// A terminal event has been queued.
    terminated: bool,
}

impl EventPump {
    pub fn new(wire: WireFormat, model: &str) -> Self {
        let mut pump = Self::with_decoder(decoder(wire, model));
        pump.sse = Framing::of(wire);
        pump
    }

    pub fn with_decoder(decoder: Box<dyn StreamDecoder + Send>) -> Self {
        Self {
            sse: Framing::Sse(SseDecoder::new()),
            decoder,
            scratch_sse: Vec::new(),
            scratch_out: Vec::new(),
            queue: VecDeque::new(),
            terminated: false,
        }
    }

    /// Feed upstream body bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.terminated {
            return;
        }
        let r = self.sse.feed(bytes, &mut self.scratch_sse);
        self.drain_sse();
        if let Err(e) = r {
            self.fail(GatewayError::Upstream(UpstreamDetail::message(e)));
        }
    }

    /// The upstream body ended cleanly.
    pub fn eof(&mut self) {
        if self.terminated {
            return;
        }
        let r = self.sse.finish(&mut self.scratch_sse);
        self.drain_sse();
        if let Err(e) = r {
            self.fail(GatewayError::Upstream(UpstreamDetail::message(e)));
            return;
        }
        if !self.terminated {
            self.decoder.on_eof(&mut self.scratch_out);
            self.take_out();
        }
        if !self.terminated {
            // A decoder that forgot its terminal event is a bug; the
            // guarantee still holds.
            self.fail(GatewayError::internal(
                "stream decoder ended without a terminal event",
            ));
        }
    }

    /// The stream failed (transport error, deadline): queue `error` unless a
    /// terminal event is already queued.
    pub fn fail(&mut self, error: GatewayError) {
        if !self.terminated {
            self.terminated = true;
            self.queue.push_back(StreamEvent::Error(error));
        }
    }

    /// Next queued event.
    pub fn pop(&mut self) -> Option<StreamEvent> {
        self.queue.pop_front()
    }

    /// The next queued event, without taking it.
    pub fn front(&self) -> Option<&StreamEvent> {
        self.queue.front()
    }

    /// Whether a terminal event has been queued (no more input is needed).
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Whether events are waiting to be popped.
    pub fn has_events(&self) -> bool {
        !self.queue.is_empty()
    }

    fn drain_sse(&mut self) {
        let mut events = std::mem::take(&mut self.scratch_sse);
        for ev in events.drain(..) {
            if self.terminated {
                break;
            }
            self.decoder.on_event(&ev, &mut self.scratch_out);
            self.take_out();
        }
        events.clear();
        self.scratch_sse = events;
    }

    fn take_out(&mut self) {
        for ev in self.scratch_out.drain(..) {
            if self.terminated {
                break;
            }
            self.terminated = ev.is_terminal();
            self.queue.push_back(ev);
        }
        self.scratch_out.clear();
    }
}

/// Run a whole body through a pump fed in the given chunk sizes (tests and
/// benches).
pub fn decode_all(wire: WireFormat, model: &str, body: &[u8], chunk: usize) -> Vec<StreamEvent> {
    let mut pump = EventPump::new(wire, model);
    let mut out = Vec::new();
    for c in body.chunks(chunk.max(1)) {
        pump.feed(c);
        while let Some(e) = pump.pop() {
            out.push(e);
        }
    }
    pump.eof();
    while let Some(e) = pump.pop() {
        out.push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pump_events_after_terminal_are_dropped() {
        let body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"late\"}}]}\n\n";
        let ev = decode_all(WireFormat::OpenAi, "m", body, 7);
        assert_eq!(ev.iter().filter(|e| e.is_terminal()).count(), 1);
        assert!(ev.last().is_some_and(StreamEvent::is_terminal));
        assert!(!ev.contains(&StreamEvent::Text("late".into())));
    }

    #[test]
    fn pump_fail_after_done_keeps_single_terminal() {
        let mut p = EventPump::new(WireFormat::OpenAi, "m");
        p.feed(b"data: [DONE]\n\n");
        p.fail(GatewayError::timeout("x"));
        p.eof();
        let mut n = 0;
        while let Some(e) = p.pop() {
            assert!(matches!(e, StreamEvent::Done(_)));
            n += 1;
        }
        assert_eq!(n, 1);
    }

    #[test]
    fn pump_oversized_line_is_terminal_error() {
        let mut p = EventPump::new(WireFormat::OpenAi, "m");
        let big = vec![b'x'; crate::sse::DEFAULT_MAX_LINE + 10];
        p.feed(b"data: ");
        p.feed(&big);
        assert!(p.is_terminated());
        assert!(matches!(
            p.pop(),
            Some(StreamEvent::Error(GatewayError::Upstream(_)))
        ));
    }

    #[test]
    fn pump_empty_body_is_one_error() {
        let ev = decode_all(WireFormat::Anthropic, "m", b"", 1);
        assert_eq!(ev.len(), 1);
        assert!(matches!(ev[0], StreamEvent::Error(_)));
    }
}

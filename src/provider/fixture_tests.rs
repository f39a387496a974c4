//! Shared helpers for the providers' fixture tests.

use crate::config::WireFormat;
use crate::stream::decode_all;
use crate::types::{FinishReason, StreamDone, StreamEvent, ToolCall, Usage};

/// Decode `body` whole, then check that feeding it split at every byte
/// offset (at 256 evenly spaced offsets for a body over 64 KiB: each split
/// decodes the whole body), and byte by byte, gives exactly the same events.
pub fn decode_checked(wire: WireFormat, body: &[u8]) -> Vec<StreamEvent> {
    let whole = decode_all(wire, "requested-model", body, body.len().max(1));
    assert_eq!(
        decode_all(wire, "requested-model", body, 1),
        whole,
        "byte-by-byte differs"
    );
    let step = if body.len() > 64 << 10 {
        body.len() / 256
    } else {
        1
    };
    for i in (0..=body.len()).step_by(step) {
        let (a, b) = body.split_at(i);
        let mut pump = crate::stream::EventPump::new(wire, "requested-model");
        let mut got = Vec::new();
        for part in [a, b] {
            pump.feed(part);
            while let Some(e) = pump.pop() {
                got.push(e);
            }
        }
        pump.eof();
        while let Some(e) = pump.pop() {
            got.push(e);
        }
        assert_eq!(got, whole, "split at byte {i} differs");
    }
    assert_eq!(
        whole.iter().filter(|e| e.is_terminal()).count(),
        1,
        "exactly one terminal event"
    );
    assert!(
        whole.last().is_some_and(StreamEvent::is_terminal),
        "terminal event is last"
    );
    whole
}

/// Events with consecutive text (and reasoning) deltas merged.
pub fn collapse(events: &[StreamEvent]) -> Vec<StreamEvent> {
    let mut out: Vec<StreamEvent> = Vec::new();
    for e in events {
        match (out.last_mut(), e) {
            (Some(StreamEvent::Text(a)), StreamEvent::Text(b)) => a.push_str(b),
            (Some(StreamEvent::Reasoning(a)), StreamEvent::Reasoning(b)) => a.push_str(b),
            (Some(StreamEvent::Refusal(a)), StreamEvent::Refusal(b)) => a.push_str(b),
            _ => out.push(e.clone()),
        }
    }
    out
}

pub fn done(model: &str, input: u64, output: u64, finish: FinishReason) -> StreamEvent {
    StreamEvent::Done(StreamDone {
        usage: Some(Usage {
            input_tokens: input,
            output_tokens: output,
            ..Usage::default()
        }),
        finish_reason: Some(finish),
        provider: String::new(),
        model: model.into(),
        cached: false,
        cost_micro_usd: None,
    })
}

pub fn tool(id: &str, name: &str, args: &str) -> StreamEvent {
    StreamEvent::ToolUse(ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args.into(),
        raw_arguments: None,
    })
}

pub fn text(t: &str) -> StreamEvent {
    StreamEvent::Text(t.into())
}

//! Checks shared by the fuzz targets (the three provider targets differ only
//! in their wire format).

use ai_gateway::ErrorKind;
use ai_gateway::config::WireFormat;
use ai_gateway::provider;
use ai_gateway::sse::SseDecoder;
use ai_gateway::types::{StreamEvent, ToolCall};
use serde_json::Value;

/// The model the caller asked for.
pub const MODEL: &str = "fuzz-model";

/// One provider: `data[0] % 4` picks the mode (0 = chat body, 1 = embeddings
/// body expecting `(data[0] >> 2) % 8` vectors, 2 and 3 = SSE stream body);
/// the rest is the response body.
pub fn provider(wire: WireFormat, data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => chat(wire, body),
        1 => embed(wire, body, usize::from(mode >> 2) % 8),
        _ => stream(wire, body),
    }
}

/// A tool call always carries a JSON object; the model's text is kept only
/// when it was not one (and then the arguments are `{}`).
fn check_tool_call(t: &ToolCall) {
    let v: Value = serde_json::from_str(&t.arguments).expect("tool arguments are JSON");
    assert!(
        v.is_object(),
        "tool arguments are an object: {}",
        t.arguments
    );
    if t.raw_arguments.is_some() {
        assert_eq!(t.arguments, "{}");
    }
}

fn chat(wire: WireFormat, body: &[u8]) {
    match provider::parse_chat(wire, body) {
        Ok(c) => {
            c.tool_calls.iter().for_each(check_tool_call);
            assert_ne!(c.reasoning.as_deref(), Some(""), "empty reasoning is None");
        }
        // A 2xx body the gateway cannot understand is an upstream error.
        Err(e) => assert_eq!(e.kind(), ErrorKind::Upstream, "{e}"),
    }
}

fn embed(wire: WireFormat, body: &[u8], expected: usize) {
    match provider::parse_embed(wire, body, expected) {
        Ok((vectors, _, _)) => {
            assert_eq!(vectors.len(), expected);
            if wire == WireFormat::OpenAi {
                check_openai_embed_indexes(body, expected);
            }
        }
        Err(e) if wire == WireFormat::Anthropic => assert_eq!(e.kind(), ErrorKind::Validation),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Upstream, "{e}"),
    }
}

/// "Vectors in input order": an accepted OpenAI body names each input
/// exactly once (`index`, or the position when absent).
fn check_openai_embed_indexes(body: &[u8], expected: usize) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let Some(items) = v.get("data").and_then(Value::as_array) else {
        return;
    };
    let mut seen: Vec<u64> = items
        .iter()
        .enumerate()
        .map(|(i, d)| d.get("index").and_then(Value::as_u64).unwrap_or(i as u64))
        .collect();
    seen.sort_unstable();
    let want: Vec<u64> = (0..expected as u64).collect();
    assert_eq!(
        seen, want,
        "embedding indexes are a permutation of the inputs"
    );
}

fn stream(wire: WireFormat, body: &[u8]) {
    let mut sse = SseDecoder::new();
    let mut events = Vec::new();
    // An SSE error (data that is not UTF-8) ends the stream; the engine
    // reports it, and the decoder still sees the events before it.
    let _ = sse
        .feed(body, &mut events)
        .and_then(|()| sse.finish(&mut events));

    let mut dec = ai_gateway::stream::decoder(wire, MODEL);
    let mut out = Vec::new();
    for ev in &events {
        dec.on_event(ev, &mut out);
    }
    dec.on_eof(&mut out);
    // Exactly one terminal event, and it is the last one.
    let terminals = out.iter().filter(|e| e.is_terminal()).count();
    assert_eq!(terminals, 1, "{out:?}");
    assert!(out.last().is_some_and(StreamEvent::is_terminal));
    // After it the decoder is inert.
    let n = out.len();
    dec.on_eof(&mut out);
    if let Some(ev) = events.last() {
        dec.on_event(ev, &mut out);
    }
    assert_eq!(out.len(), n, "output after the terminal event");

    for e in &out {
        match e {
            StreamEvent::Text(t)
            | StreamEvent::Reasoning(t)
            | StreamEvent::Refusal(t)
            | StreamEvent::ReasoningSignature(t) => {
                assert!(!t.is_empty(), "empty delta")
            }
            StreamEvent::Logprobs(l) => assert!(!l.is_empty(), "empty logprobs event"),
            StreamEvent::ToolUse(t) => check_tool_call(t),
            StreamEvent::Done(d) => assert!(!d.cached),
            // A redacted block's data is opaque (possibly empty).
            StreamEvent::ReasoningRedacted(_) | StreamEvent::Error(_) => {}
        }
    }
}

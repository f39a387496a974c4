//! Checks shared by the fuzz targets (the provider targets differ only in
//! their wire format).

use ai_gateway::ErrorKind;
use ai_gateway::config::{Endpoint, ProviderConfig, ProviderKind, WireFormat};
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

/// An endpoint of the kind that speaks `wire`, with what the kind needs.
fn endpoint(wire: WireFormat) -> Endpoint {
    let kind = match wire {
        WireFormat::OpenAi => ProviderKind::OpenAi,
        WireFormat::Anthropic => ProviderKind::Anthropic,
        WireFormat::WorkersAi => ProviderKind::WorkersAi,
        WireFormat::Gemini => ProviderKind::Gemini,
        WireFormat::Bedrock => ProviderKind::Bedrock,
    };
    let mut p = ProviderConfig::new("fuzz", kind);
    p.account_id = Some("acc".into());
    p.region = Some("us-east-1".into());
    Endpoint::resolve(&p, None).expect("a complete provider resolves")
}

fn embed(wire: WireFormat, body: &[u8], expected: usize) {
    match provider::parse_embed(&endpoint(wire), body, expected) {
        Ok((vectors, _, _)) => {
            assert_eq!(vectors.len(), expected);
            if wire == WireFormat::OpenAi {
                check_openai_embed_indexes(body, expected);
            }
        }
        Err(e) if matches!(wire, WireFormat::Anthropic | WireFormat::Bedrock) => {
            assert_eq!(e.kind(), ErrorKind::Validation)
        }
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

/// A stream through the pump, framing included (Bedrock's event stream):
/// exactly one terminal event, the last, whatever the bytes and however
/// they are split.
fn pumped(wire: WireFormat, body: &[u8]) {
    let whole = ai_gateway::stream::decode_all(wire, MODEL, body, body.len().max(1));
    assert_eq!(
        whole.iter().filter(|e| e.is_terminal()).count(),
        1,
        "{whole:?}"
    );
    assert!(whole.last().is_some_and(StreamEvent::is_terminal));
    let split = ai_gateway::stream::decode_all(wire, MODEL, body, 7);
    assert_eq!(
        format!("{split:?}"),
        format!("{whole:?}"),
        "splitting changes nothing"
    );
}

/// The event-stream frame decoder alone: any split gives the same messages
/// or the same error, and a message it accepts re-encodes to its bytes.
pub fn eventstream(data: &[u8]) {
    use ai_gateway::provider::bedrock::eventstream::{EventStreamDecoder, encode};
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let run = |parts: &[&[u8]]| {
        let mut d = EventStreamDecoder::new();
        let mut out = Vec::new();
        let mut r = Ok(());
        for p in parts {
            r = d.feed(p, &mut out);
            if r.is_err() {
                break;
            }
        }
        let end = r.clone().and_then(|()| d.finish());
        (out, r, end)
    };
    let whole = run(&[body]);
    let at = usize::from(cut).min(body.len());
    let (a, b) = body.split_at(at);
    let split = run(&[a, b]);
    assert_eq!(whole.1, split.1);
    assert_eq!(whole.2, split.2);
    if whole.2.is_ok() {
        assert_eq!(whole.0, split.0);
        let again: Vec<u8> = whole
            .0
            .iter()
            .flat_map(|m| {
                let h: Vec<(&str, _)> = m
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.clone()))
                    .collect();
                encode(&h, &m.payload)
            })
            .collect();
        assert_eq!(again, body, "accepted messages re-encode to their bytes");
    }
}

fn stream(wire: WireFormat, body: &[u8]) {
    if wire == WireFormat::Bedrock {
        return pumped(wire, body);
    }
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

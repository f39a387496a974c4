use crate::config::WireFormat;
use crate::error::ErrorKind;
use crate::provider::fixture_tests::decode_checked;
use crate::sse::SseEvent;
use crate::types::{FinishReason, StreamEvent};

use super::*;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini/");

fn fixture(name: &str) -> Vec<StreamEvent> {
    decode_checked(
        WireFormat::Gemini,
        &std::fs::read(format!("{FIX}{name}")).unwrap(),
    )
}

fn text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn done(events: &[StreamEvent]) -> &StreamDone {
    match events.last() {
        Some(StreamEvent::Done(d)) => d,
        other => panic!("last event is {other:?}"),
    }
}

#[test]
fn recorded_text_stream() {
    for name in ["stream_reply_short.sse", "vertex/stream_reply_short.sse"] {
        let ev = fixture(name);
        assert!(!text(&ev).is_empty(), "{name}");
        let d = done(&ev);
        assert_eq!(d.finish_reason, Some(FinishReason::Stop), "{name}");
        assert!(d.usage.unwrap().output_tokens > 0, "{name}");
        assert_eq!(ev.iter().filter(|e| e.is_terminal()).count(), 1);
    }
}

#[test]
fn recorded_thoughts_then_a_signed_function_call() {
    let ev = fixture("thinking_function_call_signature.sse");
    let first_reasoning = ev
        .iter()
        .position(|e| matches!(e, StreamEvent::Reasoning(_)));
    let sig = ev
        .iter()
        .position(|e| matches!(e, StreamEvent::ReasoningSignature(_)));
    let call = ev.iter().position(|e| matches!(e, StreamEvent::ToolUse(_)));
    assert!(
        first_reasoning.is_some() && sig.is_some() && call.is_some(),
        "{ev:?}"
    );
    // The signature closes the reasoning block, before the call it was on.
    assert!(first_reasoning < sig && sig < call, "{ev:?}");
    let d = done(&ev);
    assert_eq!(d.finish_reason, Some(FinishReason::ToolCalls));
    assert!(d.usage.unwrap().reasoning_tokens > 0);
}

#[test]
fn recorded_parallel_function_calls_get_distinct_ids() {
    let ev = fixture("stream_parallel_function_calls.sse");
    let ids: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolUse(c) => Some(c.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ev:?}");
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|id| !id.starts_with("call_")));
}

fn run(events: &[&str]) -> Vec<StreamEvent> {
    let mut d = GeminiStream::new("m");
    let mut out = Vec::new();
    for e in events {
        d.on_event(
            &SseEvent {
                event: None,
                data: (*e).to_owned(),
                id: None,
            },
            &mut out,
        );
    }
    d.on_eof(&mut out);
    out
}

#[test]
fn a_cut_stream_is_a_retryable_error_and_an_error_chunk_is_typed() {
    let ev = run(&[r#"{"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]}"#]);
    match ev.last() {
        Some(StreamEvent::Error(e)) => assert!(e.detail().unwrap().retryable),
        other => panic!("{other:?}"),
    }
    let ev =
        run(&[r#"{"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}}"#]);
    match ev.last() {
        Some(StreamEvent::Error(e)) => assert_eq!(e.kind(), ErrorKind::RateLimited),
        other => panic!("{other:?}"),
    }
    assert_eq!(ev.iter().filter(|e| e.is_terminal()).count(), 1);
}

#[test]
fn a_blocked_prompt_ends_with_content_filter() {
    let ev = run(&[r#"{"promptFeedback": {"blockReason": "SAFETY"}}"#]);
    assert!(matches!(ev.first(), Some(StreamEvent::Refusal(_))));
    assert_eq!(done(&ev).finish_reason, Some(FinishReason::ContentFilter));
}

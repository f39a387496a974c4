use super::*;
use crate::config::WireFormat;
use crate::provider::fixture_tests::{collapse, decode_checked, text};

#[test]
fn stream_deltas_usage_and_done() {
    let body = concat!(
        "data: {\"response\":\"Hel\",\"p\":\"abc\"}\n\n",
        "data: {\"response\":\"lo\"}\n\n",
        "data: {\"response\":\"\",\"tool_calls\":[{\"name\":\"f\",\"arguments\":{\"x\":1}}]}\n\n",
        "data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::WorkersAi, body.as_bytes());
    let c = collapse(&ev);
    assert_eq!(c[0], text("Hello"));
    assert!(
        matches!(&c[1], StreamEvent::ToolUse(t) if t.name == "f" && t.arguments == r#"{"x":1}"#)
    );
    match &c[2] {
        StreamEvent::Done(d) => {
            assert_eq!(
                d.usage,
                Some(Usage {
                    input_tokens: 5,
                    output_tokens: 2,
                    ..Usage::default()
                })
            );
            assert_eq!(d.finish_reason, Some(FinishReason::ToolCalls));
        }
        other => panic!("expected done, got {other:?}"),
    }
}

#[test]
fn stream_without_done_marker_is_error() {
    let ev = decode_checked(WireFormat::WorkersAi, b"data: {\"response\":\"Hel\"}\n\n");
    assert!(matches!(ev.last(), Some(StreamEvent::Error(_))));
}

#[test]
fn stream_same_call_id_in_two_frames_gives_one_tool_use() {
    let body = concat!(
        "data: {\"response\":\"\",\"tool_calls\":[{\"id\":\"chatcmpl-tool-1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}]}\n\n",
        "data: {\"response\":\"\",\"tool_calls\":[{\"id\":\"chatcmpl-tool-1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}}],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5}}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::WorkersAi, body.as_bytes());
    let uses: Vec<&ToolCall> = ev
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolUse(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(
        uses,
        vec![&ToolCall {
            id: "chatcmpl-tool-1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
            raw_arguments: None
        }]
    );
    assert!(
        matches!(ev.last(), Some(StreamEvent::Done(d)) if d.finish_reason == Some(FinishReason::ToolCalls))
    );
}

#[test]
fn stream_repeated_call_id_keeps_the_arguments_a_later_frame_completes() {
    let body = concat!(
        "data: {\"tool_calls\":[{\"id\":\"t1\",\"function\":{\"name\":\"f\",\"arguments\":null}}]}\n\n",
        "data: {\"tool_calls\":[{\"id\":\"t1\",\"function\":{\"name\":\"\",\"arguments\":\"{\\\"x\\\":1}\"}}]}\n\n",
        "data: {\"tool_calls\":[{\"id\":\"t1\",\"function\":{\"name\":\"f\"}}]}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::WorkersAi, body.as_bytes());
    assert_eq!(
        ev[0],
        StreamEvent::ToolUse(ToolCall {
            id: "t1".into(),
            name: "f".into(),
            arguments: r#"{"x":1}"#.into(),
            raw_arguments: None
        })
    );
    assert!(matches!(ev[1], StreamEvent::Done(_)));
    assert_eq!(ev.len(), 2);
}

#[test]
fn stream_generated_ids_never_collide_with_provider_call_ids() {
    // The first call has no id; the second carries the provider id `call_0`,
    // which the old generated id of the first call would have duplicated.
    let body = concat!(
        "data: {\"tool_calls\":[{\"name\":\"a\",\"arguments\":{}}]}\n\n",
        "data: {\"tool_calls\":[{\"id\":\"call_0\",\"name\":\"b\",\"arguments\":{}},{\"name\":\"c\",\"arguments\":{}}]}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::WorkersAi, body.as_bytes());
    let ids: Vec<&str> = ev
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolUse(t) => Some(t.id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec!["aigw_0", "call_0", "aigw_2"]);
}

#[test]
fn stream_usage_reasoning_tokens_reach_done() {
    let body = concat!(
        "data: {\"response\":\"4\"}\n\n",
        "data: {\"response\":\"\",\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":50,\"completion_tokens_details\":{\"reasoning_tokens\":42}}}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::WorkersAi, body.as_bytes());
    match ev.last() {
        Some(StreamEvent::Done(d)) => assert_eq!(d.usage.map(|u| u.reasoning_tokens), Some(42)),
        other => panic!("expected done, got {other:?}"),
    }
}

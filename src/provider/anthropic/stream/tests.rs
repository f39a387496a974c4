use super::*;
use crate::config::WireFormat;
use crate::provider::fixture_tests::{collapse, decode_checked, done, text, tool};
use crate::types::Usage;

fn fixture(bytes: &[u8]) -> Vec<StreamEvent> {
    decode_checked(WireFormat::Anthropic, bytes)
}

#[test]
fn stream_basic_fixture_text_and_usage() {
    let ev = fixture(include_bytes!(
        "../../../../tests/fixtures/anthropic/basic_response.sse"
    ));
    assert_eq!(
        ev,
        vec![
            text("Hello"),
            text(" there"),
            text("!"),
            done("claude-3-opus-latest", 11, 6, FinishReason::Stop)
        ]
    );
}

#[test]
fn stream_tool_use_fixture_assembles_input_json() {
    let ev = fixture(include_bytes!(
        "../../../../tests/fixtures/anthropic/tool_use_response.sse"
    ));
    assert_eq!(
        collapse(&ev),
        vec![
            text("I'll check the current weather in Paris for you."),
            tool(
                "toolu_01NRLabsLyVHZPKxbKvkfSMn",
                "get_weather",
                r#"{"location":"Paris"}"#
            ),
            done("claude-sonnet-4-20250514", 377, 65, FinishReason::ToolCalls),
        ]
    );
}

#[test]
fn stream_incomplete_partial_json_fixture_yields_empty_args_with_raw() {
    let ev = fixture(include_bytes!(
        "../../../../tests/fixtures/anthropic/incomplete_partial_json_response.sse"
    ));
    let c = collapse(&ev);
    assert_eq!(c.len(), 3);
    assert_eq!(
        c[0],
        text(
            "I'll create a comprehensive tax guide for someone with multiple W2s and save it in a file called taxes.txt. Let me do that for you now."
        )
    );
    match &c[1] {
        StreamEvent::ToolUse(call) => {
            assert_eq!(call.id, "toolu_01EKqbqmZrGRXy18eN7m9kvY");
            assert_eq!(call.name, "make_file");
            assert_eq!(call.arguments, "{}");
            assert!(
                call.raw_arguments
                    .as_deref()
                    .unwrap()
                    .starts_with("{\"filename\": \"taxes.txt\"")
            );
        }
        other => panic!("expected tool use, got {other:?}"),
    }
    assert_eq!(
        c[2],
        done("claude-3-7-sonnet-20250219", 450, 124, FinishReason::Length)
    );
}

#[test]
fn stream_refusal_fixture_is_content_filter_without_text() {
    let ev = fixture(include_bytes!(
        "../../../../tests/fixtures/anthropic/refusal_response.sse"
    ));
    assert_eq!(
        ev,
        vec![done("claude-opus-4-7", 20, 0, FinishReason::ContentFilter)]
    );
}

#[test]
fn stream_fallback_fixture_reports_the_serving_model() {
    for bytes in [
        &include_bytes!("../../../../tests/fixtures/anthropic/fallback_response.sse")[..],
        &include_bytes!("../../../../tests/fixtures/anthropic/fallback_credit_response.sse")[..],
    ] {
        assert_eq!(
            fixture(bytes),
            vec![
                text("Hello there!"),
                done("claude-sonnet-4-5", 25, 8, FinishReason::Stop)
            ]
        );
    }
}

#[test]
fn stream_compaction_fixture_skips_unknown_block() {
    let ev = fixture(include_bytes!(
        "../../../../tests/fixtures/anthropic/compaction_response.sse"
    ));
    assert_eq!(
        ev,
        vec![
            text("Hello there!"),
            done("claude-opus-4-7", 30, 8, FinishReason::Stop)
        ]
    );
}

#[test]
fn stream_without_message_stop_and_without_stop_reason_is_error() {
    let body = include_bytes!("../../../../tests/fixtures/anthropic/basic_response.sse");
    let s = std::str::from_utf8(body).unwrap();
    let cut = &s[..s.find("event: message_delta").unwrap()];
    let ev = fixture(cut.as_bytes());
    assert!(
        matches!(
            ev.last(),
            Some(StreamEvent::Error(GatewayError::Upstream(_)))
        ),
        "{ev:?}"
    );
    // With the stop reason but no message_stop the stream is complete.
    let cut = &s[..s.find("event: message_stop").unwrap()];
    assert_eq!(
        fixture(cut.as_bytes()).last(),
        Some(&done("claude-3-opus-latest", 11, 6, FinishReason::Stop))
    );
}

#[test]
fn stream_mid_stream_overloaded_error_is_service_unavailable() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let ev = fixture(body.as_bytes());
    assert_eq!(ev.len(), 2);
    assert!(
        matches!(&ev[1], StreamEvent::Error(GatewayError::ServiceUnavailable(d)) if d.message == "Overloaded")
    );
}

#[test]
fn stream_thinking_cache_usage_and_empty_tool_input() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":20,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Let me think\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"EqQB\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"now\",\"input\":{}}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: some_future_event\ndata: {\"type\":\"some_future_event\"}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":42}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let ev = fixture(body.as_bytes());
    assert_eq!(ev[0], StreamEvent::Reasoning("Let me think".into()));
    assert_eq!(ev[1], StreamEvent::ReasoningSignature("EqQB".into()));
    assert_eq!(ev[2], tool("t1", "now", "{}"));
    match &ev[3] {
        StreamEvent::Done(d) => assert_eq!(
            d.usage,
            Some(Usage {
                input_tokens: 130,
                output_tokens: 42,
                cache_read_tokens: 100,
                cache_write_tokens: 20,
                reasoning_tokens: 0
            })
        ),
        other => panic!("expected done, got {other:?}"),
    }
}

#[test]
fn stream_json_output_tool_streams_as_text() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"json_response\",\"input\":{}}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":5}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let ev = fixture(body.as_bytes());
    assert_eq!(
        collapse(&ev),
        vec![text("{\"a\":1}"), done("m", 3, 5, FinishReason::Stop)]
    );
}

#[test]
fn stream_message_delta_thinking_tokens_become_reasoning_tokens() {
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"4\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":60,\"output_tokens_details\":{\"thinking_tokens\":50}}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    match fixture(body.as_bytes()).last() {
        Some(StreamEvent::Done(d)) => assert_eq!(
            d.usage,
            Some(Usage {
                input_tokens: 10,
                output_tokens: 60,
                reasoning_tokens: 50,
                ..Usage::default()
            })
        ),
        other => panic!("expected done, got {other:?}"),
    }
}

#[test]
fn stream_thinking_signature_fixture_closes_the_block_with_its_signature() {
    // A synthetic capture from the Anthropic SDK's own suite (tests/fixtures/README.md).
    let ev = fixture(include_bytes!(
        "../../../../tests/fixtures/anthropic/thinking_signature_synthetic.sse"
    ));
    let reasoning: String = ev
        .iter()
        .take_while(|e| !matches!(e, StreamEvent::ReasoningSignature(_)))
        .filter_map(|e| match e {
            StreamEvent::Reasoning(r) => Some(r.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        reasoning.starts_with("Simple educational question"),
        "{reasoning}"
    );
    let sig = ev.iter().find_map(|e| match e {
        StreamEvent::ReasoningSignature(s) => Some(s.as_str()),
        _ => None,
    });
    assert_eq!(
        sig,
        Some("c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaWduYXR1cmU=")
    );
    assert!(ev.contains(&StreamEvent::Text("Hi".into())));
    match ev.last() {
        Some(StreamEvent::Done(d)) => {
            assert_eq!(d.finish_reason, Some(FinishReason::ContentFilter));
            assert_eq!(d.usage.map(|u| u.reasoning_tokens), Some(67));
        }
        other => panic!("expected done, got {other:?}"),
    }
}

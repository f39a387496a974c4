use super::*;
use crate::config::WireFormat;
use crate::provider::fixture_tests::{collapse, decode_checked, done, text, tool};

const FIX: &str = "gpt-4o-2024-08-06";

fn fixture(name: &str) -> Vec<StreamEvent> {
    let bytes = match name {
        "text_with_usage" => {
            &include_bytes!("../../../../tests/fixtures/openai/text_with_usage.sse")[..]
        }
        "tool_call_with_usage" => {
            &include_bytes!("../../../../tests/fixtures/openai/tool_call_with_usage.sse")[..]
        }
        "parallel_tool_calls" => {
            &include_bytes!("../../../../tests/fixtures/openai/parallel_tool_calls.sse")[..]
        }
        "refusal_with_usage" => {
            &include_bytes!("../../../../tests/fixtures/openai/refusal_with_usage.sse")[..]
        }
        "finish_length" => {
            &include_bytes!("../../../../tests/fixtures/openai/finish_length.sse")[..]
        }
        "multiple_choices" => {
            &include_bytes!("../../../../tests/fixtures/openai/multiple_choices.sse")[..]
        }
        "logprobs_content_with_usage" => {
            &include_bytes!("../../../../tests/fixtures/openai/logprobs_content_with_usage.sse")[..]
        }
        "refusal_logprobs_with_usage" => {
            &include_bytes!("../../../../tests/fixtures/openai/refusal_logprobs_with_usage.sse")[..]
        }
        "logprobs_top3_with_usage" => {
            &include_bytes!("../../../../tests/fixtures/openai-dotnet/logprobs_top3_with_usage.sse")
                [..]
        }
        _ => unreachable!("unknown fixture"),
    };
    decode_checked(WireFormat::OpenAi, bytes)
}

#[test]
fn stream_text_with_usage_fixture_gives_text_then_done_with_usage() {
    let ev = fixture("text_with_usage");
    assert_eq!(
        collapse(&ev),
        vec![
            text(r#"{"city":"San Francisco","temperature":61,"units":"f"}"#),
            done(FIX, 79, 14, FinishReason::Stop)
        ]
    );
    assert!(
        ev.iter()
            .filter(|e| matches!(e, StreamEvent::Text(_)))
            .count()
            > 5,
        "deltas stay separate"
    );
}

#[test]
fn stream_tool_call_fixture_assembles_arguments() {
    assert_eq!(
        fixture("tool_call_with_usage"),
        vec![
            tool(
                "call_4XzlGBLtUe9dy3GVNV4jhq7h",
                "get_weather",
                r#"{"city":"New York City"}"#
            ),
            done(FIX, 44, 16, FinishReason::ToolCalls)
        ]
    );
}

#[test]
fn stream_parallel_tool_calls_fixture_assembles_by_index() {
    assert_eq!(
        fixture("parallel_tool_calls"),
        vec![
            tool(
                "call_JMW1whyEaYG438VE1OIflxA2",
                "GetWeatherArgs",
                r#"{"city":"Edinburgh","country":"GB","units":"c"}"#
            ),
            tool(
                "call_DNYTawLBoN8fj3KN6qU9N1Ou",
                "get_stock_price",
                r#"{"ticker":"AAPL","exchange":"NASDAQ"}"#
            ),
            done(FIX, 149, 60, FinishReason::ToolCalls)
        ]
    );
}

#[test]
fn stream_refusal_fixture_is_refusal_and_content_filter() {
    assert_eq!(
        collapse(&fixture("refusal_with_usage")),
        vec![
            StreamEvent::Refusal("I'm sorry, I can't assist with that request.".into()),
            done(FIX, 79, 11, FinishReason::ContentFilter)
        ]
    );
}

#[test]
fn stream_finish_length_fixture_maps_length() {
    assert_eq!(
        collapse(&fixture("finish_length")),
        vec![text("{\""), done(FIX, 79, 1, FinishReason::Length)]
    );
}

#[test]
fn stream_multiple_choices_fixture_follows_choice_zero() {
    assert_eq!(
        collapse(&fixture("multiple_choices")),
        vec![
            text(r#"{"city":"San Francisco","temperature":65,"units":"f"}"#),
            done(FIX, 79, 42, FinishReason::Stop)
        ]
    );
}

#[test]
fn stream_cut_before_finish_is_one_error() {
    let body = include_bytes!("../../../../tests/fixtures/openai/text_with_usage.sse");
    let cut = &body[..body.len() / 2];
    let ev = decode_checked(WireFormat::OpenAi, cut);
    assert!(matches!(
        ev.last(),
        Some(StreamEvent::Error(crate::error::GatewayError::Upstream(_)))
    ));
}

#[test]
fn stream_finished_without_done_marker_is_done() {
    let body = include_bytes!("../../../../tests/fixtures/openai/text_with_usage.sse");
    let s = std::str::from_utf8(body)
        .unwrap()
        .replace("data: [DONE]", "");
    let ev = decode_checked(WireFormat::OpenAi, s.as_bytes());
    assert_eq!(ev.last(), Some(&done(FIX, 79, 14, FinishReason::Stop)));
}

#[test]
fn stream_error_chunk_is_terminal_error() {
    let body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_overloaded\"}}\n\n";
    let ev = decode_checked(WireFormat::OpenAi, body);
    assert_eq!(ev.len(), 2);
    assert!(
        matches!(&ev[1], StreamEvent::Error(crate::error::GatewayError::ServiceUnavailable(d)) if d.message == "overloaded")
    );
}

#[test]
fn stream_reasoning_deltas_and_malformed_tool_args() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"think\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"ing\",\"content\":\"\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",\"function\":{\"name\":\"f\",\"arguments\":\"{oops\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"unknown_field\":1}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::OpenAi, body.as_bytes());
    assert_eq!(collapse(&ev)[0], StreamEvent::Reasoning("thinking".into()));
    match &ev[2] {
        StreamEvent::ToolUse(c) => {
            assert_eq!(c.arguments, "{}");
            assert_eq!(c.raw_arguments.as_deref(), Some("{oops"));
        }
        other => panic!("expected tool use, got {other:?}"),
    }
}

#[test]
fn stream_usage_chunk_reasoning_tokens_reach_done() {
    // The recorded usage chunk, with a reasoning model's count in it.
    let body = include_bytes!("../../../../tests/fixtures/openai/text_with_usage.sse");
    let s = std::str::from_utf8(body).unwrap().replace(
        r#""completion_tokens_details":{"reasoning_tokens":0}"#,
        r#""completion_tokens_details":{"reasoning_tokens":9}"#,
    );
    assert_ne!(s.as_bytes(), body, "the fixture carries reasoning_tokens");
    let ev = decode_checked(WireFormat::OpenAi, s.as_bytes());
    match ev.last() {
        Some(StreamEvent::Done(d)) => assert_eq!(
            d.usage,
            Some(Usage {
                input_tokens: 79,
                output_tokens: 14,
                reasoning_tokens: 9,
                ..Usage::default()
            })
        ),
        other => panic!("expected done, got {other:?}"),
    }
}

#[test]
fn stream_missing_call_id_is_generated_with_aigw_prefix() {
    let body = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}},{\"index\":1,\"id\":\"call_0\",\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n"
    );
    let ev = decode_checked(WireFormat::OpenAi, body.as_bytes());
    assert_eq!(ev[0], tool("aigw_0", "a", "{}"));
    assert_eq!(ev[1], tool("call_0", "b", "{}"));
}

fn logprob_tokens(events: &[StreamEvent]) -> Vec<crate::types::TokenLogprob> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Logprobs(l) => Some(l.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn stream_logprobs_fixture_gives_one_token_per_content_chunk() {
    let ev = fixture("logprobs_content_with_usage");
    let tokens = logprob_tokens(&ev);
    let texts: String = ev
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    // The tokens spell the text, in order.
    assert_eq!(
        tokens.iter().map(|t| t.token.as_str()).collect::<String>(),
        texts
    );
    assert_eq!(tokens[0].token, "Foo");
    assert!((tokens[0].logprob - -0.002_509_428_2).abs() < 1e-12);
    assert_eq!(tokens[0].bytes.as_deref(), Some(&b"Foo"[..]));
    assert!(matches!(ev.last(), Some(StreamEvent::Done(_))));
}

#[test]
fn stream_refusal_logprobs_fixture_gives_refusal_and_its_tokens() {
    let ev = fixture("refusal_logprobs_with_usage");
    let refusal: String = ev
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Refusal(r) => Some(r.as_str()),
            _ => None,
        })
        .collect();
    assert!(!ev.iter().any(|e| matches!(e, StreamEvent::Text(_))));
    let tokens = logprob_tokens(&ev);
    assert_eq!(
        tokens.iter().map(|t| t.token.as_str()).collect::<String>(),
        refusal
    );
    assert_eq!(tokens.len(), 11);
    // `-3.4121115e-6` parses.
    assert!(
        tokens
            .iter()
            .any(|t| (t.logprob - -3.412_111_5e-6).abs() < 1e-15)
    );
}

#[test]
fn stream_top_logprobs_fixture_keeps_three_alternatives_per_token() {
    let ev = fixture("logprobs_top3_with_usage");
    let tokens = logprob_tokens(&ev);
    assert_eq!(tokens.len(), 829);
    assert!(tokens.iter().all(|t| t.top.len() == 3));
    assert_eq!(tokens[0].token, "Choosing");
    assert_eq!(tokens[0].top[0].token, "The");
    match ev.last() {
        Some(StreamEvent::Done(d)) => assert_eq!(d.usage.map(|u| u.output_tokens), Some(829)),
        other => panic!("expected done, got {other:?}"),
    }
}

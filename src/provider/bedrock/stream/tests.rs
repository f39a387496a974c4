use crate::config::WireFormat;
use crate::error::ErrorKind;
use crate::provider::bedrock::eventstream::{HeaderValue, encode};
use crate::provider::fixture_tests::decode_checked;
use crate::types::{FinishReason, StreamEvent};

const FIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/bedrock-eventstream/"
);

fn recorded(name: &str) -> Vec<StreamEvent> {
    decode_checked(
        WireFormat::Bedrock,
        &std::fs::read(format!("{FIX}{name}")).unwrap(),
    )
}

fn event(kind: &str, payload: &str) -> Vec<u8> {
    encode(
        &[
            (":event-type", HeaderValue::String(kind.into())),
            (
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            (":message-type", HeaderValue::String("event".into())),
        ],
        payload.as_bytes(),
    )
}

#[test]
fn recorded_converse_streams_decode_at_every_split() {
    let ev = recorded("pydantic-ai/test_bedrock_model_stream.bin");
    assert!(
        ev.iter()
            .any(|e| matches!(e, StreamEvent::Text(t) if !t.is_empty())),
        "{ev:?}"
    );
    match ev.last() {
        Some(StreamEvent::Done(d)) => {
            assert_eq!(d.finish_reason, Some(FinishReason::Stop));
            assert!(d.usage.unwrap().output_tokens > 0);
        }
        other => panic!("{other:?}"),
    }
    let ev = recorded("pydantic-ai/test_bedrock_model_thinking_part_stream.bin");
    let r = ev
        .iter()
        .position(|e| matches!(e, StreamEvent::Reasoning(_)));
    let s = ev
        .iter()
        .position(|e| matches!(e, StreamEvent::ReasoningSignature(_)));
    assert!(r.is_some() && r < s, "{ev:?}");
    assert!(matches!(ev.last(), Some(StreamEvent::Done(_))));
}

#[test]
fn tool_input_pieces_become_one_call() {
    let mut body = Vec::new();
    body.extend(event("messageStart", r#"{"role":"assistant"}"#));
    body.extend(event(
        "contentBlockStart",
        r#"{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"tooluse_9","name":"weather"}}}"#,
    ));
    for piece in [r#"{\"loc"#, r#"ation\":\"Oslo\"}"#] {
        body.extend(event(
            "contentBlockDelta",
            &format!(r#"{{"contentBlockIndex":0,"delta":{{"toolUse":{{"input":"{piece}"}}}}}}"#),
        ));
    }
    body.extend(event("contentBlockStop", r#"{"contentBlockIndex":0}"#));
    body.extend(event("messageStop", r#"{"stopReason":"tool_use"}"#));
    body.extend(event(
        "metadata",
        r#"{"usage":{"inputTokens":10,"outputTokens":5,"cacheReadInputTokens":2,"cacheWriteInputTokens":0}}"#,
    ));
    let ev = decode_checked(WireFormat::Bedrock, &body);
    match &ev[..] {
        [StreamEvent::ToolUse(c), StreamEvent::Done(d)] => {
            assert_eq!(c.id, "tooluse_9");
            assert_eq!(c.arguments, r#"{"location":"Oslo"}"#);
            assert_eq!(d.finish_reason, Some(FinishReason::ToolCalls));
            assert_eq!(d.usage.unwrap().input_tokens, 12);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_exception_message_is_a_typed_error_and_a_bad_frame_ends_the_stream() {
    let mut body = event("messageStart", r#"{"role":"assistant"}"#);
    body.extend(encode(
        &[
            (
                ":exception-type",
                HeaderValue::String("throttlingException".into()),
            ),
            (
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            (":message-type", HeaderValue::String("exception".into())),
        ],
        br#"{"message":"Too many requests, please wait before trying again."}"#,
    ));
    let ev = decode_checked(WireFormat::Bedrock, &body);
    match &ev[..] {
        [StreamEvent::Error(e)] => {
            assert_eq!(e.kind(), ErrorKind::RateLimited);
            assert!(e.detail().unwrap().message.contains("Too many requests"));
            assert_eq!(
                e.detail().unwrap().code.as_deref(),
                Some("ThrottlingException")
            );
        }
        other => panic!("{other:?}"),
    }
    // A flipped bit in a frame: one error, nothing after it.
    let mut body = event(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"Hi"}}"#,
    );
    if let Some(b) = body.get_mut(20) {
        *b ^= 1;
    }
    let ev = crate::stream::decode_all(WireFormat::Bedrock, "m", &body, 7);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(matches!(&ev[0], StreamEvent::Error(_)));
    // A body cut inside a frame.
    let body = event("messageStart", r#"{"role":"assistant"}"#);
    let ev = crate::stream::decode_all(WireFormat::Bedrock, "m", &body[..body.len() - 3], 4);
    assert!(matches!(&ev[..], [StreamEvent::Error(_)]), "{ev:?}");
}

#[test]
fn an_error_message_takes_its_text_from_its_headers() {
    let mut body = event("messageStart", r#"{"role":"assistant"}"#);
    body.extend(encode(
        &[
            (":message-type", HeaderValue::String("error".into())),
            (":error-code", HeaderValue::String("InternalFailure".into())),
            (
                ":error-message",
                HeaderValue::String("The server had a problem".into()),
            ),
        ],
        b"",
    ));
    let ev = decode_checked(WireFormat::Bedrock, &body);
    match &ev[..] {
        [StreamEvent::Error(e)] => {
            assert_eq!(e.detail().unwrap().message, "The server had a problem");
            assert_eq!(e.detail().unwrap().code.as_deref(), Some("InternalFailure"));
        }
        other => panic!("{other:?}"),
    }
}

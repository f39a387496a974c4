use super::*;

#[test]
fn parse_chat_text_usage_and_cached_reasoning_tokens() {
    let body = br#"{"id":"x","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":192}}}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "Hello!");
    assert_eq!(c.finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        c.usage,
        Some(Usage {
            input_tokens: 2006,
            output_tokens: 300,
            cache_read_tokens: 1920,
            cache_write_tokens: 0,
            reasoning_tokens: 192
        })
    );
}

#[test]
fn parse_chat_tool_calls_normalized() {
    let body = br#"{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\": \"SF\"}"}}]},"finish_reason":"tool_calls"}]}"#;
    let c = parse_chat(body).unwrap();
    assert_eq!(c.text, "");
    assert_eq!(
        c.tool_calls,
        vec![ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"location":"SF"}"#.into(),
            raw_arguments: None
        }]
    );
    assert_eq!(c.finish_reason, Some(FinishReason::ToolCalls));
}

#[test]
fn parse_chat_non_json_and_no_choices_are_upstream_errors() {
    assert_eq!(
        parse_chat(b"<html>oops</html>").unwrap_err().kind(),
        crate::error::ErrorKind::Upstream
    );
    assert_eq!(
        parse_chat(b"{\"choices\":[]}").unwrap_err().kind(),
        crate::error::ErrorKind::Upstream
    );
    assert_eq!(
        parse_chat(&[0xff, 0xfe, 0x00]).unwrap_err().kind(),
        crate::error::ErrorKind::Upstream
    );
}

#[test]
fn usage_reasoning_tokens_never_exceed_output_tokens() {
    let body = br#"{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":1,"completion_tokens":3,"completion_tokens_details":{"reasoning_tokens":40}}}"#;
    let u = parse_chat(body).unwrap().usage.unwrap();
    assert_eq!((u.output_tokens, u.reasoning_tokens), (3, 3));
}

#[test]
fn parse_chat_missing_or_empty_call_ids_are_generated_with_aigw_prefix() {
    let body = br#"{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
        {"type":"function","function":{"name":"a","arguments":"{}"}},
        {"id":"","type":"function","function":{"name":"b","arguments":"{}"}},
        {"id":"call_0","type":"function","function":{"name":"c","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}"#;
    let ids: Vec<String> = parse_chat(body)
        .unwrap()
        .tool_calls
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, vec!["aigw_0", "aigw_1", "call_0"]);
}

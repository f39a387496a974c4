//! `stream` end to end through the component: the recorded provider streams
//! replayed by the mock (paced), streams cut or ended early, cancel that
//! reaches the upstream, and the guest's memory on a 100 MB stream.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::Duration;

use common::{Harness, anthropic_cfg, kind, openai_cfg, workers_cfg};
use host_test::cfg;
use host_test::host::{GatewayHandle, StreamHandle, w};
use host_test::mock::{self, MockBody, Reply, StreamOutcome};
use serde_json::json;

async fn open_all(h: &mut Harness) -> GatewayHandle {
    let config = cfg::gateway(
        vec![openai_cfg(h), anthropic_cfg(h), workers_cfg(h)],
        Some("openai"),
    );
    h.open(&config).await
}

fn on(provider: &str) -> w::RunOptions {
    w::RunOptions {
        provider: Some(provider.into()),
        ..cfg::options()
    }
}

async fn stream_ok(
    h: &mut Harness,
    gw: GatewayHandle,
    provider: &str,
    model: &str,
) -> (StreamHandle, Vec<w::StreamEvent>) {
    let s = h
        .inst
        .stream(gw, model, &cfg::user("hi"), Some(&on(provider)))
        .await
        .expect("no trap")
        .expect("stream opens");
    let events = h.inst.collect(s).await.expect("no trap");
    (s, events)
}

fn text_of(events: &[w::StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| {
            if let w::StreamEvent::Text(t) = e {
                Some(t.as_str())
            } else {
                None
            }
        })
        .collect()
}

fn tools_of(events: &[w::StreamEvent]) -> Vec<w::ToolCall> {
    events
        .iter()
        .filter_map(|e| {
            if let w::StreamEvent::ToolUse(t) = e {
                Some(t.clone())
            } else {
                None
            }
        })
        .collect()
}

fn done_of(events: &[w::StreamEvent]) -> &w::StreamDone {
    match events.last() {
        Some(w::StreamEvent::Done(d)) => d,
        other => panic!("expected a final done event, got {other:?}"),
    }
}

fn assert_one_terminal(events: &[w::StreamEvent]) {
    let terminals = events
        .iter()
        .filter(|e| matches!(e, w::StreamEvent::Done(_) | w::StreamEvent::Error(_)))
        .count();
    assert_eq!(terminals, 1, "exactly one terminal event: {events:?}");
    assert!(matches!(
        events.last(),
        Some(w::StreamEvent::Done(_) | w::StreamEvent::Error(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_openai_fixtures_paced_through_the_component() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    let pace = Duration::from_millis(1);

    h.mock.push(Reply::sse(mock::OPENAI_TEXT_SSE, pace));
    let (s, ev) = stream_ok(&mut h, gw, "openai", "gpt-4o").await;
    assert_one_terminal(&ev);
    assert_eq!(
        text_of(&ev),
        r#"{"city":"San Francisco","temperature":61,"units":"f"}"#
    );
    let d = done_of(&ev);
    assert_eq!(d.provider, "openai");
    assert_eq!(d.model, "gpt-4o-2024-08-06");
    assert_eq!(d.finish_reason, Some(w::FinishReason::Stop));
    assert_eq!(
        d.usage.map(|u| (u.input_tokens, u.output_tokens)),
        Some((79, 14))
    );
    assert_eq!(
        h.inst.next(s).await.expect("no trap"),
        None,
        "none after the terminal event"
    );
    assert_eq!(h.inst.next(s).await.expect("no trap"), None, "forever");
    let req = h.mock.last().expect("request");
    assert_eq!(req.json()["stream"], true);
    assert_eq!(req.json()["stream_options"], json!({"include_usage": true}));

    h.mock.push(Reply::sse(mock::OPENAI_PARALLEL_SSE, pace));
    let (_, ev) = stream_ok(&mut h, gw, "openai", "gpt-4o").await;
    assert_one_terminal(&ev);
    let calls = tools_of(&ev);
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].name.as_str(), calls[0].arguments.as_str()),
        (
            "GetWeatherArgs",
            r#"{"city":"Edinburgh","country":"GB","units":"c"}"#
        )
    );
    assert_eq!(
        (calls[1].name.as_str(), calls[1].arguments.as_str()),
        (
            "get_stock_price",
            r#"{"ticker":"AAPL","exchange":"NASDAQ"}"#
        )
    );
    assert_eq!(done_of(&ev).finish_reason, Some(w::FinishReason::ToolCalls));

    h.mock.push(Reply::sse(mock::OPENAI_TOOL_SSE, pace));
    let (_, ev) = stream_ok(&mut h, gw, "openai", "gpt-4o").await;
    assert_eq!(tools_of(&ev)[0].arguments, r#"{"city":"New York City"}"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_anthropic_fixtures_paced_through_the_component() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    h.mock.push(Reply::sse(
        mock::ANTHROPIC_TOOL_SSE,
        Duration::from_millis(1),
    ));
    let (_, ev) = stream_ok(&mut h, gw, "anthropic", "claude-sonnet-4-6").await;
    assert_one_terminal(&ev);
    assert_eq!(
        text_of(&ev),
        "I'll check the current weather in Paris for you."
    );
    assert_eq!(
        tools_of(&ev),
        vec![w::ToolCall {
            id: "toolu_01NRLabsLyVHZPKxbKvkfSMn".into(),
            name: "get_weather".into(),
            arguments: r#"{"location":"Paris"}"#.into(),
            raw_arguments: None
        }]
    );
    let d = done_of(&ev);
    assert_eq!(d.finish_reason, Some(w::FinishReason::ToolCalls));
    assert_eq!(
        d.usage.map(|u| (u.input_tokens, u.output_tokens)),
        Some((377, 65))
    );
    assert_eq!(d.provider, "anthropic");
    assert_eq!(h.mock.last().expect("request").json()["stream"], true);

    let incomplete =
        include_bytes!("../../tests/fixtures/anthropic/incomplete_partial_json_response.sse");
    h.mock
        .push(Reply::sse(incomplete, Duration::from_millis(1)));
    let (_, ev) = stream_ok(&mut h, gw, "anthropic", "claude-sonnet-4-6").await;
    assert_one_terminal(&ev);
    let calls = tools_of(&ev);
    assert_eq!(
        calls[0].arguments, "{}",
        "malformed tool JSON becomes {{}}, never a failed stream"
    );
    assert!(
        calls[0]
            .raw_arguments
            .as_deref()
            .is_some_and(|r| r.contains("taxes.txt"))
    );
    assert_eq!(done_of(&ev).finish_reason, Some(w::FinishReason::Length));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_workers_ai_deltas_and_usage() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    let (_, ev) = stream_ok(&mut h, gw, "workers", "@cf/meta/llama-3.1-8b-instruct").await;
    assert_one_terminal(&ev);
    assert_eq!(text_of(&ev), mock::MOCK_TEXT);
    assert!(ev.len() > 3, "deltas arrive separately");
    assert_eq!(done_of(&ev).usage.map(|u| u.output_tokens), Some(9));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_cut_mid_way_ends_with_one_error_event() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    for (provider, model, bytes) in [
        ("openai", "gpt-4o", mock::OPENAI_TEXT_SSE),
        ("anthropic", "claude-sonnet-4-6", mock::ANTHROPIC_TEXT_SSE),
    ] {
        h.mock
            .push(Reply::sse(bytes, Duration::from_millis(2)).cut_after(4));
        let (s, ev) = stream_ok(&mut h, gw, provider, model).await;
        assert_one_terminal(&ev);
        assert!(
            matches!(ev.last(), Some(w::StreamEvent::Error(_))),
            "{provider}: {ev:?}"
        );
        assert!(
            !text_of(&ev).is_empty(),
            "{provider}: the text before the cut was delivered"
        );
        assert_eq!(
            h.inst.next(s).await.expect("the instance did not trap"),
            None
        );
    }
    // The instance is fine afterwards.
    let (_, ev) = stream_ok(&mut h, gw, "openai", "gpt-4o").await;
    assert!(matches!(ev.last(), Some(w::StreamEvent::Done(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_ending_without_end_marker_has_one_terminal_event() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    // Ends cleanly before [DONE] and before any finish_reason: truncated.
    let openai = std::str::from_utf8(mock::OPENAI_TEXT_SSE).expect("utf-8");
    let cut = &openai[..openai
        .find("\"finish_reason\":\"stop\"")
        .expect("has a finish")];
    let cut = &cut[..cut.rfind("\n\n").expect("event boundary") + 2];
    h.mock.push(Reply::sse(cut.as_bytes(), Duration::ZERO));
    let (_, ev) = stream_ok(&mut h, gw, "openai", "gpt-4o").await;
    assert_one_terminal(&ev);
    match ev.last() {
        Some(w::StreamEvent::Error(e)) => assert_eq!(kind(e), "upstream"),
        other => panic!("expected an error, got {other:?}"),
    }
    // Anthropic without message_stop but with its stop reason: complete.
    let anthropic = std::str::from_utf8(mock::ANTHROPIC_TEXT_SSE).expect("utf-8");
    let no_stop = &anthropic[..anthropic.find("event: message_stop").expect("has stop")];
    h.mock.push(Reply::sse(no_stop.as_bytes(), Duration::ZERO));
    let (_, ev) = stream_ok(&mut h, gw, "anthropic", "claude-sonnet-4-6").await;
    assert_one_terminal(&ev);
    assert_eq!(text_of(&ev), "Hello there!");
    assert_eq!(done_of(&ev).finish_reason, Some(w::FinishReason::Stop));
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_mid_stream_provider_error_is_terminal_error_event() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    let body = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    h.mock.push(Reply::sse(body.as_bytes(), Duration::ZERO));
    let (_, ev) = stream_ok(&mut h, gw, "anthropic", "claude-sonnet-4-6").await;
    assert_eq!(ev.len(), 2);
    match &ev[1] {
        w::StreamEvent::Error(w::GatewayError::ServiceUnavailable(d)) => {
            assert_eq!(d.message, "Overloaded");
            assert_eq!(d.provider.as_deref(), Some("anthropic"));
        }
        other => panic!("expected service-unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_upstream_error_before_first_event_is_returned_directly() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    h.mock.push(
        Reply::json(
            429,
            json!({"error": {"message": "slow down", "type": "rate_limit_error"}}),
        )
        .header("retry-after", "2"),
    );
    let e = h
        .inst
        .stream(gw, "gpt-4o", &cfg::user("hi"), Some(&on("openai")))
        .await
        .expect("no trap")
        .expect_err("429");
    assert_eq!(kind(&e), "rate-limited");
    assert_eq!(common::detail(&e).retry_after_ms, Some(2000));
    let e = h
        .inst
        .stream(gw, "gpt-4o", &w::AiInput::Messages(vec![]), None)
        .await
        .expect("no trap")
        .expect_err("validation");
    assert_eq!(kind(&e), "validation");
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_drop_after_first_event_closes_the_upstream_connection() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    // 200 events, 20 ms apart: 4 s if read to the end.
    let mut body = String::new();
    for i in 0..200 {
        body.push_str(&format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": format!("t{i} ")}}]})
        ));
    }
    body.push_str("data: [DONE]\n\n");
    h.mock
        .push(Reply::sse(body.as_bytes(), Duration::from_millis(20)));
    let s = h
        .inst
        .stream(gw, "gpt-4o", &cfg::user("hi"), Some(&on("openai")))
        .await
        .expect("no trap")
        .expect("opens");
    let first = h.inst.next(s).await.expect("no trap");
    assert_eq!(first, Some(w::StreamEvent::Text("t0 ".into())));
    h.inst.drop_resource(s.0).await.expect("drop");
    let outcomes = h.mock.wait_outcomes(1, Duration::from_secs(3)).await;
    match outcomes.as_slice() {
        [StreamOutcome::ClientClosed { sent, total }] => {
            assert!(
                *sent < 20,
                "the server saw the close early: {sent} of {total} sent"
            );
        }
        other => panic!("expected the client to close the connection, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_try_next_is_pending_then_finished() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    h.mock
        .push(Reply::sse(mock::OPENAI_TEXT_SSE, Duration::from_millis(15)));
    let s = h
        .inst
        .stream(gw, "gpt-4o", &cfg::user("hi"), Some(&on("openai")))
        .await
        .expect("no trap")
        .expect("opens");
    let (mut pending, mut events) = (0, Vec::new());
    loop {
        match h.inst.try_next(s).await.expect("no trap") {
            w::PollEvent::Ready(e) => events.push(e),
            w::PollEvent::Pending => {
                pending += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            w::PollEvent::Finished => break,
        }
    }
    assert!(pending > 0, "a paced stream is pending at times");
    assert_one_terminal(&events);
    assert_eq!(
        text_of(&events),
        r#"{"city":"San Francisco","temperature":61,"units":"f"}"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_100_mb_keeps_guest_memory_small() {
    let mut h = Harness::new().await;
    let gw = open_all(&mut h).await;
    let delta = format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": "x".repeat(400)}}]})
    );
    let count = (100 << 20) / delta.len() + 1;
    let tail = format!(
        "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": count}})
    );
    h.mock.push(Reply {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: MockBody::Repeat {
            head: Vec::new(),
            chunk: delta.clone().into_bytes(),
            count,
            tail: tail.into_bytes(),
            delay: Duration::ZERO,
        },
        delay: Duration::ZERO,
    });
    let before = h.inst.peak_memory();
    let started = std::time::Instant::now();
    let s = h
        .inst
        .stream(gw, "gpt-4o", &cfg::user("hi"), Some(&on("openai")))
        .await
        .expect("no trap")
        .expect("opens");
    let (mut texts, mut bytes) = (0usize, 0usize);
    let mut last = None;
    while let Some(e) = h.inst.next(s).await.expect("no trap") {
        if let w::StreamEvent::Text(t) = &e {
            texts += 1;
            bytes += t.len();
        }
        last = Some(e);
    }
    let elapsed = started.elapsed();
    let total = delta.len() * count;
    assert_eq!(texts, count);
    assert_eq!(bytes, 400 * count);
    assert!(matches!(last, Some(w::StreamEvent::Done(_))));
    let peak = h.inst.peak_memory();
    println!(
        "100 MB stream: {total} bytes, {count} events in {elapsed:?} ({:.0} MB/s end to end); guest memory {before} -> {peak} bytes",
        total as f64 / elapsed.as_secs_f64() / 1e6
    );
    assert!(
        peak <= 8 << 20,
        "guest linear memory grew to {peak} bytes on a {total}-byte stream"
    );
}

//! The WIT 0.2 additions through the engine: request ids in log records,
//! reasoning blocks with signatures recorded and replayed by the cache.

use super::*;

#[test]
fn request_id_is_written_in_every_log_record_and_not_in_the_cache_key() {
    use crate::config::{CacheConfig, LoggingConfig};
    use crate::types::LogLevel;
    let w = World::new(vec![Reply::json(200, OK)]);
    let gw = Gateway::open(GatewayConfig {
        providers: vec![provider("openai", ProviderKind::OpenAi)],
        default_provider: Some("openai".into()),
        logging: Some(LoggingConfig {
            level: LogLevel::Debug,
            stderr: false,
            include_prompts: false,
        }),
        cache: Some(CacheConfig {
            bucket: "c".into(),
            ttl_seconds: 60,
            namespace: None,
            streams: true,
        }),
        ..GatewayConfig::default()
    })
    .unwrap();
    let opts = |id: &str| RunOptions {
        request_id: Some(id.into()),
        ..RunOptions::default()
    };
    let out = gw.run(&w.env(), "m", &input(), &opts("req-1")).unwrap();
    assert!(out.trace.len() >= 2, "{:?}", out.trace);
    assert!(
        out.trace
            .iter()
            .all(|r| r.request_id.as_deref() == Some("req-1"))
    );
    // Another id, same call: a cache hit (the id labels, it does not key).
    let again = gw.run(&w.env(), "m", &input(), &opts("req-2")).unwrap();
    assert!(again.cached);
    assert_eq!(w.http.hits(), 1);
    assert!(
        again
            .trace
            .iter()
            .all(|r| r.request_id.as_deref() == Some("req-2"))
    );
}

#[test]
fn cached_stream_replays_reasoning_blocks_with_their_signatures() {
    use crate::config::CacheConfig;
    let sse = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Hmm.\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"SIG1\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"redacted_thinking\",\"data\":\"RED\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"text_delta\",\"text\":\"42\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    let w = World::new(vec![Reply::json(200, sse)]);
    let gw = Gateway::open(GatewayConfig {
        providers: vec![provider("anthropic", ProviderKind::Anthropic)],
        default_provider: Some("anthropic".into()),
        cache: Some(CacheConfig {
            bucket: "c".into(),
            ttl_seconds: 60,
            namespace: None,
            streams: true,
        }),
        ..GatewayConfig::default()
    })
    .unwrap();
    let drain = |s: &mut LiveStream<_>| {
        let mut ev = Vec::new();
        while let Some(e) = s.next(&gw, &w.env()) {
            ev.push(e);
        }
        ev
    };
    let mut live = gw
        .stream(&w.env(), "claude", &input(), &RunOptions::default())
        .unwrap();
    let first = drain(&mut live);
    let mut replay = gw
        .stream(&w.env(), "claude", &input(), &RunOptions::default())
        .unwrap();
    let second = drain(&mut replay);
    assert_eq!(w.http.hits(), 1, "the second stream came from the cache");
    let shape = |ev: &[StreamEvent]| -> Vec<StreamEvent> {
        ev.iter()
            .filter(|e| !matches!(e, StreamEvent::Done(_)))
            .cloned()
            .collect()
    };
    assert_eq!(
        shape(&first),
        vec![
            StreamEvent::Reasoning("Hmm.".into()),
            StreamEvent::ReasoningSignature("SIG1".into()),
            StreamEvent::ReasoningRedacted("RED".into()),
            StreamEvent::Text("42".into()),
        ]
    );
    assert_eq!(shape(&second), shape(&first));
    assert!(matches!(second.last(), Some(StreamEvent::Done(d)) if d.cached));
}

#[test]
fn count_tokens_asks_anthropic_and_refuses_other_formats() {
    use crate::types::{Message, Role};
    let w = World::new(vec![Reply::json(200, r#"{"input_tokens": 42}"#)]);
    let gw = gateway(None);
    let input = Input::Messages(vec![
        Message::new(Role::System, "Be brief."),
        Message::new(Role::User, "Hello"),
    ]);
    let opts = RunOptions {
        provider: Some("anthropic".into()),
        max_tokens: Some(10),
        temperature: Some(0.5),
        ..RunOptions::default()
    };
    let n = gw.count_tokens(&w.env(), "claude", &input, &opts).unwrap();
    assert_eq!(n, 42);
    let sent = w.http.requests.borrow();
    assert_eq!(sent[0].url, "http://upstream/v1/messages/count_tokens");
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"model": "claude", "system": "Be brief.",
                           "messages": [{"role": "user", "content": "Hello"}]}),
        "only the fields that make the prompt"
    );
    drop(sent);
    let e = gw
        .count_tokens(&w.env(), "m", &input, &RunOptions::default())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
    assert!(e.to_string().contains("cannot count tokens"), "{e}");
    assert_eq!(w.http.hits(), 1, "a refused count sends nothing");
}

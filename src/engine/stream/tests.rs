//! Streams end to end over the scripted HTTP port.

use crate::config::{GatewayConfig, ProviderConfig, ProviderKind};
use crate::engine::{Env, Gateway};
use crate::error::{ErrorKind, GatewayError};
use crate::testing::{FixedRandom, ManualClock, MemKv, NoLog, Reply, ScriptedHttp};
use crate::types::{Input, RunOptions, StreamEvent};

const SSE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"héllo \"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"wörld\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

fn gateway() -> Gateway {
    let mut p = ProviderConfig::new("openai", ProviderKind::OpenAi);
    p.base_url = Some("http://upstream".into());
    Gateway::open(GatewayConfig {
        providers: vec![p],
        default_provider: Some("openai".into()),
        ..GatewayConfig::default()
    })
    .unwrap()
}

/// Stream one call against `reply`, delivered in `chunk`-byte reads.
fn stream(reply: Reply, chunk: usize) -> Result<Vec<StreamEvent>, GatewayError> {
    let mut http = ScriptedHttp::new(vec![reply]);
    http.chunk = chunk;
    let (clock, random, kv, log) = (
        ManualClock::default(),
        FixedRandom(0),
        MemKv::default(),
        NoLog,
    );
    let env = Env {
        http: &http,
        clock: &clock,
        random: &random,
        kv: &kv,
        log: &log,
    };
    let gw = gateway();
    let mut s = gw.stream(
        &env,
        "m",
        &Input::Prompt("hi".into()),
        &RunOptions::default(),
    )?;
    let mut out = Vec::new();
    while let Some(e) = s.next(&gw, &env) {
        out.push(e);
    }
    Ok(out)
}

fn reply(content_type: &str, body: Vec<u8>) -> Reply {
    Reply::Response {
        status: 200,
        headers: vec![("content-type".into(), content_type.into())],
        body,
    }
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

#[test]
fn stream_gzip_body_is_inflated_across_reads() {
    for chunk in [1, 3, 64] {
        let r = reply("text/event-stream", crate::encoding::gz(SSE.as_bytes()))
            .with_header("content-encoding", "gzip");
        let ev = stream(r, chunk).unwrap();
        assert_eq!(text(&ev), "h\u{e9}llo w\u{f6}rld", "chunk {chunk}");
        assert!(matches!(ev.last(), Some(StreamEvent::Done(_))));
    }
}

#[test]
fn stream_gzip_header_on_plain_body_passes_through() {
    let r =
        reply("text/event-stream", SSE.as_bytes().to_vec()).with_header("content-encoding", "gzip");
    assert_eq!(text(&stream(r, 5).unwrap()), "h\u{e9}llo w\u{f6}rld");
}

#[test]
fn stream_gzip_bomb_stops_at_the_line_limit() {
    let bomb = [b"data: ".as_slice(), &vec![b'z'; 8 << 20]].concat();
    let r = reply("text/event-stream", crate::encoding::gz(&bomb))
        .with_header("content-encoding", "gzip");
    let e = stream(r, 4096).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Upstream);
    assert!(e.to_string().contains("line longer"), "{e}");
}

#[test]
fn stream_corrupt_gzip_is_one_error() {
    let mut body = crate::encoding::gz(SSE.as_bytes());
    for b in body.iter_mut().skip(12).take(20) {
        *b ^= 0x5a;
    }
    let r = reply("text/event-stream", body).with_header("content-encoding", "gzip");
    let e = stream(r, 16).unwrap_err();
    assert!(e.to_string().contains("gzip"), "{e}");
}

#[test]
fn stream_json_answer_becomes_events_and_mislabelled_sse_still_decodes() {
    let json = r#"{"model":"m","choices":[{"index":0,"message":{"content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}"#;
    let ev = stream(reply("application/json", json.into()), 8).unwrap();
    assert_eq!(text(&ev), "whole");
    assert!(matches!(ev.last(), Some(StreamEvent::Done(d)) if d.usage.is_some() && !d.cached));
    let ev = stream(reply("application/json", SSE.into()), 8).unwrap();
    assert_eq!(text(&ev), "h\u{e9}llo w\u{f6}rld");
    let e = stream(reply("text/html", b"<html></html>".to_vec()), 8).unwrap_err();
    assert!(e.to_string().contains("text/html"), "{e}");
}

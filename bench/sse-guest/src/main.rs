//! Decode throughput inside the guest: the recorded OpenAI, Anthropic,
//! Gemini and Bedrock (event-stream) streams, repeated to ~64 MB, fed through the gateway's SSE decoder alone
//! and through the full event pump (SSE + provider decoder + terminal-event
//! guarantee) in 64 KiB reads, as the component reads upstream bodies.
//! Prints one JSON line per case. Runs as a `wasi:cli/run` command (host-test
//! bench-guest) or natively (`cargo run -p sse-guest-bench --release`).

use std::time::Instant;

use ai_gateway::config::WireFormat;
use ai_gateway::sse::SseDecoder;
use ai_gateway::stream::EventPump;

const OPENAI: &[u8] = include_bytes!("../../../tests/fixtures/openai/parallel_tool_calls.sse");
const OPENAI_TEXT: &[u8] = include_bytes!("../../../tests/fixtures/openai/text_with_usage.sse");
const ANTHROPIC: &[u8] = include_bytes!("../../../tests/fixtures/anthropic/tool_use_response.sse");
const GEMINI: &[u8] =
    include_bytes!("../../../tests/fixtures/gemini/thinking_function_call_signature.sse");
const BEDROCK: &[u8] = include_bytes!(
    "../../../tests/fixtures/bedrock-eventstream/pydantic-ai/test_bedrock_model_stream.bin"
);
const TARGET: usize = 64 << 20;
const READ: usize = 64 * 1024;

/// A stream of `fixture`'s events repeated to ~TARGET bytes, with the end
/// marker only once at the end.
fn repeated(fixture: &[u8], end_marker: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(fixture);
    let body = text.replace(end_marker, "");
    let mut out = Vec::with_capacity(TARGET + 1024);
    while out.len() < TARGET {
        out.extend_from_slice(body.as_bytes());
        out.extend_from_slice(b"\n\n");
    }
    out.extend_from_slice(end_marker.as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

/// Gemini streams end at the end of the body: the recording repeated.
fn repeated_plain(fixture: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TARGET + fixture.len());
    while out.len() < TARGET {
        out.extend_from_slice(fixture);
    }
    out
}

/// A Converse stream of the recording's `contentBlockDelta` messages
/// repeated to ~TARGET bytes, then its closing messages, re-encoded.
fn repeated_eventstream(fixture: &[u8]) -> Vec<u8> {
    use ai_gateway::provider::bedrock::eventstream::{EventStreamDecoder, Message, encode};
    let mut messages = Vec::new();
    let _ = EventStreamDecoder::new().feed(fixture, &mut messages);
    let frame = |m: &Message| {
        let h: Vec<(&str, _)> = m
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        encode(&h, &m.payload)
    };
    let kind = |m: &Message| m.header_str(":event-type").unwrap_or_default().to_owned();
    let deltas: Vec<Vec<u8>> = messages
        .iter()
        .filter(|m| kind(m) == "contentBlockDelta")
        .map(frame)
        .collect();
    let mut out = Vec::with_capacity(TARGET + 4096);
    for m in messages.iter().filter(|m| kind(m) == "messageStart") {
        out.extend(frame(m));
    }
    while out.len() < TARGET && !deltas.is_empty() {
        for d in &deltas {
            out.extend_from_slice(d);
        }
    }
    for m in messages.iter().filter(|m| {
        matches!(
            kind(m).as_str(),
            "contentBlockStop" | "messageStop" | "metadata"
        )
    }) {
        out.extend(frame(m));
    }
    out
}

fn report(case: &str, bytes: usize, events: usize, secs: f64) {
    println!(
        "{{\"case\":\"{case}\",\"bytes\":{bytes},\"events\":{events},\"seconds\":{secs:.4},\"mb_per_s\":{:.1}}}",
        bytes as f64 / secs / 1e6
    );
}

fn sse_only(case: &str, data: &[u8]) {
    let started = Instant::now();
    let mut decoder = SseDecoder::new();
    let mut scratch = Vec::new();
    let mut events = 0;
    for chunk in data.chunks(READ) {
        if decoder.feed(chunk, &mut scratch).is_err() {
            println!("{{\"case\":\"{case}\",\"error\":\"decode failed\"}}");
            return;
        }
        events += scratch.len();
        scratch.clear();
    }
    let _ = decoder.finish(&mut scratch);
    events += scratch.len();
    report(case, data.len(), events, started.elapsed().as_secs_f64());
}

fn pump(case: &str, wire: WireFormat, data: &[u8]) {
    let started = Instant::now();
    let mut pump = EventPump::new(wire, "bench");
    let mut events = 0;
    for chunk in data.chunks(READ) {
        pump.feed(chunk);
        while pump.pop().is_some() {
            events += 1;
        }
    }
    pump.eof();
    while pump.pop().is_some() {
        events += 1;
    }
    report(case, data.len(), events, started.elapsed().as_secs_f64());
}

fn main() {
    let openai = repeated(OPENAI, "data: [DONE]");
    let openai_text = repeated(OPENAI_TEXT, "data: [DONE]");
    let anthropic = repeated(
        ANTHROPIC,
        "event: message_stop\ndata: {\"type\":\"message_stop\"}",
    );
    sse_only("sse-only/openai", &openai);
    sse_only("sse-only/anthropic", &anthropic);
    pump("pump/openai-text", WireFormat::OpenAi, &openai_text);
    pump("pump/openai-tools", WireFormat::OpenAi, &openai);
    pump("pump/anthropic-tools", WireFormat::Anthropic, &anthropic);
    pump(
        "pump/gemini-thinking-tools",
        WireFormat::Gemini,
        &repeated_plain(GEMINI),
    );
    pump(
        "pump/bedrock-text",
        WireFormat::Bedrock,
        &repeated_eventstream(BEDROCK),
    );
}

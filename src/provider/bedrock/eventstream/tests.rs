#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly on purpose"
)]

use super::*;
use EventStreamError as E;
use HeaderValue as V;

/// A file under tests/fixtures/bedrock-eventstream/ (same place once moved into the gateway).
fn fixture(path: &str) -> Vec<u8> {
    let dir = env!("CARGO_MANIFEST_DIR");
    std::fs::read(format!("{dir}/tests/fixtures/bedrock-eventstream/{path}")).unwrap()
}

fn boto(name: &str) -> Vec<u8> {
    fixture(&format!("botocore/{name}.bin"))
}

fn smithy(name: &str) -> Vec<u8> {
    fixture(&format!("smithy-rs/{name}"))
}

const TEXT: &str = "pydantic-ai/test_bedrock_model_stream.bin";

/// Feed `chunks` to one decoder, then finish it.
fn feed_all<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Message>, E> {
    let mut d = EventStreamDecoder::new();
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk, &mut out)?;
    }
    d.finish().map(|()| out)
}

fn decode(body: &[u8]) -> Result<Vec<Message>, EventStreamError> {
    feed_all([body])
}

fn borrowed(h: &(String, HeaderValue)) -> (&str, HeaderValue) {
    (h.0.as_str(), h.1.clone())
}

/// Re-encode decoded messages (which must give back the original bytes).
fn reencode(msgs: &[Message]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        let headers: Vec<_> = m.headers.iter().map(borrowed).collect();
        out.extend(encode(&headers, &m.payload));
    }
    out
}

/// Decode a one-message vector, checking that it re-encodes to the same bytes.
fn one(body: &[u8]) -> Message {
    let mut msgs = decode(body).unwrap();
    assert_eq!((msgs.len(), reencode(&msgs)), (1, body.to_vec()));
    msgs.pop().unwrap()
}

fn err(body: &[u8]) -> String {
    format!("{:?}", decode(body).unwrap_err())
}

fn be32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes(bytes[..4].try_into().unwrap())
}

fn too_large(length: u32) -> Result<(), EventStreamError> {
    let limit = MAX_MESSAGE;
    Err(E::FrameTooLarge { length, limit })
}

/// A valid prelude (CRC included) announcing `total` and `headers` bytes.
fn prelude(total: u32, headers: u32) -> Vec<u8> {
    let mut p = [total.to_be_bytes(), headers.to_be_bytes()].concat();
    p.extend_from_slice(&crc32fast::hash(&p).to_be_bytes());
    p
}

/// The first frame of `bytes` with its message CRC recomputed.
fn reseal(bytes: &[u8]) -> Vec<u8> {
    let mut f = bytes[..be32(bytes) as usize - 4].to_vec();
    f.extend_from_slice(&crc32fast::hash(&f).to_be_bytes());
    f
}

/// A frame with correct CRCs around raw (possibly malformed) header bytes.
fn raw_frame(headers: &[u8]) -> Vec<u8> {
    let len = headers.len() as u32;
    reseal(&[&prelude(len + 18, len), headers, b"{}crc!"].concat())
}

type Headers<'a> = &'a [(&'a str, HeaderValue)];

fn owned(headers: Headers) -> Vec<(String, HeaderValue)> {
    let own = |(n, v): &(&str, HeaderValue)| (n.to_string(), v.clone());
    headers.iter().map(own).collect()
}

/// Feed `body` split in two at every offset, then one byte at a time: always `whole`.
fn check_splits(body: &[u8], whole: &[Message]) {
    for at in 0..=body.len() {
        let (a, b) = body.split_at(at);
        assert_eq!(feed_all([a, b]).as_deref(), Ok(whole), "split at {at}");
    }
    assert_eq!(feed_all(body.chunks(1)).as_deref(), Ok(whole));
}

/// Check a recording against `expected` (a line per message: event type, space, payload).
fn check_recording(stem: &str, expected: &str) {
    let body = fixture(&format!("pydantic-ai/{stem}.bin"));
    let whole = decode(&body).unwrap();
    assert_eq!(whole.len(), expected.lines().count() - 1);
    for (m, line) in whole.iter().zip(expected.lines().skip(1)) {
        let (event, payload) = line.split_once(' ').unwrap();
        assert_eq!(m.header_str(":message-type"), Some("event"));
        assert_eq!(m.header_str(":event-type"), Some(event));
        assert_eq!(m.header_str(":content-type"), Some("application/json"));
        assert_eq!(m.headers.len(), 3);
        assert_eq!(std::str::from_utf8(&m.payload).unwrap(), payload);
    }
    assert_eq!(reencode(&whole), body);
    check_splits(&body, &whole);
}

#[test]
fn recorded_streams() {
    check_recording("test_bedrock_model_stream", TEXT_STREAM);
    check_recording(
        "test_bedrock_model_code_execution_tool_stream",
        TOOL_USE_STREAM,
    );
    check_recording("test_bedrock_model_thinking_part_stream", REASONING_STREAM);
}

#[test]
fn flipped_bit_is_a_crc_error() {
    let body = fixture(TEXT);
    let first = be32(&body) as usize;
    for bit in 0..first * 8 {
        let mut bad = body.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let want = if bit < 96 { "PreludeCrc" } else { "MessageCrc" };
        assert!(err(&bad).starts_with(want), "bit {bit}");
    }
    let mut bad = body.clone();
    bad[3] ^= 1; // total_length 0x8f -> 0x8e
    let (expected, actual) = (be32(&body[8..]), crc32fast::hash(&bad[..8]));
    assert_eq!(decode(&bad), Err(E::PreludeCrc { expected, actual }));
    // An error poisons the decoder. Here: a bit of the second message's payload.
    let mut bad = body.clone();
    bad[first + 120] ^= 0x20;
    let mut d = EventStreamDecoder::new();
    let mut out = Vec::new();
    let e = d.feed(&bad, &mut out).unwrap_err();
    assert!(matches!(e, E::MessageCrc { .. }));
    assert_eq!(out.len(), 1); // the first message still came out
    assert_eq!(d.feed(&body[..first], &mut out), Err(e.clone()));
    assert_eq!(d.feed(&[], &mut out), Err(e.clone()));
    assert_eq!(d.finish(), Err(e));
    assert_eq!((out.len(), d.buffered()), (1, 0));
}

#[test]
fn body_cut_short_is_truncated() {
    let body = fixture(TEXT);
    let mut boundary = 0;
    for cut in 1..body.len() {
        if cut - boundary == be32(&body[boundary..]) as usize {
            boundary = cut;
            assert!(decode(&body[..cut]).is_ok());
            continue;
        }
        let mut d = EventStreamDecoder::new();
        d.feed(&body[..cut], &mut Vec::new()).unwrap();
        let buffered = cut - boundary;
        assert_eq!(d.finish(), Err(E::Truncated { buffered }), "cut at {cut}");
        assert_eq!(d.finish(), Err(E::Truncated { buffered }));
    }
    assert_eq!(decode(&[]), Ok(vec![]));
}

#[test]
fn bad_lengths_rejected_at_the_prelude() {
    // The 12-byte prelude alone is enough: nothing past it is needed or kept.
    let mut d = EventStreamDecoder::new();
    let e = d.feed(&prelude(32 << 20, 0), &mut Vec::new());
    assert_eq!((e, d.buffered()), (too_large(32 << 20), 0));
    // Split inside the prelude, 1 MiB of the frame arriving with its last byte.
    let mut d = EventStreamDecoder::new();
    let mut bytes = prelude(32 << 20, 0);
    bytes.resize(1 << 20, b'x');
    d.feed(&bytes[..11], &mut Vec::new()).unwrap();
    assert_eq!(d.buffered(), 11);
    let e = d.feed(&bytes[11..], &mut Vec::new());
    assert_eq!((e, d.buffered()), (too_large(32 << 20), 0));
    // The limit itself is allowed; only the prelude is held while the rest is awaited.
    let mut d = EventStreamDecoder::new();
    d.feed(&prelude(MAX_MESSAGE, 0), &mut Vec::new()).unwrap();
    assert_eq!(d.buffered(), 12);
    let over = MAX_MESSAGE + 1;
    assert_eq!(decode(&prelude(over, 0)).map(drop), too_large(over));
    let e = too_large(32 << 20).unwrap_err().to_string();
    let want = "event stream frame of 33554432 bytes is over the 25165824-byte limit";
    assert_eq!(e, want);
    // Other impossible lengths.
    assert_eq!(decode(&prelude(15, 0)), Err(E::FrameTooSmall(15)));
    assert_eq!(decode(&prelude(0, 0)), Err(E::FrameTooSmall(0)));
    let e = err(&prelude(20, 5));
    assert!(e.contains("headers_length 5 is more than the 4"), "{e}");
    let e = err(&prelude(MAX_MESSAGE, MAX_HEADERS + 1));
    assert!(e.contains("131073 is over the 131072-byte limit"), "{e}");
}

#[test]
fn malformed_headers() {
    let cases: [(&[u8], &str); 8] = [
        (&[1, b'a', 10], "header 1: unknown value type 10"),
        (&[1, b'a', 0, 0, 0], "header 2: empty name"),
        (&[2, 0xff, 0xfe, 0], "name is not UTF-8"),
        (&[5, b'a'], "name runs past"),
        (&[1, b'a', 4, 0, 0], "value runs past"),
        (&[1, b'a', 7, 0, 9, b'x'], "value runs past"),
        (&[1, b'a', 7, 0, 1, 0xc3], "string is not UTF-8"),
        (&[1, b'a', 0, 1, b'a', 1], r#"duplicate header \"a\""#),
    ];
    for (headers, why) in cases {
        let e = err(&raw_frame(headers));
        assert!(e.starts_with("BadHeaders") && e.contains(why), "{e}");
    }
}

#[test]
fn encode_decode_round_trip_every_header_type() {
    let uuid = *b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\xfd\xfe\xff";
    let headers = [
        ("true", V::Bool(true)),
        ("false", V::Bool(false)),
        ("byte", V::Byte(i8::MIN)),
        ("short", V::Int16(-2)),
        ("int", V::Int32(i32::MAX)),
        ("long", V::Int64(i64::MIN)),
        ("bytes", V::Bytes(vec![0, 0xff, 7])),
        ("empty", V::Bytes(vec![])),
        ("string", V::String("héllo ☃".into())),
        ("time", V::Timestamp(1_700_000_000_123)),
        ("uuid", V::Uuid(uuid)),
    ];
    let payload = br#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#.to_vec();
    let mut body = encode(&headers, &payload);
    body.extend(encode(&[], b""));
    body.extend(encode(&headers[8..9], b"x"));
    let msgs = decode(&body).unwrap();
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0].headers, owned(&headers));
    assert_eq!(msgs[0].payload, payload);
    assert_eq!(msgs[2].header_str("string"), Some("héllo ☃"));
    assert_eq!(msgs[0].header_str("int"), None);
    check_splits(&body, &msgs);
    // Over-long fields are cut to their wire limits, strings at a character boundary.
    let long = "é".repeat(40_000);
    let m = one(&encode(&[(&"n".repeat(300), V::String(long.clone()))], b""));
    let cut = V::String(long[..65534].into());
    assert_eq!(m.headers, vec![("n".repeat(255), cut)]);
}

#[test]
fn botocore_positive_vectors() {
    let s = |v: &str| V::String(v.into());
    let error = [
        (":message-type", s("error")),
        (":error-code", s("code")),
        (":error-message", s("message")),
    ];
    let json = [("content-type", s("application/json"))];
    let all = [
        ("0", V::Bool(true)),
        ("1", V::Bool(false)),
        ("2", V::Byte(2)),
        ("3", V::Int16(3)),
        ("4", V::Int32(4)),
        ("5", V::Int64(5)),
        ("6", V::Bytes(b"bytes".to_vec())),
        ("7", s("utf8")),
        ("8", V::Timestamp(8)),
        ("9", V::Uuid(*b"0123456789abcdef")),
    ];
    let foo = b"{'foo':'bar'}".as_slice();
    let cases: [(&str, Headers, &[u8]); 9] = [
        ("EMPTY_MESSAGE", &[], b""),
        ("INT8_HEADER", &[("byte", V::Byte(-1))], b""),
        ("INT16_HEADER", &[("short", V::Int16(-1))], b""),
        ("INT32_HEADER", &[("integer", V::Int32(-1))], b""),
        ("INT64_HEADER", &[("long", V::Int64(-1))], b""),
        ("PAYLOAD_NO_HEADERS", &[], foo),
        ("PAYLOAD_ONE_STR_HEADER", &json, foo),
        ("ALL_HEADERS_TYPES", &all, b""),
        ("ERROR_EVENT_MESSAGE", &error, b""),
    ];
    let mut body = Vec::new();
    for (name, headers, payload) in cases {
        let m = one(&boto(name));
        assert_eq!((m.headers, &m.payload[..]), (owned(headers), payload));
        body.extend(boto(name));
    }
    assert_eq!(decode(&body).unwrap().len(), 9);
}

#[test]
fn botocore_negative_vectors() {
    let cases = [
        ("CORRUPTED_LENGTH", "PreludeCrc"),
        ("CORRUPTED_PAYLOAD", "MessageCrc"),
        ("CORRUPTED_HEADERS", "MessageCrc"),
        ("CORRUPTED_HEADER_LENGTH", "PreludeCrc"),
        ("DUPLICATE_HEADER", r#"BadHeaders("duplicate header \"test"#),
        ("INVALID_HEADERS_LENGTH", "BadHeaders(\"headers_length 4278"),
    ];
    for (name, want) in cases {
        let e = err(&boto(name));
        assert!(e.starts_with(want), "{name}: {e}");
    }
    // 24 MiB + 33 bytes announced: refused from its 12-byte prelude.
    let mut d = EventStreamDecoder::new();
    let e = d.feed(&boto("INVALID_PAYLOAD_LENGTH.prelude"), &mut Vec::new());
    assert_eq!(e, too_large(0x0180_0021));
}

#[test]
fn smithy_vectors() {
    let m = one(&smithy("valid_no_headers"));
    assert_eq!(m.payload, b"another test payload");
    assert!(m.headers.is_empty());
    let m = one(&smithy("valid_empty_payload"));
    assert_eq!(m.headers, owned(&[("some-header", V::Int16(500))]));
    let m = one(&smithy("valid_with_all_headers_and_payload"));
    assert_eq!(m.headers.len(), 10);
    assert_eq!(m.header_str("str"), Some("some str"));
    let (expected, actual) = (0xDEAD_BEEF, 0x8BB4_95FB);
    let e = decode(&smithy("invalid_prelude_checksum"));
    assert_eq!(e, Err(E::PreludeCrc { expected, actual }));
    let (expected, actual) = (0xDEAD_BEEF, 0x01A0_5860);
    let e = decode(&smithy("invalid_message_checksum"));
    assert_eq!(e, Err(E::MessageCrc { expected, actual }));
    let e = err(&smithy("invalid_headers_length"));
    assert!(e.contains("headers_length 77 is more than the 73"), "{e}");
    // Mutated without fixing the message CRC, so that fails first (smithy-rs parses the
    // headers before checking it). Resealed, each fails on its headers.
    let cases = [
        ("string_value_length", "header 8: value runs"),
        ("string_length_cut_off", "header 8: value runs"),
        ("value_type", "header 3: unknown value type 96"),
        ("name_length", "header 3: name runs past"),
        ("name_length_too_long", "header 2: name runs past"),
    ];
    for (name, why) in cases {
        let name = &format!("invalid_header_{name}");
        assert!(err(&smithy(name)).starts_with("MessageCrc"), "{name}");
        let e = err(&reseal(&smithy(name)));
        let ok = e.starts_with("BadHeaders") && e.contains(why);
        assert!(ok, "{name}: {e}");
    }
}

/// A line per message (`:event-type` payload). pydantic-ai `test_bedrock_model_stream`: nova-micro.
const TEXT_STREAM: &str = r#"
messageStart {"p":"abcdefghijklmnopqr","role":"assistant"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"The"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" capital of France is Paris."},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJK"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" Paris is not"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" only the capital city but"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" also the most"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" populous city in France"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":", and"},"p":"ab"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" it is"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" a"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" major center"},"p":"abcdefghijklmnopqrstuvwx"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" for"},"p":"abcdefghijk"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" culture"},"p":"abcdefghijklmnopqrstuvwxyzABCD"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":", commerce, fashion"},"p":"abcdefghijklmn"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":", and international diplomacy"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":". Known"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" for its"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" historical"},"p":"abcdefghijklm"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" landmarks, such"},"p":"abcdef"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" as the Eiffel Tower, the"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" Louvre Museum, and Notre"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"-Dame Cathedral"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":", Paris is often"},"p":"abcdefghijklmnopqrstuvwx"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" referred to as \""},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"The City of Light"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":"\""},"p":"abcdefgh"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" or \"The"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" City"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":" of Love"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"text":".\""},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"}
contentBlockStop {"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"}
messageStop {"p":"abcdefghijklmno","stopReason":"end_turn"}
metadata {"metrics":{"latencyMs":522},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW","usage":{"inputTokens":13,"outputTokens":82,"serverToolUsage":{},"totalTokens":95}}
"#;

/// pydantic-ai `test_bedrock_model_code_execution_tool_stream`: nova-2-lite, tools.
const TOOL_USE_STREAM: &str = r#"
messageStart {"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS","role":"assistant"}
contentBlockStart {"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234","start":{"toolUse":{"name":"nova_code_interpreter","toolUseId":"tooluse_VQNZJRUFMoqZzszVsRd4og","type":"server_tool_use"}}}
contentBlockDelta {"contentBlockIndex":0,"delta":{"toolUse":{"input":"{\"snippet\":\"1234 * 5678\"}"}},"p":"abcdefghijklm"}
contentBlockStop {"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"}
contentBlockStart {"contentBlockIndex":1,"p":"abcdefghijklmnopqrstuv","start":{"toolResult":{"status":"success","toolUseId":"tooluse_VQNZJRUFMoqZzszVsRd4og","type":"nova_code_interpreter_result"}}}
contentBlockDelta {"contentBlockIndex":1,"delta":{"toolResult":[{"json":{"stdOut":"7006652","stdErr":"","exitCode":0,"isError":false}}]},"p":"abc"}
contentBlockStop {"contentBlockIndex":1,"p":"abcdefghijklmno"}
contentBlockStart {"contentBlockIndex":2,"p":"abcdefghijklmnopqrstuvwxyzAB","start":{"toolUse":{"name":"final_result","toolUseId":"tooluse_ptgCcZ0uQu-UUMz0abqoWw","type":"tool_use"}}}
contentBlockDelta {"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"result\":7006652.0}"}},"p":"abcdefghijklmnopqrstuvwxyzA"}
contentBlockStop {"contentBlockIndex":2,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}
messageStop {"p":"abcdefghijklmnopqrstuvwxyzAB","stopReason":"tool_use"}
metadata {"metrics":{"latencyMs":1600},"p":"abc","usage":{"inputTokens":1002,"outputTokens":59,"serverToolUsage":{},"totalTokens":1061}}
"#;

/// pydantic-ai `test_bedrock_model_thinking_part_stream`: claude-sonnet-4 reasoning.
const REASONING_STREAM: &str = r#"
messageStart {"p":"abcdefghijklmnopqrstuvwxyzAB","role":"assistant"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"The"}},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" user has"}},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" greeted me with"}},"p":"abcdefghijklmnopqrstuvwxyzABCDE"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" a simple \"Hello\"."}},"p":"abcdefghijklmnopqrstuvwxyzABC"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" I should respond in"}},"p":"abcdefghijklmnopqrstuvwxyzABC"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" a friendly and wel"}},"p":"abcdefghijklmnopqrstuvwxyzAB"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"coming manner."}},"p":"abcdefghijkl"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" This is a"}},"p":"abcdefghijklmnopqrstuvwxyzABCDEFG"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" straightforward greeting"}},"p":"abc"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":","}},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" so I'll respond warm"}},"p":"abcdefghijklmnopqrst"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"ly and ask"}},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" how I can help"}},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"text":" them today."}},"p":"abcdefghijklmnopqrstuvwxyzABCDEF"}
contentBlockDelta {"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"Eu0CCkgIBxABGAIqQJDccbDQkr81n7QjZ0Fi43umSvw0YvnGkMPEpaGAa2btYHyWw06KhwckvsnKzpKcxiRJT35meoG4/pdrTUiy2UISDPDaEWfOl3+HlRVsCxoMzfiqBp252RMvpmEyIjCbQ97Ac9Epkr5mgxeu1vGtJg+fDWIg0UnpMM8NYknhhvJmsXpYrfquwGL1ZnlBslUq0gHtbAAPwlWPmiQXU7gDQCDW9IdMVyw42b4f5MrAlpWkPWOJc9H+yYv0TpP/jY72SD1opqwkWnBgkzbi7A2jPmEFzIMQSO1KDXha5ADqQ3cLYMmVdNTSH9wlM7G7/JJ2/cqowqkwD6/q1AnYzcPte9iC67fY1LYN0NMCOSABFojP1rmkv9YBEulx5Y6eQpeVXBQiIqcGoCmWSumpGBskS1KxGerUmzUB0JmJnTENv4x3fSGSUSEPqMiz6Ebao8sVkb1wCWuZEXWJGtiQLMIm1o471iEYAQ=="}},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}
contentBlockStop {"contentBlockIndex":0,"p":"abcdefghijklmnopqrstuvwxyzABCDE"}
contentBlockDelta {"contentBlockIndex":1,"delta":{"text":"Hello! It"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"}
contentBlockDelta {"contentBlockIndex":1,"delta":{"text":"'s nice"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRS"}
contentBlockDelta {"contentBlockIndex":1,"delta":{"text":" to meet you."},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"}
contentBlockDelta {"contentBlockIndex":1,"delta":{"text":" How can I help"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678"}
contentBlockDelta {"contentBlockIndex":1,"delta":{"text":" you today?"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFG"}
contentBlockStop {"contentBlockIndex":1,"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVW"}
messageStop {"p":"abcdefghijklmnopqrstuvwxyzABCDEFG","stopReason":"end_turn"}
metadata {"metrics":{"latencyMs":1999},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP","usage":{"inputTokens":36,"outputTokens":73,"totalTokens":109}}
"#;

//! Sans-IO decoder for `application/vnd.amazon.eventstream`, the binary framing of Bedrock
//! Runtime `ConverseStream` and `InvokeModelWithResponseStream` response bodies.
//!
//! Wire format (all integers big-endian; CRC-32 is the IEEE polynomial, as `zlib.crc32`):
//!
//! ```text
//! total_length u32 | headers_length u32 | prelude_crc u32 (CRC of the 8 bytes before it)
//! headers (headers_length bytes) | payload | message_crc u32 (CRC of everything before it)
//! header = name_len u8 | name (UTF-8) | type u8 | value
//! ```
//!
//! Header value types: 0 true, 1 false (no value bytes), 2 i8, 3 i16, 4 i32, 5 i64,
//! 6 bytes (u16 length), 7 UTF-8 string (u16 length), 8 timestamp (i64 ms since the epoch),
//! 9 UUID (16 bytes). Checked against smithy-rs `aws-smithy-eventstream` (`frame.rs`),
//! botocore `eventstream.py` and awslabs `aws-c-event-stream`.
//!
//! The decoder reads the 12-byte prelude first and rejects a bad prelude CRC, an impossible
//! length or an oversized frame before buffering any of the frame's body. The message CRC is
//! checked before the headers are parsed, so corruption anywhere in a frame is reported as a
//! CRC error (as botocore does) rather than as whatever garbage the headers turn into.

use std::fmt;

#[cfg(test)]
mod tests;

/// Bytes of `total_length`, `headers_length` and `prelude_crc`.
const PRELUDE_LEN: usize = 12;
/// The trailing `message_crc`.
const CRC_LEN: usize = 4;
/// The smallest frame: a prelude and a message CRC, no headers, no payload.
const MIN_FRAME: u32 = 16;

/// Largest frame accepted, prelude and CRCs included: 24 MiB.
///
/// The service-side maximum is 24 MB: awslabs/aws-c-event-stream caps a whole message at
/// `AWS_EVENT_STREAM_MAX_MESSAGE_SIZE (24 * 1024 * 1024)` ("Current service-side max is
/// 24 MB", include/aws/event-stream/event_stream.h, since #125, 2025-03), and botocore caps
/// the payload at `_MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024` (botocore/eventstream.py, #3438,
/// 2025-04). Their older 16 MiB bounds (message in aws-c, payload in botocore) were raised in
/// early 2025; botocore still caps headers at 128 KiB ([`MAX_HEADERS`]).
pub const MAX_MESSAGE: u32 = 24 * 1024 * 1024;

/// Largest `headers_length` accepted: 128 KiB, botocore's `_MAX_HEADERS_LENGTH`. Bedrock
/// frames carry three short string headers (under 100 bytes).
pub const MAX_HEADERS: u32 = 128 * 1024;

/// The value of one header.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValue {
    /// Types 0 (true) and 1 (false).
    Bool(bool),
    /// Type 2.
    Byte(i8),
    /// Type 3.
    Int16(i16),
    /// Type 4.
    Int32(i32),
    /// Type 5.
    Int64(i64),
    /// Type 6: at most 65535 bytes.
    Bytes(Vec<u8>),
    /// Type 7: at most 65535 bytes of UTF-8.
    String(String),
    /// Type 8: milliseconds since the Unix epoch.
    Timestamp(i64),
    /// Type 9.
    Uuid([u8; 16]),
}

/// One decoded event-stream message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Headers in wire order; names are unique (the decoder rejects duplicates).
    pub headers: Vec<(String, HeaderValue)>,
    /// The payload (for Bedrock, a JSON object).
    pub payload: Vec<u8>,
}

impl Message {
    /// The string value of header `name`, e.g. `:message-type` (`event`, `exception` or
    /// `error`), `:event-type`, `:exception-type`, `:content-type`. `None` when the header is
    /// absent or not a string.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| match v {
                HeaderValue::String(s) => Some(s.as_str()),
                _ => None,
            })
    }
}

/// Why a body is not a valid event stream. CRC fields: `expected` is the value carried by
/// the frame, `actual` the CRC of the bytes received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventStreamError {
    /// The prelude (total and headers lengths) does not match its CRC.
    PreludeCrc { expected: u32, actual: u32 },
    /// The frame does not match its trailing message CRC.
    MessageCrc { expected: u32, actual: u32 },
    /// `total_length` is over [`MAX_MESSAGE`].
    FrameTooLarge { length: u32, limit: u32 },
    /// `total_length` is under the 16 bytes of prelude and message CRC.
    FrameTooSmall(u32),
    /// `headers_length` or the headers themselves are malformed.
    BadHeaders(String),
    /// The body ended inside a frame.
    Truncated { buffered: usize },
}

impl fmt::Display for EventStreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PreludeCrc { expected, actual } => write!(
                f,
                "event stream prelude CRC mismatch: frame carries {expected:#010x}, \
                 bytes hash to {actual:#010x}"
            ),
            Self::MessageCrc { expected, actual } => write!(
                f,
                "event stream message CRC mismatch: frame carries {expected:#010x}, \
                 bytes hash to {actual:#010x}"
            ),
            Self::FrameTooLarge { length, limit } => write!(
                f,
                "event stream frame of {length} bytes is over the {limit}-byte limit"
            ),
            Self::FrameTooSmall(length) => write!(
                f,
                "event stream frame length {length} is under the {MIN_FRAME}-byte minimum"
            ),
            Self::BadHeaders(why) => write!(f, "malformed event stream headers: {why}"),
            Self::Truncated { buffered } => write!(
                f,
                "event stream body ended inside a frame ({buffered} bytes of it received)"
            ),
        }
    }
}

impl std::error::Error for EventStreamError {}

/// Incremental decoder: feed it the body in chunks of any size, collect messages.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    /// The start of a frame split across feeds (never a whole frame).
    partial: Vec<u8>,
    /// Set by the first error; returned by every later call.
    poisoned: Option<EventStreamError>,
}

/// A prelude that passed its CRC and bounds checks.
#[derive(Debug, Clone, Copy)]
struct Prelude {
    total: usize,
    headers: usize,
}

impl EventStreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes (any split); push every complete message. After an error the decoder is
    /// poisoned: every later call returns the same error. Messages completed before the
    /// error in the same call are still pushed.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Message>) -> Result<(), EventStreamError> {
        if let Some(err) = &self.poisoned {
            return Err(err.clone());
        }
        let result = self.feed_inner(bytes, out);
        if let Err(err) = &result {
            self.poisoned = Some(err.clone());
            self.partial = Vec::new();
        }
        result
    }

    /// The body ended: Ok when no partial message is buffered, else Truncated.
    pub fn finish(&mut self) -> Result<(), EventStreamError> {
        if let Some(err) = &self.poisoned {
            return Err(err.clone());
        }
        if self.partial.is_empty() {
            return Ok(());
        }
        let err = EventStreamError::Truncated {
            buffered: self.partial.len(),
        };
        self.poisoned = Some(err.clone());
        self.partial = Vec::new();
        Err(err)
    }

    /// Bytes held for a frame not yet complete.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    fn feed_inner(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<Message>,
    ) -> Result<(), EventStreamError> {
        if !self.partial.is_empty() {
            // Complete the prelude, then the frame, taking only the bytes they need.
            if self.partial.len() < PRELUDE_LEN {
                input = self.take(input, PRELUDE_LEN);
                if self.partial.len() < PRELUDE_LEN {
                    return Ok(());
                }
            }
            let prelude = read_prelude(&self.partial)?;
            input = self.take(input, prelude.total);
            if self.partial.len() < prelude.total {
                return Ok(());
            }
            out.push(decode_frame(&self.partial, prelude)?);
            self.partial.clear();
        }
        // Whole frames straight from the input, without copying them.
        while input.len() >= PRELUDE_LEN {
            let prelude = read_prelude(input)?;
            let Some((frame, rest)) = input.split_at_checked(prelude.total) else {
                break;
            };
            out.push(decode_frame(frame, prelude)?);
            input = rest;
        }
        // The tail starts a frame; if it holds a prelude, that prelude was checked above.
        self.partial.extend_from_slice(input);
        Ok(())
    }

    /// Move bytes from `input` into `partial` until it holds `upto` bytes; return the rest.
    fn take<'a>(&mut self, input: &'a [u8], upto: usize) -> &'a [u8] {
        let want = upto.saturating_sub(self.partial.len()).min(input.len());
        let (head, rest) = input.split_at_checked(want).unwrap_or((input, &[]));
        self.partial.extend_from_slice(head);
        rest
    }
}

/// Check the prelude at the start of `bytes` (at least [`PRELUDE_LEN`] long).
fn read_prelude(bytes: &[u8]) -> Result<Prelude, EventStreamError> {
    let mut r = Reader(bytes);
    let (total, headers, expected) = match (r.u32(), r.u32(), r.u32()) {
        (Some(t), Some(h), Some(c)) => (t, h, c),
        // Callers pass at least 12 bytes; report a short slice as truncation regardless.
        _ => {
            return Err(EventStreamError::Truncated {
                buffered: bytes.len(),
            });
        }
    };
    let actual = crc32fast::hash(bytes.get(..8).unwrap_or_default());
    if actual != expected {
        return Err(EventStreamError::PreludeCrc { expected, actual });
    }
    if total < MIN_FRAME {
        return Err(EventStreamError::FrameTooSmall(total));
    }
    if total > MAX_MESSAGE {
        return Err(EventStreamError::FrameTooLarge {
            length: total,
            limit: MAX_MESSAGE,
        });
    }
    let room = total - MIN_FRAME;
    if headers > room {
        return Err(EventStreamError::BadHeaders(format!(
            "headers_length {headers} is more than the {room} bytes a {total}-byte frame holds"
        )));
    }
    if headers > MAX_HEADERS {
        return Err(EventStreamError::BadHeaders(format!(
            "headers_length {headers} is over the {MAX_HEADERS}-byte limit"
        )));
    }
    Ok(Prelude {
        total: usize::try_from(total).unwrap_or(usize::MAX),
        headers: usize::try_from(headers).unwrap_or(usize::MAX),
    })
}

/// Decode one whole frame (`frame.len() == prelude.total`, prelude already checked).
fn decode_frame(frame: &[u8], prelude: Prelude) -> Result<Message, EventStreamError> {
    let short = || EventStreamError::Truncated {
        buffered: frame.len(),
    };
    let (body, crc) = frame
        .split_at_checked(frame.len().saturating_sub(CRC_LEN))
        .ok_or_else(short)?;
    let expected = Reader(crc).u32().ok_or_else(short)?;
    let actual = crc32fast::hash(body);
    if actual != expected {
        return Err(EventStreamError::MessageCrc { expected, actual });
    }
    let (headers, payload) = body
        .get(PRELUDE_LEN..)
        .and_then(|rest| rest.split_at_checked(prelude.headers))
        .ok_or_else(short)?;
    Ok(Message {
        headers: parse_headers(headers)?,
        payload: payload.to_vec(),
    })
}

fn parse_headers(bytes: &[u8]) -> Result<Vec<(String, HeaderValue)>, EventStreamError> {
    let mut r = Reader(bytes);
    let mut headers = Vec::new();
    while !r.0.is_empty() {
        let bad = |what: &str| {
            EventStreamError::BadHeaders(format!("header {}: {what}", headers.len() + 1))
        };
        let name_len = r.u8().ok_or_else(|| bad("no name length"))?;
        if name_len == 0 {
            return Err(bad("empty name"));
        }
        let name = r
            .take(usize::from(name_len))
            .ok_or_else(|| bad("name runs past the headers"))?;
        let name = std::str::from_utf8(name).map_err(|_| bad("name is not UTF-8"))?;
        let kind = r.u8().ok_or_else(|| bad("no value type"))?;
        let cut = || bad("value runs past the headers");
        let value = match kind {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes(r.array().ok_or_else(cut)?)),
            3 => HeaderValue::Int16(i16::from_be_bytes(r.array().ok_or_else(cut)?)),
            4 => HeaderValue::Int32(i32::from_be_bytes(r.array().ok_or_else(cut)?)),
            5 => HeaderValue::Int64(i64::from_be_bytes(r.array().ok_or_else(cut)?)),
            6 | 7 => {
                let len = u16::from_be_bytes(r.array().ok_or_else(cut)?);
                let data = r.take(usize::from(len)).ok_or_else(cut)?;
                if kind == 6 {
                    HeaderValue::Bytes(data.to_vec())
                } else {
                    let s = std::str::from_utf8(data).map_err(|_| bad("string is not UTF-8"))?;
                    HeaderValue::String(s.to_owned())
                }
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(r.array().ok_or_else(cut)?)),
            9 => HeaderValue::Uuid(r.array().ok_or_else(cut)?),
            other => return Err(bad(&format!("unknown value type {other}"))),
        };
        headers.push((name.to_owned(), value));
    }
    let mut names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(dup) = names.windows(2).find(|w| w.first() == w.last()) {
        let name = dup.first().copied().unwrap_or_default();
        return Err(EventStreamError::BadHeaders(format!(
            "duplicate header {name:?}"
        )));
    }
    Ok(headers)
}

/// A cursor over a byte slice; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|b| b.try_into().ok())
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(u8::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
}

/// Encode one message (for the project's mock upstream and tests).
///
/// Wire limits the caller must respect: a name over 255 bytes, or a string or byte value
/// over 65535 bytes, is cut to the limit (strings at a character boundary), so the output is
/// always a well-formed frame; duplicate names are written as given.
pub fn encode(headers: &[(&str, HeaderValue)], payload: &[u8]) -> Vec<u8> {
    let mut head = Vec::new();
    for (name, value) in headers {
        let name = cut_str(name, usize::from(u8::MAX));
        head.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        head.extend_from_slice(name.as_bytes());
        match value {
            HeaderValue::Bool(b) => head.push(if *b { 0 } else { 1 }),
            HeaderValue::Byte(v) => push_typed(&mut head, 2, &v.to_be_bytes()),
            HeaderValue::Int16(v) => push_typed(&mut head, 3, &v.to_be_bytes()),
            HeaderValue::Int32(v) => push_typed(&mut head, 4, &v.to_be_bytes()),
            HeaderValue::Int64(v) => push_typed(&mut head, 5, &v.to_be_bytes()),
            HeaderValue::Bytes(b) => {
                push_sized(&mut head, 6, b.get(..b.len().min(0xFFFF)).unwrap_or(b))
            }
            HeaderValue::String(s) => push_sized(&mut head, 7, cut_str(s, 0xFFFF).as_bytes()),
            HeaderValue::Timestamp(v) => push_typed(&mut head, 8, &v.to_be_bytes()),
            HeaderValue::Uuid(u) => push_typed(&mut head, 9, u),
        }
    }
    let total = PRELUDE_LEN + head.len() + payload.len() + CRC_LEN;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&u32::try_from(head.len()).unwrap_or(u32::MAX).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

fn push_typed(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    out.push(kind);
    out.extend_from_slice(value);
}

fn push_sized(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(value);
}

fn cut_str(s: &str, max: usize) -> &str {
    s.get(..s.floor_char_boundary(max)).unwrap_or(s)
}

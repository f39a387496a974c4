//! Incremental Server-Sent Events decoder (WHATWG HTML §9.2.6), bytes in,
//! events out, no IO.
//!
//! - LF, CRLF and CR all end a line, also when the CR and LF arrive in
//!   different reads.
//! - A partial line is kept as bytes until its end arrives, so a UTF-8
//!   sequence split across reads is decoded whole.
//! - `data:` lines are joined with `\n`; exactly one space after the colon is
//!   stripped; comments (`:`) and `retry:` are ignored; `event:` and `id:` are
//!   kept.
//! - A line longer than `max_line` or an event whose data grows beyond
//!   `max_event` is a typed error, not unbounded growth.
//! - Data that is not UTF-8 is a typed error too, not U+FFFD passed on
//!   as if the model had written it (the spec's lossy decoding suits a
//!   browser, not a gateway whose callers bill and cache the text).
//! - At end of input an event without its closing blank line is still
//!   dispatched (providers often omit the final blank line).

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
    /// The last `id:` seen (sticky, as the spec says).
    pub id: Option<String>,
}

/// Why decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("SSE line longer than {limit} bytes")]
    LineTooLong { limit: usize },
    #[error("SSE event data larger than {limit} bytes")]
    EventTooLarge { limit: usize },
    /// The event's data is not UTF-8 (a UTF-8 character split across
    /// reads is fine; bytes that are not UTF-8 at all are not).
    #[error("SSE event data is not valid UTF-8")]
    InvalidUtf8,
}

/// Default per-line limit: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;
/// Default per-event data limit: 4 MiB.
pub const DEFAULT_MAX_EVENT: usize = 4 << 20;

#[derive(Debug)]
pub struct SseDecoder {
    /// Bytes of the current, unfinished line.
    line: Vec<u8>,
    /// The previous read ended with CR: skip one LF at the start of the next.
    skip_lf: bool,
    /// Whether the byte-order mark check is still pending.
    at_start: bool,
    event: Option<String>,
    /// The joined `data:` lines as bytes; UTF-8 is checked once per event.
    data: Vec<u8>,
    has_data: bool,
    last_id: Option<String>,
    max_line: usize,
    max_event: usize,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MAX_LINE, DEFAULT_MAX_EVENT)
    }
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_limits(max_line: usize, max_event: usize) -> Self {
        Self {
            line: Vec::new(),
            skip_lf: false,
            at_start: true,
            event: None,
            data: Vec::new(),
            has_data: false,
            last_id: None,
            max_line,
            max_event,
        }
    }

    /// Feed bytes; complete events are appended to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.skip_lf && !bytes.is_empty() {
            self.skip_lf = false;
            if let Some((&b'\n', rest)) = bytes.split_first() {
                bytes = rest;
            }
        }
        while !bytes.is_empty() {
            // memchr: word-at-a-time, or SIMD where the target has it.
            let Some(pos) = memchr::memchr2(b'\n', b'\r', bytes) else {
                if self.line.len() + bytes.len() > self.max_line {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                self.line.extend_from_slice(bytes);
                return Ok(());
            };
            let (head, tail) = bytes.split_at(pos);
            let is_cr = tail.first() == Some(&b'\r');
            let mut rest = tail.get(1..).unwrap_or_default();
            if is_cr {
                match rest.first() {
                    Some(b'\n') => rest = rest.get(1..).unwrap_or_default(),
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if self.line.is_empty() {
                if head.len() > self.max_line {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                self.line_done(head, out)?;
            } else {
                if self.line.len() + head.len() > self.max_line {
                    return Err(SseError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(head);
                let r = self.line_done(&line, out);
                line.clear();
                self.line = line;
                r?;
            }
            bytes = rest;
        }
        Ok(())
    }

    /// End of input: process a trailing partial line and dispatch a pending
    /// event.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, out)?;
        }
        self.dispatch(out)
    }

    fn line_done(&mut self, mut line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.at_start {
            self.at_start = false;
            if let Some(rest) = line.strip_prefix(b"\xEF\xBB\xBF") {
                line = rest;
            }
        }
        if line.is_empty() {
            return self.dispatch(out);
        }
        if line.first() == Some(&b':') {
            return Ok(());
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let (n, v) = line.split_at(i);
                let v = v.get(1..).unwrap_or_default();
                (n, v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event {
                    return Err(SseError::EventTooLarge {
                        limit: self.max_event,
                    });
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => self.event = Some(String::from_utf8_lossy(value).into_owned()),
            b"id" if !value.contains(&0) => {
                self.last_id = Some(String::from_utf8_lossy(value).into_owned());
            }
            _ => {} // retry:, unknown fields
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let event = self.event.take();
        if !self.has_data {
            return Ok(());
        }
        self.has_data = false;
        // The next event is likely about as large as this one: start its
        // buffer there instead of growing it from empty.
        let next = Vec::with_capacity(self.data.len().min(16 * 1024));
        let data = String::from_utf8(std::mem::replace(&mut self.data, next))
            .map_err(|_| SseError::InvalidUtf8)?;
        out.push(SseEvent {
            event,
            data,
            id: self.last_id.clone(),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn decode_lf_crlf_cr_line_endings_same_events() {
        let lf = decode_all(&[b"event: a\ndata: 1\n\ndata: 2\n\n"]);
        let crlf = decode_all(&[b"event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n"]);
        let cr = decode_all(&[b"event: a\rdata: 1\r\rdata: 2\r\r"]);
        assert_eq!(lf, crlf);
        assert_eq!(lf, cr);
        assert_eq!(data(&lf), ["1", "2"]);
        assert_eq!(lf[0].event.as_deref(), Some("a"));
        assert_eq!(lf[1].event, None);
    }

    #[test]
    fn decode_crlf_split_between_reads_is_one_line_end() {
        let ev = decode_all(&[b"data: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n"]);
        assert_eq!(data(&ev), ["1", "2"]);
    }

    #[test]
    fn decode_multiline_data_joined_with_newline() {
        let ev = decode_all(&[b"data: a\ndata:b\ndata:  c\n\n"]);
        assert_eq!(data(&ev), ["a\nb\n c"]);
    }

    #[test]
    fn decode_comments_and_retry_ignored() {
        let ev = decode_all(&[b": ping\nretry: 100\ndata: x\n\n:\n\n"]);
        assert_eq!(data(&ev), ["x"]);
    }

    #[test]
    fn decode_field_without_colon_and_empty_data() {
        let ev = decode_all(&[b"data\n\ndata:\n\n"]);
        assert_eq!(data(&ev), ["", ""]);
    }

    #[test]
    fn decode_event_without_data_is_not_dispatched() {
        let ev = decode_all(&[b"event: ping\n\ndata: x\n\n"]);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event, None, "event type resets at each blank line");
    }

    #[test]
    fn decode_split_utf8_is_kept_whole() {
        let bytes = "data: héllo €\n\n".as_bytes();
        for i in 0..bytes.len() {
            let (a, b) = bytes.split_at(i);
            assert_eq!(data(&decode_all(&[a, b])), ["héllo €"], "split at {i}");
        }
    }

    #[test]
    fn decode_trailing_event_without_blank_line_dispatched_at_finish() {
        let ev = decode_all(&[b"data: a\n\ndata: last"]);
        assert_eq!(data(&ev), ["a", "last"]);
    }

    #[test]
    fn decode_bom_stripped() {
        let ev = decode_all(&[b"\xEF\xBB\xBFdata: a\n\n"]);
        assert_eq!(data(&ev), ["a"]);
    }

    #[test]
    fn decode_id_is_sticky() {
        let ev = decode_all(&[b"id: 7\ndata: a\n\ndata: b\n\n"]);
        assert_eq!(ev[1].id.as_deref(), Some("7"));
    }

    #[test]
    fn decode_line_over_limit_is_error() {
        let mut d = SseDecoder::with_limits(8, 100);
        let mut out = Vec::new();
        assert_eq!(
            d.feed(b"data: 1234", &mut out),
            Err(SseError::LineTooLong { limit: 8 })
        );
        let mut d = SseDecoder::with_limits(8, 100);
        assert_eq!(d.feed(b"data: 1", &mut out), Ok(()));
        assert!(d.feed(b"23456\n", &mut out).is_err());
    }

    #[test]
    fn decode_event_over_limit_is_error() {
        let mut d = SseDecoder::with_limits(100, 10);
        let mut out = Vec::new();
        let r = d.feed(b"data: 12345\ndata: 67890\n\n", &mut out);
        assert_eq!(r, Err(SseError::EventTooLarge { limit: 10 }));
    }
    #[test]
    fn decode_invalid_utf8_is_error_after_the_good_events() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        let r = d.feed(b"data: ok\n\ndata: \xff\xfe\n\n", &mut out);
        assert_eq!(r, Err(SseError::InvalidUtf8));
        assert_eq!(data(&out), ["ok"]);
        // At the end of input too.
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed(b"data: \xc3", &mut out).unwrap();
        assert_eq!(d.finish(&mut out), Err(SseError::InvalidUtf8));
    }

    #[test]
    fn decode_utf8_split_across_feeds_is_whole() {
        let ev = decode_all(&[b"data: \xf0\x9f", b"\x8c\x8d\n\n"]);
        assert_eq!(data(&ev), ["\u{1f30d}"]);
    }
}

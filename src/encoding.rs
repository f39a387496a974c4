//! `Content-Encoding: gzip` on upstream bodies, sans IO: bytes in, decoded
//! bytes out, in bounded steps.
//!
//! - The header is only a hint: the body is inflated only when it starts
//!   with the gzip magic `1f 8b`. A host that already decoded the body but
//!   kept the header (Cloudflare Workers' `fetch` does) passes through.
//! - Inflating is incremental and each [`Decoder::pull`] returns at most the
//!   asked-for number of bytes, so a small compressed body cannot make the
//!   guest hold more than its limits (a gzip bomb is an error, not an OOM).
//! - The trailer's CRC-32 and length are checked; concatenated members are
//!   decoded one after another; a body that ends inside a member is an
//!   error.

use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use crate::http::ResponseHead;

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("gzip body is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("gzip body ended before its end")]
    Truncated,
    #[error("decompressed response body larger than {limit} bytes")]
    TooLarge { limit: usize },
}

const MAGIC: [u8; 2] = [0x1f, 0x8b];
/// A header with a longer name, comment or extra field is refused.
const MAX_HEADER: usize = 64 * 1024;

/// Whether the response says its body is gzip-encoded.
pub fn says_gzip(head: &ResponseHead) -> bool {
    head.header("content-encoding").is_some_and(|v| {
        v.split(',').any(|c| {
            c.trim().eq_ignore_ascii_case("gzip") || c.trim().eq_ignore_ascii_case("x-gzip")
        })
    })
}

/// Decode a whole body. Bytes without the gzip magic are returned as they
/// are; the decoded size may not exceed `limit`.
pub fn gunzip(body: Vec<u8>, limit: usize) -> Result<Vec<u8>, DecodeError> {
    if !body.starts_with(&MAGIC) {
        return Ok(body);
    }
    let mut d = Decoder::new();
    d.push(&body);
    drop(body);
    d.end();
    let mut out = Vec::new();
    while let Some(chunk) = d.pull(64 * 1024)? {
        if out.len() + chunk.len() > limit {
            return Err(DecodeError::TooLarge { limit });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Fewer than two bytes seen: gzip or not is still open.
    Sniff,
    /// Not gzip: bytes pass through.
    Plain,
    Header,
    Body,
    Trailer,
    /// After a member: another member or the end.
    Between,
    Failed,
}

/// An incremental gzip decoder: [`push`](Self::push) compressed bytes,
/// [`pull`](Self::pull) decoded ones.
pub struct Decoder {
    phase: Phase,
    /// Input not consumed yet, from `start`.
    input: Vec<u8>,
    start: usize,
    ended: bool,
    inflater: Option<Box<InflateState>>,
    crc: u32,
    size: u32,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("phase", &self.phase)
            .field("buffered", &self.available().len())
            .field("ended", &self.ended)
            .finish()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self {
            phase: Phase::Sniff,
            input: Vec::new(),
            start: 0,
            ended: false,
            inflater: None,
            crc: 0,
            size: 0,
        }
    }

    /// Queue more of the body.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.input.len() {
            self.input.drain(..self.start);
            self.start = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// The body has ended: no more input.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Whether [`end`](Self::end) was called.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    fn available(&self) -> &[u8] {
        self.input.get(self.start..).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.input.len());
    }

    fn fail(&mut self, e: DecodeError) -> Result<Option<Vec<u8>>, DecodeError> {
        self.phase = Phase::Failed;
        self.input = Vec::new();
        self.start = 0;
        self.inflater = None;
        Err(e)
    }

    /// At most `max` decoded bytes (`max` ≥ 1). `None` when more input is
    /// needed, or after [`end`](Self::end) when the body is complete.
    /// After `end`, a body cut inside a member is [`DecodeError::Truncated`].
    pub fn pull(&mut self, max: usize) -> Result<Option<Vec<u8>>, DecodeError> {
        let max = max.max(1);
        loop {
            match self.phase {
                Phase::Failed => return Err(DecodeError::Corrupt("decoding already failed")),
                Phase::Sniff => {
                    let a = self.available();
                    if a.len() >= 2 || (self.ended && !a.starts_with(&MAGIC[..1])) {
                        self.phase = if a.starts_with(&MAGIC) {
                            Phase::Header
                        } else {
                            Phase::Plain
                        };
                    } else if self.ended {
                        // A lone 0x1f: plain too.
                        self.phase = Phase::Plain;
                    } else {
                        return Ok(None);
                    }
                }
                Phase::Plain => {
                    let a = self.available();
                    if a.is_empty() {
                        return Ok(None);
                    }
                    let n = a.len().min(max);
                    let out = a.get(..n).unwrap_or_default().to_vec();
                    self.consume(n);
                    return Ok(Some(out));
                }
                Phase::Header => match header_len(self.available()) {
                    Err(e) => return self.fail(e),
                    Ok(Some(n)) => {
                        self.consume(n);
                        match &mut self.inflater {
                            Some(s) => s.reset(DataFormat::Raw),
                            None => self.inflater = Some(InflateState::new_boxed(DataFormat::Raw)),
                        }
                        self.crc = 0;
                        self.size = 0;
                        self.phase = Phase::Body;
                    }
                    Ok(None) if self.ended => return self.fail(DecodeError::Truncated),
                    Ok(None) if self.available().len() > MAX_HEADER => {
                        return self.fail(DecodeError::Corrupt("header too long"));
                    }
                    Ok(None) => return Ok(None),
                },
                Phase::Body => {
                    let Some(state) = self.inflater.as_mut() else {
                        return self.fail(DecodeError::Corrupt("no inflater"));
                    };
                    let mut out = vec![0u8; max];
                    let input = self.input.get(self.start..).unwrap_or_default();
                    let r = inflate(state, input, &mut out, MZFlush::None);
                    self.consume(r.bytes_consumed);
                    out.truncate(r.bytes_written);
                    self.crc = crc32(self.crc, &out);
                    // ISIZE is the length modulo 2^32.
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "RFC 1952: size modulo 2^32"
                    )]
                    let written = r.bytes_written as u32;
                    self.size = self.size.wrapping_add(written);
                    let need_input = match r.status {
                        Ok(MZStatus::StreamEnd) => {
                            self.phase = Phase::Trailer;
                            false
                        }
                        Ok(_) => r.bytes_consumed == 0 && r.bytes_written == 0,
                        Err(MZError::Buf) => true,
                        Err(_) => return self.fail(DecodeError::Corrupt("invalid deflate data")),
                    };
                    if !out.is_empty() {
                        return Ok(Some(out));
                    }
                    if need_input {
                        if self.ended {
                            return self.fail(DecodeError::Truncated);
                        }
                        return Ok(None);
                    }
                }
                Phase::Trailer => {
                    let Some(t) = self.available().get(..8) else {
                        if self.ended {
                            return self.fail(DecodeError::Truncated);
                        }
                        return Ok(None);
                    };
                    let word = |i: usize| {
                        let b = t.get(i..i + 4).unwrap_or_default();
                        u32::from_le_bytes(b.try_into().unwrap_or_default())
                    };
                    if word(0) != self.crc {
                        return self.fail(DecodeError::Corrupt("CRC-32 mismatch"));
                    }
                    if word(4) != self.size {
                        return self.fail(DecodeError::Corrupt("length mismatch"));
                    }
                    self.consume(8);
                    self.phase = Phase::Between;
                }
                Phase::Between => {
                    let a = self.available();
                    match a.first() {
                        None => return Ok(None),
                        Some(&b) if b != MAGIC[0] => {
                            return self
                                .fail(DecodeError::Corrupt("trailing bytes after the data"));
                        }
                        Some(_) if a.len() >= 2 => {
                            if !a.starts_with(&MAGIC) {
                                return self
                                    .fail(DecodeError::Corrupt("trailing bytes after the data"));
                            }
                            self.phase = Phase::Header;
                        }
                        Some(_) if self.ended => return self.fail(DecodeError::Truncated),
                        Some(_) => return Ok(None),
                    }
                }
            }
        }
    }
}

/// Length of a complete gzip member header at the start of `b`, `None`
/// while incomplete.
fn header_len(b: &[u8]) -> Result<Option<usize>, DecodeError> {
    let Some(fixed) = b.get(..10) else {
        return Ok(None);
    };
    if !fixed.starts_with(&MAGIC) {
        return Err(DecodeError::Corrupt("not a gzip member"));
    }
    if fixed.get(2) != Some(&8) {
        return Err(DecodeError::Corrupt("compression method is not deflate"));
    }
    let flags = fixed.get(3).copied().unwrap_or(0);
    if flags & 0xe0 != 0 {
        return Err(DecodeError::Corrupt("reserved header flags set"));
    }
    let mut at = 10usize;
    if flags & 0x04 != 0 {
        let Some(x) = b.get(at..at + 2) else {
            return Ok(None);
        };
        let xlen = usize::from(u16::from_le_bytes([
            x.first().copied().unwrap_or(0),
            x.get(1).copied().unwrap_or(0),
        ]));
        at += 2 + xlen;
    }
    for bit in [0x08, 0x10] {
        if flags & bit != 0 {
            match b.get(at..).and_then(|r| memchr::memchr(0, r)) {
                Some(i) => at += i + 1,
                None => return Ok(None),
            }
        }
    }
    if flags & 0x02 != 0 {
        at += 2;
    }
    Ok((b.len() >= at).then_some(at))
}

/// CRC-32 (IEEE, reflected), as gzip uses it.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        #[expect(clippy::cast_possible_truncation, reason = "i < 256")]
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        #[expect(clippy::indexing_slicing, reason = "const evaluation: i < 256")]
        {
            table[i] = c;
        }
        i += 1;
    }
    table
};

fn crc32(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in bytes {
        let i = usize::from(b) ^ (c & 0xff) as usize;
        c = CRC_TABLE.get(i).copied().unwrap_or(0) ^ (c >> 8);
    }
    !c
}

/// `text` as gzip, from the deflate implementation in miniz_oxide (the
/// header and trailer written here, as a server would). For tests.
#[cfg(test)]
pub(crate) fn gz(text: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend(miniz_oxide::deflate::compress_to_vec(text, 6));
    out.extend(crc32(0, text).to_le_bytes());
    out.extend(u32::try_from(text.len()).unwrap_or(u32::MAX).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_split(body: &[u8], piece: usize, max: usize) -> Result<Vec<u8>, DecodeError> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for c in body.chunks(piece.max(1)) {
            d.push(c);
            while let Some(b) = d.pull(max)? {
                assert!(b.len() <= max);
                out.extend(b);
            }
        }
        d.end();
        while let Some(b) = d.pull(max)? {
            out.extend(b);
        }
        Ok(out)
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn gunzip_round_trips_at_every_split_and_output_size() {
        let text = "data: {\"héllo\": \"wörld 🌍\"}\n\n".repeat(50);
        let body = gz(text.as_bytes());
        for piece in [1, 2, 3, 7, 64, body.len()] {
            for max in [1, 5, 4096] {
                assert_eq!(
                    decode_split(&body, piece, max).unwrap(),
                    text.as_bytes(),
                    "{piece}/{max}"
                );
            }
        }
        assert_eq!(gunzip(body, 1 << 20).unwrap(), text.as_bytes());
    }

    #[test]
    fn gunzip_without_magic_passes_through() {
        let plain = b"{\"already\": \"decoded\"}".to_vec();
        assert_eq!(gunzip(plain.clone(), 10).unwrap(), plain);
        assert_eq!(decode_split(&plain, 1, 3).unwrap(), plain);
        assert_eq!(decode_split(b"\x1f", 1, 3).unwrap(), b"\x1f");
        assert_eq!(decode_split(b"", 1, 3).unwrap(), b"");
    }

    #[test]
    fn gunzip_bomb_is_too_large_after_the_limit() {
        let body = gz(&vec![b' '; 4 << 20]);
        assert!(body.len() < 10_000);
        assert_eq!(
            gunzip(body, 1 << 20),
            Err(DecodeError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn gunzip_two_members_concatenate() {
        let body = [gz(b"one "), gz(b"two")].concat();
        assert_eq!(decode_split(&body, 5, 2).unwrap(), b"one two");
    }

    #[test]
    fn gunzip_truncated_corrupt_and_bad_trailer_are_errors() {
        let body = gz(b"hello hello hello hello");
        for cut in [3, 10, 15, body.len() - 3] {
            assert_eq!(
                decode_split(&body[..cut], 4, 8),
                Err(DecodeError::Truncated),
                "cut at {cut}"
            );
        }
        let mut bad_crc = body.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert_eq!(
            gunzip(bad_crc, 100),
            Err(DecodeError::Corrupt("CRC-32 mismatch"))
        );
        let mut garbage = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        garbage.extend([0xff; 32]);
        assert!(matches!(gunzip(garbage, 100), Err(DecodeError::Corrupt(_))));
        let trailing = [body.clone(), b"xyz".to_vec()].concat();
        assert!(matches!(
            gunzip(trailing, 100),
            Err(DecodeError::Corrupt(_))
        ));
        let mut method = body;
        method[2] = 7;
        assert!(matches!(gunzip(method, 100), Err(DecodeError::Corrupt(_))));
    }

    #[test]
    fn header_with_name_comment_extra_and_crc16_is_skipped() {
        let text = b"named";
        let mut body = vec![0x1f, 0x8b, 8, 0x04 | 0x08 | 0x10 | 0x02, 0, 0, 0, 0, 0, 3];
        body.extend([3, 0, b'a', b'b', b'c']);
        body.extend(b"file.txt\0");
        body.extend(b"a comment\0");
        body.extend([0xaa, 0xbb]);
        body.extend(miniz_oxide::deflate::compress_to_vec(text, 6));
        body.extend(crc32(0, text).to_le_bytes());
        body.extend((text.len() as u32).to_le_bytes());
        assert_eq!(decode_split(&body, 1, 64).unwrap(), text);
    }

    #[test]
    fn says_gzip_reads_the_header_case_insensitively() {
        let head = |v: &str| ResponseHead {
            status: 200,
            headers: vec![("content-encoding".into(), v.into())].into(),
        };
        assert!(says_gzip(&head("gzip")));
        assert!(says_gzip(&head("GZIP")));
        assert!(says_gzip(&head("identity, gzip")));
        assert!(!says_gzip(&head("br")));
    }
}

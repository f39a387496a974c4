//! Scripted replies: what the mock sends for one request ([`Reply`]), its
//! body ([`MockBody`]) and the steps of a body written piece by piece
//! ([`Step`]), with the helpers that cut and encode bodies.

use std::time::Duration;

use serde_json::Value;

/// A response body the mock sends.
#[derive(Debug, Clone)]
pub enum MockBody {
    Bytes(Vec<u8>),
    /// Server-sent events: `chunks` written one by one with `delay` between
    /// them; `cut_after` closes the connection after that many chunks.
    Sse {
        chunks: Vec<Vec<u8>>,
        delay: Duration,
        cut_after: Option<usize>,
    },
    /// A large generated stream: `head`, then `chunk` repeated `count`
    /// times, then `tail` (never held in memory at once).
    Repeat {
        head: Vec<u8>,
        chunk: Vec<u8>,
        count: usize,
        tail: Vec<u8>,
        delay: Duration,
    },
    /// Raw body steps: each `Bytes` is written as its own frame (with a
    /// short flush pause between writes, so the client reads it as a
    /// separate chunk), `Pause` stalls mid-body, `Reset` aborts the
    /// connection with a TCP RST. The body ends cleanly after the last step.
    Steps(Vec<Step>),
    /// No response at all: the connection is reset (TCP RST) before a byte
    /// of the response head is written.
    ResetBeforeHead,
}

/// One step of a [`MockBody::Steps`] body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Bytes(Vec<u8>),
    Pause(Duration),
    /// Reset the connection (RST) here: what was written before is
    /// delivered, nothing after.
    Reset,
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: MockBody,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self::raw(status, "application/json", body.to_string().into_bytes())
    }

    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: MockBody::Bytes(body.into()),
            delay: Duration::ZERO,
        }
    }

    /// A recorded SSE stream split at its blank lines, sent `delay` apart.
    pub fn sse(bytes: &[u8], delay: Duration) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: MockBody::Sse {
                chunks: split_events(bytes),
                delay,
                cut_after: None,
            },
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// A body written step by step (exact write boundaries, stalls, a reset).
    pub fn steps(status: u16, content_type: &str, steps: Vec<Step>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: MockBody::Steps(steps),
            delay: Duration::ZERO,
        }
    }

    /// Bytes written in exactly these chunks, `gap` apart.
    pub fn chunks(status: u16, content_type: &str, chunks: Vec<Vec<u8>>, gap: Duration) -> Self {
        let mut steps = Vec::new();
        for (i, c) in chunks.into_iter().enumerate() {
            if i > 0 && !gap.is_zero() {
                steps.push(Step::Pause(gap));
            }
            steps.push(Step::Bytes(c));
        }
        Self::steps(status, content_type, steps)
    }

    /// The connection is reset before any response byte.
    pub fn reset_before_head() -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: MockBody::ResetBeforeHead,
            delay: Duration::ZERO,
        }
    }

    /// Encode the body with gzip and say so (`content-encoding: gzip`).
    /// A whole body stays one write; SSE chunks and step bytes are
    /// compressed as one gzip stream whose bytes are written in as many
    /// pieces as there were chunks (so the client inflates across reads).
    pub fn gzip(mut self) -> Self {
        self.body = match self.body {
            MockBody::Bytes(b) => MockBody::Bytes(gzip(&b)),
            MockBody::Sse {
                chunks,
                delay,
                cut_after,
            } => MockBody::Sse {
                chunks: split_even(&gzip(&chunks.concat()), chunks.len()),
                delay,
                cut_after,
            },
            MockBody::Steps(steps) => {
                let plain: Vec<u8> = steps
                    .iter()
                    .filter_map(|s| match s {
                        Step::Bytes(b) => Some(b.as_slice()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .concat();
                let n = steps.iter().filter(|s| matches!(s, Step::Bytes(_))).count();
                let mut parts = split_even(&gzip(&plain), n).into_iter();
                MockBody::Steps(
                    steps
                        .into_iter()
                        .map(|s| match s {
                            Step::Bytes(_) => Step::Bytes(parts.next().unwrap_or_default()),
                            other => other,
                        })
                        .collect(),
                )
            }
            other => other,
        };
        self.header("content-encoding", "gzip")
    }

    /// Close the connection after `n` events (a stream cut mid-way).
    pub fn cut_after(mut self, n: usize) -> Self {
        if let MockBody::Sse { cut_after, .. } = &mut self.body {
            *cut_after = Some(n);
        }
        self
    }
}

/// Split an SSE body after each blank line, keeping the bytes exact.
pub fn split_events(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some(pos) = rest.windows(2).position(|w| w == b"\n\n") {
        let (event, tail) = rest.split_at(pos + 2);
        out.push(event.to_vec());
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest.to_vec());
    }
    out
}

/// `bytes` gzip-encoded (RFC 1952).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// `bytes` in `n` nearly equal consecutive pieces (at least one).
fn split_even(bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
    let size = bytes.len().div_ceil(n.max(1)).max(1);
    bytes.chunks(size).map(<[u8]>::to_vec).collect()
}

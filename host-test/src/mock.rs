//! The mock upstream: a real HTTP/1.1 server on 127.0.0.1 that answers in
//! the OpenAI, Anthropic and Workers AI wire formats (and as Cloudflare's
//! Universal Endpoint), replays the recorded provider streams, records every
//! request it receives, and answers scripted replies in order when a test
//! pushes them. Streams are sent through a channel, one SSE event per write,
//! optionally paced; when the client hangs up mid-stream the outcome says
//! how far it got.
//!
//! Faults below HTTP: a reply can reset the connection (TCP RST, via
//! `SO_LINGER 0`) before its head or part-way through its body, pause
//! mid-body, or send raw bytes with exact write boundaries ([`Step`]);
//! [`Reply::gzip`] encodes a body; [`refused_addr`] is a port nothing
//! listens on; [`BlackHole`] a port where connecting never completes.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub const OPENAI_TEXT_SSE: &[u8] =
    include_bytes!("../../tests/fixtures/openai/text_with_usage.sse");
pub const OPENAI_TOOL_SSE: &[u8] =
    include_bytes!("../../tests/fixtures/openai/tool_call_with_usage.sse");
pub const OPENAI_PARALLEL_SSE: &[u8] =
    include_bytes!("../../tests/fixtures/openai/parallel_tool_calls.sse");
pub const ANTHROPIC_TEXT_SSE: &[u8] =
    include_bytes!("../../tests/fixtures/anthropic/basic_response.sse");
pub const ANTHROPIC_TOOL_SSE: &[u8] =
    include_bytes!("../../tests/fixtures/anthropic/tool_use_response.sse");

/// One request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Lowercase names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request head arrived.
    pub at: std::time::Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The URL the component asked for: the redirect hook's record of the
    /// original `https://` URL, else this server's own.
    pub fn url(&self) -> String {
        match self.header("x-aigw-original-url") {
            Some(u) => u.to_owned(),
            None => format!("http://{}{}", self.header("host").unwrap_or("?"), self.path),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

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

/// An address on 127.0.0.1 that was just bound and closed again: connecting
/// to it is refused.
pub fn refused_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let addr = l.local_addr()?;
    drop(l);
    Ok(addr)
}

/// A listener that never accepts, its one-slot queue already taken:
/// connecting to it hangs (the kernel drops the SYN), so a client's connect
/// timeout fires. Stops when dropped.
#[derive(Debug)]
pub struct BlackHole {
    addr: SocketAddr,
    _listener: TcpListener,
    _filler: std::net::TcpStream,
}

impl BlackHole {
    /// Bind on 127.0.0.1 with a backlog of 0 and fill the queue (needs a
    /// tokio runtime).
    pub fn new() -> anyhow::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(0)?;
        let addr = listener.local_addr()?;
        let filler = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        Ok(Self {
            addr,
            _listener: listener,
            _filler: filler,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// How a streamed response ended, from the server's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Every chunk was written.
    Completed { chunks: usize },
    /// The client hung up after `sent` of `total` chunks.
    ClientClosed { sent: usize, total: usize },
    /// The script cut the connection after `sent` chunks.
    Cut { sent: usize },
    /// The script reset the connection (RST) after `sent` byte steps.
    Reset { sent: usize },
}

/// A per-connection switch: once thrown, the connection's socket gets
/// `SO_LINGER 0` and every further read or write fails, so hyper drops it
/// and the kernel answers with a RST instead of a FIN.
#[derive(Debug, Clone, Default)]
struct Kill(Arc<AtomicBool>);

impl Kill {
    fn throw(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn thrown(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The accepted socket, with its [`Kill`] switch.
#[derive(Debug)]
struct KillableTcp {
    tcp: TcpStream,
    kill: Kill,
}

impl KillableTcp {
    fn check(&self) -> std::io::Result<()> {
        if self.kill.thrown() {
            // A zero linger never blocks: close discards the send buffer and
            // sends RST at once (the deprecation is about non-zero values).
            #[expect(deprecated, reason = "SO_LINGER 0 is the point: reset, no blocking")]
            let _ = self.tcp.set_linger(Some(Duration::ZERO));
            return Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        }
        Ok(())
    }
}

impl AsyncRead for KillableTcp {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableTcp {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[derive(Debug, Default)]
struct State {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
    outcomes: Mutex<Vec<StreamOutcome>>,
    /// Delay between events of default (unscripted) streams.
    pace: Mutex<Duration>,
}

/// A running mock upstream. Stops when dropped.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = BoxBody<Bytes, Infallible>;

impl MockServer {
    /// Start on an ephemeral port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let kill = Kill::default();
                    let k = kill.clone();
                    let svc = service_fn(move |req| handle(Arc::clone(&st), k.clone(), req));
                    let io = KillableTcp { tcp, kill };
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(io), svc)
                        .await;
                });
            }
        });
        let _ = TokioExecutor::new();
        Ok(Self { addr, state, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:port`, for the host's redirect of provider URLs.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// Queue a reply; queued replies are used in order before defaults.
    pub fn push(&self, reply: Reply) {
        if let Ok(mut s) = self.state.script.lock() {
            s.push_back(reply);
        }
    }

    /// Pace default streams with `d` between events.
    pub fn set_pace(&self, d: Duration) {
        if let Ok(mut p) = self.state.pace.lock() {
            *p = d;
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn last(&self) -> Option<Recorded> {
        self.requests().pop()
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.state.requests.lock().map_or(0, |r| r.len())
    }

    pub fn outcomes(&self) -> Vec<StreamOutcome> {
        self.state
            .outcomes
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    /// Wait up to `timeout` for `n` stream outcomes.
    pub async fn wait_outcomes(&self, n: usize, timeout: Duration) -> Vec<StreamOutcome> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let o = self.outcomes();
            if o.len() >= n || tokio::time::Instant::now() >= deadline {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn reset(&self) {
        if let Ok(mut r) = self.state.requests.lock() {
            r.clear();
        }
        if let Ok(mut o) = self.state.outcomes.lock() {
            o.clear();
        }
        if let Ok(mut s) = self.state.script.lock() {
            s.clear();
        }
    }
}

async fn handle(
    state: Arc<State>,
    kill: Kill,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let at = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    if let Some(admin) = parts.uri.path().strip_prefix("/__mock/") {
        return Ok(admin_reply(&state, parts.method.as_str(), admin, &body));
    }
    let rec = Recorded {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        at,
    };
    if let Ok(mut r) = state.requests.lock() {
        r.push(rec.clone());
    }
    let scripted = state.script.lock().ok().and_then(|mut s| s.pop_front());
    let pace = state.pace.lock().map(|p| *p).unwrap_or_default();
    let reply = match scripted {
        Some(r) => r,
        None => default_reply(&rec, pace),
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if matches!(reply.body, MockBody::ResetBeforeHead) {
        // The head hyper now tries to write fails: the socket is closed
        // with a RST and the client never sees a status line.
        kill.throw();
        record(&state, StreamOutcome::Reset { sent: 0 });
    }
    Ok(respond(&state, &kill, reply))
}

/// The mock's own API, for tests in other processes (Node, Python):
/// `GET hits`, `GET requests`, `POST reset`, `POST reply` (queue a reply:
/// `{"status", "headers": [[k, v]], "body", "sse_delay_ms"?}`; with
/// `sse_delay_ms` the body is sent as SSE events that far apart). Admin
/// calls are not recorded as upstream traffic.
fn admin_reply(state: &Arc<State>, method: &str, path: &str, body: &[u8]) -> Response<Body> {
    let json_reply = |status: u16, v: Value| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(v.to_string())).boxed())
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
    };
    match (method, path) {
        ("GET", "hits") => json_reply(
            200,
            json!({"hits": state.requests.lock().map_or(0, |r| r.len())}),
        ),
        ("GET", "requests") => {
            let list: Vec<Value> = state
                .requests
                .lock()
                .map(|r| {
                    r.iter()
                        .map(|x| {
                            json!({"method": x.method, "path": x.path, "url": x.url(), "headers": x.headers,
                                   "body": String::from_utf8_lossy(&x.body)})
                        })
                        .collect()
                })
                .unwrap_or_default();
            json_reply(200, Value::Array(list))
        }
        ("POST", "reset") => {
            if let Ok(mut r) = state.requests.lock() {
                r.clear();
            }
            if let Ok(mut s) = state.script.lock() {
                s.clear();
            }
            if let Ok(mut o) = state.outcomes.lock() {
                o.clear();
            }
            json_reply(200, json!({"ok": true}))
        }
        ("POST", "reply") => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let status = v
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(200);
            let text = v
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or("")
                .as_bytes()
                .to_vec();
            let mut reply = match v.get("sse_delay_ms").and_then(Value::as_u64) {
                Some(ms) => Reply {
                    status,
                    ..Reply::sse(&text, Duration::from_millis(ms))
                },
                None => Reply::raw(status, "application/json", text),
            };
            for pair in v
                .get("headers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(k), Some(val)) = (
                    pair.get(0).and_then(Value::as_str),
                    pair.get(1).and_then(Value::as_str),
                ) {
                    reply
                        .headers
                        .retain(|(have, _)| !have.eq_ignore_ascii_case(k));
                    reply.headers.push((k.to_owned(), val.to_owned()));
                }
            }
            if let Ok(mut s) = state.script.lock() {
                s.push_back(reply);
            }
            json_reply(200, json!({"queued": true}))
        }
        _ => json_reply(
            404,
            json!({"error": format!("no mock admin route {method} /__mock/{path}")}),
        ),
    }
}

fn respond(state: &Arc<State>, kill: &Kill, reply: Reply) -> Response<Body> {
    let mut b = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body: Body = match reply.body {
        MockBody::Bytes(bytes) => Full::new(Bytes::from(bytes)).boxed(),
        MockBody::Sse {
            chunks,
            delay,
            cut_after,
        } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
            let st = Arc::clone(state);
            tokio::spawn(async move {
                let total = chunks.len();
                let mut sent = 0;
                for c in chunks {
                    if cut_after == Some(sent) {
                        // Let what was sent reach the client, then end the
                        // body short of its declared length: hyper closes
                        // the connection mid-message.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        record(&st, StreamOutcome::Cut { sent });
                        return;
                    }
                    if sent > 0 && !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if tx.send(Ok(Frame::data(Bytes::from(c)))).await.is_err() {
                        record(&st, StreamOutcome::ClientClosed { sent, total });
                        return;
                    }
                    sent += 1;
                }
                // The last frame is written once the channel has room again.
                if tx.reserve().await.is_err() {
                    record(&st, StreamOutcome::ClientClosed { sent, total });
                    return;
                }
                record(&st, StreamOutcome::Completed { chunks: sent });
            });
            let stream = tokio_stream_from(rx);
            let body = StreamBody::new(stream);
            if cut_after.is_some() {
                // A cut must look like a broken connection, not a clean end:
                // declare a length the body never reaches.
                b = b.header("content-length", "999999999");
            }
            BodyExt::boxed(body)
        }
        MockBody::Repeat {
            head,
            chunk,
            count,
            tail,
            delay,
        } => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
            let st = Arc::clone(state);
            tokio::spawn(async move {
                let chunk = Bytes::from(chunk);
                let total = count + 2;
                if tx.send(Ok(Frame::data(Bytes::from(head)))).await.is_err() {
                    record(&st, StreamOutcome::ClientClosed { sent: 0, total });
                    return;
                }
                for i in 0..count {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    if tx.send(Ok(Frame::data(chunk.clone()))).await.is_err() {
                        record(&st, StreamOutcome::ClientClosed { sent: i + 1, total });
                        return;
                    }
                }
                if tx.send(Ok(Frame::data(Bytes::from(tail)))).await.is_err() {
                    record(
                        &st,
                        StreamOutcome::ClientClosed {
                            sent: count + 1,
                            total,
                        },
                    );
                    return;
                }
                record(&st, StreamOutcome::Completed { chunks: total });
            });
            BodyExt::boxed(StreamBody::new(tokio_stream_from(rx)))
        }
        MockBody::Steps(steps) => {
            let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
            let st = Arc::clone(state);
            let kill = kill.clone();
            tokio::spawn(async move {
                let mut sent = 0;
                for step in steps {
                    match step {
                        Step::Bytes(bytes) => {
                            if tx.send(Ok(Frame::data(Bytes::from(bytes)))).await.is_err() {
                                record(&st, StreamOutcome::ClientClosed { sent, total: 0 });
                                return;
                            }
                            sent += 1;
                            // Room in the channel again means hyper took the
                            // frame; a short pause lets it reach the socket as
                            // its own segment (nodelay is set).
                            if tx.reserve().await.is_err() {
                                record(&st, StreamOutcome::ClientClosed { sent, total: 0 });
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Step::Pause(d) => tokio::time::sleep(d).await,
                        Step::Reset => {
                            kill.throw();
                            record(&st, StreamOutcome::Reset { sent });
                            // Wake hyper's writer so it sees the switch.
                            let _ = tx.send(Ok(Frame::data(Bytes::from_static(b" ")))).await;
                            return;
                        }
                    }
                }
                record(&st, StreamOutcome::Completed { chunks: sent });
            });
            BodyExt::boxed(StreamBody::new(tokio_stream_from(rx)))
        }
        MockBody::ResetBeforeHead => Full::new(Bytes::new()).boxed(),
    };
    b.body(body)
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

fn record(state: &Arc<State>, o: StreamOutcome) {
    if let Ok(mut v) = state.outcomes.lock() {
        v.push(o);
    }
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

// ---------------------------------------------------------------- defaults

/// The reply when no script is queued: a plausible answer in the format the
/// path implies.
fn default_reply(req: &Recorded, pace: Duration) -> Reply {
    let body = req.json();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let path = req.path.split('?').next().unwrap_or("");
    if body.is_array() {
        // Cloudflare Universal Endpoint: the first step answers.
        let first = body.get(0).cloned().unwrap_or(Value::Null);
        let provider = first.get("provider").and_then(Value::as_str).unwrap_or("");
        let model = first
            .pointer("/query/model")
            .and_then(Value::as_str)
            .unwrap_or("mock");
        let reply = if provider == "anthropic" {
            anthropic_json(model)
        } else {
            openai_json(model)
        };
        return reply.header("cf-aig-step", "0");
    }
    if path.ends_with("/chat/completions") {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model");
        return if stream {
            Reply::sse(OPENAI_TEXT_SSE, pace)
        } else {
            openai_json(model)
        };
    }
    if path.ends_with("/v1/messages") {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("claude-mock");
        return if stream {
            Reply::sse(ANTHROPIC_TEXT_SSE, pace)
        } else {
            anthropic_json(model)
        };
    }
    if path.ends_with("/embeddings") {
        let n = body
            .get("input")
            .and_then(Value::as_array)
            .map_or(1, Vec::len);
        let data: Vec<Value> = (0..n)
            .map(
                |i| json!({"object": "embedding", "index": i, "embedding": [i as f64, 0.5, -0.25]}),
            )
            .collect();
        return Reply::json(
            200,
            json!({"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": 3 * n, "total_tokens": 3 * n}}),
        );
    }
    if path.contains("/ai/run/") {
        if let Some(texts) = body.get("text").and_then(Value::as_array) {
            let data: Vec<Value> = (0..texts.len()).map(|i| json!([i as f64, 0.5])).collect();
            return Reply::json(
                200,
                json!({"result": {"shape": [texts.len(), 2], "data": data}, "success": true, "errors": []}),
            );
        }
        return if stream {
            workers_sse(pace)
        } else {
            workers_json()
        };
    }
    Reply::json(
        404,
        json!({"error": {"message": format!("the mock does not serve {path}"), "type": "not_found"}}),
    )
}

pub const MOCK_TEXT: &str = "Hello! I am the ai-gateway mock upstream.";

pub fn openai_json(model: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": MOCK_TEXT, "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
                      "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
        }),
    )
}

pub fn anthropic_json(model: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": MOCK_TEXT}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 9}
        }),
    )
}

pub fn workers_json() -> Reply {
    Reply::json(
        200,
        json!({"result": {"response": MOCK_TEXT, "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}},
               "success": true, "errors": [], "messages": []}),
    )
}

pub fn workers_sse(pace: Duration) -> Reply {
    let mut s = String::new();
    for w in MOCK_TEXT.split_inclusive(' ') {
        s.push_str(&format!(
            "data: {}\n\n",
            json!({"response": w, "p": "abcdef"})
        ));
    }
    s.push_str(&format!("data: {}\n\n", json!({"response": "", "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}})));
    s.push_str("data: [DONE]\n\n");
    Reply::sse(s.as_bytes(), pace)
}

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
//!
//! Files: [`reply`] (scripted replies and bodies), [`respond`] (writing them),
//! [`faults`] (below-HTTP faults), [`canned`] (provider bodies, shared with
//! the fault tests), `chaos` (random faults for soak runs), `admin` (the
//! `/__mock/` API); the server is here.

mod admin;
pub mod canned;
mod chaos;
pub mod faults;
pub mod reply;
pub mod respond;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;

pub use canned::{
    ANTHROPIC_TEXT_SSE, ANTHROPIC_TOOL_SSE, MOCK_TEXT, OPENAI_PARALLEL_SSE, OPENAI_TEXT_SSE,
    OPENAI_TOOL_SSE, anthropic_json, openai_json, workers_json, workers_sse,
};
pub use faults::{BlackHole, refused_addr};
pub use reply::{MockBody, Reply, Step, gzip, split_events};
pub use respond::StreamOutcome;

use faults::{Kill, KillableTcp};
use respond::{record, respond};

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

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) requests: Mutex<Vec<Recorded>>,
    pub(super) script: Mutex<VecDeque<Reply>>,
    pub(super) outcomes: Mutex<Vec<StreamOutcome>>,
    /// Delay between events of default (unscripted) streams.
    pub(super) pace: Mutex<Duration>,
    /// Random faults instead of default replies (`POST /__mock/chaos`).
    pub(super) chaos: Mutex<Option<chaos::Chaos>>,
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

pub(super) type Body = BoxBody<Bytes, Infallible>;

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
        return Ok(admin::admin_reply(
            &state,
            parts.method.as_str(),
            admin,
            &body,
        ));
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
    let keep = state
        .chaos
        .lock()
        .map_or(true, |c| c.as_ref().is_none_or(|c| c.record));
    if keep && let Ok(mut r) = state.requests.lock() {
        r.push(rec.clone());
    }
    if let Some(problem) = length_problem(&rec) {
        // A strict server: every request body the gateway sends is complete
        // in memory, so it must say its length (issue 15). 411 fails the
        // call, and so the test, on every host that drops it.
        let body = serde_json::json!({"error": {"message": problem, "type": "length_required"}});
        return Ok(respond(&state, &kill, Reply::json(411, body)));
    }
    let scripted = state.script.lock().ok().and_then(|mut s| s.pop_front());
    let pace = state.pace.lock().map(|p| *p).unwrap_or_default();
    let chaotic = match scripted {
        Some(_) => None,
        None => state
            .chaos
            .lock()
            .ok()
            .and_then(|mut c| c.as_mut().map(|c| c.reply(&rec))),
    };
    let reply = match (scripted, chaotic) {
        (Some(r), _) | (None, Some(r)) => r,
        (None, None) => canned::default_reply(&rec, pace),
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

/// Why a request with a body does not carry its exact length, if it does
/// not: a missing or wrong `Content-Length`, or a chunked body.
pub fn length_problem(rec: &Recorded) -> Option<String> {
    if rec.method == "GET" && rec.body.is_empty() {
        return None;
    }
    if let Some(te) = rec.header("transfer-encoding") {
        return Some(format!(
            "the request body was sent with transfer-encoding {te:?}, not a Content-Length"
        ));
    }
    match rec.header("content-length").map(str::parse::<usize>) {
        Some(Ok(n)) if n == rec.body.len() => None,
        Some(_) => Some(format!(
            "content-length {:?} does not match the {}-byte body",
            rec.header("content-length").unwrap_or_default(),
            rec.body.len()
        )),
        None => Some(format!(
            "a {} request with a {}-byte body and no content-length",
            rec.method,
            rec.body.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(method: &str, headers: &[(&str, &str)], body: &[u8]) -> Recorded {
        Recorded {
            method: method.into(),
            path: "/".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
            at: std::time::Instant::now(),
        }
    }

    #[test]
    fn length_problem_needs_the_exact_content_length() {
        assert_eq!(length_problem(&rec("GET", &[], b"")), None);
        assert_eq!(
            length_problem(&rec("POST", &[("content-length", "2")], b"{}")),
            None
        );
        assert_eq!(
            length_problem(&rec("POST", &[("content-length", "0")], b"")),
            None
        );
        for bad in [
            rec("POST", &[], b"{}"),
            rec("POST", &[("content-length", "3")], b"{}"),
            rec("POST", &[("transfer-encoding", "chunked")], b"{}"),
            rec("POST", &[], b""),
        ] {
            assert!(length_problem(&bad).is_some(), "{bad:?}");
        }
    }
}

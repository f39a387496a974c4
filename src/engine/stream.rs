//! A stream in progress: pulls upstream bytes through the event pump, and
//! at the terminal event fills in the provider, records cost and token
//! usage once, stores the cache entry and writes the trace.

use std::collections::VecDeque;

use super::trace::{ResponseInfo, Tracer};
use super::{Env, Gateway, cache};
use crate::config::{CacheConfig, LoggingConfig, WireFormat};
use crate::encoding;
use crate::error::{GatewayError, Result};
use crate::ports::{Body, Clock, Http, ReadState};
use crate::stream::EventPump;
use crate::types::{Attempt, Completion, LogRecord, Output, StreamDone, StreamEvent, ToolCall};

/// The stream for a JSON-labelled answer to a stream request, read whole:
/// a completion (a server that ignored `stream: true`) becomes its events,
/// an error object its typed error; a body that is really an event stream
/// under the wrong label is decoded as one (buffered, not incremental).
pub(crate) fn from_json_body<B: Body>(
    t: &super::Target<'_>,
    head: &crate::http::ResponseHead,
    bytes: &[u8],
) -> Result<LiveStream<B>> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b == b'{' || *b == b'[') {
        let c = crate::provider::parse_chat_reply(t.endpoint, head, bytes)
            .map_err(|e| super::with_status(e, head.status))?;
        return Ok(LiveStream::from_completion(c, &t.model));
    }
    let events = crate::stream::decode_all(t.endpoint.wire, &t.model, bytes, bytes.len());
    if let Some(StreamEvent::Error(e)) = events.first() {
        return Err(e.clone());
    }
    Ok(LiveStream::replay(events))
}

/// Result of a non-blocking pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    Ready(StreamEvent),
    Pending,
    Finished,
}

/// What the stream needs to account for itself at the end.
#[derive(Debug, Default)]
pub(crate) struct Context {
    pub provider: String,
    pub model: String,
    pub caller: Option<String>,
    pub cache: Option<(CacheConfig, String)>,
}

/// Largest streamed output kept for the cache; a longer stream is not cached.
const MAX_RECORDED: usize = 4 << 20;

/// Inflated bytes fed to the event pump per step: a gzip stream is only
/// inflated as far as the next event needs, so a small compressed read
/// cannot queue unbounded events.
const INFLATE_STEP: usize = 16 * 1024;

/// What a stream produced, kept only when it will be stored in the cache.
#[derive(Debug, Default)]
struct Recorder {
    text: String,
    reasoning: String,
    tool_calls: Vec<ToolCall>,
    /// Too large to cache; stop recording.
    overflow: bool,
}

impl Recorder {
    fn record(&mut self, ev: &StreamEvent) {
        if self.overflow {
            return;
        }
        match ev {
            StreamEvent::Text(t) => self.text.push_str(t),
            StreamEvent::Reasoning(r) => self.reasoning.push_str(r),
            StreamEvent::ToolUse(c) => self.tool_calls.push(c.clone()),
            StreamEvent::Done(_) | StreamEvent::Error(_) => {}
        }
        if self.text.len() + self.reasoning.len() > MAX_RECORDED {
            *self = Self {
                overflow: true,
                ..Self::default()
            };
        }
    }
}

#[derive(Debug)]
pub struct LiveStream<B> {
    body: Option<B>,
    pump: Option<EventPump>,
    replay: VecDeque<StreamEvent>,
    deadline: Option<u64>,
    ctx: Option<Context>,
    attempts: Vec<Attempt>,
    /// Present only when the stream's result goes into the cache.
    recorder: Option<Recorder>,
    provider: String,
    logging: Option<LoggingConfig>,
    model: String,
    started_ms: u64,
    trace: Vec<LogRecord>,
    finished: bool,
    /// A gzip-encoded body's decoder, and whether it may hold output not
    /// fed to the pump yet.
    inflate: Option<encoding::Decoder>,
    inflate_pending: bool,
    /// Credential headers given with this call (the configured ones are the
    /// gateway's): scrubbed from a terminal error event too.
    call_secrets: Vec<String>,
}

impl<B: Body> LiveStream<B> {
    pub(crate) fn live(
        body: B,
        wire: WireFormat,
        provider: &str,
        model: &str,
        deadline: Option<u64>,
    ) -> Self {
        Self {
            body: Some(body),
            pump: Some(EventPump::new(wire, model)),
            replay: VecDeque::new(),
            deadline,
            ctx: None,
            attempts: Vec::new(),
            recorder: None,
            provider: provider.to_owned(),
            logging: None,
            model: model.to_owned(),
            started_ms: 0,
            trace: Vec::new(),
            finished: false,
            inflate: None,
            inflate_pending: false,
            call_secrets: Vec::new(),
        }
    }

    /// The body is gzip-encoded (the decoder passes it through unchanged
    /// when it does not start with the gzip magic).
    pub(crate) fn decode_gzip(&mut self) {
        self.inflate = Some(encoding::Decoder::new());
    }

    /// A complete answer that arrived as one JSON body to a stream request,
    /// replayed as events. Unlike a cache replay it is accounted and cached
    /// at its `done` like a live stream.
    pub(crate) fn from_completion(c: Completion, model: &str) -> Self {
        let mut events = Vec::new();
        if let Some(r) = c.reasoning.filter(|r| !r.is_empty()) {
            events.push(StreamEvent::Reasoning(r));
        }
        if !c.text.is_empty() {
            events.push(StreamEvent::Text(c.text));
        }
        events.extend(c.tool_calls.into_iter().map(StreamEvent::ToolUse));
        events.push(StreamEvent::Done(StreamDone {
            usage: c.usage,
            finish_reason: c.finish_reason,
            provider: String::new(),
            model: if c.model.is_empty() {
                model.to_owned()
            } else {
                c.model
            },
            cached: false,
            cost_micro_usd: None,
        }));
        Self::replay(events)
    }

    /// A stream that replays cached events; it touches no upstream and
    /// records nothing.
    pub(crate) fn replay(events: Vec<StreamEvent>) -> Self {
        Self {
            body: None,
            pump: None,
            replay: events.into(),
            deadline: None,
            ctx: None,
            attempts: Vec::new(),
            recorder: None,
            provider: String::new(),
            logging: None,
            model: String::new(),
            started_ms: 0,
            trace: Vec::new(),
            finished: false,
            inflate: None,
            inflate_pending: false,
            call_secrets: Vec::new(),
        }
    }

    pub(crate) fn set_context(&mut self, ctx: Context, attempts: Vec<Attempt>) {
        if ctx.cache.is_some() {
            self.recorder = Some(Recorder::default());
        }
        self.ctx = Some(ctx);
        self.attempts = attempts;
    }

    pub(crate) fn set_trace(
        &mut self,
        logging: Option<LoggingConfig>,
        model: &str,
        started_ms: u64,
        records: Vec<LogRecord>,
    ) {
        self.logging = logging;
        self.model = model.to_owned();
        self.started_ms = started_ms;
        self.trace = records;
    }

    /// Also scrub these (a call's own credential headers) from error events.
    pub(crate) fn set_call_secrets(&mut self, secrets: Vec<String>) {
        self.call_secrets = secrets;
    }

    /// The upstream body, for hosts that wait on its readiness.
    pub fn body(&self) -> Option<&B> {
        if self.finished {
            None
        } else {
            self.body.as_ref()
        }
    }

    /// The log records of this stream so far (complete after the terminal
    /// event).
    pub fn trace(&self) -> &[LogRecord] {
        &self.trace
    }

    /// The upstream attempts made to open the stream.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    fn pump_input(
        &mut self,
        r: std::result::Result<Option<Vec<u8>>, crate::ports::TransportError>,
    ) {
        let Some(pump) = &mut self.pump else { return };
        match (r, &mut self.inflate) {
            (Ok(Some(bytes)), Some(d)) => {
                d.push(&bytes);
                self.inflate_pending = true;
                self.pump_inflated();
            }
            (Ok(None), Some(d)) => {
                d.end();
                self.inflate_pending = true;
                self.pump_inflated();
            }
            (Ok(Some(bytes)), None) => pump.feed(&bytes),
            (Ok(None), None) => pump.eof(),
            (Err(e), _) => pump.fail(e.into_gateway(&self.provider)),
        }
    }

    /// Feed inflated bytes to the pump until it has an event to give or
    /// the decoder needs more input.
    fn pump_inflated(&mut self) {
        let (Some(pump), Some(d)) = (&mut self.pump, &mut self.inflate) else {
            self.inflate_pending = false;
            return;
        };
        while self.inflate_pending && !pump.has_events() && !pump.is_terminated() {
            match d.pull(INFLATE_STEP) {
                Ok(Some(bytes)) => pump.feed(&bytes),
                Ok(None) => {
                    self.inflate_pending = false;
                    if d.is_ended() {
                        pump.eof();
                    }
                }
                Err(e) => {
                    self.inflate_pending = false;
                    pump.fail(super::decode_error(&e, &self.provider));
                }
            }
        }
        if pump.is_terminated() {
            self.inflate_pending = false;
        }
    }

    /// Read until the first event is known. An `error` as the first event
    /// is returned, so the caller can retry or fall back: nothing was
    /// delivered yet.
    pub(crate) fn prime(&mut self, clock: &dyn Clock) -> Result<()> {
        let _ = clock;
        loop {
            let Some(pump) = &mut self.pump else {
                return Ok(());
            };
            match pump.front() {
                Some(StreamEvent::Error(_)) => {
                    return match pump.pop() {
                        Some(StreamEvent::Error(e)) => Err(e),
                        _ => Err(GatewayError::internal("stream state changed while priming")),
                    };
                }
                Some(_) => return Ok(()),
                None => {}
            }
            if self.inflate_pending {
                self.pump_inflated();
                continue;
            }
            let Some(body) = &mut self.body else {
                return Ok(());
            };
            let r = body.read(self.deadline);
            self.pump_input(r);
        }
    }

    fn pop(&mut self) -> Option<StreamEvent> {
        self.replay
            .pop_front()
            .or_else(|| self.pump.as_mut().and_then(EventPump::pop))
    }

    /// Block until the next event; `None` after the terminal event, forever.
    pub fn next<H: Http<Body = B>>(
        &mut self,
        gw: &Gateway,
        env: &Env<'_, H>,
    ) -> Option<StreamEvent> {
        if self.finished {
            return None;
        }
        loop {
            if let Some(ev) = self.pop() {
                return Some(self.deliver(ev, gw, env));
            }
            if self.inflate_pending {
                self.pump_inflated();
                continue;
            }
            match &mut self.body {
                Some(body) => {
                    let r = body.read(self.deadline);
                    self.pump_input(r);
                }
                None => {
                    // A replay without a terminal event cannot happen; keep
                    // the one-terminal guarantee anyway.
                    let e = GatewayError::internal("stream ended without a terminal event");
                    return Some(self.deliver(StreamEvent::Error(e), gw, env));
                }
            }
        }
    }

    /// An event if one is available without blocking.
    pub fn try_next<H: Http<Body = B>>(&mut self, gw: &Gateway, env: &Env<'_, H>) -> Poll {
        if self.finished {
            return Poll::Finished;
        }
        loop {
            if let Some(ev) = self.pop() {
                return Poll::Ready(self.deliver(ev, gw, env));
            }
            if self.deadline.is_some_and(|d| env.clock.monotonic_ms() >= d) {
                if let Some(p) = &mut self.pump {
                    p.fail(GatewayError::timeout("the call's deadline passed"));
                }
                continue;
            }
            if self.inflate_pending {
                self.pump_inflated();
                continue;
            }
            let Some(body) = &mut self.body else {
                return Poll::Pending;
            };
            match body.try_read() {
                Ok(ReadState::Pending) => return Poll::Pending,
                Ok(ReadState::Data(b)) => self.pump_input(Ok(Some(b))),
                Ok(ReadState::End) => self.pump_input(Ok(None)),
                Err(e) => self.pump_input(Err(e)),
            }
        }
    }

    fn deliver<H: Http>(
        &mut self,
        mut ev: StreamEvent,
        gw: &Gateway,
        env: &Env<'_, H>,
    ) -> StreamEvent {
        if let Some(r) = &mut self.recorder {
            r.record(&ev);
        }
        match &mut ev {
            StreamEvent::Text(_) | StreamEvent::Reasoning(_) | StreamEvent::ToolUse(_) => {}
            StreamEvent::Done(done) => {
                self.finished = true;
                self.body = None; // close the upstream connection now
                if let Some(ctx) = self.ctx.take() {
                    done.provider.clone_from(&ctx.provider);
                    if done.model.is_empty() {
                        done.model.clone_from(&ctx.model);
                    }
                    // Accounting failures cannot turn a finished stream into
                    // an error: the tokens were produced and delivered.
                    done.cost_micro_usd = gw
                        .account(
                            env,
                            &ctx.provider,
                            &ctx.model,
                            ctx.caller.as_deref(),
                            done.usage.as_ref(),
                        )
                        .unwrap_or(None);
                    if let (Some((config, key)), Some(rec)) = (&ctx.cache, self.recorder.take())
                        && !rec.overflow
                    {
                        let completion = Completion {
                            text: rec.text,
                            reasoning: (!rec.reasoning.is_empty()).then_some(rec.reasoning),
                            tool_calls: rec.tool_calls,
                            usage: done.usage,
                            model: done.model.clone(),
                            finish_reason: done.finish_reason.clone(),
                        };
                        let output =
                            Output::from_completion(completion, ctx.provider.clone(), None);
                        let _ = cache::put(env.kv, config, key, &output, env.clock.now_ms());
                    }
                    let info = ResponseInfo {
                        provider: Some(&ctx.provider),
                        usage: done.usage,
                        cost_micro_usd: done.cost_micro_usd,
                        attempts: u32::try_from(self.attempts.len()).unwrap_or(u32::MAX),
                        cached: false,
                    };
                    let mut t = self.tracer();
                    t.response(env.clock.now_ms(), info, env.log);
                    self.trace = t.into_records();
                }
            }
            StreamEvent::Error(e) => {
                e.scrub(&gw.secrets);
                e.scrub(&self.call_secrets);
                self.finished = true;
                self.body = None;
                let provider = self.ctx.as_ref().map(|c| c.provider.clone());
                if let Some(p) = &provider {
                    *e = e.clone().with_provider(p);
                }
                let attempts = self.attempts.len();
                let msg = e.to_string();
                let mut t = self.tracer();
                t.error(
                    env.clock.now_ms(),
                    provider.as_deref(),
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    msg,
                    env.log,
                );
                self.trace = t.into_records();
            }
        }
        ev
    }

    fn tracer(&mut self) -> Tracer<'_> {
        let records = std::mem::take(&mut self.trace);
        Tracer::resume(
            self.logging.as_ref(),
            "stream",
            &self.model,
            self.started_ms,
            records,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Env, Gateway};
    use crate::config::{GatewayConfig, ProviderConfig, ProviderKind};
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
        let r = reply("text/event-stream", SSE.as_bytes().to_vec())
            .with_header("content-encoding", "gzip");
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
}

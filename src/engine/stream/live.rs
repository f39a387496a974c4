//! A stream in progress: pulls upstream bytes through the event pump, and
//! at the terminal event fills in the provider, records cost and token
//! usage once, stores the cache entry and writes the trace.

use std::collections::VecDeque;

use crate::config::{CacheConfig, LoggingConfig, WireFormat};
use crate::encoding;
use crate::engine::env::Env;
use crate::engine::hold::Hold;
use crate::engine::ratelimit::Subject;
use crate::engine::trace::{ResponseInfo, Tracer};
use crate::engine::{Gateway, cache, retry};
use crate::error::{GatewayError, Result};
use crate::ports::{Body, Clock, Http, ReadState};
use crate::secrets::Secrets;
use crate::stream::EventPump;
use crate::types::{
    Attempt, Completion, LogRecord, Output, ReasoningBlock, StreamDone, StreamEvent, TokenLogprob,
    ToolCall,
};

/// Result of a non-blocking pull.
#[derive(Debug, Clone, PartialEq)]
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
    /// The call's reservations: settled at `done`, released at `error` or
    /// when the stream is abandoned.
    pub hold: Hold,
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
    /// Closed reasoning blocks, and the text of the open one.
    blocks: Vec<ReasoningBlock>,
    block: String,
    refusal: String,
    logprobs: Vec<TokenLogprob>,
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
            StreamEvent::Reasoning(r) => {
                self.reasoning.push_str(r);
                self.block.push_str(r);
            }
            StreamEvent::ReasoningSignature(s) => self.blocks.push(ReasoningBlock {
                text: std::mem::take(&mut self.block),
                signature: Some(s.clone()),
                redacted: None,
            }),
            StreamEvent::ReasoningRedacted(d) => self.blocks.push(ReasoningBlock {
                text: String::new(),
                signature: None,
                redacted: Some(d.clone()),
            }),
            StreamEvent::Refusal(r) => self.refusal.push_str(r),
            StreamEvent::Logprobs(l) => self.logprobs.extend(l.iter().cloned()),
            StreamEvent::ToolUse(c) => self.tool_calls.push(c.clone()),
            StreamEvent::Done(_) | StreamEvent::Error(_) => {}
        }
        if self.text.len() + 2 * self.reasoning.len() + self.refusal.len() > MAX_RECORDED
            || self.logprobs.len() > MAX_RECORDED / 64
        {
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
    /// The call's secrets when its own credential headers add to the
    /// gateway's (else the gateway's are used): scrubbed from a terminal
    /// error event and its trace record.
    call_secrets: Option<Secrets>,
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
            call_secrets: None,
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
            call_secrets: None,
        }
    }

    /// The stream is dropped by its caller: whatever it still holds
    /// against the budget and the token limits is given back (a stream
    /// that ended has settled or released already).
    pub fn abandon<H: Http>(&mut self, gw: &Gateway, env: &Env<'_, H>) {
        self.body = None;
        if let Some(ctx) = &mut self.ctx {
            ctx.hold.release(gw, env.kv, env.clock.now_ms());
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

    /// Scrub these (the gateway's plus the call's own credential headers)
    /// from error events.
    pub(crate) fn set_call_secrets(&mut self, secrets: Secrets) {
        self.call_secrets = Some(secrets);
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
            (Err(e), _) => pump.fail(retry::from_transport(e, &self.provider)),
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
                    pump.fail(retry::undecodable_body(&e, &self.provider));
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
            StreamEvent::Text(_)
            | StreamEvent::Reasoning(_)
            | StreamEvent::ToolUse(_)
            | StreamEvent::ReasoningSignature(_)
            | StreamEvent::ReasoningRedacted(_)
            | StreamEvent::Refusal(_)
            | StreamEvent::Logprobs(_) => {}
            StreamEvent::Done(done) => {
                self.finished = true;
                self.body = None; // close the upstream connection now
                if let Some(mut ctx) = self.ctx.take() {
                    done.provider.clone_from(&ctx.provider);
                    if done.model.is_empty() {
                        done.model.clone_from(&ctx.model);
                    }
                    let subject = Subject {
                        provider: &ctx.provider,
                        model: &ctx.model,
                        caller: ctx.caller.as_deref(),
                    };
                    // Accounting failures cannot turn a finished stream into
                    // an error: the tokens were produced and delivered.
                    done.cost_micro_usd = ctx
                        .hold
                        .settle(
                            gw,
                            env.kv,
                            &subject,
                            done.usage.as_ref(),
                            env.clock.now_ms(),
                        )
                        .unwrap_or(None);
                    if let (Some((config, key)), Some(rec)) = (&ctx.cache, self.recorder.take())
                        && !rec.overflow
                    {
                        let mut blocks = rec.blocks;
                        if !rec.block.is_empty() {
                            blocks.push(ReasoningBlock {
                                text: rec.block,
                                ..ReasoningBlock::default()
                            });
                        }
                        let completion = Completion {
                            text: rec.text,
                            reasoning: (!rec.reasoning.is_empty()).then_some(rec.reasoning),
                            reasoning_blocks: blocks,
                            refusal: (!rec.refusal.is_empty()).then_some(rec.refusal),
                            logprobs: rec.logprobs,
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
                    let records = std::mem::take(&mut self.trace);
                    let mut t = self.tracer(gw, records);
                    t.response(env.clock.now_ms(), info, env.log);
                    self.trace = t.into_records();
                }
            }
            StreamEvent::Error(e) => {
                self.call_secrets
                    .as_ref()
                    .unwrap_or(&gw.secrets)
                    .scrub_error(e);
                self.finished = true;
                self.body = None;
                if let Some(ctx) = &mut self.ctx {
                    ctx.hold.release(gw, env.kv, env.clock.now_ms());
                }
                let provider = self.ctx.as_ref().map(|c| c.provider.clone());
                if let Some(p) = &provider {
                    *e = e.clone().with_provider(p);
                }
                let attempts = self.attempts.len();
                let msg = e.to_string();
                let records = std::mem::take(&mut self.trace);
                let mut t = self.tracer(gw, records);
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

    fn tracer<'s>(&'s self, gw: &'s Gateway, records: Vec<LogRecord>) -> Tracer<'s> {
        Tracer::resume(
            self.logging.as_ref(),
            "stream",
            &self.model,
            self.started_ms,
            records,
            self.call_secrets.as_ref().unwrap_or(&gw.secrets),
        )
    }
}

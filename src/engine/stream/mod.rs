//! `stream`: streaming inference (WIT `gateway.stream`).
//!
//! This file opens the stream: the shared start of a chat call, then
//! attempts that each send the request and wait for the first event, so an
//! upstream that fails before sending anything is retried or falls back
//! like any failed attempt. `live.rs` is the stream in progress, up to its
//! one terminal event.

mod live;

pub use live::{LiveStream, Poll};

use live::Context;

use super::call::ChatStart;
use super::env::Env;
use super::exchange::{Outcome, chat_request, read_body, with_status};
use super::target::Target;
use super::{Gateway, cache, retry};
use crate::error::{GatewayError, Result};
use crate::ports::{Body, Http};
use crate::provider;
use crate::types::{Input, RunOptions, StreamEvent};

impl Gateway {
    /// Streaming inference (WIT `gateway.stream`). Retries and fallbacks
    /// happen until the first event is known; an error before that is
    /// returned here, after that it ends the stream.
    pub fn stream<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<LiveStream<H::Body>> {
        let started_ms = env.clock.now_ms();
        let bounded = super::estimate::bounded(opts, self.reserves());
        let opts: &RunOptions = &bounded;
        let mut call = self.begin(
            env,
            "stream",
            model,
            &opts.headers,
            opts.request_id.as_deref(),
        );
        let result = (|| {
            let chat = match call.start_chat(model, input, opts, true)? {
                ChatStart::Cached(hit) => {
                    // A `response` record with `cached`, as `run` writes:
                    // a replayed stream is a cache hit in the metrics too.
                    call.log_cached(&hit);
                    return Ok(LiveStream::replay(cache::replay_events(&hit)));
                }
                ChatStart::Send(chat) => chat,
            };
            let deadline = chat.deadline;
            let (mut stream, served) = call.attempt(&chat.schedule(), &chat.plan.targets, |t| {
                self.open_stream(env, t, input, opts, deadline)
            })?;
            let target = chat
                .plan
                .targets
                .get(served)
                .ok_or_else(|| GatewayError::internal("served index out of range"))?;
            let context = Context {
                provider: target.provider().to_owned(),
                model: target.model.clone(),
                caller: opts.caller.clone(),
                cache: chat.cache.map(|(c, k)| (c.clone(), k)),
                hold: std::mem::take(&mut call.hold),
            };
            stream.set_context(context, std::mem::take(&mut call.attempts));
            Ok(stream)
        })();
        let logging = self.logging.clone();
        call.end(result, |s, tracer| {
            let (records, secrets) = tracer.into_parts();
            s.set_trace(logging, model, started_ms, records);
            if let std::borrow::Cow::Owned(all) = secrets {
                s.set_call_secrets(all);
            }
        })
    }

    /// One attempt: send the stream request to `t` and read until the first
    /// event. A non-success answer is the provider's error; an answer
    /// labelled JSON is read whole (a server that ignored `stream: true`,
    /// or sent its error as JSON); HTML is refused.
    fn open_stream<H: Http>(
        &self,
        env: &Env<'_, H>,
        t: &Target<'_>,
        input: &Input,
        opts: &RunOptions,
        deadline: Option<u64>,
    ) -> Outcome<LiveStream<H::Body>> {
        let req = match chat_request(t, input, opts, true) {
            Ok(r) => r,
            Err(e) => return (Err(e), None),
        };
        let req = match provider::signed(t.endpoint, &req, env.clock.now_ms()) {
            Ok(Some(signed)) => signed,
            Ok(None) => req,
            Err(e) => return (Err(e), None),
        };
        let (head, mut body) = match env.http.send(&req, &self.send_options(deadline)) {
            Ok(x) => x,
            Err(e) => return (Err(retry::from_transport(e, t.provider())), None),
        };
        let status = Some(head.status);
        if !head.is_success() {
            let e = match read_body(&head, &mut body, deadline, t.provider()) {
                Ok(b) => provider::error_for(t.endpoint, &head, &b, env.clock.now_ms()),
                Err(e) => e,
            };
            return (Err(e), status);
        }
        if let Err(e) = provider::unexpected_content_type(&head, &[], &["text/html"]) {
            return (Err(e), status);
        }
        if provider::media_type(&head)
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
        {
            let bytes = match read_body(&head, &mut body, deadline, t.provider()) {
                Ok(b) => b,
                Err(e) => return (Err(e), status),
            };
            return (from_json_body(t, &head, &bytes), status);
        }
        let mut s = LiveStream::live(body, t.endpoint.wire, t.provider(), &t.model, deadline);
        if crate::encoding::says_gzip(&head) {
            s.decode_gzip();
        }
        (s.prime(env.clock).map(|()| s), status)
    }
}

/// The stream for a JSON-labelled answer to a stream request, read whole:
/// a completion (a server that ignored `stream: true`) becomes its events,
/// an error object its typed error; a body that is really an event stream
/// under the wrong label is decoded as one (buffered, not incremental).
pub(crate) fn from_json_body<B: Body>(
    t: &Target<'_>,
    head: &crate::http::ResponseHead,
    bytes: &[u8],
) -> Result<LiveStream<B>> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b == b'{' || *b == b'[') {
        let c = provider::parse_chat_reply(t.endpoint, head, bytes)
            .map_err(|e| with_status(e, head.status))?;
        return Ok(LiveStream::from_completion(c, &t.model));
    }
    let events = crate::stream::decode_all(t.endpoint.wire, &t.model, bytes, bytes.len());
    if let Some(StreamEvent::Error(e)) = events.first() {
        return Err(e.clone());
    }
    Ok(LiveStream::replay(events))
}

#[cfg(test)]
mod tests;

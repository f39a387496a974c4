//! `run`: one-shot inference (WIT `gateway.run`).

use super::call::{ChatStart, attach_trace};
use super::env::Env;
use super::exchange::{Outcome, chat_request, with_status};
use super::target::Target;
use super::{Gateway, cache, estimate};
use crate::error::{GatewayError, Result};
use crate::ports::Http;
use crate::provider;
use crate::types::{Completion, Input, Output, RunOptions};

impl Gateway {
    /// One-shot inference (WIT `gateway.run`): the cache answers when it
    /// can; else the plan's targets are tried with retries and fallbacks,
    /// and the first success is cached, accounted and returned with its
    /// attempts and trace.
    pub fn run<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<Output> {
        let bounded = estimate::bounded(opts, self.reserves());
        let opts: &RunOptions = &bounded;
        let mut call = self.begin(env, "run", model, &opts.headers, opts.request_id.as_deref());
        let result = (|| {
            let chat = match call.start_chat(model, input, opts, false)? {
                ChatStart::Cached(mut hit) => {
                    hit.cached = true;
                    call.log_cached(&hit);
                    return Ok(*hit);
                }
                ChatStart::Send(chat) => chat,
            };
            let ((completion, raw), served) =
                call.attempt(&chat.schedule(), &chat.plan.targets, |t| {
                    self.chat_attempt(env, t, input, opts, chat.deadline)
                })?;
            let target = chat
                .plan
                .targets
                .get(served)
                .ok_or_else(|| GatewayError::internal("served index out of range"))?;
            let mut output = output_for(completion, target, raw);
            output.attempts = std::mem::take(&mut call.attempts);
            // Accounted before it is cached: a call whose cost cannot be
            // recorded fails, and leaves no cache entry.
            output.cost_micro_usd =
                call.settle(target, opts.caller.as_deref(), output.usage.as_ref())?;
            if let Some((c, k)) = &chat.cache {
                // A store failure must not fail a call that succeeded upstream.
                let _ = cache::put(env.kv, c, k, &output, env.clock.now_ms());
            }
            call.log_output(&output);
            Ok(output)
        })();
        call.end(result, attach_trace)
    }

    /// One non-streaming chat attempt against `t`.
    pub(crate) fn chat_attempt<H: Http>(
        &self,
        env: &Env<'_, H>,
        t: &Target<'_>,
        input: &Input,
        opts: &RunOptions,
        deadline: Option<u64>,
    ) -> Outcome<(Completion, Vec<u8>)> {
        let req = match chat_request(t, input, opts, false) {
            Ok(r) => r,
            Err(e) => return (Err(e), None),
        };
        let (res, status) = self.exchange(env, t.endpoint, &req, deadline);
        let res = res.and_then(|(head, bytes)| {
            let c = provider::parse_chat_reply(t.endpoint, &head, &bytes)
                .map_err(|e| with_status(e, head.status))?;
            Ok((c, bytes))
        });
        (res, status)
    }
}

/// The output of a completion `target` served; `raw` is the provider's
/// body, kept when it is UTF-8.
pub(crate) fn output_for(mut completion: Completion, target: &Target<'_>, raw: Vec<u8>) -> Output {
    if completion.model.is_empty() {
        completion.model = target.model.clone();
    }
    let raw = String::from_utf8(raw).ok();
    Output::from_completion(completion, target.provider().to_owned(), raw)
}

//! One call in progress: the start and the end every operation shares.
//!
//! Start: the input and option checks, the plan, the `request` record,
//! admission by the rate limits, the cache lookup, the budget, the
//! deadline. Middle: the attempts (`retry::execute`), each one recorded.
//! End: accounting (cost and token limits, once per success), the
//! `response` record, and the trace attached to the result; or, on
//! failure, the error scrubbed of every secret, carrying its attempts,
//! logged once.

use super::cache;
use super::env::Env;
use super::estimate;
use super::hold::Hold;
use super::plan::Plan;
use super::retry::{self, MoveOn, Schedule};
use super::target::Target;
use super::trace::{ResponseInfo, Tracer};
use super::{Gateway, ratelimit};
use crate::config::CacheConfig;
use crate::error::{Attempt, GatewayError, Result};
use crate::ports::Http;
use crate::types::{CacheMode, Input, Output, RetryPolicy, RunOptions, Usage};

/// One call of one operation.
#[derive(Debug)]
pub(crate) struct Call<'g, 'e, H: Http> {
    pub gw: &'g Gateway,
    pub env: &'e Env<'e, H>,
    pub tracer: Tracer<'g>,
    pub attempts: Vec<Attempt>,
    /// Reservations against the budget and the token limits; released by
    /// `end` unless the call settled them.
    pub hold: Hold,
}

/// What a chat call (`run`, `stream`) found at its start.
#[derive(Debug)]
pub(crate) enum ChatStart<'g> {
    /// A fresh cache entry answers the call.
    Cached(Box<Output>),
    /// Send it: to these targets, caching the result under this key.
    Send(Chat<'g>),
}

/// A chat call ready to send.
#[derive(Debug)]
pub(crate) struct Chat<'g> {
    pub plan: Plan<'g>,
    pub cache: Option<(&'g CacheConfig, String)>,
    pub policy: &'g RetryPolicy,
    pub deadline: Option<u64>,
}

impl Chat<'_> {
    pub fn schedule(&self) -> Schedule<'_> {
        Schedule {
            policy: self.policy,
            move_on: &self.plan.move_on,
            deadline: self.deadline,
        }
    }
}

impl Gateway {
    /// Start a call of `operation` on `model`. Credential headers given
    /// with the call join the configured secrets for everything it emits.
    pub(crate) fn begin<'g, 'e, H: Http>(
        &'g self,
        env: &'e Env<'e, H>,
        operation: &'static str,
        model: &str,
        headers: &[(String, String)],
        request_id: Option<&str>,
    ) -> Call<'g, 'e, H> {
        let tracer = Tracer::new(self.logging.as_ref(), operation, model, env.clock.now_ms())
            .with_secrets(self.secrets.with_headers(headers))
            .with_request_id(request_id);
        Call {
            gw: self,
            env,
            tracer,
            attempts: Vec::new(),
            hold: Hold::default(),
        }
    }

    /// Whether calls reserve their worst case before they are sent (a
    /// budget, or a token rate limit, is configured).
    pub(crate) fn reserves(&self) -> bool {
        self.cost.as_ref().is_some_and(|c| c.reserves())
            || self
                .rate_limits
                .as_ref()
                .is_some_and(|r| r.limits.iter().any(|l| l.max_tokens.is_some()))
    }

    /// The checks every chat call passes before anything else.
    pub(crate) fn check_call(&self, input: &Input, opts: &RunOptions) -> Result<()> {
        input.validate()?;
        opts.validate()?;
        if let Some(p) = &opts.retry {
            retry::validate_policy(p)?;
        }
        Ok(())
    }

    /// The cache and key of a chat call, when its result may be cached.
    /// Streams are cached only when the cache config says so.
    pub(crate) fn cache_for(
        &self,
        plan: &Plan<'_>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
        streaming: bool,
    ) -> Option<(&CacheConfig, String)> {
        self.cache
            .as_ref()
            .filter(|c| (!streaming || c.streams) && opts.cache != Some(CacheMode::Bypass))
            .map(|c| (c, cache::key(c, &plan.identity, model, input, opts)))
    }

    /// The cache key of a call, when a cache is configured.
    fn cache_key_for(
        &self,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<Option<(&CacheConfig, String)>> {
        let Some(c) = &self.cache else {
            return Ok(None);
        };
        // The key of the call as `run` sends it.
        let opts = &*estimate::bounded(opts, self.reserves());
        let plan = self.plan(model, opts)?;
        Ok(Some((c, cache::key(c, &plan.identity, model, input, opts))))
    }

    /// Whether a fresh cache entry exists for this exact call.
    pub fn is_cached<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<bool> {
        Ok(self
            .cache_key_for(model, input, opts)?
            .is_some_and(|(c, k)| cache::get(env.kv, c, &k, env.clock.now_ms()).is_some()))
    }

    /// Remove the cache entry for this exact call.
    pub fn invalidate<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<bool> {
        match self.cache_key_for(model, input, opts)? {
            Some((c, k)) => cache::invalidate(env.kv, c, &k, env.clock.now_ms()),
            None => Ok(false),
        }
    }
}

impl<'g, 'e, H: Http> Call<'g, 'e, H> {
    fn now(&self) -> u64 {
        self.env.clock.now_ms()
    }

    /// The `request` record.
    pub fn log_request<I: serde::Serialize + ?Sized>(&mut self, provider: Option<&str>, input: &I) {
        let now = self.now();
        self.tracer.request(now, provider, input, self.env.log);
    }

    /// Admission before any upstream request: the rate limits of the
    /// first provider the call tries, holding `tokens` (the call's worst
    /// case) against the token limits.
    pub fn admit(
        &mut self,
        provider: Option<&str>,
        model: &str,
        caller: Option<&str>,
        tokens: u64,
    ) -> Result<()> {
        let Some(rl) = &self.gw.rate_limits else {
            return Ok(());
        };
        let subject = ratelimit::Subject {
            provider: provider.unwrap_or(""),
            model,
            caller,
        };
        let held = ratelimit::admit(self.env.kv, rl, &subject, tokens, self.now())?;
        self.hold.set_tokens(held);
        Ok(())
    }

    /// Reserve the call's worst-case cost, `input` and `output` tokens at
    /// the highest price among the `models` it may be served by; refused
    /// with `budget-exceeded` when it does not fit.
    pub fn reserve<'m>(
        &mut self,
        models: impl IntoIterator<Item = &'m str>,
        input: u64,
        output: u64,
    ) -> Result<()> {
        let Some(c) = &self.gw.cost else {
            return Ok(());
        };
        let amount = models
            .into_iter()
            .map(|m| c.worst_case(m, input, output))
            .max()
            .unwrap_or(0);
        let held = c.reserve(self.env.kv, amount)?;
        self.hold.set_cost(held);
        Ok(())
    }

    /// The call's deadline on the monotonic clock: its own timeout, else
    /// the gateway's.
    pub fn deadline(&self, timeout_ms: Option<u64>) -> Option<u64> {
        timeout_ms
            .or(self.gw.timeout_ms)
            .map(|t| self.env.clock.monotonic_ms().saturating_add(t))
    }

    /// The shared start of `run` and `stream`: checks, plan, `request`
    /// record, rate limits, cache lookup (unless bypassed or refreshed),
    /// budget and deadline.
    pub fn start_chat(
        &mut self,
        model: &str,
        input: &Input,
        opts: &'g RunOptions,
        streaming: bool,
    ) -> Result<ChatStart<'g>> {
        self.gw.check_call(input, opts)?;
        let plan = self.gw.plan(model, opts)?;
        self.log_request(plan.first_provider(), input);
        let (tokens_in, tokens_out) = (
            estimate::input_tokens(input, opts),
            estimate::output_tokens(opts),
        );
        let tokens = tokens_in.saturating_add(tokens_out);
        self.admit(plan.first_provider(), model, opts.caller.as_deref(), tokens)?;
        let cache = self.gw.cache_for(&plan, model, input, opts, streaming);
        if let Some((c, k)) = &cache
            && opts.cache != Some(CacheMode::Refresh)
            && let Some(hit) = cache::get(self.env.kv, c, k, self.now())
        {
            return Ok(ChatStart::Cached(Box::new(hit)));
        }
        let models = plan.targets.iter().map(|t| t.model.as_str());
        self.reserve(models, tokens_in, tokens_out)?;
        Ok(ChatStart::Send(Chat {
            plan,
            cache,
            policy: opts.retry.as_ref().unwrap_or(&self.gw.retry),
            deadline: self.deadline(opts.timeout_ms),
        }))
    }

    /// Run the attempts. On failure the error carries every attempt and is
    /// logged once.
    pub fn attempt<T>(
        &mut self,
        schedule: &Schedule<'_>,
        targets: &[Target<'_>],
        op: impl FnMut(&Target<'_>) -> (Result<T>, Option<u16>),
    ) -> Result<(T, usize)> {
        let result = retry::execute(
            self.env,
            schedule,
            targets,
            &mut self.tracer,
            &mut self.attempts,
            op,
        );
        result.map_err(|e| self.failed(e, targets.first()))
    }

    /// Attempts at one target (or one request for several), retried by
    /// `policy`, never moving on.
    pub fn attempt_one<T>(
        &mut self,
        policy: &RetryPolicy,
        deadline: Option<u64>,
        target: &Target<'_>,
        op: impl FnMut(&Target<'_>) -> (Result<T>, Option<u16>),
    ) -> Result<T> {
        let move_on = MoveOn::Kinds(Vec::new());
        let schedule = Schedule {
            policy,
            move_on: &move_on,
            deadline,
        };
        let targets = std::slice::from_ref(target);
        self.attempt(&schedule, targets, op).map(|(v, _)| v)
    }

    /// The final error of a call: carries every attempt, and is logged once.
    fn failed(&mut self, e: GatewayError, first: Option<&Target<'_>>) -> GatewayError {
        let provider = e
            .detail()
            .and_then(|d| d.provider.clone())
            .or_else(|| first.map(|t| t.provider().to_owned()));
        let now = self.now();
        let attempts = u32::try_from(self.attempts.len()).unwrap_or(u32::MAX);
        let message = e.to_string();
        self.tracer
            .error(now, provider.as_deref(), attempts, message, self.env.log);
        e.with_attempts(&self.attempts)
    }

    /// Settle a success by `target`: token limits and cost record what it
    /// used, and its reservations are given back.
    pub fn settle(
        &mut self,
        target: &Target<'_>,
        caller: Option<&str>,
        usage: Option<&Usage>,
    ) -> Result<Option<u64>> {
        let subject = ratelimit::Subject {
            provider: target.provider(),
            model: &target.model,
            caller,
        };
        let now = self.now();
        self.hold.settle(self.gw, self.env.kv, &subject, usage, now)
    }

    /// The `response` record of an output from upstream.
    pub fn log_output(&mut self, output: &Output) {
        let info = ResponseInfo {
            provider: Some(&output.provider),
            usage: output.usage,
            cost_micro_usd: output.cost_micro_usd,
            attempts: u32::try_from(output.attempts.len()).unwrap_or(u32::MAX),
            cached: false,
        };
        let now = self.now();
        self.tracer.response(now, info, self.env.log);
    }

    /// The `response` record of an answer from the cache: no attempt, no
    /// cost.
    pub fn log_cached(&mut self, hit: &Output) {
        let info = ResponseInfo {
            provider: Some(&hit.provider),
            usage: hit.usage,
            cached: true,
            ..ResponseInfo::default()
        };
        let now = self.now();
        self.tracer.response(now, info, self.env.log);
    }

    /// The end of every call: a success gets the trace (`attach`); an error
    /// leaves scrubbed of every secret, logged if nothing logged it yet
    /// (failures before any upstream attempt).
    pub fn end<T>(self, result: Result<T>, attach: impl FnOnce(&mut T, Tracer<'g>)) -> Result<T> {
        let Self {
            gw,
            env,
            mut tracer,
            mut hold,
            ..
        } = self;
        // Whatever the call did not settle it gives back (a failure, a
        // cache hit, a refusal after admission).
        hold.release(gw, env.kv, env.clock.now_ms());
        match result {
            Ok(mut v) => {
                attach(&mut v, tracer);
                Ok(v)
            }
            Err(mut e) => {
                tracer.scrub(&mut e);
                if !tracer.has_error() {
                    tracer.error(env.clock.now_ms(), None, 0, e.to_string(), env.log);
                }
                Err(e)
            }
        }
    }
}

/// For [`Call::end`]: put the records on an output's `trace`.
pub(crate) fn attach_trace(output: &mut Output, tracer: Tracer<'_>) {
    output.trace = tracer.into_records();
}

/// Records for a value with nowhere to put them (embeddings).
pub(crate) fn no_trace<T>(_: &mut T, _: Tracer<'_>) {}

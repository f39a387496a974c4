//! Every retry decision, in one file:
//!
//! 1. whether an upstream answer could succeed if sent again (status, quota
//!    codes, `x-should-retry`), and the delay the server asked for
//!    (`retry-after-ms`, `Retry-After`);
//! 2. the same for an error reported inside a stream, a stream cut short,
//!    a transport failure and a body that cannot be decoded;
//! 3. whether a policy retries an error, and the wait before it (the
//!    server's delay, else exponential backoff with full jitter: AWS
//!    Architecture Blog, "Exponential Backoff And Jitter");
//! 4. when a fallback chain moves on to its next entry ([`MoveOn`]);
//! 5. the loop that applies them to one call's targets ([`execute`]).
//!
//! The providers consult 1 and 2 when they map an error. This file depends
//! only on the plain values (`error`, `http`, `types`, `ports`) and on the
//! engine's leaf files (`env`, `target`, `trace`), never on a provider or on
//! the engine's orchestration, so those calls cannot close an import
//! circle (`tests/import_graph.rs` checks).

use super::env::Env;
use super::target::Target;
use super::trace::Tracer;
use crate::error::{Attempt, ErrorKind, GatewayError, Result, UpstreamDetail};
use crate::http::ResponseHead;
use crate::ports::{Http, TransportError};
use crate::types::RetryPolicy;

// 1. Upstream answers ------------------------------------------------------

/// Codes (and message phrases) of 429s that no retry can fix: the account is
/// out of quota or over a hard spend limit.
const UNRETRYABLE_429: &[&str] = &[
    "insufficient_quota",
    "billing_hard_limit_reached",
    "billing_not_active",
    "spend_limit",
    "spend limit",
    "credit balance",
    "exceeded your current quota",
];

/// Whether a non-success answer could succeed if sent again: 408, 409, 429
/// and 5xx, except a 429 for exhausted quota; `x-should-retry` overrides.
pub fn response_retryable(head: &ResponseHead, code: Option<&str>, message: &str) -> bool {
    let status = head.status;
    let mut retryable = matches!(status, 408 | 409 | 429) || status >= 500;
    if status == 429 {
        let haystack = format!("{} {}", code.unwrap_or(""), message).to_ascii_lowercase();
        if UNRETRYABLE_429.iter().any(|p| haystack.contains(p)) {
            retryable = false;
        }
    }
    should_retry_header(head).unwrap_or(retryable)
}

/// Parse the server's requested delay: `retry-after-ms` (milliseconds,
/// OpenAI and Anthropic) first, then `retry-after` as delta-seconds or an
/// HTTP date relative to `now_ms` (ms since the epoch). Negative, non-finite
/// or unparseable values give `None`; huge values saturate.
pub fn parse_retry_after(head: &ResponseHead, now_ms: u64) -> Option<u64> {
    if let Some(ms) = head
        .header("retry-after-ms")
        .and_then(parse_non_negative_number)
    {
        return Some(ms);
    }
    let value = head.header("retry-after")?.trim();
    if let Some(secs) = parse_non_negative_number(value) {
        return Some(secs.saturating_mul(1000));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let when_ms = when.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    let when_ms = u64::try_from(when_ms).unwrap_or(u64::MAX);
    Some(when_ms.saturating_sub(now_ms))
}

/// A non-negative decimal number (integer or fraction), rounded up to a
/// whole unit and saturating at `u64::MAX`.
fn parse_non_negative_number(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let up = v.ceil();
    // `as` saturates for floats out of range, which is what we want here.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked finite and >= 0; saturation intended"
    )]
    Some(up as u64)
}

/// `x-should-retry: true|false`, when the server sent it.
pub fn should_retry_header(head: &ResponseHead) -> Option<bool> {
    match head.header("x-should-retry")?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

// 2. Streams, transports, bodies -------------------------------------------

/// Whether an error object that arrived inside a stream could succeed on a
/// new request: not for auth and not-found errors, nor for a request the
/// provider called invalid or too large; otherwise yes (overload, rate
/// limits, server errors).
pub fn stream_error_retryable(kind: ErrorKind, code: &str) -> bool {
    !matches!(kind, ErrorKind::Auth | ErrorKind::NotFound)
        && !matches!(
            code,
            "invalid_request_error"
                | "request_too_large"
                | "INVALID_ARGUMENT"
                | "ValidationException"
        )
}

/// A stream that ended before the provider signalled completion: the
/// connection was cut, so a new request could succeed.
pub fn cut_stream(message: &str) -> GatewayError {
    GatewayError::Upstream(UpstreamDetail {
        retryable: true,
        ..UpstreamDetail::message(message)
    })
}

/// A failure below HTTP as the gateway's error. Timeouts and connection
/// faults are retryable; a request the host refused and a body over the
/// limit are not (the same request would meet the same fate).
pub fn from_transport(e: TransportError, provider: &str) -> GatewayError {
    match e {
        TransportError::Timeout(what) => GatewayError::timeout(what),
        TransportError::Connection(msg) => GatewayError::ServiceUnavailable(UpstreamDetail {
            message: msg,
            provider: Some(provider.to_owned()),
            retryable: true,
            ..UpstreamDetail::default()
        }),
        TransportError::Invalid(msg) => GatewayError::Validation(msg),
        TransportError::TooLarge(msg) => GatewayError::Upstream(UpstreamDetail {
            message: msg,
            provider: Some(provider.to_owned()),
            retryable: false,
            ..UpstreamDetail::default()
        }),
    }
}

/// A body that cannot be decoded (corrupt gzip): the same request would get
/// it again, so it is not retryable.
pub fn undecodable_body(e: &crate::encoding::DecodeError, provider: &str) -> GatewayError {
    GatewayError::Upstream(UpstreamDetail {
        message: e.to_string(),
        provider: Some(provider.to_owned()),
        retryable: false,
        ..UpstreamDetail::default()
    })
}

// 3. Policy and backoff ----------------------------------------------------

/// The kinds retried when a policy lists none.
pub const DEFAULT_RETRY_ON: [ErrorKind; 4] = [
    ErrorKind::RateLimited,
    ErrorKind::Timeout,
    ErrorKind::ServiceUnavailable,
    ErrorKind::Upstream,
];

/// Whether `policy` retries `e` (ignoring how many attempts are left).
pub fn retries(policy: &RetryPolicy, e: &GatewayError) -> bool {
    let kinds: &[ErrorKind] = if policy.retry_on.is_empty() {
        &DEFAULT_RETRY_ON
    } else {
        &policy.retry_on
    };
    kinds.contains(&e.kind()) && e.is_retryable()
}

/// The ceiling of the jitter window before retry number `retry` (0-based):
/// `initial * 2^retry`, capped at `max`.
pub fn ceiling_ms(policy: &RetryPolicy, retry: u32) -> u64 {
    let factor = 1u64.checked_shl(retry.min(63)).unwrap_or(u64::MAX);
    policy
        .initial_backoff_ms
        .saturating_mul(factor)
        .min(policy.max_backoff_ms)
}

/// Full jitter: uniform in `[0, ceiling]` from one random draw.
pub fn jittered_ms(policy: &RetryPolicy, retry: u32, random: u64) -> u64 {
    let ceiling = ceiling_ms(policy, retry);
    if ceiling == 0 {
        return 0;
    }
    random % (ceiling.saturating_add(1))
}

/// The delay before the next attempt, or `None` when the server asked for a
/// longer wait than the policy accepts.
pub fn delay_ms(policy: &RetryPolicy, e: &GatewayError, retry: u32, random: u64) -> Option<u64> {
    match e.retry_after_ms() {
        Some(ra) if ra > policy.max_retry_after_ms => None,
        Some(ra) => Some(ra),
        None => Some(jittered_ms(policy, retry, random)),
    }
}

/// A policy's validity: at least one attempt, and a backoff window that
/// does not start above its cap.
pub fn validate_policy(p: &RetryPolicy) -> Result<()> {
    if p.max_attempts == 0 {
        return Err(GatewayError::validation(
            "retry max-attempts must be at least 1",
        ));
    }
    if p.initial_backoff_ms > p.max_backoff_ms {
        return Err(GatewayError::validation(
            "retry initial-backoff-ms exceeds max-backoff-ms",
        ));
    }
    Ok(())
}

// 4. Moving on -------------------------------------------------------------

/// When a failed entry of a fallback chain moves on to the next one.
#[derive(Debug, Clone)]
pub(crate) enum MoveOn {
    /// Retryable errors only (the default).
    Retryable,
    /// Any error of these kinds.
    Kinds(Vec<ErrorKind>),
}

impl MoveOn {
    pub fn applies(&self, e: &GatewayError) -> bool {
        match self {
            Self::Retryable => e.is_retryable(),
            Self::Kinds(k) => k.contains(&e.kind()),
        }
    }
}

// 5. The loop --------------------------------------------------------------

/// How one call retries: its policy, its chain's move-on rule and its
/// deadline (monotonic ms).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule<'p> {
    pub policy: &'p RetryPolicy,
    pub move_on: &'p MoveOn,
    pub deadline: Option<u64>,
}

/// What to do after a failed attempt.
enum Step {
    /// Wait this long, then try the same target again.
    Retry(u64),
    /// Try the next target; the error is the call's if none is left.
    MoveOn(GatewayError),
    /// Give up with this error.
    Stop(GatewayError),
}

impl Schedule<'_> {
    fn past_deadline(&self, now: u64) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }

    /// The decision after attempt `e` on a target, with `done` retries of
    /// that target so far and `more` targets left after this one.
    fn next<H: Http>(&self, env: &Env<'_, H>, e: GatewayError, done: u32, more: bool) -> Step {
        let delay = (retries(self.policy, &e) && done.saturating_add(1) < self.policy.max_attempts)
            .then(|| delay_ms(self.policy, &e, done, env.random.next_u64()))
            .flatten();
        if let Some(delay) = delay {
            if self.past_deadline(env.clock.monotonic_ms().saturating_add(delay)) {
                return Step::Stop(GatewayError::timeout(format!(
                    "the call's deadline would pass during the {delay} ms wait before retrying ({e})"
                )));
            }
            return Step::Retry(delay);
        }
        if more && self.move_on.applies(&e) {
            return Step::MoveOn(e);
        }
        Step::Stop(e)
    }
}

/// The retry / fallback loop shared by every operation. `op` makes one
/// attempt against a target and reports the HTTP status it saw. Every
/// attempt is appended to `attempts`; retries and moves are traced. Each
/// target gets the policy's own attempts (a chain's second entry is not
/// starved by the first's retries), all within the one deadline. Returns
/// the value and the index of the target that served it.
pub(crate) fn execute<H: Http, T>(
    env: &Env<'_, H>,
    schedule: &Schedule<'_>,
    targets: &[Target<'_>],
    tracer: &mut Tracer<'_>,
    attempts: &mut Vec<Attempt>,
    mut op: impl FnMut(&Target<'_>) -> (Result<T>, Option<u16>),
) -> Result<(T, usize)> {
    let mut last: Option<GatewayError> = None;
    for (index, target) in targets.iter().enumerate() {
        let mut retries = 0u32;
        loop {
            if schedule.past_deadline(env.clock.monotonic_ms()) {
                return Err(GatewayError::timeout("the call's deadline passed"));
            }
            let started = env.clock.monotonic_ms();
            let (result, status) = op(target);
            attempts.push(Attempt {
                provider: target.provider().to_owned(),
                model: target.model.clone(),
                status,
                duration_ms: env.clock.monotonic_ms().saturating_sub(started),
                error: result.as_ref().err().map(GatewayError::kind),
            });
            let e = match result {
                Ok(v) => return Ok((v, index)),
                Err(e) => e.with_provider(target.provider()),
            };
            let attempt_count = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
            let message = e.to_string();
            match schedule.next(env, e, retries, index + 1 < targets.len()) {
                Step::Retry(delay) => {
                    let now = env.clock.now_ms();
                    tracer.retry(now, target.provider(), attempt_count, message, env.log);
                    env.clock.sleep_ms(delay);
                    retries += 1;
                }
                Step::MoveOn(e) => {
                    let now = env.clock.now_ms();
                    tracer.retry(now, target.provider(), attempt_count, message, env.log);
                    last = Some(e);
                    break;
                }
                Step::Stop(e) => return Err(e),
            }
        }
    }
    Err(last.unwrap_or_else(|| GatewayError::internal("no target to try")))
}

#[cfg(test)]
mod tests;

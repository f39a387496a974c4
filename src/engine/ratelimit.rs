//! Fixed-window rate limits over key-value atomics: requests per window
//! (counted atomically before the call, so concurrent instances share one
//! count) and tokens per window (each call reserves its worst case before
//! it is sent, and settles to what it used, so concurrent calls cannot
//! pass the limit either).

use crate::config::{RateLimit, RateLimitConfig, RateLimitScope};
use crate::error::{GatewayError, Result, UpstreamDetail};
use crate::ports::Kv;

/// Who/what a call is, for picking counters.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub caller: Option<&'a str>,
}

fn scope_value<'a>(limit: &RateLimit, s: &Subject<'a>) -> &'a str {
    match limit.scope {
        RateLimitScope::Global => "*",
        RateLimitScope::Provider => s.provider,
        RateLimitScope::Model => s.model,
        RateLimitScope::Caller => s.caller.unwrap_or("anonymous"),
    }
}

fn window(limit: &RateLimit, now_ms: u64) -> (u64, u64) {
    let len = u64::from(limit.window_seconds.max(1)).saturating_mul(1000);
    let id = now_ms / len;
    let ends = id.saturating_add(1).saturating_mul(len);
    (id, ends.saturating_sub(now_ms))
}

fn key(limit: &RateLimit, what: &str, scope: &str, window_id: u64) -> String {
    format!("aigw:rl:{}:{what}:{scope}:{window_id}", limit.name)
}

fn refused(limit: &RateLimit, retry_after_ms: u64, what: &str) -> GatewayError {
    GatewayError::RateLimited(UpstreamDetail {
        message: format!("rate limit {:?} reached ({what})", limit.name),
        code: Some("gateway_rate_limit".into()),
        retry_after_ms: Some(retry_after_ms),
        // The window resets: a retry after `retry_after_ms` can succeed.
        retryable: true,
        ..UpstreamDetail::default()
    })
}

pub fn validate(config: &RateLimitConfig) -> Result<()> {
    if config.bucket.is_empty() {
        return Err(GatewayError::validation("rate-limits bucket is empty"));
    }
    for l in &config.limits {
        if l.name.is_empty() || l.name.contains(':') {
            return Err(GatewayError::validation(format!(
                "rate limit name {:?} must be non-empty without ':'",
                l.name
            )));
        }
        if l.window_seconds == 0 {
            return Err(GatewayError::validation(format!(
                "rate limit {:?} has a zero window",
                l.name
            )));
        }
        if l.max_requests.is_none() && l.max_tokens.is_none() {
            return Err(GatewayError::validation(format!(
                "rate limit {:?} limits nothing",
                l.name
            )));
        }
    }
    Ok(())
}

/// Tokens a call holds against the token limits until it settles.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct TokenHold {
    held: Vec<Held>,
}

#[derive(Debug, PartialEq, Eq)]
struct Held {
    key: String,
    amount: i64,
    window: u64,
    limit: usize,
}

/// Count this request against every limit, and reserve `tokens` (the
/// call's worst case) against every token limit; refuse (and give back
/// what was counted) when one would be over.
pub fn admit(
    kv: &dyn Kv,
    config: &RateLimitConfig,
    subject: &Subject<'_>,
    tokens: u64,
    now_ms: u64,
) -> Result<TokenHold> {
    let mut taken: Vec<(String, i64)> = Vec::new();
    let give_back = |taken: &[(String, i64)]| {
        for (k, n) in taken {
            // Best effort: a failed give-back only makes the limit stricter.
            let _ = kv.increment(&config.bucket, k, -n);
        }
    };
    let mut hold = TokenHold::default();
    let reserve = i64::try_from(tokens).unwrap_or(i64::MAX);
    for (i, limit) in config.limits.iter().enumerate() {
        let scope = scope_value(limit, subject);
        let (id, retry_after) = window(limit, now_ms);
        if let Some(max) = limit.max_requests {
            let k = key(limit, "req", scope, id);
            let n = match kv.increment(&config.bucket, &k, 1) {
                Ok(n) => n,
                Err(e) => {
                    give_back(&taken);
                    return Err(e.into());
                }
            };
            taken.push((k, 1));
            if n == 1
                && let Some(prev) = id.checked_sub(1)
            {
                // First request of a new window: drop the previous window's
                // counters so the bucket does not grow forever.
                let _ = kv.delete(&config.bucket, &key(limit, "req", scope, prev));
                let _ = kv.delete(&config.bucket, &key(limit, "tok", scope, prev));
            }
            if u64::try_from(n).unwrap_or(0) > max {
                give_back(&taken);
                return Err(refused(limit, retry_after, "requests"));
            }
        }
        if let Some(max) = limit.max_tokens {
            let k = key(limit, "tok", scope, id);
            let n = match kv.increment(&config.bucket, &k, reserve) {
                Ok(n) => n,
                Err(e) => {
                    give_back(&taken);
                    return Err(e.into());
                }
            };
            taken.push((k.clone(), reserve));
            if n == reserve
                && let Some(prev) = id.checked_sub(1)
            {
                let _ = kv.delete(&config.bucket, &key(limit, "tok", scope, prev));
            }
            if u64::try_from(n).unwrap_or(0) > max {
                give_back(&taken);
                return Err(refused(limit, retry_after, "tokens"));
            }
            hold.held.push(Held {
                key: k,
                amount: reserve,
                window: id,
                limit: i,
            });
        }
    }
    Ok(hold)
}

/// Give the tokens of a call that used none (it failed, or the cache
/// answered) back. A hold from a window that has ended is dropped: that
/// window no longer limits anything.
pub fn release_tokens(kv: &dyn Kv, config: &RateLimitConfig, hold: TokenHold, now_ms: u64) {
    for h in hold.held {
        let Some(limit) = config.limits.get(h.limit) else {
            continue;
        };
        if window(limit, now_ms).0 == h.window {
            // Best effort: a failed give-back only makes the limit stricter.
            let _ = kv.increment(&config.bucket, &h.key, -h.amount);
        }
    }
}

/// Settle a call that used `tokens`: its hold becomes what it used, in
/// the current window, for the subject that served it (a fallback may have
/// moved the call to another provider or model).
pub fn settle_tokens(
    kv: &dyn Kv,
    config: &RateLimitConfig,
    subject: &Subject<'_>,
    hold: TokenHold,
    tokens: u64,
    now_ms: u64,
) -> Result<()> {
    let used = i64::try_from(tokens).unwrap_or(i64::MAX);
    let mut settled = vec![false; config.limits.len()];
    for h in hold.held {
        let Some(limit) = config.limits.get(h.limit) else {
            continue;
        };
        let (id, _) = window(limit, now_ms);
        let here = key(limit, "tok", scope_value(limit, subject), id);
        if id == h.window && here == h.key {
            kv.increment(&config.bucket, &h.key, used.saturating_sub(h.amount))?;
            if let Some(s) = settled.get_mut(h.limit) {
                *s = true;
            }
        } else if id == h.window {
            let _ = kv.increment(&config.bucket, &h.key, -h.amount);
        }
    }
    for (i, limit) in config.limits.iter().enumerate() {
        if limit.max_tokens.is_some() && !settled.get(i).copied().unwrap_or(false) {
            add_tokens(kv, config, limit, subject, used, now_ms)?;
        }
    }
    Ok(())
}

/// Add `delta` tokens to `limit`'s counter of the current window.
fn add_tokens(
    kv: &dyn Kv,
    config: &RateLimitConfig,
    limit: &RateLimit,
    subject: &Subject<'_>,
    delta: i64,
    now_ms: u64,
) -> Result<()> {
    if delta == 0 {
        return Ok(());
    }
    let (id, _) = window(limit, now_ms);
    let scope = scope_value(limit, subject);
    let total = kv.increment(&config.bucket, &key(limit, "tok", scope, id), delta)?;
    if total == delta
        && let Some(prev) = id.checked_sub(1)
    {
        // First tokens of a new window: drop the previous window's counter.
        let _ = kv.delete(&config.bucket, &key(limit, "tok", scope, prev));
    }
    Ok(())
}

/// Add the tokens a finished call used to every token limit (a call that
/// held nothing).
pub fn account_tokens(
    kv: &dyn Kv,
    config: &RateLimitConfig,
    subject: &Subject<'_>,
    tokens: u64,
    now_ms: u64,
) -> Result<()> {
    settle_tokens(kv, config, subject, TokenHold::default(), tokens, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemKv;

    fn cfg(limits: Vec<RateLimit>) -> RateLimitConfig {
        RateLimitConfig {
            bucket: "rl".into(),
            limits,
        }
    }

    fn subject(caller: Option<&str>) -> Subject<'_> {
        Subject {
            provider: "openai",
            model: "gpt-4o",
            caller,
        }
    }

    #[test]
    fn ratelimit_requests_per_window_then_reset() {
        let kv = MemKv::default();
        let c = cfg(vec![RateLimit {
            name: "r".into(),
            scope: RateLimitScope::Caller,
            window_seconds: 10,
            max_requests: Some(2),
            max_tokens: None,
        }]);
        let _ = admit(&kv, &c, &subject(Some("alice")), 0, 1_000).unwrap();
        let _ = admit(&kv, &c, &subject(Some("alice")), 0, 2_000).unwrap();
        let e = admit(&kv, &c, &subject(Some("alice")), 0, 3_000).unwrap_err();
        assert_eq!(e.retry_after_ms(), Some(7_000));
        // Another caller has its own counter; the refused call was given back.
        let _ = admit(&kv, &c, &subject(Some("bob")), 0, 3_000).unwrap();
        assert!(admit(&kv, &c, &subject(Some("alice")), 0, 9_999).is_err());
        let _ = admit(&kv, &c, &subject(Some("alice")), 0, 10_000).unwrap();
    }

    #[test]
    fn ratelimit_tokens_checked_against_used() {
        let kv = MemKv::default();
        let c = cfg(vec![RateLimit {
            name: "t".into(),
            scope: RateLimitScope::Model,
            window_seconds: 60,
            max_requests: None,
            max_tokens: Some(100),
        }]);
        let _ = admit(&kv, &c, &subject(None), 0, 0).unwrap();
        account_tokens(&kv, &c, &subject(None), 120, 0).unwrap();
        let e = admit(&kv, &c, &subject(None), 1, 1).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::RateLimited);
        let _ = admit(&kv, &c, &subject(None), 1, 60_000).unwrap();
    }

    fn tokens(kv: &MemKv, c: &RateLimitConfig, window: u64) -> u64 {
        crate::engine::cost::read_counter(kv, &c.bucket, &format!("aigw:rl:t:tok:*:{window}"))
            .unwrap()
    }

    /// Concurrent calls hold their worst case: the third does not fit while
    /// two are in flight; settling to the real use gives the rest back.
    #[test]
    fn ratelimit_tokens_reserved_before_the_call_then_settled() {
        let kv = MemKv::default();
        let c = cfg(vec![RateLimit {
            name: "t".into(),
            scope: RateLimitScope::Global,
            window_seconds: 60,
            max_requests: None,
            max_tokens: Some(1_000),
        }]);
        let a = admit(&kv, &c, &subject(None), 400, 0).unwrap();
        let b = admit(&kv, &c, &subject(None), 400, 0).unwrap();
        assert!(admit(&kv, &c, &subject(None), 400, 0).is_err());
        assert_eq!(tokens(&kv, &c, 0), 800, "the refusal holds nothing");
        settle_tokens(&kv, &c, &subject(None), a, 150, 10).unwrap();
        assert_eq!(tokens(&kv, &c, 0), 550);
        release_tokens(&kv, &c, b, 20);
        assert_eq!(tokens(&kv, &c, 0), 150);
        // A hold settled in the next window counts what it used there, and
        // leaves the old window alone.
        let d = admit(&kv, &c, &subject(None), 400, 59_000).unwrap();
        settle_tokens(&kv, &c, &subject(None), d, 30, 61_000).unwrap();
        assert_eq!(tokens(&kv, &c, 1), 30);
        let e = admit(&kv, &c, &subject(None), 400, 119_000).unwrap();
        release_tokens(&kv, &c, e, 120_000);
        assert_eq!(tokens(&kv, &c, 1), 430, "window 1 is over; its hold stays");
    }

    #[test]
    fn ratelimit_old_token_windows_are_removed() {
        let kv = MemKv::default();
        let c = cfg(vec![RateLimit {
            name: "t".into(),
            scope: RateLimitScope::Global,
            window_seconds: 1,
            max_requests: None,
            max_tokens: Some(100),
        }]);
        for second in 1..5 {
            account_tokens(&kv, &c, &subject(None), 10, second * 1000).unwrap();
        }
        assert_eq!(
            kv.keys_with_prefix("rl", "").unwrap().len(),
            1,
            "only the current window is kept"
        );
    }

    #[test]
    fn ratelimit_validate_rejects_empty_limits() {
        let c = cfg(vec![RateLimit {
            name: "x".into(),
            scope: RateLimitScope::Global,
            window_seconds: 1,
            max_requests: None,
            max_tokens: None,
        }]);
        assert!(validate(&c).is_err());
    }
}

//! Fixed-window rate limits over key-value atomics: requests per window
//! (counted atomically before the call, so concurrent instances share one
//! count) and tokens per window (what finished calls used, checked before
//! the next call).

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

/// Count this request against every limit; refuse (and give the counted
/// request back) when one is over.
pub fn admit(
    kv: &dyn Kv,
    config: &RateLimitConfig,
    subject: &Subject<'_>,
    now_ms: u64,
) -> Result<()> {
    let mut taken: Vec<String> = Vec::new();
    let give_back = |taken: &[String]| {
        for k in taken {
            // Best effort: a failed give-back only makes the limit stricter.
            let _ = kv.increment(&config.bucket, k, -1);
        }
    };
    for limit in &config.limits {
        let scope = scope_value(limit, subject);
        let (id, retry_after) = window(limit, now_ms);
        if let Some(max) = limit.max_tokens {
            let used = crate::engine::cost::read_counter(
                kv,
                &config.bucket,
                &key(limit, "tok", scope, id),
            )?;
            if used >= max {
                give_back(&taken);
                return Err(refused(limit, retry_after, "tokens"));
            }
        }
        if let Some(max) = limit.max_requests {
            let k = key(limit, "req", scope, id);
            let n = kv.increment(&config.bucket, &k, 1)?;
            taken.push(k);
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
    }
    Ok(())
}

/// Add the tokens a finished call used to every token limit.
pub fn account_tokens(
    kv: &dyn Kv,
    config: &RateLimitConfig,
    subject: &Subject<'_>,
    tokens: u64,
    now_ms: u64,
) -> Result<()> {
    if tokens == 0 {
        return Ok(());
    }
    let delta = i64::try_from(tokens).unwrap_or(i64::MAX);
    for limit in config.limits.iter().filter(|l| l.max_tokens.is_some()) {
        let (id, _) = window(limit, now_ms);
        let scope = scope_value(limit, subject);
        let total = kv.increment(&config.bucket, &key(limit, "tok", scope, id), delta)?;
        if total == delta
            && let Some(prev) = id.checked_sub(1)
        {
            // First tokens of a new window: drop the previous window's counter.
            let _ = kv.delete(&config.bucket, &key(limit, "tok", scope, prev));
        }
    }
    Ok(())
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
        admit(&kv, &c, &subject(Some("alice")), 1_000).unwrap();
        admit(&kv, &c, &subject(Some("alice")), 2_000).unwrap();
        let e = admit(&kv, &c, &subject(Some("alice")), 3_000).unwrap_err();
        assert_eq!(e.retry_after_ms(), Some(7_000));
        // Another caller has its own counter; the refused call was given back.
        admit(&kv, &c, &subject(Some("bob")), 3_000).unwrap();
        assert!(admit(&kv, &c, &subject(Some("alice")), 9_999).is_err());
        admit(&kv, &c, &subject(Some("alice")), 10_000).unwrap();
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
        admit(&kv, &c, &subject(None), 0).unwrap();
        account_tokens(&kv, &c, &subject(None), 120, 0).unwrap();
        let e = admit(&kv, &c, &subject(None), 1).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::RateLimited);
        admit(&kv, &c, &subject(None), 60_000).unwrap();
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

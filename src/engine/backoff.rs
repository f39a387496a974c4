//! Retry delays: the server's `Retry-After` when it gave one, else
//! exponential backoff with full jitter (AWS Architecture Blog, "Exponential
//! Backoff And Jitter").

use crate::error::{ErrorKind, GatewayError};
use crate::types::RetryPolicy;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UpstreamDetail;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            retry_on: vec![],
            initial_backoff_ms: 100,
            max_backoff_ms: 1000,
            max_retry_after_ms: 5000,
        }
    }

    #[test]
    fn backoff_ceiling_doubles_and_caps() {
        let p = policy();
        let c: Vec<u64> = (0..6).map(|r| ceiling_ms(&p, r)).collect();
        assert_eq!(c, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(
            ceiling_ms(&p, 200),
            1000,
            "huge retry counts do not overflow"
        );
    }

    #[test]
    fn backoff_jitter_stays_within_bounds() {
        let p = policy();
        for retry in 0..8 {
            for r in [0u64, 1, 99, 100, 12345, u64::MAX] {
                let d = jittered_ms(&p, retry, r);
                assert!(
                    d <= ceiling_ms(&p, retry),
                    "retry {retry} random {r} gave {d}"
                );
            }
        }
        assert_eq!(jittered_ms(&p, 0, 100), 100, "upper bound is reachable");
        assert_eq!(jittered_ms(&p, 0, 101), 0);
    }

    #[test]
    fn delay_uses_retry_after_and_refuses_too_long() {
        let p = policy();
        let mk = |ra| {
            GatewayError::RateLimited(UpstreamDetail {
                retry_after_ms: Some(ra),
                retryable: true,
                ..UpstreamDetail::default()
            })
        };
        assert_eq!(delay_ms(&p, &mk(1000), 0, 7), Some(1000));
        assert_eq!(delay_ms(&p, &mk(6000), 0, 7), None);
    }

    #[test]
    fn retries_respects_kind_list_and_retryable_flag() {
        let p = policy();
        let e400 = GatewayError::Upstream(UpstreamDetail {
            status: Some(400),
            retryable: false,
            ..UpstreamDetail::default()
        });
        let e500 = GatewayError::Upstream(UpstreamDetail {
            status: Some(500),
            retryable: true,
            ..UpstreamDetail::default()
        });
        assert!(!retries(&p, &e400));
        assert!(retries(&p, &e500));
        let only_rl = RetryPolicy {
            retry_on: vec![ErrorKind::RateLimited],
            ..policy()
        };
        assert!(!retries(&only_rl, &e500));
        assert!(!retries(&p, &GatewayError::validation("x")));
    }
}

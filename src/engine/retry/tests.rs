//! The retry rules, one test per rule, and the loop's edges.

use super::*;
use crate::ports::{Body, ReadState, read_to_end};

const NOW: u64 = 1_445_412_480_000;

fn head(headers: &[(&str, &str)]) -> ResponseHead {
    head_with(429, headers)
}

fn head_with(status: u16, headers: &[(&str, &str)]) -> ResponseHead {
    ResponseHead {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
    }
}

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

#[test]
fn retry_after_seconds_is_ms() {
    assert_eq!(
        parse_retry_after(&head(&[("retry-after", "2")]), NOW),
        Some(2000)
    );
}

#[test]
fn retry_after_fraction_rounds_up() {
    assert_eq!(
        parse_retry_after(&head(&[("retry-after", "0.5")]), NOW),
        Some(1000)
    );
}

#[test]
fn retry_after_ms_header_wins() {
    let h = head(&[("retry-after", "5"), ("retry-after-ms", "120.4")]);
    assert_eq!(parse_retry_after(&h, NOW), Some(121));
}

#[test]
fn retry_after_http_date_is_relative_to_now() {
    let h = head(&[("Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT")]);
    assert_eq!(parse_retry_after(&h, NOW), Some(30_000));
}

#[test]
fn retry_after_date_in_past_is_zero() {
    let h = head(&[("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT")]);
    assert_eq!(parse_retry_after(&h, NOW), Some(0));
}

#[test]
fn retry_after_garbage_is_none() {
    for v in ["soon", "", "1e3", "0x10", "12 s", "NaN", "inf"] {
        assert_eq!(
            parse_retry_after(&head(&[("retry-after", v)]), NOW),
            None,
            "{v}"
        );
    }
}

#[test]
fn retry_after_negative_is_none() {
    assert_eq!(
        parse_retry_after(&head(&[("retry-after", "-1")]), NOW),
        None
    );
    assert_eq!(
        parse_retry_after(&head(&[("retry-after-ms", "-5")]), NOW),
        None
    );
}

#[test]
fn retry_after_huge_saturates() {
    let h = head(&[("retry-after", "99999999999999999999999999")]);
    assert_eq!(parse_retry_after(&h, NOW), Some(u64::MAX));
}

#[test]
fn retry_after_absent_is_none() {
    assert_eq!(parse_retry_after(&head(&[]), NOW), None);
}

#[test]
fn response_retryable_by_status_quota_and_server_word() {
    assert!(response_retryable(&head_with(500, &[]), None, ""));
    assert!(response_retryable(
        &head_with(429, &[]),
        Some("requests"),
        "slow down"
    ));
    assert!(!response_retryable(&head_with(400, &[]), None, ""));
    assert!(!response_retryable(&head_with(401, &[]), None, ""));
    assert!(!response_retryable(
        &head_with(429, &[]),
        Some("insufficient_quota"),
        "You exceeded your current quota"
    ));
    assert!(!response_retryable(
        &head_with(503, &[("x-should-retry", "false")]),
        None,
        ""
    ));
    assert!(response_retryable(
        &head_with(400, &[("x-should-retry", "true")]),
        None,
        ""
    ));
}

#[test]
fn stream_errors_auth_and_invalid_requests_are_final() {
    assert!(!stream_error_retryable(
        ErrorKind::Auth,
        "authentication_error"
    ));
    assert!(!stream_error_retryable(
        ErrorKind::NotFound,
        "model_not_found"
    ));
    assert!(!stream_error_retryable(
        ErrorKind::Upstream,
        "invalid_request_error"
    ));
    assert!(stream_error_retryable(
        ErrorKind::ServiceUnavailable,
        "overloaded_error"
    ));
    assert!(cut_stream("ended early").is_retryable());
}

struct Chunks(Vec<Vec<u8>>);

impl Body for Chunks {
    fn read(&mut self, _: Option<u64>) -> std::result::Result<Option<Vec<u8>>, TransportError> {
        Ok((!self.0.is_empty()).then(|| self.0.remove(0)))
    }

    fn try_read(&mut self) -> std::result::Result<ReadState, TransportError> {
        Ok(self.read(None)?.map_or(ReadState::End, ReadState::Data))
    }
}

#[test]
fn read_to_end_over_the_limit_is_an_unretryable_upstream_error() {
    let mut body = Chunks(vec![vec![b'a'; 6], vec![b'b'; 6]]);
    let e = read_to_end(&mut body, 10, None).unwrap_err();
    assert!(matches!(e, TransportError::TooLarge(_)));
    let g = from_transport(e, "p");
    assert_eq!(g.kind(), ErrorKind::Upstream);
    assert!(!g.is_retryable());
    assert!(g.to_string().contains("larger than 10 bytes"), "{g}");
    let mut fits = Chunks(vec![vec![b'a'; 5], vec![b'b'; 5]]);
    assert_eq!(read_to_end(&mut fits, 10, None).unwrap().len(), 10);
}

#[test]
fn transport_connection_faults_and_timeouts_are_retryable() {
    assert!(from_transport(TransportError::Connection("reset".into()), "p").is_retryable());
    assert!(from_transport(TransportError::Timeout("first byte".into()), "p").is_retryable());
    assert!(!from_transport(TransportError::Invalid("bad".into()), "p").is_retryable());
}

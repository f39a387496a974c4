//! `parse_retry_after`. Input: `[mode, now_a (8 bytes LE), now_b (8), value..]`;
//! `mode % 4`: 0 `retry-after`, 1 `retry-after-ms`, 2 both (value is
//! `ms\nretry-after`), 3 `Retry-After` (names are case-insensitive).
#![no_main]

use ai_gateway::engine::retry::parse_retry_after;
use ai_gateway::http::ResponseHead;
use libfuzzer_sys::fuzz_target;

/// 9999-12-31T23:59:59Z, the latest HTTP date.
const MAX_DATE_MS: u64 = 253_402_300_799_000;

fn head(headers: &[(&str, &str)]) -> ResponseHead {
    ResponseHead {
        status: 429,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// A short run of digits: the value every reading must agree on.
fn small_int(s: &str) -> Option<u64> {
    let s = s.trim();
    (!s.is_empty() && s.len() <= 15 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn numeric(s: &str) -> bool {
    s.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if rest.len() < 16 {
        return;
    }
    let (nows, value) = rest.split_at(16);
    let a = u64::from_le_bytes(nows[..8].try_into().unwrap());
    let b = u64::from_le_bytes(nows[8..].try_into().unwrap());
    let (early, late) = (a.min(b), a.max(b));
    let value = String::from_utf8_lossy(value);

    let h = match mode % 4 {
        0 => head(&[("retry-after", &value)]),
        1 => head(&[("retry-after-ms", &value)]),
        2 => {
            let (ms, secs) = value.split_once('\n').unwrap_or((&value, ""));
            head(&[("retry-after", secs), ("retry-after-ms", ms)])
        }
        _ => head(&[("Retry-After", &value)]),
    };
    let at_early = parse_retry_after(&h, early);
    let at_late = parse_retry_after(&h, late);

    // Whether a delay is given does not depend on the clock; a later clock
    // never asks to wait longer, and by no more than the time that passed.
    assert_eq!(at_early.is_some(), at_late.is_some());
    if let (Some(x), Some(y)) = (at_early, at_late) {
        assert!(x >= y && x - y <= late - early, "{x} {y}");
    }
    match mode % 4 {
        0 | 3 => {
            if mode % 4 == 3 {
                assert_eq!(
                    at_early,
                    parse_retry_after(&head(&[("retry-after", &value)]), early)
                );
            }
            if let Some(n) = small_int(&value) {
                assert_eq!(at_early, Some(n * 1000));
            } else if !numeric(&value) {
                // An HTTP date: never further away than the latest one.
                assert!(at_early.is_none_or(|d| d <= MAX_DATE_MS));
            }
        }
        1 => {
            if let Some(n) = small_int(&value) {
                assert_eq!(at_early, Some(n));
            } else if !numeric(&value) {
                assert_eq!(at_early, None, "retry-after-ms is a number");
            }
        }
        _ => {
            let (ms, _) = value.split_once('\n').unwrap_or((&value, ""));
            if let Some(n) = small_int(ms) {
                assert_eq!(at_early, Some(n), "retry-after-ms wins");
            }
        }
    }
});

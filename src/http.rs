//! Plain HTTP request/response values exchanged between the sans-IO core and
//! the `Http` port, plus the header helpers every provider shares.

use crate::error::GatewayError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// An outgoing request, fully built by a provider.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpRequest {
    /// Never prints header values that carry credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    if is_secret_header(k) {
                        "***"
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpRequest {
    pub fn post_json(
        url: String,
        headers: Vec<(String, String)>,
        body: &serde_json::Value,
    ) -> Self {
        let mut headers = headers;
        headers.push(("content-type".into(), "application/json".into()));
        Self {
            method: Method::Post,
            url,
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Response status and headers (the body is read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Header names are lowercase.
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Headers whose values are credentials.
pub fn is_secret_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "authorization" | "x-api-key" | "api-key" | "cf-aig-authorization" | "proxy-authorization"
    )
}

/// Reject header names and values that would be invalid on the wire (or
/// could smuggle a second header).
pub fn check_header(name: &str, value: &str) -> Result<(), GatewayError> {
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !name_ok {
        return Err(GatewayError::validation(format!(
            "invalid header name {name:?}"
        )));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(GatewayError::validation(format!(
            "header {name} has a control character"
        )));
    }
    Ok(())
}

/// Longest body excerpt kept in an error.
pub const ERROR_BODY_LIMIT: usize = 2048;

/// `body` as UTF-8 (lossy), truncated to `limit` bytes on a character
/// boundary, with `…` appended when cut. `None` for an empty body.
pub fn truncate_body(body: &[u8], limit: usize) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    if text.len() <= limit {
        return Some(text.into_owned());
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text.get(..end).unwrap_or_default().to_owned();
    out.push('…');
    Some(out)
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

/// The canonical reason phrase of a status, for messages.
pub fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Unexpected Status",
    }
}

/// Join a base URL and a path with exactly one `/`.
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Percent-encode one URL path segment (RFC 3986 unreserved kept; `@` kept,
/// as Workers AI model names start with it, and `/` kept because they
/// contain it).
pub fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@/:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead {
            status: 429,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }

    // 2015-10-21T07:28:00Z
    const NOW: u64 = 1_445_412_480_000;

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
    fn truncate_body_cuts_on_char_boundary() {
        let body = "é".repeat(10); // 20 bytes
        let t = truncate_body(body.as_bytes(), 5).unwrap();
        assert_eq!(t, "éé…");
    }

    #[test]
    fn truncate_body_invalid_utf8_is_lossy() {
        assert_eq!(truncate_body(&[0xff, b'a'], 10).unwrap(), "\u{fffd}a");
        assert_eq!(truncate_body(&[], 10), None);
    }

    #[test]
    fn check_header_rejects_crlf_injection() {
        assert!(check_header("x-a", "v\r\nx-b: c").is_err());
        assert!(check_header("bad name", "v").is_err());
        assert!(check_header("cf-aig-metadata", "{\"a\":1}").is_ok());
    }

    #[test]
    fn request_debug_hides_credentials() {
        let r = HttpRequest {
            method: Method::Post,
            url: "https://x".into(),
            headers: vec![("authorization".into(), "Bearer sk-secret".into())],
            body: vec![],
        };
        let d = format!("{r:?}");
        assert!(!d.contains("sk-secret"), "{d}");
    }

    #[test]
    fn encode_path_keeps_workers_model_names() {
        assert_eq!(
            encode_path("@cf/meta/llama-3.1-8b-instruct"),
            "@cf/meta/llama-3.1-8b-instruct"
        );
        assert_eq!(encode_path("a b?"), "a%20b%3F");
    }
}

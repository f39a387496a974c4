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
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
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

/// Headers whose values are credentials: the well-known ones, and any name
/// that says it holds a key, token, secret or password.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cf-aig-authorization" | "cookie"
    ) || ["key", "token", "secret", "password", "auth"]
        .iter()
        .any(|w| n.contains(w))
}

/// `Debug` for a header list: credential values print as `***`.
pub struct RedactedHeaders<'a>(pub &'a [(String, String)]);

impl std::fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, v)| {
                (
                    k.as_str(),
                    if is_secret_header(k) {
                        "***"
                    } else {
                        v.as_str()
                    },
                )
            }))
            .finish()
    }
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
    // The host, the message framing and the connection are the gateway's:
    // a header must not point the request at another virtual host or
    // split it into two.
    if matches!(
        name.to_ascii_lowercase().as_str(),
        "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "upgrade"
            | "expect"
            | "proxy-connection"
    ) {
        return Err(GatewayError::validation(format!(
            "header {name} is set by the gateway and cannot be configured"
        )));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(GatewayError::validation(format!(
            "header {name} has a control character"
        )));
    }
    Ok(())
}

/// Largest request body the gateway sends upstream.
pub const MAX_REQUEST_BODY: usize = 32 << 20;

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

/// Longest model name accepted.
pub const MAX_MODEL_LEN: usize = 256;

/// A name for an error message: quoted, escaped, and cut to 64 characters.
fn shown(v: &str) -> String {
    let cut: String = v.chars().take(64).collect();
    if cut.len() < v.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// Every model name: non-empty, at most [`MAX_MODEL_LEN`] bytes, and no
/// control characters (it reaches JSON bodies, cache and counter keys, logs).
pub fn check_model(model: &str) -> Result<(), GatewayError> {
    if model.is_empty() {
        return Err(GatewayError::validation("model is empty"));
    }
    if model.len() > MAX_MODEL_LEN {
        return Err(GatewayError::validation(format!(
            "model {} is longer than {MAX_MODEL_LEN} bytes",
            shown(model)
        )));
    }
    if model.chars().any(char::is_control) {
        return Err(GatewayError::validation(format!(
            "model {} has a control character",
            shown(model)
        )));
    }
    Ok(())
}

/// A model name that becomes URL path segments (Workers AI:
/// `…/ai/run/@cf/meta/llama-3.1-8b-instruct`). Only the characters such
/// names use, `/` between non-empty segments, and no `.` or `..` segment:
/// a caller's model can never change the request's host, path prefix, query
/// or fragment (`../`, `?`, `#`, `%2F`, `\`, whitespace and CRLF are refused,
/// not encoded).
pub fn check_path_model(model: &str) -> Result<(), GatewayError> {
    check_model(model)?;
    if let Some(bad) = model
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~@:+/".contains(*c)))
    {
        return Err(GatewayError::validation(format!(
            "model {} has {bad:?}, which a model name in a URL path cannot have",
            shown(model)
        )));
    }
    if model
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(GatewayError::validation(format!(
            "model {} has an empty, `.` or `..` path segment",
            shown(model)
        )));
    }
    Ok(())
}

/// An id placed in one URL path segment (Cloudflare account and gateway
/// ids): 1 to 64 of `A-Z a-z 0-9 - _`.
pub fn check_id(what: &str, v: &str) -> Result<(), GatewayError> {
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(GatewayError::validation(format!(
            "{what} {} is invalid: use 1 to 64 letters, digits, '-' or '_'",
            shown(v)
        )))
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

    #[test]
    fn model_names_cannot_steer_the_url() {
        for ok in [
            "@cf/meta/llama-3.1-8b-instruct",
            "@hf/thebloke/mistral-7b-instruct-v0.1-awq",
            "gpt-4o-mini",
            "org:model+v2",
        ] {
            assert_eq!(check_path_model(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "../../accounts/other/ai/run/x",
            "@cf/../../x",
            "@cf/./x",
            "@cf//x",
            "/@cf/x",
            "@cf/x/",
            "@cf/x?admin=1",
            "@cf/x#frag",
            "@cf%2F..%2Fx",
            "@cf/x\\..\\y",
            "@cf/x\r\nHost: evil",
            "@cf/x y",
            "evil.com@cf/x\u{0}",
        ] {
            assert!(check_path_model(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_model(&"m".repeat(MAX_MODEL_LEN + 1)).is_err());
        assert!(check_model("gpt\n4").is_err());
        // Body-only models may hold any printable text.
        assert_eq!(check_model("my model ?#%/../"), Ok(()));
    }

    #[test]
    fn framing_and_host_headers_cannot_be_configured() {
        for name in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "connection",
            "upgrade",
        ] {
            assert!(check_header(name, "x").is_err(), "{name}");
        }
        assert!(check_header("x-title", "a\r\nHost: evil").is_err());
        assert_eq!(
            check_header("anthropic-beta", "prompt-caching-2024-07-31"),
            Ok(())
        );
    }

    #[test]
    fn ids_are_one_path_segment() {
        assert_eq!(check_id("account-id", "0123abcdef_-X"), Ok(()));
        for bad in [
            "",
            "a/b",
            "a?b",
            "..",
            "a.b",
            "a%2Fb",
            "a@b",
            &"x".repeat(65),
        ] {
            assert!(check_id("account-id", bad).is_err(), "{bad:?}");
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

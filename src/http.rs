//! Plain HTTP request/response values exchanged between the sans-IO core and
//! the `Http` port, plus the header and body helpers every provider shares.
//! Checks of what goes into a request (names, ids, headers) live in
//! `validate.rs`; the retry reading of a response in `engine/retry.rs`.

use serde::{Deserialize, Serialize};

use crate::secrets::shown_header_value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A list of headers, in order. Names are lowercase wherever the gateway
/// builds them. `Debug` prints credential values as `***`
/// ([`crate::secrets::is_secret_header`]), so every type holding headers
/// can derive `Debug`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, header: (String, String)) {
        self.0.push(header);
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        find_header(&self.0, name)
    }

    pub fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }
}

impl std::ops::Deref for Headers {
    type Target = [(String, String)];

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<Vec<(String, String)>> for Headers {
    fn from(v: Vec<(String, String)>) -> Self {
        Self(v)
    }
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl Extend<(String, String)> for Headers {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl IntoIterator for Headers {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|(k, v)| (k.as_str(), shown_header_value(k, v))),
            )
            .finish()
    }
}

/// A request body, complete in memory. `Debug` prints only its length: a
/// body may carry credentials (the Universal Endpoint's per-step headers).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RequestBody(Vec<u8>);

impl RequestBody {
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl std::ops::Deref for RequestBody {
    type Target = [u8];

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

/// An outgoing request, fully built by a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    /// Header names are lowercase.
    pub headers: Headers,
    pub body: RequestBody,
}

impl HttpRequest {
    pub fn post_json(url: String, headers: impl Into<Headers>, body: &serde_json::Value) -> Self {
        let mut headers = headers.into();
        headers.push(("content-type".into(), "application/json".into()));
        Self {
            method: Method::Post,
            url,
            headers,
            body: body.to_string().into_bytes().into(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }
}

/// Response status and headers (the body is read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// Header names are lowercase.
    pub headers: Headers,
}

impl ResponseHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
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

/// Percent-encode a query value or a path segment that must stay one
/// segment: everything but RFC 3986's unreserved characters (so `/`, `:`,
/// `?`, `#` and `%` are encoded).
pub fn encode_component(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
    fn request_debug_hides_credentials() {
        let r = HttpRequest {
            method: Method::Post,
            url: "https://x".into(),
            headers: vec![
                ("authorization".into(), "Bearer sk-secret".into()),
                ("x-team".into(), "blue".into()),
            ]
            .into(),
            body: br#"{"headers":{"authorization":"Bearer sk-secret"}}"#
                .to_vec()
                .into(),
        };
        let d = format!("{r:?}");
        assert!(!d.contains("sk-secret"), "{d}");
        assert!(d.contains("blue") && d.contains("48 bytes"), "{d}");
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

//! Non-success upstream responses → `GatewayError`, for every wire format.
//!
//! The status decides the variant; the body supplies the provider's message
//! and code (OpenAI `{"error":{"message","type","code"}}`, Anthropic
//! `{"type":"error","error":{"type","message"}}`, Cloudflare
//! `{"errors":[{"code","message"}]}`, HTML error pages, empty bodies); the
//! headers supply `Retry-After` and `x-should-retry`.

use serde_json::Value;

use crate::engine::retry;
use crate::error::{GatewayError, UpstreamDetail};
use crate::http::{ERROR_BODY_LIMIT, ResponseHead, status_text, truncate_body};

/// Map a non-success response. Whether it is retryable and after how long
/// is `engine/retry.rs`'s decision. Credentials the provider echoed are
/// scrubbed where the error leaves the gateway (`secrets.rs`).
pub fn map_error(provider: &str, head: &ResponseHead, body: &[u8], now_ms: u64) -> GatewayError {
    let status = head.status;
    let (message, code) = extract(body);
    // AWS names the error in a header: `x-amzn-errortype:
    // ThrottlingException:http://internal.amazon.com/...`.
    let code = code.or_else(|| {
        head.header("x-amzn-errortype")
            .and_then(|t| t.split(':').next())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    });
    let message = message.unwrap_or_else(|| {
        let page = if looks_like_html(body) {
            " (HTML error page)"
        } else {
            ""
        };
        format!("HTTP {status} {}{page}", status_text(status))
    });
    let retryable = retry::response_retryable(head, code.as_deref(), &message);
    let detail = UpstreamDetail {
        message,
        provider: Some(provider.to_owned()),
        status: Some(status),
        code,
        body: truncate_body(body, ERROR_BODY_LIMIT),
        retry_after_ms: retry::parse_retry_after(head, now_ms),
        retryable,
        attempts: Vec::new(),
    };
    // Google answers a bad API key with 400 INVALID_ARGUMENT; the reason in
    // its `details` says what it is.
    let auth = status == 401 || status == 403 || google_key_rejected(body);
    match status {
        _ if auth => GatewayError::Auth(detail),
        404 => GatewayError::NotFound(detail),
        429 => GatewayError::RateLimited(detail),
        502..=504 | 529 => GatewayError::ServiceUnavailable(detail),
        _ => GatewayError::Upstream(detail),
    }
}

/// A google.rpc.Status whose `details` give the reason `API_KEY_INVALID` (or
/// another API-key reason): a credential problem, whatever the status.
fn google_key_rejected(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    v.pointer("/error/details")
        .and_then(Value::as_array)
        .is_some_and(|details| {
            details.iter().any(|d| {
                matches!(
                    d.get("reason").and_then(Value::as_str),
                    Some(
                        "API_KEY_INVALID"
                            | "API_KEY_SERVICE_BLOCKED"
                            | "API_KEY_HTTP_REFERRER_BLOCKED"
                    )
                )
            })
        })
}

/// Map an error object that arrived inside a stream (Anthropic `event:
/// error`, an OpenAI-compatible `{"error": ...}` chunk). The error type picks
/// the variant, as a status would.
pub fn map_stream_error(provider: Option<&str>, value: &Value) -> GatewayError {
    let (message, code) = extract_value(value);
    let message = message.unwrap_or_else(|| "the stream reported an error".to_owned());
    let kind = code.as_deref().unwrap_or("");
    let detail = UpstreamDetail {
        message,
        provider: provider.map(str::to_owned),
        status: None,
        code: code.clone(),
        body: Some(truncate(&value.to_string())),
        retry_after_ms: None,
        retryable: false,
        attempts: Vec::new(),
    };
    let mut e = match kind {
        // Anthropic and OpenAI error types; google.rpc.Status names
        // (Gemini); Bedrock's exception names.
        "overloaded_error"
        | "service_unavailable"
        | "server_overloaded"
        | "UNAVAILABLE"
        | "ServiceUnavailableException"
        | "ModelNotReadyException" => GatewayError::ServiceUnavailable(detail),
        "rate_limit_error"
        | "rate_limit_exceeded"
        | "RESOURCE_EXHAUSTED"
        | "ThrottlingException" => GatewayError::RateLimited(detail),
        "authentication_error"
        | "permission_error"
        | "invalid_api_key"
        | "UNAUTHENTICATED"
        | "PERMISSION_DENIED"
        | "AccessDeniedException" => GatewayError::Auth(detail),
        "not_found_error" | "model_not_found" | "NOT_FOUND" | "ResourceNotFoundException" => {
            GatewayError::NotFound(detail)
        }
        _ => GatewayError::Upstream(detail),
    };
    let retryable = retry::stream_error_retryable(e.kind(), kind);
    if let Some(d) = e.detail_mut() {
        d.retryable = retryable;
    }
    e
}

fn truncate(s: &str) -> String {
    truncate_body(s.as_bytes(), ERROR_BODY_LIMIT).unwrap_or_default()
}

fn looks_like_html(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    body.get(start..).is_some_and(|b| b.first() == Some(&b'<'))
}

/// (message, code) from a JSON error body, or the `<title>` of an HTML page.
fn extract(body: &[u8]) -> (Option<String>, Option<String>) {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return extract_value(&v);
    }
    if looks_like_html(body) {
        let text = String::from_utf8_lossy(body);
        let lower = text.to_ascii_lowercase();
        if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>"))
            && let Some(title) = text.get(a + 7..b)
        {
            let title = title.trim();
            if !title.is_empty() {
                return (Some(title.chars().take(200).collect()), None);
            }
        }
    }
    (None, None)
}

fn extract_value(v: &Value) -> (Option<String>, Option<String>) {
    let as_code = |c: &Value| match c {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    // OpenAI / Anthropic: {"error": {...}} or {"error": "text"}
    match v.get("error") {
        Some(Value::Object(e)) => {
            let message = e.get("message").and_then(Value::as_str).map(str::to_owned);
            // google.rpc.Status (Gemini, Vertex AI) has a numeric `code`
            // (the HTTP status) and the name in `status`, which says more.
            let code = match e.get("code") {
                Some(Value::String(c)) if !c.is_empty() => Some(c.clone()),
                c => e
                    .get("status")
                    .and_then(as_code)
                    .or_else(|| e.get("type").and_then(as_code))
                    .or_else(|| c.and_then(as_code)),
            };
            return (message, code);
        }
        Some(Value::String(s)) => return (Some(s.clone()), None),
        _ => {}
    }
    // Cloudflare: {"errors": [{"code", "message"}]}
    if let Some(first) = v
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        let message = first
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let code = first.get("code").and_then(as_code);
        return (message, code);
    }
    // Bare {"message": ...} / {"detail": ...} from other compatible servers.
    for key in ["message", "detail"] {
        if let Some(s) = v.get(key).and_then(Value::as_str) {
            return (Some(s.to_owned()), None);
        }
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn head(status: u16, headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        }
    }

    fn map(status: u16, headers: &[(&str, &str)], body: &str) -> GatewayError {
        map_error("p", &head(status, headers), body.as_bytes(), 0)
    }

    #[test]
    fn map_openai_401_is_auth_with_message_and_code() {
        let e = map(
            401,
            &[],
            r#"{"error":{"message":"Incorrect API key provided: sk-secret-key.","type":"invalid_request_error","code":"invalid_api_key"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Auth);
        let mut e = e;
        crate::secrets::Secrets::new(["sk-secret-key"]).scrub_error(&mut e);
        let d = e.detail().unwrap();
        assert_eq!(d.code.as_deref(), Some("invalid_api_key"));
        assert!(!d.message.contains("sk-secret-key"), "{}", d.message);
        assert!(!d.body.as_deref().unwrap().contains("sk-secret-key"));
        assert!(!d.retryable);
    }

    #[test]
    fn map_anthropic_529_overloaded_is_service_unavailable() {
        let e = map(
            529,
            &[],
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::ServiceUnavailable);
        let d = e.detail().unwrap();
        assert_eq!(d.message, "Overloaded");
        assert_eq!(d.code.as_deref(), Some("overloaded_error"));
        assert!(e.is_retryable());
    }

    #[test]
    fn map_429_with_retry_after_is_rate_limited_retryable() {
        let e = map(
            429,
            &[("retry-after", "3")],
            r#"{"error":{"message":"slow down","type":"requests"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after_ms(), Some(3000));
        assert!(e.is_retryable());
    }

    #[test]
    fn map_429_insufficient_quota_is_not_retryable() {
        let e = map(
            429,
            &[],
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert!(!e.is_retryable());
    }

    #[test]
    fn map_x_should_retry_overrides_status() {
        assert!(!map(503, &[("x-should-retry", "false")], "").is_retryable());
        assert!(map(400, &[("x-should-retry", "true")], "").is_retryable());
    }

    #[test]
    fn map_html_502_uses_title() {
        let e = map(
            502,
            &[],
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
        );
        assert_eq!(e.kind(), ErrorKind::ServiceUnavailable);
        assert_eq!(e.detail().unwrap().message, "502 Bad Gateway");
    }

    #[test]
    fn map_empty_500_is_upstream_retryable_with_status_text() {
        let e = map(500, &[], "");
        assert_eq!(e.kind(), ErrorKind::Upstream);
        let d = e.detail().unwrap();
        assert_eq!(d.message, "HTTP 500 Internal Server Error");
        assert_eq!(d.body, None);
        assert!(d.retryable);
    }

    #[test]
    fn map_cloudflare_errors_array() {
        let e = map(
            400,
            &[],
            r#"{"success":false,"errors":[{"code":5007,"message":"No such model"}]}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Upstream);
        let d = e.detail().unwrap();
        assert_eq!(d.message, "No such model");
        assert_eq!(d.code.as_deref(), Some("5007"));
        assert!(!d.retryable);
    }

    #[test]
    fn map_404_is_not_found() {
        assert_eq!(map(404, &[], "{}").kind(), ErrorKind::NotFound);
    }

    #[test]
    fn map_stream_overloaded_is_service_unavailable() {
        let v: Value = serde_json::from_str(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .unwrap();
        let e = map_stream_error(Some("a"), &v);
        assert_eq!(e.kind(), ErrorKind::ServiceUnavailable);
    }
}

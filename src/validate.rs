//! Checks of what a caller or a configuration puts into a request: header
//! names and values, model names, ids that become URL path segments. Each
//! refusal is a `validation` error naming what was wrong; nothing is
//! percent-encoded into shape.

use crate::error::GatewayError;

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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn check_header_rejects_crlf_injection() {
        assert!(check_header("x-a", "v\r\nx-b: c").is_err());
        assert!(check_header("bad name", "v").is_err());
        assert!(check_header("cf-aig-metadata", "{\"a\":1}").is_ok());
    }
}

//! Secrets: the one home for what the gateway must never show.
//!
//! - [`ApiKey`] holds one credential; its `Debug` prints `***`.
//! - [`is_secret_header`] says which header values are credentials (the
//!   `Debug` of [`crate::http::Headers`] asks it).
//! - [`Secrets`] is every credential of one call: built once from the
//!   configuration when a gateway opens, extended by the call's own
//!   credential headers, and applied to every text that leaves the gateway:
//!   errors, stream error events, trace records and log lines.
//!
//! One rule for all of them: a credential shorter than [`MIN_SCRUBBED_LEN`]
//! is not searched for in texts (it would garble ordinary words; real keys
//! are far longer). It is still never printed by `Debug`.

use std::borrow::Cow;

use crate::error::{GatewayError, UpstreamDetail};

/// Credentials shorter than this are not scrubbed from texts.
pub const MIN_SCRUBBED_LEN: usize = 8;

/// What a scrubbed credential becomes.
const MASK: &str = "***";

/// A credential. `Debug` never prints it; only providers read it, to put it
/// in the one header that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The secret itself. Call only to build an auth header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

/// AWS credentials for SigV4 (Bedrock). `Debug` shows only the access key
/// id, which AWS treats as an identifier, not a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: ApiKey,
    pub session_token: Option<ApiKey>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .finish()
    }
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

/// The value `Debug` shows for a header: `***` for credentials.
pub fn shown_header_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret_header(name) { MASK } else { value }
}

/// Every credential of one call, longest first (so a key that contains
/// another is replaced whole). `Debug` prints only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    values: Vec<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} values)", self.values.len())
    }
}

/// A header or key value as a secret: without its `Bearer ` scheme.
fn secret_part(value: &str) -> &str {
    value.strip_prefix("Bearer ").unwrap_or(value)
}

impl Secrets {
    /// The credentials among `values` (API keys, tokens, credential header
    /// values), each without a `Bearer ` scheme.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut s = Self::default();
        s.add(values);
        s
    }

    /// The values of the credential headers among `headers`.
    pub fn header_values(headers: &[(String, String)]) -> impl Iterator<Item = &str> {
        headers
            .iter()
            .filter(|(k, _)| is_secret_header(k))
            .map(|(_, v)| v.as_str())
    }

    fn add<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) {
        self.values.extend(
            values
                .into_iter()
                .map(secret_part)
                .filter(|v| v.len() >= MIN_SCRUBBED_LEN)
                .map(str::to_owned),
        );
        self.values.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.values.dedup();
    }

    /// These secrets plus the credential headers given with one call.
    /// Borrowed when the call adds none.
    pub fn with_headers(&self, headers: &[(String, String)]) -> Cow<'_, Self> {
        let mut extra = Self::header_values(headers)
            .map(secret_part)
            .filter(|v| v.len() >= MIN_SCRUBBED_LEN && !self.values.iter().any(|s| s == v))
            .peekable();
        if extra.peek().is_none() {
            return Cow::Borrowed(self);
        }
        let mut all = self.clone();
        all.add(extra);
        Cow::Owned(all)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Replace every occurrence of each secret in `text` by `***`.
    pub fn scrub_text(&self, text: &mut String) {
        for s in &self.values {
            if text.contains(s.as_str()) {
                *text = text.replace(s.as_str(), MASK);
            }
        }
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrubbed(&self, text: &str) -> String {
        let mut out = text.to_owned();
        self.scrub_text(&mut out);
        out
    }

    /// Remove the secrets from every text an error carries, whatever the
    /// upstream echoed into it.
    pub fn scrub_error(&self, e: &mut GatewayError) {
        if self.values.is_empty() {
            return;
        }
        match e {
            GatewayError::Validation(m) | GatewayError::Internal(Some(m)) => self.scrub_text(m),
            GatewayError::Timeout(t) => self.scrub_text(&mut t.message),
            GatewayError::Auth(d)
            | GatewayError::NotFound(d)
            | GatewayError::RateLimited(d)
            | GatewayError::ServiceUnavailable(d)
            | GatewayError::Upstream(d) => self.scrub_detail(d),
            GatewayError::ModelNotAllowed { provider, model } => {
                self.scrub_text(provider);
                self.scrub_text(model);
            }
            GatewayError::BudgetExceeded { .. } | GatewayError::Internal(None) => {}
        }
    }

    fn scrub_detail(&self, d: &mut UpstreamDetail) {
        self.scrub_text(&mut d.message);
        for t in [&mut d.code, &mut d.body].into_iter().flatten() {
            self.scrub_text(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_short_values_and_bearer_scheme_are_dropped() {
        let s = Secrets::new(["short", "Bearer sk-long-enough-key", "sk-long-enough-key"]);
        assert_eq!(s.values, vec!["sk-long-enough-key".to_owned()]);
    }

    #[test]
    fn secrets_longest_first_replaces_a_containing_key_whole() {
        let s = Secrets::new(["abcdefgh", "abcdefgh-and-more"]);
        assert_eq!(s.scrubbed("k=abcdefgh-and-more"), "k=***");
        assert_eq!(s.scrubbed("k=abcdefgh"), "k=***");
    }

    #[test]
    fn secrets_with_headers_borrows_when_nothing_new() {
        let s = Secrets::new(["sk-configured-key"]);
        let none = s.with_headers(&[("x-team".into(), "visible-value".into())]);
        assert!(matches!(none, Cow::Borrowed(_)));
        let same = s.with_headers(&[("authorization".into(), "Bearer sk-configured-key".into())]);
        assert!(matches!(same, Cow::Borrowed(_)));
        let more = s.with_headers(&[("x-api-key".into(), "call-key-12345".into())]);
        assert_eq!(more.scrubbed("call-key-12345 sk-configured-key"), "*** ***");
    }

    #[test]
    fn secrets_scrub_error_covers_every_text_field() {
        let s = Secrets::new(["sk-secret-key"]);
        let mut e = GatewayError::Auth(UpstreamDetail {
            code: Some("bad sk-secret-key".into()),
            body: Some("{\"key\":\"sk-secret-key\"}".into()),
            ..UpstreamDetail::message("Incorrect API key provided: sk-secret-key.")
        });
        s.scrub_error(&mut e);
        let text = format!("{e:?}");
        assert!(!text.contains("sk-secret-key"), "{text}");
        let mut v = GatewayError::validation("model sk-secret-key");
        s.scrub_error(&mut v);
        assert_eq!(v.to_string(), "invalid request: model ***");
    }

    #[test]
    fn secrets_debug_never_prints_values() {
        let s = Secrets::new(["sk-secret-key"]);
        assert_eq!(format!("{s:?}"), "Secrets(1 values)");
        assert_eq!(format!("{:?}", ApiKey::new("sk-secret-key")), "***");
    }

    #[test]
    fn is_secret_header_knows_names_and_words() {
        for h in [
            "Authorization",
            "x-api-key",
            "cf-aig-authorization",
            "X-Auth-Token",
            "cookie",
        ] {
            assert!(is_secret_header(h), "{h}");
        }
        for h in ["content-type", "x-team", "anthropic-version"] {
            assert!(!is_secret_header(h), "{h}");
        }
    }
}

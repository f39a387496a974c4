//! AWS Signature Version 4 request signing (header form), sans-IO.
//!
//! Follows <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>
//! for services other than S3:
//!
//! - The canonical URI is the URL path as given (the path as sent, already percent-encoded),
//!   normalized (`.`/`..` segments removed, duplicate slashes collapsed, as botocore does)
//!   and then URI-encoded once more, segment by segment. So the Bedrock path
//!   `/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse` is canonicalized as
//!   `/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse`.
//! - The query is percent-decoded and re-encoded (RFC 3986 unreserved characters kept,
//!   everything else `%XX`), then sorted by name and value. A `+` is a literal plus
//!   (encoded `%2B`): encode spaces as `%20`.
//! - Every header given is signed, plus `host` (taken from the URL; a non-default port
//!   is kept), `x-amz-date` and, with a session token, `x-amz-security-token`.
//! - The payload hash is the hex SHA-256 of the body, unless the caller gives an
//!   `x-amz-content-sha256` header, whose value is then used (as botocore does).
//!
//! [`sign`] returns only the headers to add; it never returns `host`: HTTP clients
//! (and wasi:http, where `host` is a forbidden header) derive it from the URL.

use std::collections::BTreeMap;
use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};

#[cfg(test)]
mod tests;

/// The signing algorithm named in the string to sign and the `authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// AWS credentials. `Debug` hides the secret key and the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The request to sign.
#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    /// HTTP method; upper-cased for signing.
    pub method: &'a str,
    /// Absolute `http(s)://host[:port]/path?query` URL, the path as it will be sent.
    pub url: &'a str,
    /// Headers that will be sent (names are lower-cased for signing). All are signed.
    /// Must not contain `authorization`, `x-amz-date` or `x-amz-security-token`; a `host`
    /// header is allowed only if it equals the URL's host.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub region: &'a str,
    pub service: &'a str,
    /// Signing time, seconds since the Unix epoch (UTC).
    pub unix_seconds: u64,
}

/// Why a request cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    BadUrl(String),
    BadHeader(String),
}

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(why) => write!(f, "cannot sign request: bad URL: {why}"),
            Self::BadHeader(why) => write!(f, "cannot sign request: bad header: {why}"),
        }
    }
}

impl std::error::Error for SigV4Error {}

/// Signs `req`. Returns the headers to add to it, in this order: `x-amz-date`,
/// `x-amz-security-token` (only with a session token) and `authorization`.
/// `host` is signed (from the URL) but not returned.
pub fn sign(
    req: &SignRequest<'_>,
    creds: &AwsCredentials,
) -> Result<Vec<(String, String)>, SigV4Error> {
    let token = creds.session_token.as_deref();
    let canonical = canonicalize(req, token)?;
    let date_time = amz_date(req.unix_seconds);
    let date = date_time.get(..8).unwrap_or_default();
    let scope = credential_scope(date, req.region, req.service);
    let to_sign = string_to_sign(&date_time, &scope, &canonical.request);
    let key = signing_key(&creds.secret_access_key, date, req.region, req.service);
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        creds.access_key_id, canonical.signed_headers
    );
    let mut out = vec![("x-amz-date".to_owned(), date_time)];
    if let Some(token) = token {
        out.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    out.push(("authorization".to_owned(), authorization));
    Ok(out)
}

/// The canonical request for `req`, signed with `session_token` (if any) at `req.unix_seconds`.
pub fn canonical_request(
    req: &SignRequest<'_>,
    session_token: Option<&str>,
) -> Result<String, SigV4Error> {
    canonicalize(req, session_token).map(|c| c.request)
}

/// The string to sign: algorithm, `YYYYMMDDTHHMMSSZ`, credential scope and the hex
/// SHA-256 of the canonical request, one per line.
pub fn string_to_sign(amz_date: &str, credential_scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    )
}

/// `YYYYMMDD/region/service/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/aws4_request")
}

/// The derived signing key: HMAC chain over `date` (`YYYYMMDD`), region, service and
/// `aws4_request`, starting from `"AWS4" + secret`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Unix seconds as `YYYYMMDDTHHMMSSZ` (UTC, proleptic Gregorian calendar).
pub fn amz_date(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let secs = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's `civil_from_days`,
/// restricted to non-negative day counts.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

struct Canonical {
    request: String,
    signed_headers: String,
}

fn canonicalize(req: &SignRequest<'_>, token: Option<&str>) -> Result<Canonical, SigV4Error> {
    let url = parse_url(req.url)?;
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers {
        let name = name.to_ascii_lowercase();
        check_header(&name, value)?;
        let value = trim_all(value);
        match name.as_str() {
            "authorization" | "x-amz-date" | "x-amz-security-token" => {
                return Err(SigV4Error::BadHeader(format!(
                    "{name} is set by the signer"
                )));
            }
            "host" if !value.eq_ignore_ascii_case(&url.host) => {
                return Err(SigV4Error::BadHeader(format!(
                    "host header {value:?} differs from the URL's host {:?}",
                    url.host
                )));
            }
            "host" => continue,
            _ => {}
        }
        match headers.get_mut(&name) {
            Some(joined) => {
                joined.push(',');
                joined.push_str(&value);
            }
            None => {
                headers.insert(name, value);
            }
        }
    }
    let payload_hash = match headers.get("x-amz-content-sha256") {
        Some(given) => given.clone(),
        None => hex(&Sha256::digest(req.body)),
    };
    headers.insert("host".to_owned(), url.host.clone());
    headers.insert("x-amz-date".to_owned(), amz_date(req.unix_seconds));
    if let Some(token) = token {
        check_header("x-amz-security-token", token)?;
        headers.insert("x-amz-security-token".to_owned(), trim_all(token));
    }

    let mut request = String::with_capacity(256);
    request.push_str(&req.method.to_ascii_uppercase());
    request.push('\n');
    request.push_str(&canonical_uri(url.path));
    request.push('\n');
    request.push_str(&canonical_query(url.query)?);
    request.push('\n');
    for (name, value) in &headers {
        request.push_str(name);
        request.push(':');
        request.push_str(value);
        request.push('\n');
    }
    request.push('\n');
    let signed_headers = headers
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";");
    request.push_str(&signed_headers);
    request.push('\n');
    request.push_str(&payload_hash);
    Ok(Canonical {
        request,
        signed_headers,
    })
}

struct ParsedUrl<'a> {
    /// Lower-cased host, with the port unless it is the scheme's default.
    host: String,
    path: &'a str,
    query: &'a str,
}

fn parse_url(url: &str) -> Result<ParsedUrl<'_>, SigV4Error> {
    let bad = |why: &str| SigV4Error::BadUrl(format!("{why}: {url:?}"));
    let (default_port, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
        ("443", rest)
    } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
        ("80", rest)
    } else {
        return Err(bad("not an absolute http(s) URL"));
    };
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at_checked(authority_end).unwrap_or((rest, ""));
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    if authority.contains('@') {
        return Err(bad("user info in URL"));
    }
    // A port follows the last ':' unless that ':' is inside an IPv6 literal.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=[]:".contains(&b));
    if !host_ok {
        return Err(bad("bad host"));
    }
    let host = host.to_ascii_lowercase();
    let host = match port {
        Some(port) if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(bad("bad port"));
        }
        Some(port) if port.trim_start_matches('0') != default_port => format!("{host}:{port}"),
        _ => host,
    };
    Ok(ParsedUrl { host, path, query })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// Normalizes the path (as botocore's `remove_dot_segments`: drops empty and `.` segments,
/// `..` removes the previous one; a trailing slash is kept if something remains) and
/// URI-encodes each segment (again, for an already-encoded path).
fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut out = String::with_capacity(path.len() + 8);
    out.push('/');
    let mut first = true;
    for segment in &segments {
        if !first {
            out.push('/');
        }
        first = false;
        uri_encode(segment.as_bytes(), &mut out);
    }
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

fn canonical_query(query: &str) -> Result<String, SigV4Error> {
    let mut params = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let mut encoded_name = String::new();
        uri_encode(&percent_decode(name)?, &mut encoded_name);
        let mut encoded_value = String::new();
        uri_encode(&percent_decode(value)?, &mut encoded_value);
        params.push((encoded_name, encoded_value));
    }
    params.sort_unstable();
    let pairs: Vec<String> = params
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    Ok(pairs.join("&"))
}

fn percent_decode(s: &str) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(hex_value);
            let lo = bytes.next().and_then(hex_value);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                _ => {
                    return Err(SigV4Error::BadUrl(format!(
                        "bad percent-escape in query {s:?}"
                    )));
                }
            }
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// RFC 3986 encoding: unreserved `A-Z a-z 0-9 - . _ ~` kept, every other byte `%XX`.
fn uri_encode(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            for nibble in [b >> 4, b & 0xf] {
                out.push(HEX.get(usize::from(nibble)).map_or('0', |&h| char::from(h)));
            }
        }
    }
}

/// Header names must be RFC 9110 tokens; values must not contain CR, LF or NUL.
fn check_header(name: &str, value: &str) -> Result<(), SigV4Error> {
    let token_byte = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token_byte) {
        return Err(SigV4Error::BadHeader(format!("bad header name {name:?}")));
    }
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\0')) {
        return Err(SigV4Error::BadHeader(format!(
            "header {name} has a CR, LF or NUL in its value"
        )));
    }
    Ok(())
}

/// Trims the value and collapses each run of spaces and tabs into one space.
fn trim_all(value: &str) -> String {
    value
        .split([' ', '\t'])
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// HMAC-SHA256. The key is padded to the SHA-256 block (64 bytes; hashed first when
/// longer), exactly as HMAC (RFC 2104) does, so the infallible `KeyInit::new` applies.
fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block
            .iter_mut()
            .zip(Sha256::digest(key))
            .for_each(|(b, k)| *b = k);
    } else {
        block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            out.push(HEX.get(usize::from(nibble)).map_or('0', |&h| char::from(h)));
        }
    }
    out
}

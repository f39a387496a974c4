//! AWS's SigV4 test suite (awslabs/aws-c-auth `tests/aws-signing-test-suite/v4`), header
//! signing. The files are copied unchanged into the fixture folder; see its README.md.

use std::path::Path;

use super::super::*;

/// Integrator: `concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws-sigv4")`.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/aws-sigv4");

/// Every vector of the suite that is in the fixture folder and must pass.
const VECTORS: &[&str] = &[
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "get-relative-normalized",
    "get-relative-relative-normalized",
    "get-slash-dot-slash-normalized",
    "get-slash-normalized",
    "get-slash-pointless-dot-normalized",
    "get-slashes-normalized",
    "get-space-normalized",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "get-vanilla-with-session-token",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-sts-header-before",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
];

/// Vectors of the suite left out of the fixture folder, and why.
const SKIPPED: &[(&str, &str)] = &[
    ("get-relative-unnormalized", "normalize: false (S3 mode)"),
    (
        "get-relative-relative-unnormalized",
        "normalize: false (S3 mode)",
    ),
    (
        "get-slash-dot-slash-unnormalized",
        "normalize: false (S3 mode)",
    ),
    (
        "get-slash-pointless-dot-unnormalized",
        "normalize: false (S3 mode)",
    ),
    ("get-slash-unnormalized", "normalize: false (S3 mode)"),
    ("get-slashes-unnormalized", "normalize: false (S3 mode)"),
    ("get-space-unnormalized", "normalize: false (S3 mode)"),
    (
        "post-sts-header-after",
        "omit_session_token: true (token added after signing); we always sign the token",
    ),
    // Also skipped in every vector: the query-*.txt files (presigned URLs, not supported).
];

struct Vector {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    creds: AwsCredentials,
    region: String,
    service: String,
    unix_seconds: u64,
}

fn read(dir: &Path, file: &str) -> String {
    let path = dir.join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses `request.txt`: request line, headers (obs-fold continuation lines joined to
/// the previous value with a space, as RFC 9112 says), blank line, body.
fn parse_request(text: &str) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    let (path, _version) = rest.rsplit_once(' ').unwrap();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().unwrap();
            last.1.push(' ');
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    let host = &headers.iter().find(|(n, _)| n == "host").unwrap().1;
    let url = format!("https://{host}{path}");
    (method.to_owned(), url, headers, body.as_bytes().to_vec())
}

/// `YYYY-MM-DDTHH:MM:SSZ` to Unix seconds (days_from_civil).
fn parse_timestamp(ts: &str) -> u64 {
    let num = |range: std::ops::Range<usize>| ts[range].parse::<u64>().unwrap();
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19)
}

fn load(dir: &Path) -> Vector {
    let context: serde_json::Value = serde_json::from_str(&read(dir, "context.json")).unwrap();
    assert_eq!(
        context["normalize"],
        true,
        "{}: S3-mode vector",
        dir.display()
    );
    assert_ne!(context["omit_session_token"], true, "{}", dir.display());
    let (method, url, mut headers, body) = parse_request(&read(dir, "request.txt"));
    if context["sign_body"] == true {
        // The vector asks for the x-amz-content-sha256 header; the caller adds it.
        let hash = hex(&Sha256::digest(&body));
        headers.push(("x-amz-content-sha256".to_owned(), hash));
    }
    let c = &context["credentials"];
    let str_of = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    Vector {
        method,
        url,
        headers,
        body,
        creds: AwsCredentials {
            access_key_id: str_of(&c["access_key_id"]),
            secret_access_key: str_of(&c["secret_access_key"]),
            session_token: c["token"].as_str().map(str::to_owned),
        },
        region: str_of(&context["region"]),
        service: str_of(&context["service"]),
        unix_seconds: parse_timestamp(context["timestamp"].as_str().unwrap()),
    }
}

/// The value of `name:` in `header-signed-request.txt`.
fn signed_header(dir: &Path, name: &str) -> Option<String> {
    let text = read(dir, "header-signed-request.txt");
    text.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.to_owned())
    })
}

fn check(dir: &Path) -> Result<(), String> {
    let v = load(dir);
    let req = SignRequest {
        method: &v.method,
        url: &v.url,
        headers: &v.headers,
        body: &v.body,
        region: &v.region,
        service: &v.service,
        unix_seconds: v.unix_seconds,
    };
    let token = v.creds.session_token.as_deref();
    let canonical = canonical_request(&req, token).map_err(|e| e.to_string())?;
    let want = read(dir, "header-canonical-request.txt");
    if canonical != want {
        return Err(format!(
            "canonical request\n got: {canonical:?}\nwant: {want:?}"
        ));
    }
    let date = amz_date(v.unix_seconds);
    let scope = credential_scope(&date[..8], &v.region, &v.service);
    let sts = string_to_sign(&date, &scope, &canonical);
    let want = read(dir, "header-string-to-sign.txt");
    if sts != want {
        return Err(format!("string to sign\n got: {sts:?}\nwant: {want:?}"));
    }
    let added = sign(&req, &v.creds).map_err(|e| e.to_string())?;
    let get = |name: &str| {
        added
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let signature = read(dir, "header-signature.txt");
    let auth = get("authorization").unwrap_or_default();
    if !auth.ends_with(&format!("Signature={signature}")) {
        return Err(format!("signature: {auth} does not end with {signature}"));
    }
    for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
        if get(name) != signed_header(dir, name) {
            return Err(format!(
                "{name}: got {:?}, want {:?}",
                get(name),
                signed_header(dir, name)
            ));
        }
    }
    Ok(())
}

#[test]
fn aws_signing_test_suite() {
    let root = Path::new(FIXTURES);
    let mut present: Vec<String> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{FIXTURES}: {e}"))
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_dir())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect();
    present.sort();
    assert_eq!(present, VECTORS, "fixture folder and VECTORS disagree");
    let failures: Vec<String> = VECTORS
        .iter()
        .filter_map(|name| {
            check(&root.join(name))
                .err()
                .map(|e| format!("{name}: {e}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    println!("{} SigV4 test-suite vectors passed", VECTORS.len());
    for (name, why) in SKIPPED {
        println!("skipped {name}: {why}");
    }
}

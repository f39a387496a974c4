#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod botocore;
mod vectors;

use super::*;

pub(super) const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn creds(token: Option<&str>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDEXAMPLE".to_owned(),
        secret_access_key: SECRET.to_owned(),
        session_token: token.map(str::to_owned),
    }
}

fn request<'a>(method: &'a str, url: &'a str, headers: &'a [(String, String)]) -> SignRequest<'a> {
    SignRequest {
        method,
        url,
        headers,
        body: b"",
        region: "us-east-1",
        service: "service",
        unix_seconds: 1_440_938_160, // 2015-08-30T12:36:00Z
    }
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// Line 2 (URI), line 3 (query) or the header lines of a canonical request.
fn canonical_line(req: &SignRequest<'_>, line: usize) -> String {
    let canonical = canonical_request(req, None).unwrap();
    canonical.lines().nth(line).unwrap().to_owned()
}

#[test]
fn amz_date_known_instants() {
    assert_eq!(amz_date(0), "19700101T000000Z");
    assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
    assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    assert_eq!(amz_date(4_107_542_399), "21000228T235959Z");
    assert_eq!(amz_date(4_107_542_400), "21000301T000000Z");
    assert_eq!(amz_date(253_402_300_799), "99991231T235959Z");
}

#[test]
fn civil_from_days_walks_the_calendar() {
    let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
    for days in 0..800_000u64 {
        assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let len = match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        d += 1;
        if d > len {
            d = 1;
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
        }
    }
}

#[test]
fn hmac_matches_rfc4231() {
    // Test case 2 (short key) and 6 (key longer than the block, hashed first).
    assert_eq!(
        hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
    // Exactly one block long: used as is.
    assert_eq!(
        hex(&hmac_sha256(&[0x0b; 64], b"x")),
        hex(&<Hmac<Sha256> as KeyInit>::new_from_slice(&[0x0b; 64])
            .unwrap()
            .chain_update(b"x")
            .finalize()
            .into_bytes())
    );
}

#[test]
fn signing_key_matches_aws_docs_example() {
    // "Examples of how to derive a signing key for Signature Version 4" (AWS docs).
    let key = signing_key(SECRET, "20120215", "us-east-1", "iam");
    assert_eq!(
        hex(&key),
        "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    );
}

#[test]
fn debug_hides_secrets() {
    let shown = format!("{:?}", creds(Some("tok-secret")));
    assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
    assert!(
        !shown.contains(SECRET) && !shown.contains("tok-secret"),
        "{shown}"
    );
    assert!(shown.contains("***"), "{shown}");
    assert!(format!("{:?}", creds(None)).contains("session_token: None"));
}

#[test]
fn bedrock_path_is_encoded_twice() {
    let url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";
    let req = request("POST", url, &[]);
    assert_eq!(
        canonical_line(&req, 1),
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse"
    );
    let arn =
        "https://h/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-profile%2Fus.x/converse";
    assert_eq!(
        canonical_line(&request("POST", arn, &[]), 1),
        "/model/arn%253Aaws%253Abedrock%253Aus-east-1%253A123%253Ainference-profile%252Fus.x/converse"
    );
}

#[test]
fn path_normalization() {
    for (path, want) in [
        ("", "/"),
        ("/", "/"),
        ("/a/b/../c", "/a/c"),
        ("/a/b/..", "/a"),
        ("/a/./b/", "/a/b/"),
        ("//a//b//", "/a/b/"),
        ("/../..", "/"),
        ("/a b/ሴ", "/a%20b/%E1%88%B4"),
    ] {
        let url = format!("https://example.amazonaws.com{path}");
        assert_eq!(
            canonical_line(&request("GET", &url, &[]), 1),
            want,
            "{path:?}"
        );
    }
}

#[test]
fn query_is_decoded_reencoded_and_sorted() {
    let url = "https://h/p?b=2&a=1&a=0&c&&x=a%20b+c:d&%7e=%41#frag";
    assert_eq!(
        canonical_line(&request("GET", url, &[]), 2),
        "a=0&a=1&b=2&c=&x=a%20b%2Bc%3Ad&~=A"
    );
    assert_eq!(
        canonical_line(&request("GET", "https://h?q=1", &[]), 1),
        "/"
    );
    assert_eq!(
        canonical_line(&request("GET", "https://h?q=1", &[]), 2),
        "q=1"
    );
    let bad = request("GET", "https://h/?a=%zz", &[]);
    assert!(matches!(
        sign(&bad, &creds(None)),
        Err(SigV4Error::BadUrl(_))
    ));
}

#[test]
fn host_comes_from_the_url() {
    for (url, host) in [
        ("https://Example.COM/", "example.com"),
        ("https://example.com:443/", "example.com"),
        ("http://example.com:80/", "example.com"),
        ("http://example.com:443/", "example.com:443"),
        ("https://localhost:8443/x", "localhost:8443"),
        ("https://[::1]:8443/x", "[::1]:8443"),
        ("https://[::1]/x", "[::1]"),
    ] {
        let line = format!("host:{host}");
        assert_eq!(canonical_line(&request("GET", url, &[]), 3), line, "{url}");
    }
    // A host header equal to the URL's is accepted and signed once.
    let given = headers(&[("Host", "LOCALHOST:8443")]);
    let canonical = canonical_request(&request("GET", "https://localhost:8443/", &given), None);
    assert!(canonical.unwrap().contains("\nhost;x-amz-date\n"));
}

#[test]
fn headers_are_trimmed_joined_and_sorted() {
    let given = headers(&[
        ("x-b", "  two   words\there "),
        ("X-A", "1"),
        ("x-b", "again"),
        ("content-type", "application/json"),
    ]);
    let canonical = canonical_request(&request("POST", "https://h/", &given), Some("tok")).unwrap();
    let want = "content-type:application/json\nhost:h\nx-a:1\n\
                x-amz-date:20150830T123600Z\nx-amz-security-token:tok\nx-b:two words here,again\n\n\
                content-type;host;x-a;x-amz-date;x-amz-security-token;x-b\n";
    assert!(canonical.contains(want), "{canonical}");
}

#[test]
fn payload_hash_is_body_sha256_or_the_given_header() {
    let mut req = request("POST", "https://h/", &[]);
    req.body = b"{}";
    let canonical = canonical_request(&req, None).unwrap();
    assert!(
        canonical.ends_with("\n44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    );
    let given = headers(&[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]);
    req.headers = &given;
    assert!(
        canonical_request(&req, None)
            .unwrap()
            .ends_with("\nUNSIGNED-PAYLOAD")
    );
}

#[test]
fn sign_returns_date_token_and_authorization() {
    let req = request("GET", "https://example.amazonaws.com/", &[]);
    let out = sign(&req, &creds(None)).unwrap();
    assert_eq!(
        out,
        headers(&[
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            ),
        ])
    );
    let out = sign(&req, &creds(Some("tok"))).unwrap();
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["x-amz-date", "x-amz-security-token", "authorization"]
    );
    assert_eq!(out[1].1, "tok");
}

#[test]
fn bad_input_is_rejected() {
    let bad_url = |url: &str| {
        let got = sign(&request("GET", url, &[]), &creds(None));
        assert!(matches!(got, Err(SigV4Error::BadUrl(_))), "{url}: {got:?}");
    };
    for url in [
        "ftp://h/",
        "/relative",
        "https://",
        "https:///p",
        "https://user@h/",
        "https://h:/",
        "https://h:8x/",
        "https://h p/",
    ] {
        bad_url(url);
    }
    let bad_header = |pairs: &[(&str, &str)], token: Option<&str>| {
        let given = headers(pairs);
        let got = sign(&request("GET", "https://h/", &given), &creds(token));
        assert!(
            matches!(got, Err(SigV4Error::BadHeader(_))),
            "{pairs:?}: {got:?}"
        );
    };
    bad_header(&[("x-a", "a\r\nb")], None);
    bad_header(&[("bad name", "v")], None);
    bad_header(&[("", "v")], None);
    bad_header(&[("authorization", "v")], None);
    bad_header(&[("X-Amz-Date", "v")], None);
    bad_header(&[("x-amz-security-token", "v")], None);
    bad_header(&[("host", "other")], None);
    bad_header(&[], Some("tok\nen"));
    let err = SigV4Error::BadHeader("x".to_owned());
    assert_eq!(err.to_string(), "cannot sign request: bad header: x");
}

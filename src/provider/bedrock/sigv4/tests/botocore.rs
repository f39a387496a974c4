//! Cross-check against botocore's `SigV4Auth` through `botocore_sign.py`.
//! Uses the tests' Python venv (`.ci/setup` installs botocore there), or the Python
//! `AIGW_BOTOCORE_PYTHON` names.

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::super::*;

/// Integrator: wherever botocore_sign.py ends up.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/botocore_sign.py");

const BODY: &[u8] = br#"{"messages":[{"role":"user","content":[{"text":"Hello, world"}]}],"inferenceConfig":{"maxTokens":512,"temperature":0.5}}"#;

struct Case {
    url: &'static str,
    headers: &'static [(&'static str, &'static str)],
    token: Option<&'static str>,
    region: &'static str,
}

const CONVERSE: &str = "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";
const JSON: &[(&str, &str)] = &[("content-type", "application/json")];
const TOKEN: &str = "IQoJb3JpZ2luX2VjEFAaCXVzLWVhc3QtMSJHMEUCIQD+/tokenWith/Slashes+Plus==";

const CASES: &[Case] = &[
    Case {
        url: CONVERSE,
        headers: JSON,
        token: None,
        region: "us-east-1",
    },
    Case {
        url: CONVERSE,
        headers: JSON,
        token: Some(TOKEN),
        region: "us-east-1",
    },
    // Inference-profile ARN as model id: ':' and '/' sent as %3A and %2F.
    Case {
        url: "https://bedrock-runtime.eu-west-3.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-3%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
        headers: JSON,
        token: Some(TOKEN),
        region: "eu-west-3",
    },
    Case {
        url: "https://bedrock-runtime.us-west-2.amazonaws.com/model/meta.llama3-8b-instruct-v1%3A0/converse-stream",
        headers: &[
            ("content-type", "application/json"),
            ("accept", "application/vnd.amazon.eventstream"),
            ("x-amzn-bedrock-trace", "  ENABLED   now "),
        ],
        token: None,
        region: "us-west-2",
    },
    // A non-default port and a query string.
    Case {
        url: "https://localhost:8443/model/a%3Ab/invoke?b=2&a=x%20y&a=1",
        headers: JSON,
        token: None,
        region: "us-east-1",
    },
];

fn botocore(
    python: &str,
    case: &Case,
    creds: &AwsCredentials,
    unix_seconds: u64,
) -> Vec<(String, String)> {
    let input = serde_json::json!({
        "method": "POST",
        "url": case.url,
        "headers": case.headers,
        "body_b64": STANDARD.encode(BODY),
        "region": case.region,
        "service": "bedrock",
        "access_key_id": creds.access_key_id,
        "secret_access_key": creds.secret_access_key,
        "session_token": creds.session_token,
        "unix_seconds": unix_seconds,
    });
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {python} {SCRIPT}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.to_string().as_bytes()).unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "botocore_sign.py failed: {}",
        output.status
    );
    let added: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&output.stdout).unwrap();
    let version = added.get("botocore-version").and_then(|v| v.as_str());
    println!("botocore {} for {}", version.unwrap_or("?"), case.url);
    ["x-amz-date", "x-amz-security-token", "authorization"]
        .into_iter()
        .filter_map(|name| {
            let value = added.get(name)?.as_str()?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

#[test]
fn agrees_with_botocore() {
    // `.ci/setup` installs botocore into the Python venv of the tests.
    let python = std::env::var("AIGW_BOTOCORE_PYTHON").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/python/.venv/bin/python"
        )
        .to_owned()
    });
    assert!(
        std::path::Path::new(&python).exists(),
        "no Python with botocore at {python}: run .ci/setup, or set AIGW_BOTOCORE_PYTHON"
    );
    for (i, case) in CASES.iter().enumerate() {
        let creds = AwsCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
            secret_access_key: super::SECRET.to_owned(),
            session_token: case.token.map(str::to_owned),
        };
        let headers: Vec<(String, String)> = case
            .headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        // Spread the cases over the calendar, across a leap day and a year end.
        let unix_seconds = [
            1_700_000_000,
            1_709_164_799,
            1_709_251_200,
            1_735_689_599,
            4_102_444_800,
        ][i];
        let req = SignRequest {
            method: "POST",
            url: case.url,
            headers: &headers,
            body: BODY,
            region: case.region,
            service: "bedrock",
            unix_seconds,
        };
        let ours = sign(&req, &creds).unwrap();
        assert_eq!(
            ours,
            botocore(&python, case, &creds, unix_seconds),
            "{}",
            case.url
        );
    }
}

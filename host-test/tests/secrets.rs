//! Secrets and SSRF through the real component: a marker credential is sent
//! through every path (success, upstream errors that echo it, errors inside
//! a 200 and mid-stream, run-fallback via AI Gateway, embeddings), and every
//! output is searched for it: results, errors, stream events, traces, the
//! guest's stderr log lines, and every key and value in the key-value store.
//! Then model names and ids that try to change the request's host or path
//! are refused before anything is sent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::time::Duration;

use common::{Harness, anthropic_cfg, kind, openai_cfg, workers_cfg};
use host_test::cfg;
use host_test::host::{InstanceConfig, Redirect, w};
use host_test::mock::{ANTHROPIC_TEXT_SSE, OPENAI_TEXT_SSE, Reply, split_events};
use serde_json::json;

const MARK: &str = "MARKER7f3a9c";

fn secret(what: &str) -> String {
    format!("sk-{what}-{MARK}-0123456789")
}

/// A body that echoes every credential, as careless upstreams do.
fn echo_all() -> String {
    ["openai", "anthropic", "workers", "header", "cf"]
        .map(secret)
        .join(" ")
}

fn config(h: &Harness) -> w::GatewayConfig {
    let mut openai = openai_cfg(h);
    openai.api_key = Some(secret("openai"));
    openai.headers = vec![("x-portkey-api-key".into(), secret("header"))];
    let mut anthropic = anthropic_cfg(h);
    anthropic.api_key = Some(secret("anthropic"));
    let mut workers = workers_cfg(h);
    workers.api_key = Some(secret("workers"));
    w::GatewayConfig {
        cf_gateway: Some(w::CfGatewayConfig {
            account_id: "acc1".into(),
            gateway_id: "gw1".into(),
            auth_token: Some(secret("cf")),
            cache_ttl: None,
            skip_cache: false,
        }),
        cache: Some(w::CacheConfig {
            bucket: "cache".into(),
            ttl_seconds: 60,
            namespace: None,
            streams: true,
        }),
        cost: Some(common::pricing()),
        logging: Some(w::LoggingConfig {
            level: w::LogLevel::Debug,
            stderr: true,
            include_prompts: false,
        }),
        ..cfg::gateway(vec![openai, anthropic, workers], Some("openai"))
    }
}

fn on(provider: &str) -> w::RunOptions {
    w::RunOptions {
        provider: Some(provider.into()),
        ..cfg::options()
    }
}

fn model(provider: &str) -> &'static str {
    match provider {
        "openai" => "gpt-4o",
        "anthropic" => "claude-sonnet-4-5",
        _ => "@cf/meta/llama-3.1-8b-instruct",
    }
}

/// A stream that starts well and then carries an error echoing the keys.
fn mid_stream_error(provider: &str) -> Reply {
    let echo = echo_all();
    let (first, error) = match provider {
        "anthropic" => (
            split_events(ANTHROPIC_TEXT_SSE)[0].clone(),
            format!(
                "event: error\ndata: {}\n\n",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": echo}})
            ),
        ),
        "openai" => (
            split_events(OPENAI_TEXT_SSE)[0].clone(),
            format!(
                "data: {}\n\n",
                json!({"error": {"message": echo, "code": echo}})
            ),
        ),
        _ => (
            format!("data: {}\n\n", json!({"response": "Hi"})).into_bytes(),
            format!("data: {}\n\n", json!({"error": {"message": echo}})),
        ),
    };
    let mut body = first;
    body.extend_from_slice(error.as_bytes());
    Reply::sse(&body, Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_marker_key_never_reaches_any_output() {
    let mut h = Harness::new().await;
    let pipe = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(4 << 20);
    let ic = InstanceConfig {
        redirect: Some(Redirect {
            authority: h.mock.authority(),
        }),
        stderr: Some(pipe.clone()),
        ..InstanceConfig::new(h.kv.clone())
    };
    h.inst = common::runtime().instance(&ic).await.unwrap();
    let config = config(&h);
    let gw = h.open(&config).await;
    let mut seen = Vec::<String>::new();
    let error_body = json!({"error": {"message": format!("Incorrect API key provided: {}", echo_all()),
                                      "type": "invalid_request_error", "code": "invalid_api_key"}});

    for p in ["openai", "anthropic", "workers"] {
        let opts = on(p);
        let m = model(p);
        // Success: run and stream (both cached and costed).
        let out = h.run(gw, m, &cfg::user(&format!("{p} hello")), &opts).await;
        seen.push(format!("{out:?}"));
        out.unwrap();
        let s = h
            .inst
            .stream(gw, m, &cfg::user(&format!("{p} stream")), Some(&opts))
            .await;
        let s = s.unwrap().unwrap();
        seen.push(format!("{:?}", h.inst.collect(s).await.unwrap()));
        seen.push(format!("{:?}", h.inst.stream_trace(s).await.unwrap()));

        // The upstream refuses the key and echoes it: run and stream.
        for status in [401, 500] {
            h.mock.push(Reply::json(status, error_body.clone()));
            let e = h.run(gw, m, &cfg::user("x"), &opts).await.unwrap_err();
            seen.push(format!("{e:?} {}", kind(&e)));
            h.mock.push(Reply::json(status, error_body.clone()));
            let r = h
                .inst
                .stream(gw, m, &cfg::user("y"), Some(&opts))
                .await
                .unwrap();
            seen.push(format!("{r:?}"));
            assert!(
                r.is_err(),
                "{p} {status}: the stream fails before its first event"
            );
        }
        // An error inside a 200, and a 200 that is not the provider's JSON.
        h.mock.push(Reply::json(200, error_body.clone()));
        let r = h.run(gw, m, &cfg::user("z"), &opts).await;
        seen.push(format!("{r:?}"));
        assert!(r.is_err(), "{p}: a 200 with an error body is an error");
        h.mock.push(Reply::raw(
            200,
            "application/json",
            format!("{{\"not\": \"{}\"", echo_all()),
        ));
        let r = h.run(gw, m, &cfg::user("zz"), &opts).await;
        seen.push(format!("{r:?}"));
        assert!(r.is_err());
        // An error event mid-stream.
        h.mock.push(mid_stream_error(p));
        // (When no content came before it, the error is the stream's
        // first event and `stream` returns it directly.)
        match h
            .inst
            .stream(gw, m, &cfg::user("mid"), Some(&opts))
            .await
            .unwrap()
        {
            Ok(s) => {
                let events = h.inst.collect(s).await.unwrap();
                assert!(
                    matches!(events.last(), Some(w::StreamEvent::Error(_))),
                    "{p}: {events:?}"
                );
                seen.push(format!("{events:?}"));
                seen.push(format!("{:?}", h.inst.stream_trace(s).await.unwrap()));
            }
            Err(e) => seen.push(format!("{e:?}")),
        }
    }

    // Embeddings and run-fallback through AI Gateway's Universal Endpoint.
    h.mock.push(Reply::json(401, error_body.clone()));
    let r = h
        .inst
        .embed(gw, "text-embedding-3-small", &["a".into()], None)
        .await
        .unwrap();
    seen.push(format!("{r:?}"));
    assert!(r.is_err());
    let entries = [w::FallbackEntry {
        provider: "openai".into(),
        model: "gpt-4o".into(),
    }];
    h.mock.push(Reply::json(401, error_body.clone()));
    let r = h
        .inst
        .run_fallback(gw, &entries, &cfg::user("f"), None)
        .await
        .unwrap();
    seen.push(format!("{r:?}"));
    assert!(r.is_err());

    // The upstream really received the credentials (so the test means
    // something), but nothing the gateway gave back or kept has them.
    let sent = h.mock.requests();
    assert!(
        sent.iter()
            .any(|r| r.headers.iter().any(|(_, v)| v.contains(MARK)))
    );
    let stderr = String::from_utf8_lossy(&pipe.contents()).into_owned();
    assert!(
        stderr.lines().count() > 20,
        "log lines were written: {stderr}"
    );
    seen.push(stderr);
    for bucket in ["cache", "costs"] {
        let (keys, _) = h.kv.list_keys(bucket, None, 100_000).unwrap();
        assert!(!keys.is_empty(), "{bucket} has entries");
        for k in keys {
            let v = h.kv.get(bucket, &k).unwrap().unwrap_or_default();
            seen.push(format!("{bucket} {k} {}", String::from_utf8_lossy(&v)));
        }
    }
    for text in &seen {
        assert!(!text.contains(MARK), "a credential leaked:\n{text}");
    }
    assert!(
        seen.iter().any(|t| t.contains("***")),
        "echoes were scrubbed, not lost"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ssrf_model_names_and_ids_cannot_change_host_or_path() {
    let mut h = Harness::new().await;
    let config = cfg::gateway(vec![openai_cfg(&h), workers_cfg(&h)], Some("openai"));
    let gw = h.open(&config).await;
    // Workers AI puts the model in the URL path.
    for evil in [
        "../../../v1/admin",
        "@cf/../../accounts/other/ai/run/@cf/x",
        "@cf/meta/x?redirect=http://evil",
        "@cf/meta/x#frag",
        "@cf%2F..%2F..%2Fadmin",
        "@cf/meta/x\r\nHost: evil.example",
        "@cf/meta//x",
        "evil.example@cf/x/ ",
    ] {
        let e = h
            .run(gw, evil, &cfg::user("x"), &on("workers"))
            .await
            .unwrap_err();
        assert_eq!(kind(&e), "validation", "{evil:?}: {e:?}");
        let s = h
            .inst
            .stream(gw, evil, &cfg::user("x"), Some(&on("workers")))
            .await
            .unwrap();
        assert!(s.is_err(), "{evil:?}");
    }
    // Body-only providers still refuse control characters in a model.
    let e = h
        .run(gw, "gpt\r\n4o", &cfg::user("x"), &on("openai"))
        .await
        .unwrap_err();
    assert_eq!(kind(&e), "validation");
    assert_eq!(h.mock.hits(), 0, "nothing was sent");

    // A legitimate Workers AI model goes exactly where configured.
    h.run(
        gw,
        "@cf/meta/llama-3.1-8b-instruct",
        &cfg::user("x"),
        &on("workers"),
    )
    .await
    .unwrap();
    assert_eq!(
        h.only_request().path,
        "/client/v4/accounts/acc123/ai/run/@cf/meta/llama-3.1-8b-instruct"
    );

    // Ids that become path segments, and headers that would re-target the
    // request, are refused when the gateway opens.
    for (account, gateway) in [
        ("acc/../x", "gw"),
        ("acc", "gw?x=1"),
        ("acc", "gw%2Fx"),
        ("", "gw"),
    ] {
        let bad = w::GatewayConfig {
            cf_gateway: Some(w::CfGatewayConfig {
                account_id: account.into(),
                gateway_id: gateway.into(),
                auth_token: None,
                cache_ttl: None,
                skip_cache: false,
            }),
            ..config.clone()
        };
        assert_eq!(
            kind(&h.open_err(&bad).await),
            "validation",
            "{account} {gateway}"
        );
    }
    let mut workers = workers_cfg(&h);
    workers.account_id = Some("acc123/../../evil".into());
    let bad = cfg::gateway(vec![workers], None);
    assert_eq!(kind(&h.open_err(&bad).await), "validation");
    let mut openai = openai_cfg(&h);
    openai.headers = vec![("Host".into(), "evil.example".into())];
    let bad = cfg::gateway(vec![openai], None);
    assert_eq!(kind(&h.open_err(&bad).await), "validation");
    let opts = w::RunOptions {
        headers: vec![("host".into(), "evil.example".into())],
        ..on("openai")
    };
    let e = h
        .run(gw, "gpt-4o", &cfg::user("x"), &opts)
        .await
        .unwrap_err();
    assert_eq!(kind(&e), "validation");
    assert_eq!(h.mock.hits(), 1, "only the legitimate call was sent");
}

//! Crash safety of `serve` on a redb file: SIGKILL in the middle of
//! concurrent load, restart on the same file, and check what survived.
//!
//! What is exact, and why (docs/adr/0011-operations-signals.md):
//!
//! - Every key-value write is one redb write transaction, committed with
//!   `Durability::Immediate` before the host function returns. A SIGKILL
//!   cannot tear a transaction: after the restart each key holds either its
//!   value before or after a write, never part of one. So every counter is
//!   an exact multiple of its per-call amount, and every cache entry is one
//!   whole JSON entry.
//! - One successful call writes, in this order and each in its own
//!   transaction: the cost counters `requests` (per model, then total),
//!   `input`, `output`, `cost` (per model, then total), then its cache entry
//!   (src/engine/run.rs, src/engine/cost.rs: a call is accounted before it
//!   is cached, so a call whose cost cannot be recorded leaves no entry).
//!   The response leaves only after all of them. So for the counts of calls
//!   each write saw, `received <= cache_entries <= cost_total <= cost_model
//!   <= output <= input <= requests_total <= requests_model <=
//!   upstream_served`,
//!   exactly: a call the client received is recorded everywhere; a call cut
//!   by the kill may have any prefix of its writes, never a later one
//!   without an earlier one; and nothing is recorded that the upstream
//!   did not serve.
//! - After the restart, with nothing in flight, each new call adds exactly
//!   its cost, and a repeat of every received call is served from the cache
//!   (no upstream request, no cost).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::process::ServeProcess;
use host_test::client::Client;
use host_test::kv::KvStore;
use host_test::mock::{MOCK_TEXT, MockServer};
use serde_json::{Value, json};

/// The mock answers 12 input and 9 output tokens: 12*5 + 9*10 = 150 µ$.
const INPUT: u64 = 12;
const OUTPUT: u64 = 9;
const COST: u64 = 150;
const CONCURRENCY: usize = 16;
const PREFIX: &str = "aigw:cost:all";

fn config(mock: &str) -> Value {
    json!({
        "providers": [{"name": "mock", "kind": "openai", "base_url": format!("{mock}/v1"),
                       "api_key_variable": "upstream_key"}],
        "default_provider": "mock",
        "models": ["mock-model"],
        "cache": {"bucket": "cache", "ttl_seconds": 3600},
        "pricing": [{"model": "mock-model", "input": 5_000_000, "output": 10_000_000}],
        "state_bucket": "state"
    })
}

fn serve(cfg: &std::path::Path, kv: &std::path::Path) -> ServeProcess {
    ServeProcess::start(&[
        "--config".as_ref(),
        cfg.as_os_str(),
        "--var".as_ref(),
        "upstream_key=sk-upstream-crash-test".as_ref(),
        "--kv".as_ref(),
        kv.as_os_str(),
    ])
}

async fn chat(client: &Client, base: &str, prompt: &str) -> anyhow::Result<(u16, Value)> {
    let body = json!({"model": "mock-model", "messages": [{"role": "user", "content": prompt}]});
    let r = client
        .post_json(&format!("{base}/v1/chat/completions"), &[], &body)
        .await?;
    Ok((r.status, r.json()))
}

/// Every counter of the cost tracker, read from the store directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counters {
    requests_model: u64,
    requests_total: u64,
    input: u64,
    output: u64,
    cost_model: u64,
    cost_total: u64,
}

fn counter(kv: &KvStore, key: &str) -> u64 {
    kv.get("state", &format!("{PREFIX}:{key}"))
        .unwrap()
        .map_or(0, |v| std::str::from_utf8(&v).unwrap().parse().unwrap())
}

fn counters(kv: &KvStore) -> Counters {
    Counters {
        requests_model: counter(kv, "m:requests:mock-model"),
        requests_total: counter(kv, "total:requests"),
        input: counter(kv, "m:input:mock-model"),
        output: counter(kv, "m:output:mock-model"),
        cost_model: counter(kv, "m:cost:mock-model"),
        cost_total: counter(kv, "total:cost"),
    }
}

/// Every key of a bucket, page by page.
fn all_keys(kv: &KvStore, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let (page, next) = kv.list_keys(bucket, cursor.as_deref(), 100).unwrap();
        keys.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => return keys,
        }
    }
    panic!("list-keys did not end");
}

/// Every cache entry parses as a whole entry of the gateway's cache.
fn check_cache_entries(kv: &KvStore) -> usize {
    let keys = all_keys(kv, "cache");
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    for k in &keys {
        let raw = kv.get("cache", k).unwrap().expect("listed key has a value");
        let e: Value = serde_json::from_slice(&raw)
            .unwrap_or_else(|err| panic!("cache entry {k} is not whole JSON ({err})"));
        assert_eq!(e["v"], 1, "{k}: {e}");
        assert!(e["expires_at_ms"].as_u64().unwrap() > now_ms, "{k}: {e}");
        let out = &e["output"];
        assert_eq!(out["text"], MOCK_TEXT, "{k}: {e}");
        assert_eq!(out["usage"]["input_tokens"], INPUT, "{k}: {e}");
        assert_eq!(out["usage"]["output_tokens"], OUTPUT, "{k}: {e}");
        assert_eq!(out["provider"], "mock", "{k}: {e}");
    }
    keys.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_sigkill_under_load_keeps_costs_and_cache_exact() {
    let started = Instant::now();
    let mock = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gateway.json");
    std::fs::write(&cfg, config(&mock.base_url()).to_string()).unwrap();
    let db = dir.path().join("state.redb");
    let mut first = serve(&cfg, &db);
    let client = Client::new();

    // 1. Concurrent load; SIGKILL once enough calls completed, with every
    // worker still sending.
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|w| {
            let (client, base) = (client.clone(), first.url.clone());
            let (stop, received) = (Arc::clone(&stop), Arc::clone(&received));
            tokio::spawn(async move {
                for i in 0..10_000 {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let prompt = format!("crash w{w} call {i}");
                    match chat(&client, &base, &prompt).await {
                        Ok((200, body)) => {
                            assert_eq!(body["choices"][0]["message"]["content"], MOCK_TEXT);
                            received.lock().unwrap().push(prompt);
                        }
                        Ok((status, body)) => panic!("{status}: {body}"),
                        // The kill: the response never (fully) arrived.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let load_deadline = Instant::now() + Duration::from_secs(8);
    while received.lock().unwrap().len() < 40 && Instant::now() < load_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .expect("workers end after the kill")
            .unwrap();
    }
    let received = received.lock().unwrap().clone();
    let served = mock.hits() as u64;
    let got = received.len() as u64;
    assert!(got >= 10, "only {got} calls completed before the kill");
    assert!(
        served >= got && served - got <= CONCURRENCY as u64,
        "served {served}, received {got}"
    );

    // 2. The store opens after the kill; every write is whole; the counts
    // are ordered exactly as one call writes them.
    let (c, entries) = {
        let kv = KvStore::open(&db).expect("the store opens after SIGKILL");
        (counters(&kv), check_cache_entries(&kv) as u64)
    };
    assert_eq!(c.input % INPUT, 0, "{c:?}");
    assert_eq!(c.output % OUTPUT, 0, "{c:?}");
    assert_eq!(c.cost_model % COST, 0, "{c:?}");
    assert_eq!(c.cost_total % COST, 0, "{c:?}");
    let chain = [
        ("received", got),
        ("cache entries", entries),
        ("cost total", c.cost_total / COST),
        ("cost per model", c.cost_model / COST),
        ("output", c.output / OUTPUT),
        ("input", c.input / INPUT),
        ("requests total", c.requests_total),
        ("requests per model", c.requests_model),
        ("upstream served", served),
    ];
    for pair in chain.windows(2) {
        assert!(
            pair[0].1 <= pair[1].1,
            "{} ({}) > {} ({}): {chain:?}",
            pair[0].0,
            pair[0].1,
            pair[1].0,
            pair[1].1
        );
    }
    eprintln!("at the kill: {chain:?}");

    // 3. Restart on the same file: every received call comes from the
    // cache, with no upstream request and no cost.
    let mut second = serve(&cfg, &db);
    for prompt in &received {
        let (status, body) = chat(&client, &second.url, prompt).await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["choices"][0]["message"]["content"], MOCK_TEXT);
    }
    assert_eq!(mock.hits() as u64, served, "repeats came from the cache");

    // 4. New calls with nothing in flight: exactly their cost, then a kill
    // between calls loses nothing.
    const NEW: u64 = 5;
    for i in 0..NEW {
        let (status, body) = chat(&client, &second.url, &format!("after restart {i}"))
            .await
            .unwrap();
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(mock.hits() as u64, served + NEW);
    second.kill();
    let kv = KvStore::open(&db).expect("the store opens again");
    let after = counters(&kv);
    assert_eq!(
        after,
        Counters {
            requests_model: c.requests_model + NEW,
            requests_total: c.requests_total + NEW,
            input: c.input + NEW * INPUT,
            output: c.output + NEW * OUTPUT,
            cost_model: c.cost_model + NEW * COST,
            cost_total: c.cost_total + NEW * COST,
        }
    );
    assert_eq!(check_cache_entries(&kv) as u64, entries + NEW);
    assert!(
        !second.log().contains("sk-upstream-crash-test"),
        "{}",
        second.log()
    );
    eprintln!("crash test took {:?}", started.elapsed());
}

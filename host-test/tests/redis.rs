//! The Redis-backed `wasi:keyvalue` store: the store's own semantics against
//! a real `redis-server` on 127.0.0.1, then two `host-test serve` processes
//! sharing one Redis, showing that rate limits, budgets and the response
//! cache are shared and exact under concurrent load.
//!
//! Needs `redis-server` on PATH (`.ci/setup` installs Debian's package).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_test::client::Client;
use host_test::kv::KvStore;
use host_test::mock::MockServer;
use serde_json::{Value, json};

/// A private `redis-server` on a free loopback port, killed on drop.
struct RedisServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> Self {
        Self::start_with(&[], None)
    }

    /// `args` go to redis-server; `password` is the one its URL needs.
    fn start_with(args: &[&str], password: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): run .ci/setup, which installs it")
            });
        let url = match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{port}"),
            None => format!("redis://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while KvStore::redis(&url).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The composed proxy, composed once per test binary (tests run in parallel).
fn component() -> &'static Path {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| host_test::serve::composed_proxy().unwrap())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn redis_store_semantics_match_redb() {
    let redis = RedisServer::start();
    let kv = KvStore::redis(&redis.url).unwrap().with_ttl("short", 50);

    assert_eq!(kv.get("b", "k").unwrap(), None);
    kv.set("b", "k", b"v1").unwrap();
    kv.set("c", "k", b"other bucket").unwrap();
    assert_eq!(kv.get("b", "k").unwrap().as_deref(), Some(&b"v1"[..]));
    assert!(kv.exists("b", "k").unwrap());
    kv.delete("b", "k").unwrap();
    assert!(!kv.exists("b", "k").unwrap());
    assert_eq!(
        kv.get("c", "k").unwrap().as_deref(),
        Some(&b"other bucket"[..])
    );

    // Binary values and keys with glob characters survive.
    kv.set("b*", "k?[x]", &[0, 255, 10, 13]).unwrap();
    assert_eq!(kv.get("b*", "k?[x]").unwrap().unwrap(), [0, 255, 10, 13]);

    // Bucket TTL is Redis's own expiry.
    kv.set("short", "k", b"v").unwrap();
    assert!(kv.exists("short", "k").unwrap());
    std::thread::sleep(Duration::from_millis(120));
    assert!(!kv.exists("short", "k").unwrap());

    // Counters: INCRBY, and a non-integer value is an error, not a reset.
    assert_eq!(kv.increment("n", "c", 5).unwrap(), 5);
    assert_eq!(kv.increment("n", "c", -2).unwrap(), 3);
    assert_eq!(kv.get("n", "c").unwrap().as_deref(), Some(&b"3"[..]));
    kv.set("n", "bad", b"x").unwrap();
    assert!(kv.increment("n", "bad", 1).is_err());

    // list-keys: sorted, each key once, paged by key, only this bucket
    // (not "list2", whose name shares the prefix).
    for i in 0..5 {
        kv.set("list", &format!("k{i}"), b"v").unwrap();
    }
    kv.set("list2", "zz", b"v").unwrap();
    let (p1, c1) = kv.list_keys("list", None, 2).unwrap();
    assert_eq!(p1, ["k0", "k1"]);
    let (p2, c2) = kv.list_keys("list", c1.as_deref(), 2).unwrap();
    assert_eq!(p2, ["k2", "k3"]);
    let (p3, c3) = kv.list_keys("list", c2.as_deref(), 2).unwrap();
    assert_eq!((p3, c3), (vec!["k4".to_owned()], None));

    // Compare-and-swap.
    assert_eq!(kv.compare_and_swap("cas", "k", None, b"1").unwrap(), Ok(()));
    assert_eq!(
        kv.compare_and_swap("cas", "k", None, b"2").unwrap(),
        Err(Some(b"1".to_vec()))
    );
    assert_eq!(
        kv.compare_and_swap("cas", "k", Some(b"1"), b"2").unwrap(),
        Ok(())
    );
    assert_eq!(kv.get("cas", "k").unwrap().as_deref(), Some(&b"2"[..]));
    kv.delete("cas", "k").unwrap();
    assert_eq!(
        kv.compare_and_swap("cas", "k", Some(b"2"), b"3").unwrap(),
        Err(None)
    );
}

#[test]
fn redis_password_and_database_come_from_the_url() {
    let redis = RedisServer::start_with(&["--requirepass", "pw-MARKER-42"], Some("pw-MARKER-42"));
    let kv = KvStore::redis(&redis.url).unwrap();
    kv.set("b", "k", b"db0").unwrap();
    let db3 = KvStore::redis(&format!("{}/3", redis.url)).unwrap();
    assert_eq!(db3.get("b", "k").unwrap(), None, "database 3 is separate");
    // Without the password, or with a wrong one: a clear error without it.
    let open = redis.url.replace(":pw-MARKER-42@", "");
    let e = KvStore::redis(&open).unwrap_err();
    assert!(format!("{e:#}").contains("NOAUTH"), "{e:#}");
    let wrong = redis.url.replace("pw-MARKER-42", "nope-MARKER-43");
    let e = format!("{:#}", KvStore::redis(&wrong).unwrap_err());
    assert!(!e.contains("MARKER"), "{e}");
    assert!(!format!("{kv:?}").contains("MARKER"));
}

#[test]
fn redis_increments_and_cas_are_exact_across_connections() {
    let redis = RedisServer::start();
    // Two stores = two connection pools, as two processes would have.
    let stores = [
        KvStore::redis(&redis.url).unwrap(),
        KvStore::redis(&redis.url).unwrap(),
    ];
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let kv = stores[i % 2].clone();
            std::thread::spawn(move || {
                for _ in 0..250 {
                    kv.increment("c", "n", 1).unwrap();
                }
                // A CAS loop: read, then swap only if unchanged.
                for _ in 0..25 {
                    loop {
                        let seen = kv.get("c", "cas").unwrap();
                        let n: u64 = seen
                            .as_deref()
                            .map_or(0, |b| std::str::from_utf8(b).unwrap().parse().unwrap());
                        let next = (n + 1).to_string();
                        if kv
                            .compare_and_swap("c", "cas", seen.as_deref(), next.as_bytes())
                            .unwrap()
                            .is_ok()
                        {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(stores[0].increment("c", "n", 0).unwrap(), 8 * 250);
    assert_eq!(
        stores[1].get("c", "cas").unwrap().as_deref(),
        Some("200".as_bytes())
    );
}

/// `host-test serve` as a child process, with its stderr collected.
struct ServeProcess {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
}

impl ServeProcess {
    fn start(component: &Path, config: &Path, redis_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_host-test"))
            .arg("--component")
            .arg(component)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .args(["--var", "upstream_key=sk-upstream-redis-test"])
            .args(["--var", "limited_key=sk-client-limited"])
            .args(["--var", "budgeted_key=sk-client-budgeted"])
            .args(["--redis", redis_url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if let Some(url) = line
                    .split_whitespace()
                    .find(|w| w.starts_with("http://127.0.0.1:"))
                {
                    let _ = tx.send(url.to_owned());
                }
                log.lock().unwrap().push_str(&line);
                log.lock().unwrap().push('\n');
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("serve did not start: {}", stderr.lock().unwrap()));
        Self { child, url, stderr }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// 12 input and 9 output tokens per mock answer: 12*5 + 9*10 = 150 micro-USD.
const COST: u64 = 150;
const RPM: usize = 25;
const BUDGET: u64 = 10 * COST;

/// What a budgeted call reserves before it is sent: its prompt's bytes +
/// 32 + 16 input tokens at 5 micro-USD, and `max_tokens` 9 at 10.
fn worst(prompt: &str) -> u64 {
    (prompt.len() as u64 + 48) * 5 + 9 * 10
}

fn config(mock: &str) -> Value {
    json!({
        "providers": [{"name": "mock", "kind": "openai", "base_url": format!("{mock}/v1"),
                       "api_key_variable": "upstream_key"}],
        "default_provider": "mock",
        "models": ["mock-model"],
        "cache": {"bucket": "default", "ttl_seconds": 300},
        "pricing": [{"model": "mock-model", "input": 5_000_000, "output": 10_000_000}],
        "state_bucket": "default",
        "clients": [
            {"name": "limited", "key_variable": "limited_key", "requests_per_minute": RPM},
            {"name": "budgeted", "key_variable": "budgeted_key", "budget_micro_usd": BUDGET}
        ]
    })
}

fn chat(prompt: &str) -> Value {
    json!({"model": "mock-model", "messages": [{"role": "user", "content": prompt}]})
}

async fn post(client: &Client, base: &str, key: &str, prompt: &str) -> (u16, Value) {
    let auth = format!("Bearer {key}");
    let mut body = chat(prompt);
    if key == "sk-client-budgeted" {
        body["max_tokens"] = json!(9);
    }
    let r = client
        .post_json(
            &format!("{base}/v1/chat/completions"),
            &[("authorization", &auth)],
            &body,
        )
        .await
        .unwrap();
    (r.status, r.json())
}

/// A counter of the budgeted client's cost tracker, read from Redis.
fn counter(redis: &RedisServer, key: &str) -> u64 {
    let kv = KvStore::redis(&redis.url).unwrap();
    kv.get("default", &format!("aigw:cost:budgeted:{key}"))
        .unwrap()
        .map_or(0, |b| std::str::from_utf8(&b).unwrap().parse().unwrap())
}

/// Fixed one-minute windows: start a burst early in a window, so it cannot
/// straddle two.
async fn wait_for_fresh_minute() {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let into = u64::try_from(ms % 60_000).unwrap();
    if into > 40_000 {
        tokio::time::sleep(Duration::from_millis(60_000 - into + 50)).await;
    }
}

/// One Redis, one mock upstream, and two `serve` processes sharing both.
struct TwoHosts {
    procs: [ServeProcess; 2],
    mock: MockServer,
    redis: RedisServer,
    _dir: tempfile::TempDir,
}

impl TwoHosts {
    async fn start() -> Self {
        let redis = RedisServer::start();
        let mock = MockServer::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("gateway.json");
        std::fs::write(&cfg, config(&mock.base_url()).to_string()).unwrap();
        let procs = [0, 1].map(|_| ServeProcess::start(component(), &cfg, &redis.url));
        Self {
            procs,
            mock,
            redis,
            _dir: dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_two_serve_processes_share_limits_budget_and_cache() {
    let hosts = TwoHosts::start().await;
    let mock = &hosts.mock;
    let bases = hosts.procs.each_ref().map(|p| p.url.clone());
    let client = Client::new();

    // 1. Cache: A's answer is served by B without a second upstream call.
    mock.reset();
    let (s1, first) = post(&client, &bases[0], "sk-client-limited", "cache me").await;
    let (s2, second) = post(&client, &bases[1], "sk-client-limited", "cache me").await;
    assert_eq!((s1, s2), (200, 200), "{first} {second}");
    assert_eq!(
        first["choices"][0]["message"]["content"],
        second["choices"][0]["message"]["content"]
    );
    assert_eq!(mock.hits(), 1, "B answered from the cache A wrote");

    // 2. Rate limit: 60 concurrent calls over both processes, 25 per minute
    // for this client in all: exactly 25 pass (the cache calls above used 2).
    wait_for_fresh_minute().await;
    mock.reset();
    let calls = (0..60).map(|i| {
        let client = client.clone();
        let base = bases[i % 2].clone();
        async move { post(&client, &base, "sk-client-limited", &format!("rl {i}")).await }
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let limited = results.iter().filter(|(s, _)| *s == 429).count();
    // The window may have turned over since the cache calls: 23 or 25.
    assert!(
        (ok == RPM - 2 || ok == RPM) && ok + limited == 60,
        "ok {ok}, limited {limited}: {:?}",
        results.iter().find(|(s, _)| *s != 200 && *s != 429)
    );
    assert_eq!(mock.hits(), ok, "refused calls never reach the upstream");

    // 3. Budget, concurrent: 64 calls at once over both processes. Each
    // reserves its worst case before it is sent, so the spend never passes
    // the budget, and every success is recorded exactly once.
    mock.reset();
    let prompts: Vec<String> = (0..64).map(|i| format!("budget {i:02}")).collect();
    let calls = prompts.iter().enumerate().map(|(i, p)| {
        let client = client.clone();
        let base = bases[i % 2].clone();
        async move { post(&client, &base, "sk-client-budgeted", p).await }
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count() as u64;
    let refused = results.iter().filter(|(s, _)| *s == 429).count() as u64;
    let w = worst(&prompts[0]);
    assert_eq!(ok + refused, 64, "{results:?}");
    assert!(
        ok >= BUDGET / w,
        "{ok} passed; {} worst cases fit",
        BUDGET / w
    );
    assert!(ok * COST <= BUDGET, "{ok} calls spent {}", ok * COST);
    assert_eq!(mock.hits() as u64, ok, "refused calls never reach upstream");
    assert_eq!(counter(&hosts.redis, "total:cost"), ok * COST, "exact");
    assert_eq!(counter(&hosts.redis, "total:requests"), ok, "exact");
    assert_eq!(counter(&hosts.redis, "reserved"), 0, "nothing held");
    // One at a time, alternating, until refused: the budget fills to
    // within one worst case, never past it.
    let mut spent = ok * COST;
    for i in 0.. {
        // New prompts of the same length: a cache hit would cost nothing.
        let p = format!("refill {i:02}");
        let (status, body) = post(&client, &bases[i % 2], "sk-client-budgeted", &p).await;
        if status == 429 {
            assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
            let msg = body["error"]["message"].as_str().unwrap();
            assert!(
                msg.starts_with(&format!(
                    "budget exceeded: spent {spent} of {BUDGET} micro-USD"
                )),
                "{msg}"
            );
            break;
        }
        assert_eq!(status, 200, "{body}");
        spent += COST;
    }
    assert!(spent <= BUDGET && spent + w > BUDGET, "spent {spent}");
    assert_eq!(counter(&hosts.redis, "total:cost"), spent);
    assert_eq!(mock.hits() as u64, spent / COST);

    // Nothing secret reached either process's log.
    for p in &hosts.procs {
        let log = p.stderr.lock().unwrap().clone();
        for secret in [
            "sk-upstream-redis-test",
            "sk-client-limited",
            "sk-client-budgeted",
        ] {
            assert!(!log.contains(secret), "{secret} in serve's log:\n{log}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_budget_is_exact_when_calls_alternate_between_processes() {
    let hosts = TwoHosts::start().await;
    let (procs, mock) = (&hosts.procs, &hosts.mock);
    let client = Client::new();
    // One call at a time, alternating: a call passes while the spend plus
    // its worst case (345) fits: 8 calls (1050 + 345 <= 1500 < 1200 + 345).
    let mut statuses = Vec::new();
    for i in 0..14 {
        let (s, _) = post(
            &client,
            &procs[i % 2].url,
            "sk-client-budgeted",
            &format!("b{i:02}"),
        )
        .await;
        statuses.push(s);
    }
    let passed = statuses.iter().take_while(|s| **s == 200).count();
    assert_eq!(worst("b00"), 345);
    assert_eq!(passed, 8, "{statuses:?}");
    assert!(statuses[passed..].iter().all(|s| *s == 429), "{statuses:?}");
    assert_eq!(mock.hits(), passed);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_readyz_is_503_while_the_store_is_down_and_livez_stays_200() {
    let mut redis = RedisServer::start();
    let mock = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gateway.json");
    std::fs::write(&cfg, config(&mock.base_url()).to_string()).unwrap();
    let serve = ServeProcess::start(component(), &cfg, &redis.url);
    let client = Client::new();
    let get = |path: &str| {
        let (client, url) = (client.clone(), format!("{}{path}", serve.url));
        async move { client.get(&url, &[]).await }
    };
    let ready = get("/readyz").await.unwrap();
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));
    let _ = redis.child.kill();
    let _ = redis.child.wait();
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert!(
        ready.text().starts_with("not ready: the key-value store"),
        "{}",
        ready.text()
    );
    assert!(!ready.text().contains("sk-"), "{}", ready.text());
    assert_eq!(get("/livez").await.unwrap().status, 200);
}

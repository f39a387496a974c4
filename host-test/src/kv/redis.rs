//! The Redis backend of [`super::KvStore`], through the `redis` crate
//! (docs/adr/0008-redis-crate-async-kv.md): the store shared by many host
//! processes, with `INCRBY` for exact counters, one Lua script for
//! compare-and-swap, and expiry done by Redis itself.
//!
//! Two ways to reach the server, one set of commands:
//! - blocking [`redis::Connection`]s in a small pool, for the synchronous
//!   [`super::KvStore`] API (tests, the CLI's setup);
//! - one [`ConnectionManager`] (a multiplexed async connection that
//!   reconnects after a failure), for the async `wasi:keyvalue` host imports,
//!   so `serve` never blocks a tokio thread on Redis. It is opened on first
//!   use, on the runtime that first uses it.
//!
//! A blocking connection that fails is dropped, never reused, so a half-read
//! reply can never be taken for the answer to the next command. Commands are
//! never retried: a lost reply to `INCRBY` must not count twice.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError, Value};

use super::{KvError, SEP};

/// Every key is `aigw:` + bucket + NUL + key (bucket names never hold NUL,
/// so buckets cannot collide: "a:b"/"c" vs "a"/"b:c").
const PREFIX: &str = "aigw:";
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle blocking connections kept for reuse.
const MAX_IDLE: usize = 32;
/// Keys asked for per `SCAN` round trip.
const SCAN_COUNT: u32 = 1000;

/// Compare-and-swap in one step: set `KEYS[1]` to `ARGV[2]` (expiring after
/// `ARGV[3]` ms unless 0) only if its value is `ARGV[1]` (`ARGV[4]` = "1") or
/// it is missing (`ARGV[4]` = "0"). Returns `{1}`, or `{0, current}`.
const CAS_SCRIPT: &str = r"
local cur = redis.call('GET', KEYS[1])
if ARGV[4] == '1' then
  if cur ~= ARGV[1] then return {0, cur} end
elseif cur then
  return {0, cur}
end
if ARGV[3] == '0' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return {1}
";

pub(super) fn key(bucket: &str, key: &str) -> Vec<u8> {
    format!("{PREFIX}{bucket}{SEP}{key}").into_bytes()
}

/// A `SCAN MATCH` pattern for every key of `bucket` (glob characters escaped).
fn bucket_pattern(bucket: &str) -> Vec<u8> {
    let mut p = String::from(PREFIX);
    for c in bucket.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push(SEP);
    p.push('*');
    p.into_bytes()
}

fn other(e: &RedisError) -> KvError {
    KvError::Other(format!("redis: {e}"))
}

/// The commands, built once for either connection kind.
pub(super) mod cmd {
    use super::{CAS_SCRIPT, Cmd, SCAN_COUNT, bucket_pattern, key};

    pub(crate) fn get(bucket: &str, k: &str) -> Cmd {
        let mut c = redis::cmd("GET");
        c.arg(key(bucket, k));
        c
    }

    /// `SET`, with `PX` expiry when the bucket has a TTL.
    pub(crate) fn set(bucket: &str, k: &str, value: &[u8], ttl_ms: Option<u64>) -> Cmd {
        let mut c = redis::cmd("SET");
        c.arg(key(bucket, k)).arg(value);
        if let Some(ms) = ttl_ms {
            c.arg("PX").arg(ms.max(1));
        }
        c
    }

    pub(crate) fn delete(bucket: &str, k: &str) -> Cmd {
        let mut c = redis::cmd("DEL");
        c.arg(key(bucket, k));
        c
    }

    pub(crate) fn exists(bucket: &str, k: &str) -> Cmd {
        let mut c = redis::cmd("EXISTS");
        c.arg(key(bucket, k));
        c
    }

    pub(crate) fn increment(bucket: &str, k: &str, delta: i64) -> Cmd {
        let mut c = redis::cmd("INCRBY");
        c.arg(key(bucket, k)).arg(delta);
        c
    }

    /// One `EVAL` of the compare-and-swap script: never two commands, so
    /// two hosts cannot both win.
    pub(crate) fn compare_and_swap(
        bucket: &str,
        k: &str,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl_ms: Option<u64>,
    ) -> Cmd {
        let mut c = redis::cmd("EVAL");
        c.arg(CAS_SCRIPT)
            .arg(1)
            .arg(key(bucket, k))
            .arg(expected.unwrap_or_default())
            .arg(new)
            .arg(ttl_ms.map_or(0, |t| t.max(1)))
            .arg(if expected.is_some() { "1" } else { "0" });
        c
    }

    pub(crate) fn scan(bucket: &str, cursor: u64) -> Cmd {
        let mut c = redis::cmd("SCAN");
        c.arg(cursor)
            .arg("MATCH")
            .arg(bucket_pattern(bucket))
            .arg("COUNT")
            .arg(SCAN_COUNT);
        c
    }
}

/// What the commands answered, as the store reports it.
pub(super) mod reply {
    use super::{KvError, RedisError, Value, other};

    pub(crate) fn increment(k: &str, r: Result<i64, RedisError>) -> Result<i64, KvError> {
        r.map_err(|e| {
            if e.to_string().contains("not an integer") {
                KvError::Other(format!("value of {k:?} is not an integer"))
            } else {
                other(&e)
            }
        })
    }

    pub(crate) fn compare_and_swap(r: Vec<Value>) -> Result<Result<(), Option<Vec<u8>>>, KvError> {
        match r.as_slice() {
            [Value::Int(1)] => Ok(Ok(())),
            [Value::Int(0)] | [Value::Int(0), Value::Nil] => Ok(Err(None)),
            [Value::Int(0), Value::BulkString(current)] => Ok(Err(Some(current.clone()))),
            _ => Err(KvError::Other("redis: unexpected CAS reply".into())),
        }
    }
}

/// One `SCAN` page into `found` (names without the bucket prefix); the next
/// cursor, or `None` when the scan is complete.
fn absorb_scan(
    bucket: &str,
    (next, keys): (u64, Vec<Vec<u8>>),
    found: &mut BTreeSet<String>,
) -> Option<u64> {
    let prefix = key(bucket, "");
    for k in keys {
        if let Some(name) = k
            .strip_prefix(prefix.as_slice())
            .and_then(|b| std::str::from_utf8(b).ok())
        {
            found.insert(name.to_owned());
        }
    }
    (next != 0).then_some(next)
}

/// A Redis server, reached through pooled blocking connections and one
/// lazily opened async connection manager. Share it with an `Arc`.
pub(super) struct Redis {
    client: redis::Client,
    /// `host:port`, for messages (never the password).
    addr: String,
    idle: Mutex<Vec<redis::Connection>>,
    manager: tokio::sync::OnceCell<ConnectionManager>,
}

impl Redis {
    /// Parse `url` (`redis://` or `rediss://`, with user, password and
    /// database) and check the server answers `PING`.
    pub(super) fn connect(url: &str) -> anyhow::Result<Self> {
        // rustls needs a process-wide crypto provider for rediss://; ring is
        // the one already in the tree. Err = one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The crate's parse errors never repeat the URL (and so the password).
        let client = redis::Client::open(url).context("invalid Redis URL")?;
        let addr = client.get_connection_info().addr().to_string();
        let redis = Self {
            client,
            addr,
            idle: Mutex::new(Vec::new()),
            manager: tokio::sync::OnceCell::new(),
        };
        let ping = redis::cmd("PING");
        redis
            .run::<String>(&ping)
            .map_err(anyhow::Error::new)
            .with_context(|| format!("Redis at {} does not answer", redis.addr))?;
        Ok(redis)
    }

    /// Run one command on a pooled blocking connection.
    pub(super) fn run<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RedisError> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => {
                let c = self.client.get_connection_with_timeout(IO_TIMEOUT)?;
                c.set_read_timeout(Some(IO_TIMEOUT))?;
                c.set_write_timeout(Some(IO_TIMEOUT))?;
                c
            }
        };
        let reply = cmd.query(&mut conn)?;
        // Only a connection whose reply was read in full goes back.
        if let Ok(mut v) = self.idle.lock()
            && v.len() < MAX_IDLE
        {
            v.push(conn);
        }
        Ok(reply)
    }

    async fn manager(&self) -> Result<ConnectionManager, RedisError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(IO_TIMEOUT))
            .set_number_of_retries(1);
        self.manager
            .get_or_try_init(|| self.client.get_connection_manager_with_config(config))
            .await
            .cloned()
    }

    /// Run one command on the async connection.
    pub(super) async fn run_async<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RedisError> {
        let mut conn = self.manager().await?;
        cmd.query_async(&mut conn).await
    }

    /// Every key of `bucket`, sorted, each once (`SCAN` may repeat keys).
    pub(super) fn bucket_keys(&self, bucket: &str) -> Result<Vec<String>, KvError> {
        let mut found = BTreeSet::new();
        let mut cursor = 0;
        loop {
            let page = self
                .run(&cmd::scan(bucket, cursor))
                .map_err(|e| other(&e))?;
            match absorb_scan(bucket, page, &mut found) {
                Some(next) => cursor = next,
                None => return Ok(found.into_iter().collect()),
            }
        }
    }

    /// [`Self::bucket_keys`] on the async connection.
    pub(super) async fn bucket_keys_async(&self, bucket: &str) -> Result<Vec<String>, KvError> {
        let mut found = BTreeSet::new();
        let mut cursor = 0;
        loop {
            let page = self
                .run_async(&cmd::scan(bucket, cursor))
                .await
                .map_err(|e| other(&e))?;
            match absorb_scan(bucket, page, &mut found) {
                Some(next) => cursor = next,
                None => return Ok(found.into_iter().collect()),
            }
        }
    }
}

/// A page of `all` (sorted) after `cursor`, like redb's paging.
pub(super) fn page_of(
    all: Vec<String>,
    cursor: Option<&str>,
    page: usize,
) -> (Vec<String>, Option<String>) {
    let mut keys: Vec<String> = all
        .into_iter()
        .filter(|k| cursor.is_none_or(|c| k.as_str() > c))
        .take(page.saturating_add(1))
        .collect();
    if keys.len() > page {
        keys.truncate(page);
        let next = keys.last().cloned();
        return (keys, next);
    }
    (keys, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_bucket_pattern_escapes_glob_characters() {
        assert_eq!(bucket_pattern("a*b?[c]\\"), b"aigw:a\\*b\\?\\[c\\]\\\\\0*");
        assert_eq!(key("b", "k"), b"aigw:b\0k");
    }

    #[test]
    fn redis_cas_replies_decode() {
        assert_eq!(reply::compare_and_swap(vec![Value::Int(1)]), Ok(Ok(())));
        assert_eq!(reply::compare_and_swap(vec![Value::Int(0)]), Ok(Err(None)));
        assert_eq!(
            reply::compare_and_swap(vec![Value::Int(0), Value::BulkString(b"x".to_vec())]),
            Ok(Err(Some(b"x".to_vec())))
        );
        assert!(reply::compare_and_swap(vec![]).is_err());
    }

    #[test]
    fn redis_url_forms_parse_without_showing_the_password() {
        let c = redis::Client::open("redis://app:s3cret@[::1]:7000/2").unwrap();
        assert_eq!(c.get_connection_info().addr().to_string(), "::1:7000");
        assert!(redis::Client::open("rediss://h").is_ok());
        assert!(redis::Client::open("http://h").is_err());
        let e = redis::Client::open("redis://:s3cret@h/x").err().unwrap();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn redis_tls_url_to_a_closed_port_is_an_error_without_the_password() {
        // rediss:// goes through rustls (ring installed as the provider):
        // a refused connection is an error value, never a panic.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = Redis::connect(&format!("rediss://:pw-SECRET@127.0.0.1:{port}"))
            .err()
            .unwrap();
        let msg = format!("{e:#}");
        assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
        assert!(!msg.contains("SECRET"), "{msg}");
    }

    #[test]
    fn redis_pages_sorted_keys_by_cursor() {
        let all: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(
            page_of(all.clone(), None, 2),
            (vec!["a".into(), "b".into()], Some("b".into()))
        );
        assert_eq!(page_of(all, Some("b"), 2), (vec!["c".into()], None));
    }
}

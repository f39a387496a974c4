//! `wasi:keyvalue@0.2.0-draft2` (store + atomics) for wasmtime, over one of
//! two backends (docs/adr/0003-host-key-value-store.md, 0007):
//!
//! - **redb** (default): an embedded, crash-safe, MVCC key-value database in
//!   pure Rust, shared by every instance of one process;
//! - **Redis** ([`KvStore::redis`]): the store shared by many host processes,
//!   with `INCRBY` for exact counters and expiry done by Redis itself.
//!
//! redb layout:
//! One redb table holds every bucket (`bucket \0 key`). Values carry an
//! optional expiry (ms since the epoch); expired entries read as missing and
//! are removed lazily. A bucket can be given a default TTL by the host.
//! `increment` runs in one write transaction, and redb serializes writers,
//! so increments from many component instances sharing one `KvStore` are
//! exact.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use crate::redis::{RedisClient, Reply};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};

const TABLE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("kv");
const SEP: char = '\u{0}';

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A store failure, as `wasi:keyvalue` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl<E: std::fmt::Display> From<E> for KvError {
    fn from(e: E) -> Self {
        Self::Other(e.to_string())
    }
}

/// The shared store. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct KvStore {
    backend: Backend,
    /// Buckets the host exposes; `None` = any name.
    allowed: Option<Arc<Vec<String>>>,
    ttl_ms: Arc<HashMap<String, u64>>,
}

#[derive(Clone)]
enum Backend {
    Redb {
        db: Arc<Database>,
        durability: Durability,
    },
    Redis(Arc<RedisClient>),
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::Redb { .. } => "redb",
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("KvStore")
            .field("backend", &backend)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

/// Redis keys: `aigw:` + bucket + NUL + key (bucket names never hold NUL).
const REDIS_PREFIX: &str = "aigw:";

fn redis_key(bucket: &str, key: &str) -> Vec<u8> {
    format!("{REDIS_PREFIX}{bucket}{SEP}{key}").into_bytes()
}

/// A `SCAN MATCH` pattern for every key of `bucket` (glob characters escaped).
fn redis_bucket_pattern(bucket: &str) -> Vec<u8> {
    let mut p = String::from(REDIS_PREFIX);
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

fn full_key(bucket: &str, key: &str) -> String {
    format!("{bucket}{SEP}{key}")
}

/// Stored value: 8 bytes of expiry (0 = never), then the payload.
fn encode(expires_at: u64, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&expires_at.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

fn decode(raw: &[u8], now: u64) -> Option<&[u8]> {
    let (exp, payload) = raw.split_at_checked(8)?;
    let exp = u64::from_le_bytes(exp.try_into().ok()?);
    (exp == 0 || now < exp).then_some(payload)
}

impl KvStore {
    /// Open (or create) the redb database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = Database::create(path)
            .with_context(|| format!("opening key-value database {}", path.display()))?;
        let tx = db.begin_write()?;
        tx.open_table(TABLE)?;
        tx.commit()?;
        Ok(Self::with_backend(Backend::Redb {
            db: Arc::new(db),
            durability: Durability::Immediate,
        }))
    }

    /// The store in Redis at `url` (`redis://[[user]:password@]host[:port][/db]`),
    /// shared by every process that opens the same URL.
    pub fn redis(url: &str) -> anyhow::Result<Self> {
        let client = RedisClient::connect(url)?;
        Ok(Self::with_backend(Backend::Redis(Arc::new(client))))
    }

    fn with_backend(backend: Backend) -> Self {
        Self {
            backend,
            allowed: None,
            ttl_ms: Arc::default(),
        }
    }

    /// A store in a fresh temporary file (tests).
    pub fn temporary() -> anyhow::Result<(Self, tempfile::TempDir)> {
        let dir = tempfile::tempdir()?;
        let store = Self::open(&dir.path().join("kv.redb"))?;
        Ok((store, dir))
    }

    /// Only these bucket names open; others fail with `no-such-store`.
    pub fn with_buckets(mut self, names: &[&str]) -> Self {
        self.allowed = Some(Arc::new(names.iter().map(|s| (*s).to_owned()).collect()));
        self
    }

    /// Entries written to `bucket` expire after `ttl_ms`.
    pub fn with_ttl(mut self, bucket: &str, ttl_ms: u64) -> Self {
        let mut m = (*self.ttl_ms).clone();
        m.insert(bucket.to_owned(), ttl_ms);
        self.ttl_ms = Arc::new(m);
        self
    }

    /// redb: commit without fsync (a crash may lose the last writes).
    /// Redis keeps its own persistence settings.
    pub fn relaxed(mut self) -> Self {
        if let Backend::Redb { durability, .. } = &mut self.backend {
            *durability = Durability::None;
        }
        self
    }

    pub fn check_bucket(&self, name: &str) -> Result<(), KvError> {
        if name.is_empty() || name.contains(SEP) {
            return Err(KvError::NoSuchStore);
        }
        match &self.allowed {
            Some(a) if !a.iter().any(|b| b == name) => Err(KvError::NoSuchStore),
            _ => Ok(()),
        }
    }

    fn ttl(&self, bucket: &str) -> Option<u64> {
        self.ttl_ms.get(bucket).copied()
    }

    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match &self.backend {
            Backend::Redb { db, durability } => redb_get(db, *durability, bucket, key),
            Backend::Redis(r) => Ok(r
                .cmd(&[b"GET", &redis_key(bucket, key)])
                .map_err(KvError::Other)?
                .into_bytes()),
        }
    }

    pub fn set(&self, bucket: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        match &self.backend {
            Backend::Redb { db, durability } => {
                let exp = self.ttl(bucket).map_or(0, |t| now_ms().saturating_add(t));
                let tx = write_tx(db, *durability)?;
                {
                    let mut table = tx.open_table(TABLE)?;
                    table.insert(
                        full_key(bucket, key).as_str(),
                        encode(exp, value).as_slice(),
                    )?;
                }
                tx.commit()?;
                Ok(())
            }
            Backend::Redis(r) => {
                let k = redis_key(bucket, key);
                let ttl = self.ttl(bucket).map(|t| t.max(1).to_string());
                let reply = match &ttl {
                    Some(ms) => r.cmd(&[b"SET", &k, value, b"PX", ms.as_bytes()]),
                    None => r.cmd(&[b"SET", &k, value]),
                };
                reply.map(drop).map_err(KvError::Other)
            }
        }
    }

    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), KvError> {
        match &self.backend {
            Backend::Redb { db, durability } => redb_delete(db, *durability, bucket, key),
            Backend::Redis(r) => r
                .cmd(&[b"DEL", &redis_key(bucket, key)])
                .map(drop)
                .map_err(KvError::Other),
        }
    }

    pub fn exists(&self, bucket: &str, key: &str) -> Result<bool, KvError> {
        match &self.backend {
            Backend::Redb { .. } => Ok(self.get(bucket, key)?.is_some()),
            Backend::Redis(r) => match r.cmd(&[b"EXISTS", &redis_key(bucket, key)]) {
                Ok(Reply::Int(n)) => Ok(n > 0),
                Ok(other) => Err(KvError::Other(format!("redis: EXISTS answered {other:?}"))),
                Err(e) => Err(KvError::Other(e)),
            },
        }
    }

    /// Atomically add `delta` to a decimal counter (missing = 0).
    pub fn increment(&self, bucket: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        match &self.backend {
            Backend::Redb { db, durability } => redb_increment(db, *durability, bucket, key, delta),
            Backend::Redis(r) => {
                match r.cmd(&[
                    b"INCRBY",
                    &redis_key(bucket, key),
                    delta.to_string().as_bytes(),
                ]) {
                    Ok(Reply::Int(n)) => Ok(n),
                    Ok(other) => Err(KvError::Other(format!("redis: INCRBY answered {other:?}"))),
                    Err(e) if e.contains("not an integer") => Err(KvError::Other(format!(
                        "value of {key:?} is not an integer"
                    ))),
                    Err(e) => Err(KvError::Other(e)),
                }
            }
        }
    }

    /// Set `key` to `new` only if its value is still `expected` (`None` =
    /// missing), in one atomic step. `Ok(Err(current))` when it changed.
    pub fn compare_and_swap(
        &self,
        bucket: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Result<(), Option<Vec<u8>>>, KvError> {
        match &self.backend {
            Backend::Redb { db, durability } => {
                let exp = self.ttl(bucket).map_or(0, |t| now_ms().saturating_add(t));
                let tx = write_tx(db, *durability)?;
                let outcome = {
                    let mut table = tx.open_table(TABLE)?;
                    let k = full_key(bucket, key);
                    let current = table
                        .get(k.as_str())?
                        .and_then(|raw| decode(raw.value(), now_ms()).map(<[u8]>::to_vec));
                    if current.as_deref() == expected {
                        table.insert(k.as_str(), encode(exp, new).as_slice())?;
                        Ok(())
                    } else {
                        Err(current)
                    }
                };
                tx.commit()?;
                Ok(outcome)
            }
            Backend::Redis(r) => {
                let ttl = self.ttl(bucket).map_or(0, |t| t.max(1)).to_string();
                let reply = r
                    .cmd(&[
                        b"EVAL",
                        CAS_SCRIPT.as_bytes(),
                        b"1",
                        &redis_key(bucket, key),
                        expected.unwrap_or_default(),
                        new,
                        ttl.as_bytes(),
                        if expected.is_some() { b"1" } else { b"0" },
                    ])
                    .map_err(KvError::Other)?;
                match reply {
                    Reply::Array(items) => match items.as_slice() {
                        [Reply::Int(1)] => Ok(Ok(())),
                        [Reply::Int(0)] => Ok(Err(None)),
                        [Reply::Int(0), current] => Ok(Err(current.clone().into_bytes())),
                        _ => Err(KvError::Other("redis: unexpected CAS reply".into())),
                    },
                    _ => Err(KvError::Other("redis: unexpected CAS reply".into())),
                }
            }
        }
    }

    /// Keys of `bucket` after `cursor` (exclusive), in order, at most `page`
    /// of them, and the cursor for the next page.
    pub fn list_keys(
        &self,
        bucket: &str,
        cursor: Option<&str>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), KvError> {
        match &self.backend {
            Backend::Redb { db, .. } => redb_list_keys(db, bucket, cursor, page),
            Backend::Redis(r) => {
                // SCAN may repeat keys and has no order, so the whole bucket
                // is read, sorted and paged by key like redb (every key once).
                let all = redis_bucket_keys(r, bucket)?;
                let mut keys: Vec<String> = all
                    .into_iter()
                    .filter(|k| cursor.is_none_or(|c| k.as_str() > c))
                    .take(page.saturating_add(1))
                    .collect();
                if keys.len() > page {
                    keys.truncate(page);
                    let next = keys.last().cloned();
                    return Ok((keys, next));
                }
                Ok((keys, None))
            }
        }
    }

    /// Remove every expired entry; returns how many. (Redis expires keys
    /// itself: 0.)
    pub fn sweep(&self) -> Result<usize, KvError> {
        let Backend::Redb { db, durability } = &self.backend else {
            return Ok(0);
        };
        let now = now_ms();
        let tx = write_tx(db, *durability)?;
        let n = {
            let mut table = tx.open_table(TABLE)?;
            let before = table.len()?;
            table.retain(|_, v| decode(v, now).is_some())?;
            before.saturating_sub(table.len()?)
        };
        tx.commit()?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

fn write_tx(db: &Database, durability: Durability) -> Result<redb::WriteTransaction, KvError> {
    let mut tx = db.begin_write()?;
    tx.set_durability(durability)?;
    Ok(tx)
}

fn redb_get(
    db: &Database,
    durability: Durability,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, KvError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(TABLE)?;
    let k = full_key(bucket, key);
    let Some(raw) = table.get(k.as_str())? else {
        return Ok(None);
    };
    let value = raw.value();
    match decode(value, now_ms()) {
        Some(p) => Ok(Some(p.to_vec())),
        None => {
            drop(raw);
            drop(table);
            drop(tx);
            redb_delete(db, durability, bucket, key)?;
            Ok(None)
        }
    }
}

fn redb_delete(
    db: &Database,
    durability: Durability,
    bucket: &str,
    key: &str,
) -> Result<(), KvError> {
    let tx = write_tx(db, durability)?;
    {
        let mut table = tx.open_table(TABLE)?;
        table.remove(full_key(bucket, key).as_str())?;
    }
    tx.commit()?;
    Ok(())
}

fn redb_increment(
    db: &Database,
    durability: Durability,
    bucket: &str,
    key: &str,
    delta: i64,
) -> Result<i64, KvError> {
    let tx = write_tx(db, durability)?;
    let new = {
        let mut table = tx.open_table(TABLE)?;
        let k = full_key(bucket, key);
        let current = match table.get(k.as_str())? {
            Some(raw) => match decode(raw.value(), now_ms()) {
                Some(p) => std::str::from_utf8(p)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .ok_or_else(|| KvError::Other(format!("value of {key:?} is not an integer")))?,
                None => 0,
            },
            None => 0,
        };
        let new = current
            .checked_add(delta)
            .ok_or_else(|| KvError::Other("counter overflow".into()))?;
        table.insert(k.as_str(), encode(0, new.to_string().as_bytes()).as_slice())?;
        new
    };
    tx.commit()?;
    Ok(new)
}

fn redb_list_keys(
    db: &Database,
    bucket: &str,
    cursor: Option<&str>,
    page: usize,
) -> Result<(Vec<String>, Option<String>), KvError> {
    let tx = db.begin_read()?;
    let table = tx.open_table(TABLE)?;
    let prefix = format!("{bucket}{SEP}");
    let start = match cursor {
        Some(c) => full_key(bucket, c),
        None => prefix.clone(),
    };
    let now = now_ms();
    let mut keys = Vec::new();
    for item in table.range(start.as_str()..)? {
        let (k, v) = item?;
        let k = k.value();
        let Some(name) = k.strip_prefix(&prefix) else {
            break;
        };
        if cursor == Some(name) || decode(v.value(), now).is_none() {
            continue;
        }
        if keys.len() == page {
            return Ok((keys.clone(), keys.last().cloned()));
        }
        keys.push(name.to_owned());
    }
    Ok((keys, None))
}

/// Every key of `bucket` in Redis, sorted, each once.
fn redis_bucket_keys(r: &RedisClient, bucket: &str) -> Result<Vec<String>, KvError> {
    let pattern = redis_bucket_pattern(bucket);
    let prefix = redis_key(bucket, "");
    let mut found = std::collections::BTreeSet::new();
    let mut cursor = b"0".to_vec();
    loop {
        let reply = r
            .cmd(&[b"SCAN", &cursor, b"MATCH", &pattern, b"COUNT", b"1000"])
            .map_err(KvError::Other)?;
        let Reply::Array(mut parts) = reply else {
            return Err(KvError::Other("redis: unexpected SCAN reply".into()));
        };
        let (Some(Reply::Array(keys)), Some(Reply::Bytes(next))) = (parts.pop(), parts.pop())
        else {
            return Err(KvError::Other("redis: unexpected SCAN reply".into()));
        };
        for k in keys {
            if let Some(name) = k
                .into_bytes()
                .and_then(|b| b.strip_prefix(prefix.as_slice()).map(<[u8]>::to_vec))
                .and_then(|b| String::from_utf8(b).ok())
            {
                found.insert(name);
            }
        }
        if next == b"0" {
            return Ok(found.into_iter().collect());
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_set_get_delete_and_bucket_isolation() {
        let (kv, _d) = KvStore::temporary().unwrap();
        kv.set("a", "k", b"1").unwrap();
        kv.set("b", "k", b"2").unwrap();
        assert_eq!(kv.get("a", "k").unwrap().as_deref(), Some(&b"1"[..]));
        assert_eq!(kv.get("b", "k").unwrap().as_deref(), Some(&b"2"[..]));
        kv.delete("a", "k").unwrap();
        assert_eq!(kv.get("a", "k").unwrap(), None);
        assert!(kv.exists("b", "k").unwrap());
    }

    #[test]
    fn kv_ttl_expires_entries() {
        let (kv, _d) = KvStore::temporary().unwrap();
        let kv = kv.with_ttl("short", 30);
        kv.set("short", "k", b"v").unwrap();
        kv.set("long", "k", b"v").unwrap();
        assert!(kv.exists("short", "k").unwrap());
        std::thread::sleep(std::time::Duration::from_millis(60));
        assert!(!kv.exists("short", "k").unwrap());
        assert!(kv.exists("long", "k").unwrap());
        kv.set("short", "k2", b"v").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(60));
        assert_eq!(kv.sweep().unwrap(), 1);
    }

    #[test]
    fn kv_increment_is_exact_across_threads() {
        let (kv, _d) = KvStore::temporary().unwrap();
        let kv = kv.relaxed();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let kv = kv.clone();
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        kv.increment("c", "n", 1).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(kv.increment("c", "n", 0).unwrap(), 1000);
        kv.set("c", "bad", b"x").unwrap();
        assert!(kv.increment("c", "bad", 1).is_err());
    }

    #[test]
    fn kv_list_keys_pages_through_one_bucket() {
        let (kv, _d) = KvStore::temporary().unwrap();
        for i in 0..5 {
            kv.set("b", &format!("k{i}"), b"v").unwrap();
        }
        kv.set("c", "other", b"v").unwrap();
        let (p1, c1) = kv.list_keys("b", None, 2).unwrap();
        assert_eq!(p1, ["k0", "k1"]);
        let (p2, c2) = kv.list_keys("b", c1.as_deref(), 2).unwrap();
        assert_eq!(p2, ["k2", "k3"]);
        let (p3, c3) = kv.list_keys("b", c2.as_deref(), 2).unwrap();
        assert_eq!(p3, ["k4"]);
        assert_eq!(c3, None);
    }

    #[test]
    fn kv_unknown_bucket_rejected_when_restricted() {
        let (kv, _d) = KvStore::temporary().unwrap();
        let kv = kv.with_buckets(&["default"]);
        assert_eq!(kv.check_bucket("default"), Ok(()));
        assert_eq!(kv.check_bucket("other"), Err(KvError::NoSuchStore));
    }
}

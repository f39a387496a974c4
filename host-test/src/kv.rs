//! `wasi:keyvalue@0.2.0-draft2` (store + atomics) for wasmtime, over redb:
//! an embedded, crash-safe, MVCC key-value database in pure Rust (see
//! docs/adr/0003-host-key-value-store.md).
//!
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
    db: Arc<Database>,
    /// Buckets the host exposes; `None` = any name.
    allowed: Option<Arc<Vec<String>>>,
    ttl_ms: Arc<HashMap<String, u64>>,
    durability: Durability,
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStore")
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

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
    /// Open (or create) the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = Database::create(path)
            .with_context(|| format!("opening key-value database {}", path.display()))?;
        let tx = db.begin_write()?;
        tx.open_table(TABLE)?;
        tx.commit()?;
        Ok(Self {
            db: Arc::new(db),
            allowed: None,
            ttl_ms: Arc::default(),
            durability: Durability::Immediate,
        })
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

    /// Commit without fsync (benchmarks; a crash may lose the last writes).
    pub fn relaxed(mut self) -> Self {
        self.durability = Durability::None;
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

    fn write_tx(&self) -> Result<redb::WriteTransaction, KvError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(self.durability)?;
        Ok(tx)
    }

    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let tx = self.db.begin_read()?;
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
                self.delete(bucket, key)?;
                Ok(None)
            }
        }
    }

    pub fn set(&self, bucket: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        let exp = self
            .ttl_ms
            .get(bucket)
            .map_or(0, |ttl| now_ms().saturating_add(*ttl));
        let tx = self.write_tx()?;
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

    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), KvError> {
        let tx = self.write_tx()?;
        {
            let mut table = tx.open_table(TABLE)?;
            table.remove(full_key(bucket, key).as_str())?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn exists(&self, bucket: &str, key: &str) -> Result<bool, KvError> {
        Ok(self.get(bucket, key)?.is_some())
    }

    /// Atomically add `delta` to a decimal counter (missing = 0).
    pub fn increment(&self, bucket: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        let tx = self.write_tx()?;
        let new = {
            let mut table = tx.open_table(TABLE)?;
            let k = full_key(bucket, key);
            let current = match table.get(k.as_str())? {
                Some(raw) => match decode(raw.value(), now_ms()) {
                    Some(p) => std::str::from_utf8(p)
                        .ok()
                        .and_then(|s| s.trim().parse::<i64>().ok())
                        .ok_or_else(|| {
                            KvError::Other(format!("value of {key:?} is not an integer"))
                        })?,
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

    /// Keys of `bucket` after `cursor` (exclusive), at most `page` of them,
    /// and the cursor for the next page.
    pub fn list_keys(
        &self,
        bucket: &str,
        cursor: Option<&str>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), KvError> {
        let tx = self.db.begin_read()?;
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

    /// Remove every expired entry; returns how many.
    pub fn sweep(&self) -> Result<usize, KvError> {
        let now = now_ms();
        let tx = self.write_tx()?;
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

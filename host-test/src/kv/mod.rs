//! `wasi:keyvalue@0.2.0-draft2` (store + atomics) storage for wasmtime, over
//! one of two backends (docs/adr/0003-host-key-value-store.md, 0007, 0008):
//!
//! - **redb** (default, [`redb`]): an embedded, crash-safe, MVCC key-value
//!   database in pure Rust, shared by every instance of one process;
//! - **Redis** ([`KvStore::redis`], [`redis`]): the store shared by many host
//!   processes, with `INCRBY` for exact counters and expiry done by Redis.
//!
//! Every operation has a blocking form (`get`, ...) for tests and the CLI,
//! and an async form (`get_async`, ...) for the `wasi:keyvalue` host
//! imports: Redis through its async connection, redb on tokio's blocking
//! pool, so no runtime thread ever waits for storage.

mod redb;
mod redis;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use self::redb::Redb;
use self::redis::{Redis, cmd, reply};

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
    Redb(Redb),
    Redis(Arc<Redis>),
}

impl std::fmt::Debug for KvStore {
    /// Names the backend only: a Redis URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::Redb(_) => "redb",
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("KvStore")
            .field("backend", &backend)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

/// Run a blocking redb call on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    db: &Redb,
    f: impl FnOnce(&Redb) -> Result<T, KvError> + Send + 'static,
) -> Result<T, KvError> {
    let db = db.clone();
    tokio::task::spawn_blocking(move || f(&db))
        .await
        .map_err(|e| KvError::Other(format!("key-value task failed: {e}")))?
}

fn redis_err(e: &::redis::RedisError) -> KvError {
    KvError::Other(format!("redis: {e}"))
}

impl KvStore {
    /// Open (or create) the redb database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Ok(Self::with_backend(Backend::Redb(Redb::open(path)?)))
    }

    /// The store in Redis at `url`
    /// (`redis[s]://[[user]:password@]host[:port][/db]`), shared by every
    /// process that opens the same URL. Checks the server answers.
    pub fn redis(url: &str) -> anyhow::Result<Self> {
        Ok(Self::with_backend(Backend::Redis(Arc::new(
            Redis::connect(url)?,
        ))))
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
        if let Backend::Redb(db) = &mut self.backend {
            db.relax();
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
            Backend::Redb(db) => db.get(bucket, key),
            Backend::Redis(r) => r.run(&cmd::get(bucket, key)).map_err(|e| redis_err(&e)),
        }
    }

    pub fn set(&self, bucket: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        let ttl = self.ttl(bucket);
        match &self.backend {
            Backend::Redb(db) => db.set(bucket, key, value, ttl),
            Backend::Redis(r) => r
                .run(&cmd::set(bucket, key, value, ttl))
                .map_err(|e| redis_err(&e)),
        }
    }

    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), KvError> {
        match &self.backend {
            Backend::Redb(db) => db.delete(bucket, key),
            Backend::Redis(r) => r.run(&cmd::delete(bucket, key)).map_err(|e| redis_err(&e)),
        }
    }

    pub fn exists(&self, bucket: &str, key: &str) -> Result<bool, KvError> {
        match &self.backend {
            Backend::Redb(db) => Ok(db.get(bucket, key)?.is_some()),
            Backend::Redis(r) => r.run(&cmd::exists(bucket, key)).map_err(|e| redis_err(&e)),
        }
    }

    /// Atomically add `delta` to a decimal counter (missing = 0).
    pub fn increment(&self, bucket: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        match &self.backend {
            Backend::Redb(db) => db.increment(bucket, key, delta),
            Backend::Redis(r) => reply::increment(key, r.run(&cmd::increment(bucket, key, delta))),
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
        let ttl = self.ttl(bucket);
        match &self.backend {
            Backend::Redb(db) => db.compare_and_swap(bucket, key, expected, new, ttl),
            Backend::Redis(r) => reply::compare_and_swap(
                r.run(&cmd::compare_and_swap(bucket, key, expected, new, ttl))
                    .map_err(|e| redis_err(&e))?,
            ),
        }
    }

    /// Keys of `bucket` after `cursor` (exclusive), in order, at most `page`
    /// of them, and the cursor for the next page.
    ///
    /// Redis: `SCAN` may repeat keys and has no order, so the whole bucket
    /// is read, de-duplicated, sorted and paged by key like redb.
    pub fn list_keys(
        &self,
        bucket: &str,
        cursor: Option<&str>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), KvError> {
        match &self.backend {
            Backend::Redb(db) => db.list_keys(bucket, cursor, page),
            Backend::Redis(r) => Ok(redis::page_of(r.bucket_keys(bucket)?, cursor, page)),
        }
    }

    /// Remove every expired entry; returns how many. (Redis expires keys
    /// itself: 0.)
    pub fn sweep(&self) -> Result<usize, KvError> {
        match &self.backend {
            Backend::Redb(db) => db.sweep(),
            Backend::Redis(_) => Ok(0),
        }
    }

    /// [`Self::get`], without blocking the async runtime.
    pub async fn get_async(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match &self.backend {
            Backend::Redb(db) => {
                let (b, k) = (bucket.to_owned(), key.to_owned());
                blocking(db, move |db| db.get(&b, &k)).await
            }
            Backend::Redis(r) => r
                .run_async(&cmd::get(bucket, key))
                .await
                .map_err(|e| redis_err(&e)),
        }
    }

    /// [`Self::set`], without blocking the async runtime.
    pub async fn set_async(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        let ttl = self.ttl(bucket);
        match &self.backend {
            Backend::Redb(db) => {
                let (b, k) = (bucket.to_owned(), key.to_owned());
                blocking(db, move |db| db.set(&b, &k, &value, ttl)).await
            }
            Backend::Redis(r) => r
                .run_async(&cmd::set(bucket, key, &value, ttl))
                .await
                .map_err(|e| redis_err(&e)),
        }
    }

    /// [`Self::delete`], without blocking the async runtime.
    pub async fn delete_async(&self, bucket: &str, key: &str) -> Result<(), KvError> {
        match &self.backend {
            Backend::Redb(db) => {
                let (b, k) = (bucket.to_owned(), key.to_owned());
                blocking(db, move |db| db.delete(&b, &k)).await
            }
            Backend::Redis(r) => r
                .run_async(&cmd::delete(bucket, key))
                .await
                .map_err(|e| redis_err(&e)),
        }
    }

    /// [`Self::exists`], without blocking the async runtime.
    pub async fn exists_async(&self, bucket: &str, key: &str) -> Result<bool, KvError> {
        match &self.backend {
            Backend::Redb(_) => Ok(self.get_async(bucket, key).await?.is_some()),
            Backend::Redis(r) => r
                .run_async(&cmd::exists(bucket, key))
                .await
                .map_err(|e| redis_err(&e)),
        }
    }

    /// [`Self::increment`], without blocking the async runtime.
    pub async fn increment_async(
        &self,
        bucket: &str,
        key: &str,
        delta: i64,
    ) -> Result<i64, KvError> {
        match &self.backend {
            Backend::Redb(db) => {
                let (b, k) = (bucket.to_owned(), key.to_owned());
                blocking(db, move |db| db.increment(&b, &k, delta)).await
            }
            Backend::Redis(r) => {
                reply::increment(key, r.run_async(&cmd::increment(bucket, key, delta)).await)
            }
        }
    }

    /// [`Self::compare_and_swap`], without blocking the async runtime.
    pub async fn compare_and_swap_async(
        &self,
        bucket: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        new: Vec<u8>,
    ) -> Result<Result<(), Option<Vec<u8>>>, KvError> {
        let ttl = self.ttl(bucket);
        match &self.backend {
            Backend::Redb(db) => {
                let (b, k) = (bucket.to_owned(), key.to_owned());
                blocking(db, move |db| {
                    db.compare_and_swap(&b, &k, expected.as_deref(), &new, ttl)
                })
                .await
            }
            Backend::Redis(r) => reply::compare_and_swap(
                r.run_async(&cmd::compare_and_swap(
                    bucket,
                    key,
                    expected.as_deref(),
                    &new,
                    ttl,
                ))
                .await
                .map_err(|e| redis_err(&e))?,
            ),
        }
    }

    /// [`Self::list_keys`], without blocking the async runtime.
    pub async fn list_keys_async(
        &self,
        bucket: &str,
        cursor: Option<String>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), KvError> {
        match &self.backend {
            Backend::Redb(db) => {
                let b = bucket.to_owned();
                blocking(db, move |db| db.list_keys(&b, cursor.as_deref(), page)).await
            }
            Backend::Redis(r) => Ok(redis::page_of(
                r.bucket_keys_async(bucket).await?,
                cursor.as_deref(),
                page,
            )),
        }
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

//! The redb backend of [`super::KvStore`]: an embedded, crash-safe, MVCC
//! key-value database in pure Rust, shared by every instance of one process
//! (docs/adr/0003-host-key-value-store.md).
//!
//! One redb table holds every bucket (`bucket \0 key`). Values carry an
//! optional expiry (ms since the epoch); expired entries read as missing and
//! are removed lazily. `increment` and `compare_and_swap` each run in one
//! write transaction, and redb serializes writers, so they are exact across
//! every component instance sharing one store.
//!
//! Every call here blocks on the database (a commit may fsync): the async
//! host imports run them on tokio's blocking pool.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};

use super::{KvError, SEP, now_ms};

const TABLE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("kv");

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

/// Expiry time for an entry written now to a bucket with `ttl_ms`.
fn expiry(ttl_ms: Option<u64>) -> u64 {
    ttl_ms.map_or(0, |t| now_ms().saturating_add(t))
}

/// An open database. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub(super) struct Redb {
    db: Arc<Database>,
    durability: Durability,
}

impl Redb {
    pub(super) fn open(path: &Path) -> anyhow::Result<Self> {
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
            durability: Durability::Immediate,
        })
    }

    /// Commit without fsync (a crash may lose the last writes).
    pub(super) fn relax(&mut self) {
        self.durability = Durability::None;
    }

    fn write_tx(&self) -> Result<redb::WriteTransaction, KvError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(self.durability)?;
        Ok(tx)
    }

    pub(super) fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
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

    pub(super) fn set(
        &self,
        bucket: &str,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), KvError> {
        let tx = self.write_tx()?;
        {
            let mut table = tx.open_table(TABLE)?;
            table.insert(
                full_key(bucket, key).as_str(),
                encode(expiry(ttl_ms), value).as_slice(),
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn delete(&self, bucket: &str, key: &str) -> Result<(), KvError> {
        let tx = self.write_tx()?;
        {
            let mut table = tx.open_table(TABLE)?;
            table.remove(full_key(bucket, key).as_str())?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(super) fn increment(&self, bucket: &str, key: &str, delta: i64) -> Result<i64, KvError> {
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

    /// Compare and set in one write transaction.
    pub(super) fn compare_and_swap(
        &self,
        bucket: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<Result<(), Option<Vec<u8>>>, KvError> {
        let tx = self.write_tx()?;
        let outcome = {
            let mut table = tx.open_table(TABLE)?;
            let k = full_key(bucket, key);
            let current = table
                .get(k.as_str())?
                .and_then(|raw| decode(raw.value(), now_ms()).map(<[u8]>::to_vec));
            if current.as_deref() == expected {
                table.insert(k.as_str(), encode(expiry(ttl_ms), new).as_slice())?;
                Ok(())
            } else {
                Err(current)
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    pub(super) fn list_keys(
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
    pub(super) fn sweep(&self) -> Result<usize, KvError> {
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

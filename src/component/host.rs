//! Clock, randomness, logging and key-value ports over WASI.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::bindings::wasi::clocks::{monotonic_clock, wall_clock};
use super::bindings::wasi::keyvalue::{atomics, store};
use super::bindings::wasi::random::random;
use crate::ports::{Clock, Kv, KvError, LogSink, Random};

const NS_PER_MS: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct WasiClock;

impl Clock for WasiClock {
    fn now_ms(&self) -> u64 {
        let t = wall_clock::now();
        t.seconds
            .saturating_mul(1000)
            .saturating_add(u64::from(t.nanoseconds) / 1_000_000)
    }

    fn monotonic_ms(&self) -> u64 {
        monotonic_clock::now() / NS_PER_MS
    }

    fn sleep_ms(&self, ms: u64) {
        monotonic_clock::subscribe_duration(ms.saturating_mul(NS_PER_MS)).block();
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WasiRandom;

impl Random for WasiRandom {
    fn next_u64(&self) -> u64 {
        random::get_random_u64()
    }
}

/// Log lines go to stderr (`wasi:cli/stderr` through std).
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrLog;

impl LogSink for StderrLog {
    fn line(&self, json: &str) {
        eprintln!("{json}");
    }
}

thread_local! {
    /// Buckets opened so far; a component instance is single-threaded.
    static BUCKETS: RefCell<HashMap<String, Rc<store::Bucket>>> = RefCell::new(HashMap::new());
}

fn kv_error(bucket: &str, e: store::Error) -> KvError {
    match e {
        store::Error::NoSuchStore => KvError::NoSuchStore(bucket.to_owned()),
        store::Error::AccessDenied => KvError::AccessDenied(bucket.to_owned()),
        store::Error::Other(s) => KvError::Other(s),
    }
}

fn bucket(name: &str) -> Result<Rc<store::Bucket>, KvError> {
    if let Some(b) = BUCKETS.with(|m| m.borrow().get(name).cloned()) {
        return Ok(b);
    }
    let b = Rc::new(store::open(name).map_err(|e| kv_error(name, e))?);
    BUCKETS.with(|m| m.borrow_mut().insert(name.to_owned(), Rc::clone(&b)));
    Ok(b)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WasiKv;

impl Kv for WasiKv {
    fn get(&self, b: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        bucket(b)?.get(key).map_err(|e| kv_error(b, e))
    }

    fn set(&self, b: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        bucket(b)?.set(key, value).map_err(|e| kv_error(b, e))
    }

    fn delete(&self, b: &str, key: &str) -> Result<(), KvError> {
        bucket(b)?.delete(key).map_err(|e| kv_error(b, e))
    }

    fn increment(&self, b: &str, key: &str, delta: i64) -> Result<i64, KvError> {
        atomics::increment(&*bucket(b)?, key, delta).map_err(|e| kv_error(b, e))
    }

    fn keys_with_prefix(&self, b: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        let bk = bucket(b)?;
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = bk
                .list_keys(cursor.as_deref())
                .map_err(|e| kv_error(b, e))?;
            out.extend(page.keys.into_iter().filter(|k| k.starts_with(prefix)));
            match page.cursor {
                Some(c) if Some(&c) != cursor.as_ref() => cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }
}

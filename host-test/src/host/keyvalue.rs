//! `wasi:keyvalue@0.2.0-draft2` (store + atomics) over [`KvStore`], in the
//! shape of wasmtime-wasi's interfaces: a view ([`KeyValueCtxView`]) that a
//! store's data hands out through [`KeyValueView`], and [`add_to_linker`].
//!
//! Every host function is async and awaits the store's async API (Redis on
//! its async connection, redb on the blocking pool), so a guest waiting for
//! storage never holds a tokio thread.

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

use super::bindings::keyvalue::wasi::keyvalue::{atomics, store};
use crate::kv::{KvError, KvStore};

/// An open bucket: its name.
#[derive(Debug, Clone)]
pub struct BucketRes(String);

/// A compare-and-swap handle: the key and the value it saw.
#[derive(Debug, Clone)]
pub struct CasRes {
    bucket: String,
    key: String,
    seen: Option<Vec<u8>>,
}

/// What the key-value host functions see of a store's data.
#[derive(Debug)]
pub struct KeyValueCtxView<'a> {
    pub kv: &'a KvStore,
    pub table: &'a mut ResourceTable,
}

/// Store data that provides `wasi:keyvalue`.
pub trait KeyValueView: Send {
    fn keyvalue(&mut self) -> KeyValueCtxView<'_>;
}

/// The [`HasData`] marker for [`add_to_linker`].
#[derive(Debug)]
pub struct WasiKeyValue;

impl HasData for WasiKeyValue {
    type Data<'a> = KeyValueCtxView<'a>;
}

/// Add `wasi:keyvalue/store` and `wasi:keyvalue/atomics` to `linker`.
pub fn add_to_linker<T: KeyValueView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    store::add_to_linker::<T, WasiKeyValue>(linker, T::keyvalue)?;
    atomics::add_to_linker::<T, WasiKeyValue>(linker, T::keyvalue)?;
    Ok(())
}

fn kv_err(e: KvError) -> store::Error {
    match e {
        KvError::NoSuchStore => store::Error::NoSuchStore,
        KvError::AccessDenied => store::Error::AccessDenied,
        KvError::Other(s) => store::Error::Other(s),
    }
}

fn table_err(e: impl std::fmt::Display) -> store::Error {
    store::Error::Other(e.to_string())
}

impl KeyValueCtxView<'_> {
    fn bucket(&self, r: &Resource<BucketRes>) -> Result<String, store::Error> {
        self.table.get(r).map(|b| b.0.clone()).map_err(table_err)
    }
}

impl store::Host for KeyValueCtxView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<BucketRes>, store::Error> {
        self.kv.check_bucket(&identifier).map_err(kv_err)?;
        self.table.push(BucketRes(identifier)).map_err(table_err)
    }
}

impl store::HostBucket for KeyValueCtxView<'_> {
    async fn get(
        &mut self,
        b: Resource<BucketRes>,
        key: String,
    ) -> Result<Option<Vec<u8>>, store::Error> {
        let name = self.bucket(&b)?;
        self.kv.get_async(&name, &key).await.map_err(kv_err)
    }

    async fn set(
        &mut self,
        b: Resource<BucketRes>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let name = self.bucket(&b)?;
        self.kv.set_async(&name, &key, value).await.map_err(kv_err)
    }

    async fn delete(&mut self, b: Resource<BucketRes>, key: String) -> Result<(), store::Error> {
        let name = self.bucket(&b)?;
        self.kv.delete_async(&name, &key).await.map_err(kv_err)
    }

    async fn exists(&mut self, b: Resource<BucketRes>, key: String) -> Result<bool, store::Error> {
        let name = self.bucket(&b)?;
        self.kv.exists_async(&name, &key).await.map_err(kv_err)
    }

    async fn list_keys(
        &mut self,
        b: Resource<BucketRes>,
        cursor: Option<String>,
    ) -> Result<store::KeyResponse, store::Error> {
        let name = self.bucket(&b)?;
        let (keys, cursor) = self
            .kv
            .list_keys_async(&name, cursor, 1000)
            .await
            .map_err(kv_err)?;
        Ok(store::KeyResponse { keys, cursor })
    }

    async fn drop(&mut self, b: Resource<BucketRes>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for KeyValueCtxView<'_> {
    async fn increment(
        &mut self,
        b: Resource<BucketRes>,
        key: String,
        delta: i64,
    ) -> Result<i64, store::Error> {
        let name = self.bucket(&b)?;
        self.kv
            .increment_async(&name, &key, delta)
            .await
            .map_err(kv_err)
    }

    async fn swap(
        &mut self,
        cas: Resource<CasRes>,
        value: Vec<u8>,
    ) -> Result<(), atomics::CasError> {
        let c = self
            .table
            .delete(cas)
            .map_err(|e| atomics::CasError::StoreError(table_err(e)))?;
        // One atomic compare-and-set in the store (a redb write transaction
        // or a Redis script), so two hosts sharing Redis cannot both win.
        let outcome = self
            .kv
            .compare_and_swap_async(&c.bucket, &c.key, c.seen, value)
            .await
            .map_err(|e| atomics::CasError::StoreError(kv_err(e)))?;
        match outcome {
            Ok(()) => Ok(()),
            Err(current) => {
                let fresh = CasRes {
                    bucket: c.bucket,
                    key: c.key,
                    seen: current,
                };
                let r = self
                    .table
                    .push(fresh)
                    .map_err(|e| atomics::CasError::StoreError(table_err(e)))?;
                Err(atomics::CasError::CasFailed(r))
            }
        }
    }
}

impl atomics::HostCas for KeyValueCtxView<'_> {
    async fn new(
        &mut self,
        b: Resource<BucketRes>,
        key: String,
    ) -> Result<Resource<CasRes>, store::Error> {
        let bucket = self.bucket(&b)?;
        let seen = self.kv.get_async(&bucket, &key).await.map_err(kv_err)?;
        self.table
            .push(CasRes { bucket, key, seen })
            .map_err(table_err)
    }

    async fn current(&mut self, cas: Resource<CasRes>) -> Result<Option<Vec<u8>>, store::Error> {
        self.table
            .get(&cas)
            .map(|c| c.seen.clone())
            .map_err(table_err)
    }

    async fn drop(&mut self, cas: Resource<CasRes>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

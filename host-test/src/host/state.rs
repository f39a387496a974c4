//! Per-store state ([`HostState`]), the views it hands to WASI, wasi:http and
//! wasi:keyvalue, and building a store from an [`InstanceConfig`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::http::{Hooks, Redirect, UpstreamPool};
use super::keyvalue::{KeyValueCtxView, KeyValueView};
use crate::kv::KvStore;
use crate::ops::{Exporter, LogTap, Metrics};

/// Per-store state.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    kv: KvStore,
    variables: Arc<BTreeMap<String, String>>,
    /// Largest linear memory the guest asked for, in bytes.
    pub(super) peak_memory: Arc<Mutex<usize>>,
    limits: MemoryWatch,
    /// The guest's stderr as metrics, when the config has metrics.
    tap: Option<LogTap>,
}

impl HostState {
    /// This instance's stderr tap (serve with metrics).
    pub fn log_tap(&self) -> Option<&LogTap> {
        self.tap.as_ref()
    }

    /// Host resources in this store's table. A store reused across calls
    /// must come back to the same count after each one (host-test/tests/leaks.rs).
    pub fn table_entries(&mut self) -> usize {
        self.table.iter_mut().count()
    }

    /// A fresh cancellation for the call this store is about to serve:
    /// cancelling it fails the call's upstream requests (`crate::cancel`).
    pub fn arm_cancel(&mut self) -> tokio_util::sync::CancellationToken {
        self.hooks.cancel = tokio_util::sync::CancellationToken::new();
        self.hooks.cancel.clone()
    }

    /// Application variables (`fermyon:spin/variables`) of this instance.
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.variables
    }
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostState")
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Records the guest's memory growth.
#[derive(Debug, Clone, Default)]
struct MemoryWatch {
    peak: Arc<Mutex<usize>>,
}

impl wasmtime::ResourceLimiter for MemoryWatch {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if let Ok(mut p) = self.peak.lock() {
            *p = (*p).max(desired);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl KeyValueView for HostState {
    fn keyvalue(&mut self) -> KeyValueCtxView<'_> {
        KeyValueCtxView {
            kv: &self.kv,
            table: &mut self.table,
        }
    }
}

/// What one instance sees of the world.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    pub kv: KvStore,
    pub redirect: Option<Redirect>,
    /// Capture the guest's stderr here instead of inheriting it.
    pub stderr: Option<MemoryOutputPipe>,
    /// Application variables (`fermyon:spin/variables`), for HTTP apps.
    pub variables: Arc<BTreeMap<String, String>>,
    /// Reuse connections to plain-HTTP upstreams (serve mode, benchmarks).
    pub pool: Option<UpstreamPool>,
    /// Feed the guest's stderr (the gateway's log records) to these
    /// metrics, through a [`LogTap`] per store; unless `stderr` is set.
    pub metrics: Option<Arc<Metrics>>,
    /// With `metrics`: also turn each gateway call into a span, exported
    /// here (docs/adr/0012-otlp-spans.md).
    pub traces: Option<Exporter>,
}

impl InstanceConfig {
    pub fn new(kv: KvStore) -> Self {
        Self {
            kv,
            redirect: None,
            stderr: None,
            variables: Arc::default(),
            pool: None,
            metrics: None,
            traces: None,
        }
    }
}

/// A fresh store for one instance.
pub fn new_store(engine: &Engine, cfg: &InstanceConfig) -> Store<HostState> {
    store_with(engine, cfg, false)
}

/// A store whose stdout is the host's too (command components).
pub fn new_store_with_stdout(engine: &Engine, cfg: &InstanceConfig) -> Store<HostState> {
    store_with(engine, cfg, true)
}

fn store_with(engine: &Engine, cfg: &InstanceConfig, stdout: bool) -> Store<HostState> {
    let mut b = WasiCtx::builder();
    if stdout {
        b.inherit_stdout();
    }
    let mut tap = None;
    match (&cfg.stderr, &cfg.metrics) {
        (Some(p), _) => {
            b.stderr(p.clone());
        }
        (None, Some(m)) => {
            let t = LogTap::with_exporter(Arc::clone(m), cfg.traces.clone());
            b.stderr(t.clone());
            tap = Some(t);
        }
        (None, None) => {
            b.inherit_stderr();
        }
    }
    let peak = Arc::new(Mutex::new(0));
    let state = HostState {
        wasi: b.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        hooks: Hooks {
            redirect: cfg.redirect.clone().map(Arc::new),
            pool: cfg.pool.clone(),
            cancel: tokio_util::sync::CancellationToken::new(),
        },
        kv: cfg.kv.clone(),
        variables: Arc::clone(&cfg.variables),
        peak_memory: Arc::clone(&peak),
        limits: MemoryWatch { peak },
        tap,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    store
}

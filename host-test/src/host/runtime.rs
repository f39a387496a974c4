//! The wasmtime engine and linker every host mode shares, and [`Runtime`]: a
//! compiled, pre-linked gateway component that instantiates cheaply.

use std::path::Path;

use anyhow::Context as _;
use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi_http::WasiHttpView;

use super::artifacts::{default_cache_dir, gateway_wasm};
use super::state::{HostState, InstanceConfig, new_store};
use super::{bindings, keyvalue};

/// The wasmtime engine configuration every host mode shares.
pub fn engine(pooling: bool, cache_dir: Option<&Path>) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    if let Some(dir) = cache_dir {
        let mut cc = wasmtime::CacheConfig::new();
        cc.with_directory(dir);
        config.cache(Some(wasmtime::Cache::new(cc)?));
    }
    if pooling {
        let mut p = wasmtime::PoolingAllocationConfig::default();
        p.total_component_instances(1000);
        p.total_memories(1000);
        p.total_tables(1000);
        p.max_memory_size(256 << 20);
        // Keep a fresh instance's first pages mapped and reset them with
        // memset instead of madvise + page faults: instantiate-per-request
        // hosts touch the same ~1 MiB of heap every time.
        p.linear_memory_keep_resident(2 << 20);
        p.table_keep_resident(64 << 10);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(p));
    }
    Ok(Engine::new(&config)?)
}

/// Add WASI, wasi:http and our wasi:keyvalue to a linker.
pub fn link(engine: &Engine) -> anyhow::Result<Linker<HostState>> {
    use wasmtime_wasi_http::p2::bindings::http::types;
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    // `wasi:http/types` as wasmtime-wasi-http links it; the outgoing handler
    // by [`link_outgoing_handler`].
    let options = wasmtime_wasi_http::p2::bindings::LinkOptions::default();
    types::add_to_linker::<_, wasmtime_wasi_http::WasiHttp>(
        &mut linker,
        &options.into(),
        WasiHttpView::http,
    )?;
    link_outgoing_handler(&mut linker)?;
    keyvalue::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// `wasi:http/outgoing-handler.handle` takes ownership of its
/// `request-options`, but wasmtime-wasi-http 48.0.8 only reads them and
/// never removes them from the store's table: a store reused across
/// requests (`serve` keeps idle instances) grew by one entry per upstream
/// request, forever (about 210 bytes each; found by the soak run,
/// docs/soak.md). This calls the same implementation with a second handle
/// to the same options, then deletes them.
fn link_outgoing_handler(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi_http::RequestOptions;
    use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types};
    use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
    type Args = (
        Resource<HostOutgoingRequest>,
        Option<Resource<RequestOptions>>,
    );
    type Ret = (Result<Resource<HostFutureIncomingResponse>, types::ErrorCode>,);
    let mut instance = linker.instance("wasi:http/outgoing-handler@0.2.6")?;
    instance.func_wrap(
        "handle",
        |mut store: wasmtime::StoreContextMut<'_, HostState>,
         (request, options): Args|
         -> wasmtime::Result<Ret> {
            let mut view = store.data_mut().http();
            let second = options.as_ref().map(|o| Resource::new_own(o.rep()));
            let result = outgoing_handler::Host::handle(&mut view, request, second);
            if let Some(o) = options {
                let _ = view.table.delete(o);
            }
            match result {
                Ok(future) => Ok((Ok(future),)),
                Err(e) => Ok((Err(types::Host::convert_error_code(&mut view, e)?),)),
            }
        },
    )?;
    Ok(())
}

/// A compiled, pre-linked gateway component; cheap to instantiate.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    pre: bindings::GatewayPre<HostState>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runtime")
    }
}

impl Runtime {
    /// Compile (or load from the cache) and pre-link `wasm`.
    pub fn new(wasm: &Path, pooling: bool, cache_dir: Option<&Path>) -> anyhow::Result<Self> {
        let engine = engine(pooling, cache_dir)?;
        let component = Component::from_file(&engine, wasm)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading component {}", wasm.display()))?;
        let linker = link(&engine)?;
        let pre = bindings::GatewayPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self { engine, pre })
    }

    /// The default component, on-demand allocation, with the compile cache.
    pub fn default_gateway() -> anyhow::Result<Self> {
        Self::new(&gateway_wasm(), false, Some(&default_cache_dir()))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A fresh instance with its own store.
    pub async fn instance(&self, cfg: &InstanceConfig) -> anyhow::Result<Instance> {
        let mut store = new_store(&self.engine, cfg);
        let bindings = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance { store, bindings })
    }
}

/// One component instance and its store.
pub struct Instance {
    pub store: Store<HostState>,
    pub bindings: bindings::Gateway,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Instance")
    }
}

/// A gateway resource inside an instance.
#[derive(Debug, Clone, Copy)]
pub struct GatewayHandle(pub ResourceAny);

/// A stream resource inside an instance.
#[derive(Debug, Clone, Copy)]
pub struct StreamHandle(pub ResourceAny);

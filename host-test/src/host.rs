//! The wasmtime host for `ai-gateway.wasm`: engine and linker setup,
//! `wasi:keyvalue` over [`KvStore`], outbound HTTP through wasmtime-wasi-http
//! (optionally redirecting real provider hosts to the mock upstream, for
//! tests that assert exact provider URLs), and typed calls into the
//! component's exports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceAny, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::kv::{KvError, KvStore};

/// Host bindings of `wasi:keyvalue@0.2.0-draft2`, kept apart from the
/// gateway's bindings so those can derive serde (a resource cannot).
pub mod kv_bindings {
    wasmtime::component::bindgen!({
        path: "../wit/deps/keyvalue",
        world: "wasi:keyvalue/imports",
        with: {
            "wasi:keyvalue/store.bucket": crate::host::BucketRes,
            "wasi:keyvalue/atomics.cas": crate::host::CasRes,
        },
        require_store_data_send: true,
    });
}

/// Host bindings of the `gateway` world.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "workkit:ai-gateway/gateway",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:random": wasmtime_wasi::p2::bindings::random,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:keyvalue": crate::host::kv_bindings::wasi::keyvalue,
        },
        require_store_data_send: true,
    });
}

/// Host bindings of the standalone `allowlist` world (no imports).
pub mod allowlist_bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "workkit:ai-gateway/allowlist",
        exports: { default: async },
    });
}

pub use bindings::exports::workkit::ai_gateway::model_allowlist as wa;
pub use bindings::exports::workkit::ai_gateway::types as w;
use kv_bindings::wasi::keyvalue::{atomics, store};

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

/// Where outbound requests to provider hosts go instead (tests, the CLI's
/// mock mode): every `https://` request is sent to `http://{authority}` with
/// the same path, and the original URL is recorded in the header
/// `x-aigw-original-url`.
#[derive(Debug, Clone)]
pub struct Redirect {
    pub authority: String,
}

/// Keep-alive connections to plain-HTTP upstreams, shared by every store
/// that holds a clone. wasmtime-wasi-http's default sender opens a new TCP
/// connection per request; a host serving many requests to one provider
/// should reuse them, as every other gateway does. (https upstreams still
/// use the default sender, which brings TLS.)
#[derive(Clone)]
pub struct UpstreamPool {
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        wasmtime_wasi_http::WasiBody,
    >,
}

impl std::fmt::Debug for UpstreamPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamPool")
    }
}

impl Default for UpstreamPool {
    fn default() -> Self {
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_nodelay(true);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(30))
                .build(connector);
        Self { client }
    }
}

impl UpstreamPool {
    /// Send on a pooled connection, with the request options' first-byte
    /// (includes connect) and between-bytes timeouts.
    async fn send(
        &self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
    ) -> Result<http::Response<wasmtime_wasi_http::WasiBody>, wasmtime_wasi_http::Error> {
        use wasmtime_wasi_http::Error as E;
        let limit = |t: Option<std::time::Duration>| {
            t.filter(|d| !d.is_zero())
                .unwrap_or(std::time::Duration::from_secs(600))
        };
        let first_byte = limit(
            options
                .and_then(|o| o.connect_timeout)
                .zip(options.and_then(|o| o.first_byte_timeout))
                .map(|(c, f)| c.saturating_add(f))
                .or(options.and_then(|o| o.first_byte_timeout)),
        );
        let between = limit(options.and_then(|o| o.between_bytes_timeout));
        let res = match tokio::time::timeout(first_byte, self.client.request(request)).await {
            Err(_) => return Err(E::ConnectionReadTimeout),
            Ok(Err(e)) if e.is_connect() => return Err(E::ConnectionRefused),
            Ok(Err(e)) => {
                let hyper = std::error::Error::source(&e)
                    .and_then(|s| s.downcast_ref::<hyper::Error>())
                    .map(|h| h.is_timeout());
                return Err(match hyper {
                    Some(true) => E::ConnectionReadTimeout,
                    _ => E::ConnectionTerminated,
                });
            }
            Ok(Ok(res)) => res,
        };
        Ok(res.map(|body| {
            http_body_util::BodyExt::boxed_unsync(TimedBody {
                inner: body,
                between,
                deadline: None,
            })
        }))
    }
}

/// A response body that fails when no bytes arrive for `between`.
struct TimedBody {
    inner: hyper::body::Incoming,
    between: std::time::Duration,
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.deadline = None;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let between = self.between;
                let sleep = self
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(between)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(wasmtime_wasi_http::Error::ConnectionReadTimeout)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Debug, Clone, Default)]
struct Hooks {
    redirect: Option<Arc<Redirect>>,
    pool: Option<UpstreamPool>,
}

impl WasiHttpHooks for Hooks {
    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        drop(fut);
        if let Some(r) = &self.redirect
            && request.uri().scheme() == Some(&http::uri::Scheme::HTTPS)
        {
            let original = request.uri().to_string();
            let path = request
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned();
            if let Ok(uri) = format!("http://{}{path}", r.authority).parse() {
                *request.uri_mut() = uri;
                if let Ok(v) = http::HeaderValue::from_str(&original) {
                    request.headers_mut().insert("x-aigw-original-url", v);
                }
            }
        }
        let pool = self
            .pool
            .clone()
            .filter(|_| request.uri().scheme() == Some(&http::uri::Scheme::HTTP));
        Box::new(async move {
            if let Some(pool) = pool {
                let res = pool.send(request, options).await?;
                return Ok((
                    res,
                    Box::new(async { Ok(()) })
                        as Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                ));
            }
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(http_body_util::BodyExt::boxed_unsync),
                Box::new(io)
                    as Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
            ))
        })
    }
}

/// Per-store state.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: Hooks,
    kv: KvStore,
    variables: Arc<BTreeMap<String, String>>,
    /// Largest linear memory the guest asked for, in bytes.
    peak_memory: Arc<Mutex<usize>>,
    limits: MemoryWatch,
}

impl HostState {
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

fn kv_err(e: KvError) -> store::Error {
    match e {
        KvError::NoSuchStore => store::Error::NoSuchStore,
        KvError::AccessDenied => store::Error::AccessDenied,
        KvError::Other(s) => store::Error::Other(s),
    }
}

impl HostState {
    fn bucket(&self, r: &Resource<BucketRes>) -> Result<String, store::Error> {
        self.table
            .get(r)
            .map(|b| b.0.clone())
            .map_err(|e| store::Error::Other(e.to_string()))
    }
}

impl store::Host for HostState {
    fn open(&mut self, identifier: String) -> Result<Resource<BucketRes>, store::Error> {
        self.kv.check_bucket(&identifier).map_err(kv_err)?;
        self.table
            .push(BucketRes(identifier))
            .map_err(|e| store::Error::Other(e.to_string()))
    }
}

impl store::HostBucket for HostState {
    fn get(
        &mut self,
        b: Resource<BucketRes>,
        key: String,
    ) -> Result<Option<Vec<u8>>, store::Error> {
        let name = self.bucket(&b)?;
        self.kv.get(&name, &key).map_err(kv_err)
    }

    fn set(
        &mut self,
        b: Resource<BucketRes>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), store::Error> {
        let name = self.bucket(&b)?;
        self.kv.set(&name, &key, &value).map_err(kv_err)
    }

    fn delete(&mut self, b: Resource<BucketRes>, key: String) -> Result<(), store::Error> {
        let name = self.bucket(&b)?;
        self.kv.delete(&name, &key).map_err(kv_err)
    }

    fn exists(&mut self, b: Resource<BucketRes>, key: String) -> Result<bool, store::Error> {
        let name = self.bucket(&b)?;
        self.kv.exists(&name, &key).map_err(kv_err)
    }

    fn list_keys(
        &mut self,
        b: Resource<BucketRes>,
        cursor: Option<String>,
    ) -> Result<store::KeyResponse, store::Error> {
        let name = self.bucket(&b)?;
        let (keys, cursor) = self
            .kv
            .list_keys(&name, cursor.as_deref(), 1000)
            .map_err(kv_err)?;
        Ok(store::KeyResponse { keys, cursor })
    }

    fn drop(&mut self, b: Resource<BucketRes>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for HostState {
    fn increment(
        &mut self,
        b: Resource<BucketRes>,
        key: String,
        delta: i64,
    ) -> Result<i64, store::Error> {
        let name = self.bucket(&b)?;
        self.kv.increment(&name, &key, delta).map_err(kv_err)
    }

    fn swap(&mut self, cas: Resource<CasRes>, value: Vec<u8>) -> Result<(), atomics::CasError> {
        let c = self
            .table
            .delete(cas)
            .map_err(|e| atomics::CasError::StoreError(store::Error::Other(e.to_string())))?;
        // One atomic compare-and-set in the store (a redb write transaction
        // or a Redis script), so two hosts sharing Redis cannot both win.
        let outcome = self
            .kv
            .compare_and_swap(&c.bucket, &c.key, c.seen.as_deref(), &value)
            .map_err(|e| atomics::CasError::StoreError(kv_err(e)))?;
        match outcome {
            Ok(()) => Ok(()),
            Err(current) => {
                let fresh = CasRes {
                    bucket: c.bucket,
                    key: c.key,
                    seen: current,
                };
                let r = self.table.push(fresh).map_err(|e| {
                    atomics::CasError::StoreError(store::Error::Other(e.to_string()))
                })?;
                Err(atomics::CasError::CasFailed(r))
            }
        }
    }
}

impl atomics::HostCas for HostState {
    fn new(
        &mut self,
        b: Resource<BucketRes>,
        key: String,
    ) -> Result<Resource<CasRes>, store::Error> {
        let bucket = self.bucket(&b)?;
        let seen = self.kv.get(&bucket, &key).map_err(kv_err)?;
        self.table
            .push(CasRes { bucket, key, seen })
            .map_err(|e| store::Error::Other(e.to_string()))
    }

    fn current(&mut self, cas: Resource<CasRes>) -> Result<Option<Vec<u8>>, store::Error> {
        self.table
            .get(&cas)
            .map(|c| c.seen.clone())
            .map_err(|e| store::Error::Other(e.to_string()))
    }

    fn drop(&mut self, cas: Resource<CasRes>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

/// The component built by `build.rs`.
pub fn gateway_wasm() -> PathBuf {
    PathBuf::from(env!("AI_GATEWAY_WASM"))
}

/// The OpenAI-compatible proxy component (not yet composed) built by `build.rs`.
pub fn proxy_wasm() -> PathBuf {
    PathBuf::from(env!("AI_GATEWAY_PROXY_WASM"))
}

/// The `gateway-with-providers` build (feature `component-providers`).
pub fn gateway_ext_wasm() -> PathBuf {
    PathBuf::from(env!("AI_GATEWAY_EXT_WASM"))
}

/// The example provider written as a component (`examples/compose/echo-provider`).
pub fn echo_provider_wasm() -> PathBuf {
    PathBuf::from(env!("ECHO_PROVIDER_WASM"))
}

/// The example gateway client (`examples/compose/summarizer`).
pub fn summarizer_wasm() -> PathBuf {
    PathBuf::from(env!("SUMMARIZER_WASM"))
}

/// The standalone allowlist component built by `build.rs`.
pub fn allowlist_wasm() -> PathBuf {
    PathBuf::from(env!("AI_GATEWAY_ALLOWLIST_WASM"))
}

/// Where compiled code is cached between runs.
pub fn default_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasmtime-cache")
}

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
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    store::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    atomics::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    Ok(linker)
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
}

impl InstanceConfig {
    pub fn new(kv: KvStore) -> Self {
        Self {
            kv,
            redirect: None,
            stderr: None,
            variables: Arc::default(),
            pool: None,
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
    match &cfg.stderr {
        Some(p) => {
            b.stderr(p.clone());
        }
        None => {
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
        },
        kv: cfg.kv.clone(),
        variables: Arc::clone(&cfg.variables),
        peak_memory: Arc::clone(&peak),
        limits: MemoryWatch { peak },
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    store
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

type Wit<T> = anyhow::Result<Result<T, w::GatewayError>>;

impl Instance {
    /// The largest linear memory the guest has asked for so far, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.store.data().peak_memory.lock().map_or(0, |p| *p)
    }

    pub async fn open(&mut self, config: &w::GatewayConfig) -> Wit<GatewayHandle> {
        let api = self.bindings.workkit_ai_gateway_api();
        Ok(api
            .call_open(&mut self.store, config)
            .await?
            .map(GatewayHandle))
    }

    pub async fn run(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        input: &w::AiInput,
        opts: Option<&w::RunOptions>,
    ) -> Wit<w::AiOutput> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_run(&mut self.store, gw.0, model, input, opts)
            .await?)
    }

    pub async fn stream(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        input: &w::AiInput,
        opts: Option<&w::RunOptions>,
    ) -> Wit<StreamHandle> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_stream(&mut self.store, gw.0, model, input, opts)
            .await?
            .map(StreamHandle))
    }

    pub async fn next(&mut self, s: StreamHandle) -> anyhow::Result<Option<w::StreamEvent>> {
        let es = self.bindings.workkit_ai_gateway_api().event_stream();
        Ok(es.call_next(&mut self.store, s.0).await?)
    }

    pub async fn try_next(&mut self, s: StreamHandle) -> anyhow::Result<w::PollEvent> {
        let es = self.bindings.workkit_ai_gateway_api().event_stream();
        Ok(es.call_try_next(&mut self.store, s.0).await?)
    }

    pub async fn stream_trace(&mut self, s: StreamHandle) -> anyhow::Result<Vec<w::LogRecord>> {
        let es = self.bindings.workkit_ai_gateway_api().event_stream();
        Ok(es.call_trace(&mut self.store, s.0).await?)
    }

    pub async fn stream_attempts(&mut self, s: StreamHandle) -> anyhow::Result<Vec<w::Attempt>> {
        let es = self.bindings.workkit_ai_gateway_api().event_stream();
        Ok(es.call_attempts(&mut self.store, s.0).await?)
    }

    /// Collect a whole stream.
    pub async fn collect(&mut self, s: StreamHandle) -> anyhow::Result<Vec<w::StreamEvent>> {
        let mut out = Vec::new();
        while let Some(e) = self.next(s).await? {
            out.push(e);
        }
        Ok(out)
    }

    /// Drop a resource (closes a stream's upstream connection).
    pub async fn drop_resource(&mut self, r: ResourceAny) -> anyhow::Result<()> {
        Ok(r.resource_drop_async(&mut self.store).await?)
    }

    pub async fn run_fallback(
        &mut self,
        gw: GatewayHandle,
        entries: &[w::FallbackEntry],
        input: &w::AiInput,
        opts: Option<&w::RunOptions>,
    ) -> Wit<w::AiOutput> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(
            g.call_run_fallback(&mut self.store, gw.0, entries, input, opts)
                .await?,
        )
    }

    pub async fn embed(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        input: &[String],
        opts: Option<&w::EmbedOptions>,
    ) -> Wit<w::EmbedOutput> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_embed(&mut self.store, gw.0, model, input, opts)
            .await?)
    }

    pub async fn is_cached(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        input: &w::AiInput,
        opts: Option<&w::RunOptions>,
    ) -> Wit<bool> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_is_cached(&mut self.store, gw.0, model, input, opts)
            .await?)
    }

    pub async fn invalidate(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        input: &w::AiInput,
        opts: Option<&w::RunOptions>,
    ) -> Wit<bool> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_invalidate(&mut self.store, gw.0, model, input, opts)
            .await?)
    }

    pub async fn costs(&mut self, gw: GatewayHandle) -> Wit<w::CostTotals> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_costs(&mut self.store, gw.0).await?)
    }

    pub async fn budget(&mut self, gw: GatewayHandle) -> Wit<w::BudgetStatus> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_budget(&mut self.store, gw.0).await?)
    }

    pub async fn reset_costs(&mut self, gw: GatewayHandle) -> Wit<()> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_reset_costs(&mut self.store, gw.0).await?)
    }

    pub async fn providers(&mut self, gw: GatewayHandle) -> anyhow::Result<Vec<String>> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_providers(&mut self.store, gw.0).await?)
    }

    pub async fn default_provider(&mut self, gw: GatewayHandle) -> anyhow::Result<Option<String>> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(g.call_default_provider(&mut self.store, gw.0).await?)
    }

    pub async fn create_router(&mut self, config: &w::RouterConfig) -> Wit<ResourceAny> {
        let r = self.bindings.workkit_ai_gateway_router();
        Ok(r.call_create_router(&mut self.store, config).await?)
    }

    pub async fn route(
        &mut self,
        router: ResourceAny,
        model: &str,
    ) -> anyhow::Result<Option<String>> {
        let r = self.bindings.workkit_ai_gateway_router().router();
        Ok(r.call_resolve(&mut self.store, router, model).await?)
    }

    pub async fn open_tracker(&mut self, config: &w::CostConfig) -> Wit<ResourceAny> {
        let c = self.bindings.workkit_ai_gateway_cost_tracker();
        Ok(c.call_open_tracker(&mut self.store, config).await?)
    }

    pub async fn record_usage(
        &mut self,
        tracker: ResourceAny,
        model: &str,
        usage: w::Usage,
    ) -> Wit<u64> {
        let c = self.bindings.workkit_ai_gateway_cost_tracker().tracker();
        Ok(c.call_record_usage(&mut self.store, tracker, model, usage)
            .await?)
    }

    pub async fn tracker_totals(&mut self, tracker: ResourceAny) -> Wit<w::CostTotals> {
        let c = self.bindings.workkit_ai_gateway_cost_tracker().tracker();
        Ok(c.call_totals(&mut self.store, tracker).await?)
    }

    pub async fn check_budget(
        &mut self,
        tracker: ResourceAny,
        budget: u64,
    ) -> Wit<w::BudgetStatus> {
        let c = self.bindings.workkit_ai_gateway_cost_tracker().tracker();
        Ok(c.call_check_budget(&mut self.store, tracker, budget)
            .await?)
    }

    pub async fn price(
        &mut self,
        pricing: &w::ModelPricing,
        usage: w::Usage,
    ) -> anyhow::Result<u64> {
        let c = self.bindings.workkit_ai_gateway_cost_tracker();
        Ok(c.call_price(&mut self.store, pricing, usage).await?)
    }

    pub async fn is_allowed_model(
        &mut self,
        config: &Vec<wa::ProviderModels>,
        provider: &str,
        model: &str,
    ) -> anyhow::Result<bool> {
        let a = self.bindings.workkit_ai_gateway_model_allowlist();
        Ok(
            a.call_is_allowed_model(&mut self.store, config, provider, model)
                .await?,
        )
    }

    pub async fn resolve_provider(
        &mut self,
        gw: GatewayHandle,
        model: &str,
        provider: Option<&str>,
    ) -> Wit<String> {
        let g = self.bindings.workkit_ai_gateway_api().gateway();
        Ok(
            g.call_resolve_provider(&mut self.store, gw.0, model, provider)
                .await?,
        )
    }
}

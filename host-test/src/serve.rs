//! `host-test serve`: a `wasi:http/incoming-handler` server on wasmtime for
//! components built on the gateway (the composed proxy, the Spin app).
//!
//! Pre-instantiated (`ProxyPre`), optionally with the pooling allocator,
//! and instances are reused: a finished request returns its instance to an
//! idle pool, so a component that keeps state between requests (the proxy's
//! opened gateway) pays for its setup once per instance, not per request.
//! The host provides WASI, `wasi:http`, our `wasi:keyvalue` and Spin-style
//! application variables (`fermyon:spin/variables@2.0.0`).
//!
//! Operations (docs/adr/0011-operations-signals.md): the host answers three
//! paths itself, before the component sees them: `GET /metrics`
//! (Prometheus text format 0.0.4), `GET /livez` (200 while the process
//! serves) and `GET /readyz` (200 once the component is compiled and one
//! instance was created, and the key-value store answers; else 503). The
//! listener opens before the component is compiled, so liveness holds
//! during a slow start while readiness and the component's routes answer
//! 503.
//!
//! With an OTLP endpoint ([`ServeConfig::otlp`], docs/adr/0012-otlp-spans.md)
//! each request the component answers is a `SERVER` span, and each gateway
//! call within it a `CLIENT` child span with the GenAI attributes, exported
//! in batches by a background task.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::cancel::{CallGuard, GuardedBody};
use crate::host::{HostState, InstanceConfig, engine, link, new_store};
use crate::ops::{Exporter, HttpSpan, LogTap, MeteredBody, Metrics, OtlpConfig};

/// Host bindings of `fermyon:spin/variables@2.0.0`.
pub mod variables_bindings {
    wasmtime::component::bindgen!({
        inline: "package host:variables; world host { import fermyon:spin/variables@2.0.0; }",
        path: "../proxy/wit/deps/spin-variables",
    });
}

use variables_bindings::fermyon::spin::variables;

impl variables::Host for HostState {
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(variables::Error::InvalidName(name));
        }
        self.variables()
            .get(&name)
            .cloned()
            .ok_or(variables::Error::Undefined(name))
    }
}

/// What `serve` runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    pub instance: InstanceConfig,
    pub pooling: bool,
    /// Keep at most this many idle instances.
    pub max_idle: usize,
    /// Export spans over OTLP/HTTP.
    pub otlp: Option<OtlpConfig>,
}

/// The compiled component and its instances.
struct App {
    pre: ProxyPre<HostState>,
    engine: wasmtime::Engine,
    instance: InstanceConfig,
    idle: Mutex<Vec<(Store<HostState>, Proxy)>>,
    max_idle: usize,
}

struct Shared {
    /// Set once the component is compiled and one instance was created.
    app: OnceLock<App>,
    metrics: Arc<Metrics>,
    kv: crate::kv::KvStore,
    exporter: Option<Exporter>,
}

/// A running server. Stops when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    metrics: Arc<Metrics>,
    exporter: Option<Exporter>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What `/metrics` reports.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Send the spans recorded so far to the collector, waiting at most
    /// `timeout` (a no-op without an OTLP endpoint). For a clean shutdown.
    pub async fn flush(&self, timeout: Duration) {
        if let Some(e) = &self.exporter {
            e.flush(timeout).await;
        }
    }

    /// Wait until the server stops (it does not, unless its task fails).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Listen on `cfg.addr`, then load and pre-link `wasm` and create one
/// instance; returns once the component is ready (a failure to compile or
/// instantiate stops the listener and is returned).
pub async fn start(wasm: &Path, cfg: ServeConfig) -> anyhow::Result<Server> {
    let listener = TcpListener::bind(cfg.addr).await?;
    let addr = listener.local_addr()?;
    let metrics = Arc::new(Metrics::new()?);
    // Every instance shares one pool of upstream connections, and feeds
    // its stderr (the gateway's log records) to the metrics.
    let mut instance = cfg.instance;
    instance
        .pool
        .get_or_insert_with(crate::host::UpstreamPool::default);
    let exporter = cfg
        .otlp
        .map(|otlp| Exporter::start(otlp, Arc::clone(&metrics)));
    if instance.stderr.is_none() {
        instance.metrics = Some(Arc::clone(&metrics));
        instance.traces.clone_from(&exporter);
    }
    let shared = Arc::new(Shared {
        app: OnceLock::new(),
        metrics: Arc::clone(&metrics),
        kv: instance.kv.clone(),
        exporter: exporter.clone(),
    });
    let accepting = Arc::clone(&shared);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let shared = Arc::clone(&accepting);
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(Arc::clone(&shared), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    let server = Server {
        addr,
        task,
        metrics,
        exporter,
    };
    let app = load(wasm, cfg.pooling, instance, cfg.max_idle).await?;
    // One instance now: a component that cannot be instantiated (a missing
    // import, a trap in its start) is never reported ready.
    let first = create(&app).await?;
    if let Ok(mut idle) = app.idle.lock()
        && app.max_idle > 0
    {
        idle.push(first);
    }
    let _ = shared.app.set(app);
    Ok(server)
}

async fn load(
    wasm: &Path,
    pooling: bool,
    instance: InstanceConfig,
    max_idle: usize,
) -> anyhow::Result<App> {
    let wasm = wasm.to_owned();
    // Compiling is CPU work: keep it off the runtime threads that answer
    // /livez meanwhile.
    tokio::task::spawn_blocking(move || {
        let engine = engine(pooling, Some(&crate::host::default_cache_dir()))?;
        let component = Component::from_file(&engine, &wasm)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading component {}", wasm.display()))?;
        let mut linker = link(&engine)?;
        variables::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
        Ok(App {
            pre,
            engine,
            instance,
            idle: Mutex::new(Vec::new()),
            max_idle,
        })
    })
    .await?
}

async fn create(app: &App) -> anyhow::Result<(Store<HostState>, Proxy)> {
    let mut store = new_store(&app.engine, &app.instance);
    let proxy = app.pre.instantiate_async(&mut store).await?;
    Ok((store, proxy))
}

async fn instance(app: &App) -> anyhow::Result<(Store<HostState>, Proxy)> {
    if let Some(i) = app.idle.lock().ok().and_then(|mut v| v.pop()) {
        return Ok(i);
    }
    create(app).await
}

fn error_response(status: u16, message: &str) -> hyper::Response<HyperOutgoingBody> {
    use http_body_util::BodyExt;
    let body = http_body_util::Full::new(bytes::Bytes::from(message.to_owned()))
        .map_err(|e| match e {})
        .boxed_unsync();
    let mut r = hyper::Response::new(body);
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// The label of a request path: the proxy's routes, else `other` (a
/// bounded set, whatever clients send).
fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/chat/completions" => "/v1/chat/completions",
        "/v1/messages" => "/v1/messages",
        "/v1/messages/count_tokens" => "/v1/messages/count_tokens",
        "/v1/embeddings" => "/v1/embeddings",
        "/v1/models" => "/v1/models",
        "/healthz" => "/healthz",
        _ => "other",
    }
}

fn text_response(
    status: u16,
    content_type: &str,
    body: String,
) -> hyper::Response<HyperOutgoingBody> {
    let mut r = error_response(status, &body);
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// `/metrics`, `/livez`, `/readyz`: answered by the host, never by the
/// component.
async fn operations(shared: &Shared, path: &str) -> Option<hyper::Response<HyperOutgoingBody>> {
    Some(match path {
        "/livez" => text_response(200, "text/plain", "live\n".into()),
        "/readyz" => {
            let (status, text) = readiness(shared).await;
            text_response(status, "text/plain", text)
        }
        "/metrics" => match shared.metrics.encode() {
            Ok(text) => text_response(200, Metrics::content_type(), text),
            Err(e) => text_response(500, "text/plain", format!("encoding metrics: {e:#}\n")),
        },
        _ => return None,
    })
}

/// Ready: the component is compiled and was instantiated, and the store
/// answers a read within 2 s.
async fn readiness(shared: &Shared) -> (u16, String) {
    if shared.app.get().is_none() {
        return (503, "not ready: the component is still loading\n".into());
    }
    let probe = shared.kv.exists_async("aigw-readyz", "probe");
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => (200, "ready\n".into()),
        Ok(Err(e)) => (
            503,
            format!("not ready: the key-value store failed: {e:?}\n"),
        ),
        Err(_) => (
            503,
            "not ready: the key-value store did not answer within 2 s\n".into(),
        ),
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<HyperOutgoingBody>, Infallible> {
    let arrived = Instant::now();
    if req.method() == hyper::Method::GET
        && let Some(r) = operations(&shared, req.uri().path()).await
    {
        return Ok(r);
    }
    let route = route_label(req.uri().path());
    let mut span = shared.exporter.clone().map(|e| {
        let parent = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok());
        HttpSpan::start(e, req.method(), route, parent)
    });
    let (resp, tap, guard) = match shared.app.get() {
        Some(app) => call(&shared, app, req, span.as_ref()).await,
        None => (
            error_response(503, "the component is still loading"),
            None,
            CallGuard::none(),
        ),
    };
    shared.metrics.http_request(route, resp.status().as_u16());
    if let Some(s) = &mut span {
        s.set_status(resp.status().as_u16());
    }
    let stream = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    use http_body_util::BodyExt;
    Ok(resp.map(|inner| {
        let metered = MeteredBody::new(
            inner,
            arrived,
            route,
            Arc::clone(&shared.metrics),
            stream.then_some(tap),
        )
        .with_span(span);
        GuardedBody::new(metered, guard).boxed_unsync()
    }))
}

/// Run one request through an instance: the response (head set, body
/// still being written by the guest), the instance's stderr tap, and the
/// guard that cancels the call if the client leaves first.
async fn call(
    shared: &Arc<Shared>,
    app: &App,
    req: hyper::Request<Incoming>,
    span: Option<&HttpSpan>,
) -> (
    hyper::Response<HyperOutgoingBody>,
    Option<LogTap>,
    CallGuard,
) {
    let (mut store, proxy) = match instance(app).await {
        Ok(i) => i,
        Err(e) => {
            let m = format!("instantiating the component failed: {e:#}");
            return (error_response(500, &m), None, CallGuard::none());
        }
    };
    let tap = store.data().log_tap().cloned();
    let cancel = store.data_mut().arm_cancel();
    if let (Some(t), Some(s)) = (&tap, span) {
        t.begin(s.child_context());
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let prepared = (|| {
        let mut view = store.data_mut().http();
        let req = view.new_incoming_request(Scheme::Http, req)?;
        let out = view.new_response_outparam(tx)?;
        Ok::<_, wasmtime::Error>((req, out))
    })();
    let (req, out) = match prepared {
        Ok(p) => p,
        Err(e) => {
            return (
                error_response(500, &format!("{e:#}")),
                None,
                CallGuard::none(),
            );
        }
    };
    // The guest keeps writing the body after it set the response, so the
    // call runs in its own task; the instance goes back to the pool when it
    // returns (never after a trap).
    let shared = Arc::clone(shared);
    let call = tokio::spawn(async move {
        let result = proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, req, out)
            .await;
        match result {
            Ok(()) => {
                if let Some(app) = shared.app.get()
                    && let Ok(mut idle) = app.idle.lock()
                    && idle.len() < app.max_idle
                {
                    idle.push((store, proxy));
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    });
    // Held while the response head is awaited: a client that leaves now
    // drops this future, and the guard cancels the call.
    let guard = CallGuard::new(cancel, call.abort_handle());
    let resp = match rx.await {
        Ok(Ok(resp)) => resp,
        Ok(Err(code)) => error_response(
            500,
            &format!("the component answered with an error: {code:?}"),
        ),
        Err(_) => {
            let why = match call.await {
                Ok(Err(e)) => format!("the component trapped: {e:#}"),
                Ok(Ok(())) => "the component returned without a response".to_owned(),
                Err(e) => format!("the component task failed: {e}"),
            };
            error_response(500, &why)
        }
    };
    (resp, tap, guard)
}

/// Parse `name=value` pairs.
pub fn parse_vars(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .with_context(|| format!("--var {p:?}: expected name=value"))?;
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// `wac plug <socket> --plug <plug> -o <out>`, skipped when `out` is newer
/// than both inputs. Needs the `wac` CLI (`.ci/setup` installs it).
pub fn wac_plug(socket: &Path, plug: &Path, out: &Path) -> anyhow::Result<()> {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(o), Some(s), Some(p)) = (mtime(out), mtime(socket), mtime(plug))
        && o > s
        && o > p
    {
        return Ok(());
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let wac = std::env::var("WAC").unwrap_or_else(|_| "wac".into());
    let status = std::process::Command::new(&wac)
        .arg("plug")
        .arg(socket)
        .arg("--plug")
        .arg(plug)
        .arg("-o")
        .arg(out)
        .status()
        .with_context(|| format!("running {wac} (install it with `cargo install --locked wac-cli@0.12.0 --no-default-features`, or run .ci/setup)"))?;
    anyhow::ensure!(status.success(), "wac plug failed ({status})");
    Ok(())
}

/// The OpenAI-compatible proxy composed with the gateway:
/// `target/composed/proxy.wasm`.
pub fn composed_proxy() -> anyhow::Result<std::path::PathBuf> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/composed/proxy.wasm");
    wac_plug(
        &crate::host::proxy_wasm(),
        &crate::host::gateway_wasm(),
        &out,
    )?;
    Ok(out)
}

/// `wac compose <script> -d name=path... -o <out>` (always rebuilt).
pub fn wac_compose(script: &Path, deps: &[(&str, &Path)], out: &Path) -> anyhow::Result<()> {
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let wac = std::env::var("WAC").unwrap_or_else(|_| "wac".into());
    let mut cmd = std::process::Command::new(&wac);
    cmd.arg("compose").arg(script);
    for (name, path) in deps {
        cmd.arg("-d").arg(format!("{name}={}", path.display()));
    }
    let status = cmd
        .arg("-o")
        .arg(out)
        .status()
        .with_context(|| format!("running {wac}"))?;
    anyhow::ensure!(status.success(), "wac compose failed ({status})");
    Ok(())
}

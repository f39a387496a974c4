//! `host-test serve`: a `wasi:http/incoming-handler` server on wasmtime for
//! components built on the gateway (the composed proxy, the Spin app).
//!
//! Pre-instantiated (`ProxyPre`), optionally with the pooling allocator,
//! and instances are reused: a finished request returns its instance to an
//! idle pool, so a component that keeps state between requests (the proxy's
//! opened gateway) pays for its setup once per instance, not per request.
//! The host provides WASI, `wasi:http`, our `wasi:keyvalue` and Spin-style
//! application variables (`fermyon:spin/variables@2.0.0`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

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

use crate::host::{HostState, InstanceConfig, engine, link, new_store};

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
}

struct Shared {
    pre: ProxyPre<HostState>,
    engine: wasmtime::Engine,
    instance: InstanceConfig,
    idle: Mutex<Vec<(Store<HostState>, Proxy)>>,
    max_idle: usize,
}

/// A running server. Stops when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
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

    /// Wait until the server stops (it does not, unless its task fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Load, pre-link and serve `wasm` on `cfg.addr`.
pub async fn start(wasm: &Path, cfg: ServeConfig) -> anyhow::Result<Server> {
    let engine = engine(cfg.pooling, Some(&crate::host::default_cache_dir()))?;
    let component = Component::from_file(&engine, wasm)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("loading component {}", wasm.display()))?;
    let mut linker = link(&engine)?;
    variables::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
    let listener = TcpListener::bind(cfg.addr).await?;
    let addr = listener.local_addr()?;
    // Every instance shares one pool of upstream connections.
    let mut instance = cfg.instance;
    instance
        .pool
        .get_or_insert_with(crate::host::UpstreamPool::default);
    let shared = Arc::new(Shared {
        pre,
        engine,
        instance,
        idle: Mutex::new(Vec::new()),
        max_idle: cfg.max_idle,
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(Arc::clone(&shared), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Ok(Server { addr, task })
}

async fn instance(shared: &Shared) -> anyhow::Result<(Store<HostState>, Proxy)> {
    if let Some(i) = shared.idle.lock().ok().and_then(|mut v| v.pop()) {
        return Ok(i);
    }
    let mut store = new_store(&shared.engine, &shared.instance);
    let proxy = shared.pre.instantiate_async(&mut store).await?;
    Ok((store, proxy))
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

async fn handle(
    shared: Arc<Shared>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<HyperOutgoingBody>, Infallible> {
    let (mut store, proxy) = match instance(&shared).await {
        Ok(i) => i,
        Err(e) => {
            return Ok(error_response(
                500,
                &format!("instantiating the component failed: {e:#}"),
            ));
        }
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let prepared = (|| {
        let mut view = store.data_mut().http();
        let req = view.new_incoming_request(Scheme::Http, req)?;
        let out = view.new_response_outparam(tx)?;
        Ok::<_, wasmtime::Error>((req, out))
    })();
    let (req, out) = match prepared {
        Ok(p) => p,
        Err(e) => return Ok(error_response(500, &format!("{e:#}"))),
    };
    // The guest keeps writing the body after it set the response, so the
    // call runs in its own task; the instance goes back to the pool when it
    // returns (never after a trap).
    let shared2 = Arc::clone(&shared);
    let call = tokio::spawn(async move {
        let result = proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, req, out)
            .await;
        match result {
            Ok(()) => {
                if let Ok(mut idle) = shared2.idle.lock()
                    && idle.len() < shared2.max_idle
                {
                    idle.push((store, proxy));
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    });
    match rx.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(code)) => Ok(error_response(
            500,
            &format!("the component answered with an error: {code:?}"),
        )),
        Err(_) => {
            let why = match call.await {
                Ok(Err(e)) => format!("the component trapped: {e:#}"),
                Ok(Ok(())) => "the component returned without a response".to_owned(),
                Err(e) => format!("the component task failed: {e}"),
            };
            Ok(error_response(500, &why))
        }
    }
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

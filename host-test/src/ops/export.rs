//! The OTLP/HTTP export of `serve`'s spans (docs/adr/0012-otlp-spans.md):
//! where to ([`OtlpConfig`], from `--otlp-endpoint` and the standard
//! `OTEL_*` variables), and [`Exporter`], a bounded queue and one
//! background task that posts protobuf batches with the hyper client.
//! Recording a span never blocks and never waits: when the queue is full
//! the span is dropped and counted (`aigw_otlp_spans_total{outcome="dropped"}`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use super::otlp::string;

/// The instrumentation scope of every span.
const SCOPE: &str = "ai-gateway/host-test";

/// Where and how spans are exported.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// The traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub endpoint: http::Uri,
    /// `service.name` of the resource.
    pub service_name: String,
    /// Longest wait before a batch is sent (`OTEL_BSP_SCHEDULE_DELAY`).
    pub delay: Duration,
    /// Spans kept while the exporter is busy (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub max_queue: usize,
    /// Most spans per request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub max_batch: usize,
    /// Deadline of one export request (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`).
    pub timeout: Duration,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_number(name: &str) -> anyhow::Result<Option<u64>> {
    env(name)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}"))
        })
        .transpose()
}

impl OtlpConfig {
    /// From `--otlp-endpoint` (a full traces URL), else
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (a full URL), else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL: `/v1/traces` is
    /// appended); `None` when none is set. `OTEL_SERVICE_NAME` overrides
    /// the service name `ai-gateway`, and the standard batch settings
    /// (`OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`) apply.
    pub fn from_env(flag: Option<&str>) -> anyhow::Result<Option<Self>> {
        let endpoint = match (flag, env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
            (Some(f), _) => f.to_owned(),
            (None, Some(t)) => t,
            (None, None) => match env("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) => format!("{}/v1/traces", base.trim_end_matches('/')),
                None => return Ok(None),
            },
        };
        let mut cfg = Self::new(&endpoint)?;
        if let Some(name) = env("OTEL_SERVICE_NAME") {
            cfg.service_name = name;
        }
        if let Some(ms) = env_number("OTEL_BSP_SCHEDULE_DELAY")? {
            cfg.delay = Duration::from_millis(ms.max(1));
        }
        if let Some(n) = env_number("OTEL_BSP_MAX_QUEUE_SIZE")? {
            cfg.max_queue = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        }
        if let Some(n) = env_number("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            cfg.max_batch = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        }
        if let Some(ms) = env_number("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")? {
            cfg.timeout = Duration::from_millis(ms.max(1));
        }
        Ok(Some(cfg))
    }

    /// Defaults (those of the OpenTelemetry batch span processor) for
    /// `endpoint`, which must be an `http://` URL.
    pub fn new(endpoint: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = endpoint
            .parse()
            .map_err(|e| anyhow::anyhow!("OTLP endpoint {endpoint:?}: {e}"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http") && uri.authority().is_some(),
            "OTLP endpoint {endpoint:?}: only http:// URLs are supported \
             (run a collector next to serve for TLS)"
        );
        Ok(Self {
            endpoint: uri,
            service_name: "ai-gateway".into(),
            delay: Duration::from_millis(5000),
            max_queue: 2048,
            max_batch: 512,
            timeout: Duration::from_secs(10),
        })
    }
}

enum Msg {
    Span(Box<Span>),
    Flush(oneshot::Sender<()>),
}

/// The sending side of the export queue. Cheap to clone.
#[derive(Clone)]
pub struct Exporter {
    tx: mpsc::Sender<Msg>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl Exporter {
    /// Start the export task (on the current tokio runtime).
    pub fn start(cfg: OtlpConfig, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(cfg.max_queue.max(1));
        tokio::spawn(run(cfg, rx, Arc::clone(&metrics)));
        Self { tx, metrics }
    }

    /// Queue `span`; when the queue is full it is dropped and counted.
    pub fn export(&self, span: Span) {
        if self.tx.try_send(Msg::Span(Box::new(span))).is_err() {
            self.metrics.otlp_spans("dropped", 1);
        }
    }

    /// Send every span queued so far, waiting at most `timeout`.
    pub async fn flush(&self, timeout: Duration) {
        let (ack, done) = oneshot::channel();
        let sent = tokio::time::timeout(timeout, async {
            if self.tx.send(Msg::Flush(ack)).await.is_ok() {
                let _ = done.await;
            }
        });
        let _ = sent.await;
    }
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// The export task: batches of at most `max_batch` spans, sent when full,
/// every `delay`, on a flush, and when every sender is gone.
async fn run(cfg: OtlpConfig, mut rx: mpsc::Receiver<Msg>, metrics: Arc<Metrics>) {
    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
    let resource = Resource {
        attributes: vec![
            string("service.name", &cfg.service_name),
            string("service.version", env!("CARGO_PKG_VERSION")),
        ],
        ..Resource::default()
    };
    let mut exporter = Batches {
        cfg: &cfg,
        client,
        resource,
        metrics,
        batch: Vec::new(),
        last_error: None,
    };
    let mut tick = tokio::time::interval(cfg.delay);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Span(span)) => {
                    exporter.batch.push(*span);
                    if exporter.batch.len() >= cfg.max_batch {
                        exporter.send().await;
                    }
                }
                Some(Msg::Flush(ack)) => {
                    // Everything queued before the flush is in the channel
                    // ahead of it, so already in the batch.
                    exporter.send().await;
                    let _ = ack.send(());
                }
                None => {
                    exporter.send().await;
                    return;
                }
            },
            _ = tick.tick() => exporter.send().await,
        }
    }
}

struct Batches<'a> {
    cfg: &'a OtlpConfig,
    client: Client,
    resource: Resource,
    metrics: Arc<Metrics>,
    batch: Vec<Span>,
    /// When the last failure was reported on stderr (at most one a minute).
    last_error: Option<std::time::Instant>,
}

impl Batches<'_> {
    async fn send(&mut self) {
        while !self.batch.is_empty() {
            let n = self.batch.len().min(self.cfg.max_batch);
            let spans: Vec<Span> = self.batch.drain(..n).collect();
            let request = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(self.resource.clone()),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: SCOPE.into(),
                            version: env!("CARGO_PKG_VERSION").into(),
                            ..InstrumentationScope::default()
                        }),
                        spans,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                }],
            };
            let count = u64::try_from(n).unwrap_or(u64::MAX);
            match self.post(request.encode_to_vec()).await {
                Ok(()) => self.metrics.otlp_spans("exported", count),
                Err(e) => {
                    self.metrics.otlp_spans("failed", count);
                    let quiet = self
                        .last_error
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(60));
                    if !quiet {
                        self.last_error = Some(std::time::Instant::now());
                        eprintln!(
                            "otlp: exporting {n} spans to {} failed: {e:#}",
                            self.cfg.endpoint
                        );
                    }
                }
            }
        }
    }

    async fn post(&self, body: Vec<u8>) -> anyhow::Result<()> {
        let req = http::Request::post(self.cfg.endpoint.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::from(body)))?;
        let exchange = async {
            let resp = self.client.request(req).await?;
            let status = resp.status();
            // Read the (small) reply so the connection can be reused.
            let reply = resp.into_body().collect().await?.to_bytes();
            anyhow::ensure!(
                status.is_success(),
                "the collector answered {status}: {}",
                String::from_utf8_lossy(reply.get(..reply.len().min(200)).unwrap_or_default())
            );
            Ok(())
        };
        tokio::time::timeout(self.cfg.timeout, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {:?}", self.cfg.timeout))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_must_be_http() {
        assert!(OtlpConfig::new("http://127.0.0.1:4318/v1/traces").is_ok());
        assert!(OtlpConfig::new("https://collector/v1/traces").is_err());
        assert!(OtlpConfig::new("not a url").is_err());
    }
}

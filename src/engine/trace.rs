//! Log records of one call (`withLogging` in the TypeScript library): request, retry, response,
//! error. They go back to the caller as `trace`, and as JSON lines to the
//! log sink when the config asks for stderr. Records never carry API keys;
//! the input only when `include-prompts` is set.

use std::borrow::Cow;

use crate::config::LoggingConfig;
use crate::ports::LogSink;
use crate::secrets::Secrets;
use crate::types::{LogEvent, LogLevel, LogRecord, Usage};

#[derive(Debug)]
pub struct Tracer<'a> {
    config: Option<&'a LoggingConfig>,
    /// Removed from error texts before they are recorded or logged.
    secrets: Cow<'a, Secrets>,
    operation: &'static str,
    model: String,
    started_ms: u64,
    records: Vec<LogRecord>,
    /// The caller's id for the call, written in every record.
    request_id: Option<String>,
}

/// What a `response` record reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseInfo<'a> {
    pub provider: Option<&'a str>,
    pub usage: Option<Usage>,
    pub cost_micro_usd: Option<u64>,
    pub attempts: u32,
    pub cached: bool,
}

impl<'a> Tracer<'a> {
    pub fn new(
        config: Option<&'a LoggingConfig>,
        operation: &'static str,
        model: &str,
        started_ms: u64,
    ) -> Self {
        Self {
            config,
            secrets: Cow::Owned(Secrets::default()),
            operation,
            model: model.to_owned(),
            started_ms,
            records: Vec::new(),
            request_id: None,
        }
    }

    /// Write `id` (`run-options.request-id`) in every record.
    pub fn with_request_id(mut self, id: Option<&str>) -> Self {
        self.request_id = id.map(str::to_owned);
        self
    }

    /// Scrub these secrets from every error this tracer records or logs.
    pub fn with_secrets(mut self, secrets: Cow<'a, Secrets>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Scrub this tracer's secrets from an error about to leave the gateway.
    pub fn scrub(&self, e: &mut crate::error::GatewayError) {
        self.secrets.scrub_error(e);
    }

    fn enabled(&self, level: LogLevel) -> bool {
        self.config.is_some_and(|c| level >= c.level)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one record's fields; a builder would only move them"
    )]
    fn push(
        &mut self,
        level: LogLevel,
        event: LogEvent,
        now_ms: u64,
        info: ResponseInfo<'_>,
        error: Option<String>,
        prompt: Option<String>,
        sink: &dyn LogSink,
    ) {
        if !self.enabled(level) {
            return;
        }
        let error = error.map(|mut e| {
            self.secrets.scrub_text(&mut e);
            e
        });
        let record = LogRecord {
            level,
            event,
            timestamp_ms: now_ms,
            operation: self.operation.to_owned(),
            provider: info.provider.map(str::to_owned),
            model: self.model.clone(),
            duration_ms: now_ms.saturating_sub(self.started_ms),
            usage: info.usage,
            cost_micro_usd: info.cost_micro_usd,
            attempts: info.attempts,
            cached: info.cached,
            error,
            prompt,
            request_id: self.request_id.clone(),
        };
        if self.config.is_some_and(|c| c.stderr)
            && let Ok(line) = serde_json::to_string(&record)
        {
            sink.line(&line);
        }
        self.records.push(record);
    }

    /// The `request` record; `input` (a chat input, or embedding inputs)
    /// is included only when the config asks for prompts.
    pub fn request<I: serde::Serialize + ?Sized>(
        &mut self,
        now_ms: u64,
        provider: Option<&str>,
        input: &I,
        sink: &dyn LogSink,
    ) {
        let prompt = self
            .config
            .filter(|c| c.include_prompts)
            .and_then(|_| serde_json::to_string(input).ok());
        let info = ResponseInfo {
            provider,
            ..ResponseInfo::default()
        };
        self.push(
            LogLevel::Info,
            LogEvent::Request,
            now_ms,
            info,
            None,
            prompt,
            sink,
        );
    }

    pub fn retry(
        &mut self,
        now_ms: u64,
        provider: &str,
        attempts: u32,
        error: String,
        sink: &dyn LogSink,
    ) {
        let info = ResponseInfo {
            provider: Some(provider),
            attempts,
            ..ResponseInfo::default()
        };
        self.push(
            LogLevel::Warn,
            LogEvent::Retry,
            now_ms,
            info,
            Some(error),
            None,
            sink,
        );
    }

    pub fn response(&mut self, now_ms: u64, info: ResponseInfo<'_>, sink: &dyn LogSink) {
        self.push(
            LogLevel::Info,
            LogEvent::Response,
            now_ms,
            info,
            None,
            None,
            sink,
        );
    }

    pub fn error(
        &mut self,
        now_ms: u64,
        provider: Option<&str>,
        attempts: u32,
        error: String,
        sink: &dyn LogSink,
    ) {
        let info = ResponseInfo {
            provider,
            attempts,
            ..ResponseInfo::default()
        };
        self.push(
            LogLevel::Error,
            LogEvent::Error,
            now_ms,
            info,
            Some(error),
            None,
            sink,
        );
    }

    /// Continue a trace started earlier (a stream's terminal event), with
    /// the same secrets as the call that started it.
    pub fn resume(
        config: Option<&'a LoggingConfig>,
        operation: &'static str,
        model: &str,
        started_ms: u64,
        records: Vec<LogRecord>,
        secrets: &'a Secrets,
    ) -> Self {
        Self {
            config,
            secrets: Cow::Borrowed(secrets),
            operation,
            model: model.to_owned(),
            started_ms,
            request_id: records.first().and_then(|r| r.request_id.clone()),
            records,
        }
    }

    /// Whether an `error` record was written.
    pub fn has_error(&self) -> bool {
        self.records.iter().any(|r| r.event == LogEvent::Error)
    }

    pub fn into_records(self) -> Vec<LogRecord> {
        self.records
    }

    /// The records and the secrets, for a stream that carries both on.
    pub fn into_parts(self) -> (Vec<LogRecord>, Cow<'a, Secrets>) {
        (self.records, self.secrets)
    }

    pub fn records(&self) -> &[LogRecord] {
        &self.records
    }
}

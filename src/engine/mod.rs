//! The gateway engine: pure orchestration over the ports. Resolves the
//! provider (call override → routes → default), applies the allowlist, rate
//! limits, the response cache and the budget, runs the retry / fallback
//! loop, records cost and builds the trace. No IO of its own.

pub mod allowlist;
pub mod backoff;
pub mod cache;
pub mod cost;
pub mod ratelimit;
pub mod router;
mod stream;
pub mod trace;
mod universal;

pub use stream::{LiveStream, Poll};

use std::collections::BTreeSet;

use crate::config::{
    AttemptTimeouts, CacheConfig, CfGatewayConfig, Endpoint, GatewayConfig, LoggingConfig,
    NamedChain, RateLimitConfig,
};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{HttpRequest, ResponseHead, check_id, check_model};
use crate::ports::{Body, Clock, Http, Kv, LogSink, Random, SendOptions, read_to_end};
use crate::provider::{self, ChatCall};
use crate::types::{
    Attempt, Completion, EmbedOptions, EmbedOutput, FallbackEntry, Input, Output, RetryPolicy,
    RunOptions,
};
use allowlist::Allowlist;
use cost::CostTracker;
use router::Router;
use trace::{ResponseInfo, Tracer};

/// Largest response body the gateway reads into memory (non-streaming).
pub const MAX_BODY: usize = 32 << 20;

/// The host services one call runs with.
pub struct Env<'a, H: Http> {
    pub http: &'a H,
    pub clock: &'a dyn Clock,
    pub random: &'a dyn Random,
    pub kv: &'a dyn Kv,
    pub log: &'a dyn LogSink,
}

impl<H: Http> std::fmt::Debug for Env<'_, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

/// One provider/model pair to try.
#[derive(Debug, Clone)]
pub(crate) struct Target<'g> {
    pub endpoint: &'g Endpoint,
    pub model: String,
}

/// When a failed entry moves on to the next one.
#[derive(Debug, Clone)]
pub(crate) enum MoveOn {
    /// Retryable errors only (the default).
    Retryable,
    /// Any error of these kinds.
    Kinds(Vec<ErrorKind>),
}

impl MoveOn {
    fn applies(&self, e: &GatewayError) -> bool {
        match self {
            Self::Retryable => e.is_retryable(),
            Self::Kinds(k) => k.contains(&e.kind()),
        }
    }
}

/// A resolved plan for one call.
#[derive(Debug)]
pub(crate) struct Plan<'g> {
    pub targets: Vec<Target<'g>>,
    pub move_on: MoveOn,
    /// What serves the call, for cache keys and rate limits.
    pub identity: String,
}

/// A configured gateway.
#[derive(Debug)]
pub struct Gateway {
    endpoints: Vec<Endpoint>,
    default_provider: Option<String>,
    router: Router,
    cf: Option<CfGatewayConfig>,
    retry: RetryPolicy,
    chains: Vec<NamedChain>,
    allowlist: Option<Allowlist>,
    timeout_ms: Option<u64>,
    attempt_timeouts: AttemptTimeouts,
    cache: Option<CacheConfig>,
    cost: Option<CostTracker>,
    rate_limits: Option<RateLimitConfig>,
    logging: Option<LoggingConfig>,
    /// Every configured credential (API keys, tokens, secret headers): never
    /// in an error, trace or log line, whatever an upstream echoes.
    pub(crate) secrets: Vec<String>,
}

/// Credentials shorter than this are not scrubbed from texts (they would
/// garble ordinary words); real keys are far longer.
const MIN_SCRUBBED_SECRET: usize = 8;

impl Gateway {
    /// The configured secrets plus credential headers given with this call.
    fn call_secrets(&self, headers: &[(String, String)]) -> std::borrow::Cow<'_, [String]> {
        let extra: Vec<String> = headers
            .iter()
            .filter(|(k, _)| crate::http::is_secret_header(k))
            .map(|(_, v)| v.strip_prefix("Bearer ").unwrap_or(v).to_owned())
            .filter(|v| v.len() >= MIN_SCRUBBED_SECRET)
            .collect();
        if extra.is_empty() {
            return std::borrow::Cow::Borrowed(&self.secrets);
        }
        let mut all = self.secrets.clone();
        all.extend(extra);
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        all.dedup();
        std::borrow::Cow::Owned(all)
    }
}

fn collect_secrets(endpoints: &[Endpoint], cf: Option<&CfGatewayConfig>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in endpoints {
        out.extend(e.api_key.as_ref().map(|k| k.expose().to_owned()));
        out.extend(
            e.headers
                .iter()
                .filter(|(k, _)| crate::http::is_secret_header(k))
                .map(|(_, v)| v.strip_prefix("Bearer ").unwrap_or(v).to_owned()),
        );
    }
    if let Some(t) = cf.and_then(|c| c.auth_token.as_ref()) {
        out.push(t.expose().to_owned());
    }
    out.retain(|s| s.len() >= MIN_SCRUBBED_SECRET);
    // Longest first, so a key that contains another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

fn validate_retry(p: &RetryPolicy) -> Result<()> {
    if p.max_attempts == 0 {
        return Err(GatewayError::validation(
            "retry max-attempts must be at least 1",
        ));
    }
    if p.initial_backoff_ms > p.max_backoff_ms {
        return Err(GatewayError::validation(
            "retry initial-backoff-ms exceeds max-backoff-ms",
        ));
    }
    Ok(())
}

impl Gateway {
    /// Validate the configuration and resolve every provider once.
    pub fn open(config: GatewayConfig) -> Result<Self> {
        if config.providers.is_empty() {
            return Err(GatewayError::validation(
                "the gateway needs at least one provider",
            ));
        }
        if let Some(cf) = &config.cf_gateway {
            check_id("cf-gateway account-id", &cf.account_id)?;
            check_id("cf-gateway gateway-id", &cf.gateway_id)?;
        }
        let mut names = BTreeSet::new();
        let mut endpoints = Vec::with_capacity(config.providers.len());
        for p in &config.providers {
            if p.name.is_empty() {
                return Err(GatewayError::validation("a provider has an empty name"));
            }
            if !names.insert(p.name.as_str()) {
                return Err(GatewayError::validation(format!(
                    "provider name {:?} is used twice",
                    p.name
                )));
            }
            endpoints.push(Endpoint::resolve(p, config.cf_gateway.as_ref())?);
        }
        let known = |n: &str, what: &str| -> Result<()> {
            if names.contains(n) {
                Ok(())
            } else {
                Err(GatewayError::validation(format!(
                    "{what} names unknown provider {n:?}"
                )))
            }
        };
        if let Some(d) = &config.default_provider {
            known(d, "default-provider")?;
        }
        let router = Router::new(config.router.clone().unwrap_or_default())?;
        for r in &router.config().routes {
            known(&r.provider, &format!("route {:?}", r.pattern))?;
        }
        if let Some(f) = &router.config().fallback {
            known(f, "router fallback")?;
        }
        let mut chain_names = BTreeSet::new();
        for c in &config.chains {
            if c.name.is_empty() || !chain_names.insert(c.name.as_str()) {
                return Err(GatewayError::validation(format!(
                    "chain name {:?} is empty or used twice",
                    c.name
                )));
            }
            if c.chain.entries.is_empty() {
                return Err(GatewayError::validation(format!(
                    "chain {:?} has no entries",
                    c.name
                )));
            }
            for e in &c.chain.entries {
                known(&e.provider, &format!("chain {:?}", c.name))?;
            }
        }
        let retry = config.retry.clone().unwrap_or_default();
        validate_retry(&retry)?;
        if let Some(c) = &config.cache {
            if c.bucket.is_empty() {
                return Err(GatewayError::validation("cache bucket is empty"));
            }
            if c.ttl_seconds == 0 {
                return Err(GatewayError::validation(
                    "cache ttl-seconds must be at least 1",
                ));
            }
        }
        if let Some(r) = &config.rate_limits {
            ratelimit::validate(r)?;
        }
        let cost = config.cost.clone().map(CostTracker::new).transpose()?;
        let secrets = collect_secrets(&endpoints, config.cf_gateway.as_ref());
        Ok(Self {
            endpoints,
            default_provider: config.default_provider,
            router,
            cf: config.cf_gateway,
            retry,
            chains: config.chains,
            allowlist: config.allowlist.map(Allowlist::new),
            timeout_ms: config.timeout_ms,
            attempt_timeouts: config.attempt_timeouts,
            cache: config.cache,
            cost,
            rate_limits: config.rate_limits,
            logging: config.logging,
            secrets,
        })
    }

    /// Provider names in configuration order.
    pub fn providers(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.name.clone()).collect()
    }

    pub fn default_provider(&self) -> Option<&str> {
        self.default_provider.as_deref()
    }

    pub fn cost_tracker(&self) -> Option<&CostTracker> {
        self.cost.as_ref()
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn allowlist(&self) -> Option<&Allowlist> {
        self.allowlist.as_ref()
    }

    pub fn chains(&self) -> &[NamedChain] {
        &self.chains
    }

    fn endpoint(&self, name: &str) -> Result<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| GatewayError::validation(format!("unknown provider {name:?}")))
    }

    /// The provider a call on `model` uses: the explicit one, else the first
    /// matching route, else the default.
    pub fn resolve_provider(&self, model: &str, provider: Option<&str>) -> Result<&Endpoint> {
        if let Some(p) = provider {
            return self.endpoint(p);
        }
        if let Some(p) = self.router.resolve(model) {
            return self.endpoint(p);
        }
        if let Some(p) = &self.default_provider {
            return self.endpoint(p);
        }
        Err(GatewayError::validation(format!(
            "no provider for model {model:?}: name one, add a route, or set default-provider"
        )))
    }

    fn check_allowed(&self, t: &Target<'_>) -> Result<()> {
        match &self.allowlist {
            Some(a) if !a.is_allowed(&t.endpoint.name, &t.model) => {
                Err(GatewayError::ModelNotAllowed {
                    provider: t.endpoint.name.clone(),
                    model: t.model.clone(),
                })
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn plan(&self, model: &str, opts: &RunOptions) -> Result<Plan<'_>> {
        let chain = match &opts.fallback {
            Some(c) => Some(c),
            None if opts.provider.is_none() => self
                .chains
                .iter()
                .find(|c| c.name == model)
                .map(|c| &c.chain),
            None => None,
        };
        let plan = match chain {
            Some(chain) => {
                if chain.entries.is_empty() {
                    return Err(GatewayError::validation("fallback chain has no entries"));
                }
                let targets = chain
                    .entries
                    .iter()
                    .map(|e| {
                        check_model(&e.model)?;
                        Ok(Target {
                            endpoint: self.endpoint(&e.provider)?,
                            model: e.model.clone(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let identity = chain
                    .entries
                    .iter()
                    .map(|e| format!("{}/{}", e.provider, e.model))
                    .collect::<Vec<_>>()
                    .join(",");
                let move_on = if chain.on.is_empty() {
                    MoveOn::Retryable
                } else {
                    MoveOn::Kinds(chain.on.clone())
                };
                Plan {
                    targets,
                    move_on,
                    identity,
                }
            }
            None => {
                check_model(model)?;
                let endpoint = self.resolve_provider(model, opts.provider.as_deref())?;
                Plan {
                    identity: endpoint.name.clone(),
                    targets: vec![Target {
                        endpoint,
                        model: model.to_owned(),
                    }],
                    move_on: MoveOn::Retryable,
                }
            }
        };
        for t in &plan.targets {
            self.check_allowed(t)?;
        }
        Ok(plan)
    }

    fn deadline(&self, clock: &dyn Clock, opts_timeout: Option<u64>) -> Option<u64> {
        opts_timeout
            .or(self.timeout_ms)
            .map(|t| clock.monotonic_ms().saturating_add(t))
    }

    fn send_options(&self, deadline: Option<u64>) -> SendOptions {
        SendOptions {
            deadline_ms: deadline,
            connect_timeout_ms: self.attempt_timeouts.connect_ms,
            first_byte_timeout_ms: self.attempt_timeouts.first_byte_ms,
            between_bytes_timeout_ms: self.attempt_timeouts.between_bytes_ms,
        }
    }

    /// Checks every call passes before any upstream request: rate limits.
    fn admit<H: Http>(
        &self,
        env: &Env<'_, H>,
        plan: &Plan<'_>,
        model: &str,
        caller: Option<&str>,
    ) -> Result<()> {
        if let Some(rl) = &self.rate_limits {
            let provider = plan
                .targets
                .first()
                .map_or("", |t| t.endpoint.name.as_str());
            ratelimit::admit(
                env.kv,
                rl,
                &ratelimit::Subject {
                    provider,
                    model,
                    caller,
                },
                env.clock.now_ms(),
            )?;
        }
        Ok(())
    }

    fn check_budget<H: Http>(&self, env: &Env<'_, H>) -> Result<()> {
        match &self.cost {
            Some(c) => c.check_budget(env.kv),
            None => Ok(()),
        }
    }

    /// Record usage once per successful upstream call: cost and token rate
    /// limits. Returns the cost when the model is priced.
    fn account<H: Http>(
        &self,
        env: &Env<'_, H>,
        provider: &str,
        model: &str,
        caller: Option<&str>,
        usage: Option<&crate::types::Usage>,
    ) -> Result<Option<u64>> {
        let Some(usage) = usage else { return Ok(None) };
        if let Some(rl) = &self.rate_limits {
            let subject = ratelimit::Subject {
                provider,
                model,
                caller,
            };
            ratelimit::account_tokens(env.kv, rl, &subject, usage.total(), env.clock.now_ms())?;
        }
        match &self.cost {
            Some(c) => {
                let cost = c.record(env.kv, model, usage)?;
                Ok(c.is_priced(model).then_some(cost))
            }
            None => Ok(None),
        }
    }

    /// The retry / fallback loop shared by every operation. `op` makes one
    /// attempt against a target and reports the HTTP status it saw.
    #[expect(
        clippy::too_many_arguments,
        reason = "the loop's whole context; bundling it would only rename it"
    )]
    fn execute<H: Http, T>(
        &self,
        env: &Env<'_, H>,
        targets: &[Target<'_>],
        move_on: &MoveOn,
        policy: &RetryPolicy,
        deadline: Option<u64>,
        tracer: &mut Tracer<'_>,
        attempts: &mut Vec<Attempt>,
        mut op: impl FnMut(&Target<'_>) -> (Result<T>, Option<u16>),
    ) -> Result<(T, usize)> {
        let mut retries = 0u32;
        let mut last: Option<GatewayError> = None;
        for (index, target) in targets.iter().enumerate() {
            loop {
                if deadline.is_some_and(|d| env.clock.monotonic_ms() >= d) {
                    return Err(GatewayError::timeout("the call's deadline passed"));
                }
                let started = env.clock.monotonic_ms();
                let (result, status) = op(target);
                attempts.push(Attempt {
                    provider: target.endpoint.name.clone(),
                    model: target.model.clone(),
                    status,
                    duration_ms: env.clock.monotonic_ms().saturating_sub(started),
                    error: result.as_ref().err().map(GatewayError::kind),
                });
                let e = match result {
                    Ok(v) => return Ok((v, index)),
                    Err(e) => e.with_provider(&target.endpoint.name),
                };
                let attempt_count = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
                let delay = (backoff::retries(policy, &e)
                    && retries.saturating_add(1) < policy.max_attempts)
                    .then(|| backoff::delay_ms(policy, &e, retries, env.random.next_u64()))
                    .flatten();
                if let Some(delay) = delay {
                    if deadline.is_some_and(|d| env.clock.monotonic_ms().saturating_add(delay) >= d)
                    {
                        return Err(GatewayError::timeout(format!(
                            "the call's deadline would pass during the {delay} ms wait before retrying ({e})"
                        )));
                    }
                    tracer.retry(
                        env.clock.now_ms(),
                        &target.endpoint.name,
                        attempt_count,
                        e.to_string(),
                        env.log,
                    );
                    env.clock.sleep_ms(delay);
                    retries += 1;
                    continue;
                }
                if index + 1 < targets.len() && move_on.applies(&e) {
                    tracer.retry(
                        env.clock.now_ms(),
                        &target.endpoint.name,
                        attempt_count,
                        e.to_string(),
                        env.log,
                    );
                    last = Some(e);
                    break;
                }
                return Err(e);
            }
        }
        Err(last.unwrap_or_else(|| GatewayError::internal("no target to try")))
    }

    /// Send one request and read the whole response.
    fn exchange<H: Http>(
        &self,
        env: &Env<'_, H>,
        endpoint: &Endpoint,
        req: &HttpRequest,
        deadline: Option<u64>,
    ) -> (Result<(ResponseHead, Vec<u8>)>, Option<u16>) {
        let (head, mut body) = match env.http.send(req, &self.send_options(deadline)) {
            Ok(x) => x,
            Err(e) => return (Err(e.into_gateway(&endpoint.name)), None),
        };
        let status = Some(head.status);
        let bytes = match read_body(&head, &mut body, deadline, &endpoint.name) {
            Ok(b) => b,
            Err(e) => return (Err(e), status),
        };
        if !head.is_success() {
            return (
                Err(provider::error_for(
                    endpoint,
                    &head,
                    &bytes,
                    env.clock.now_ms(),
                )),
                status,
            );
        }
        (Ok((head, bytes)), status)
    }

    fn chat_attempt<H: Http>(
        &self,
        env: &Env<'_, H>,
        t: &Target<'_>,
        input: &Input,
        opts: &RunOptions,
        deadline: Option<u64>,
    ) -> (Result<(Completion, Vec<u8>)>, Option<u16>) {
        let call = ChatCall {
            endpoint: t.endpoint,
            model: &t.model,
            input,
            options: opts,
            stream: false,
        };
        let req = match provider::build_chat(&call) {
            Ok(r) => r,
            Err(e) => return (Err(e), None),
        };
        let (res, status) = self.exchange(env, t.endpoint, &req, deadline);
        let res = res.and_then(|(head, bytes)| {
            let c = provider::parse_chat_reply(t.endpoint, &head, &bytes)
                .map_err(|e| with_status(e, head.status))?;
            Ok((c, bytes))
        });
        (res, status)
    }

    fn common_checks(&self, input: &Input, opts: &RunOptions) -> Result<()> {
        input.validate()?;
        opts.validate()?;
        if let Some(p) = &opts.retry {
            validate_retry(p)?;
        }
        Ok(())
    }

    /// One-shot inference (WIT `gateway.run`).
    pub fn run<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<Output> {
        let secrets = self.call_secrets(&opts.headers);
        let mut tracer = Tracer::new(self.logging.as_ref(), "run", model, env.clock.now_ms())
            .with_secrets(&secrets);
        let result = self.run_inner(env, model, input, opts, &mut tracer);
        finish(env, tracer, result, |o, t| o.trace = t)
    }

    fn run_inner<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
        tracer: &mut Tracer<'_>,
    ) -> Result<Output> {
        self.common_checks(input, opts)?;
        let plan = self.plan(model, opts)?;
        tracer.request(
            env.clock.now_ms(),
            plan.targets.first().map(|t| t.endpoint.name.as_str()),
            input,
            env.log,
        );
        self.admit(env, &plan, model, opts.caller.as_deref())?;
        let cache = self
            .cache
            .as_ref()
            .filter(|_| opts.cache != Some(crate::types::CacheMode::Bypass));
        let cache_key = cache.map(|c| cache::key(c, &plan.identity, model, input, opts));
        if let (Some(c), Some(k)) = (cache, &cache_key)
            && opts.cache != Some(crate::types::CacheMode::Refresh)
            && let Some(mut hit) = cache::get(env.kv, c, k, env.clock.now_ms())
        {
            hit.cached = true;
            let info = ResponseInfo {
                provider: Some(&hit.provider),
                usage: hit.usage,
                cached: true,
                ..ResponseInfo::default()
            };
            tracer.response(env.clock.now_ms(), info, env.log);
            return Ok(hit);
        }
        self.check_budget(env)?;
        let deadline = self.deadline(env.clock, opts.timeout_ms);
        let policy = opts.retry.as_ref().unwrap_or(&self.retry);
        let mut attempts = Vec::new();
        let result = self.execute(
            env,
            &plan.targets,
            &plan.move_on,
            policy,
            deadline,
            tracer,
            &mut attempts,
            |t| self.chat_attempt(env, t, input, opts, deadline),
        );
        let ((completion, raw), served) = match result {
            Ok(v) => v,
            Err(e) => return Err(with_attempts(e, &attempts, tracer, env, &plan)),
        };
        let target = plan
            .targets
            .get(served)
            .ok_or_else(|| GatewayError::internal("served index out of range"))?;
        let mut output = self.output_for(completion, target, raw);
        output.attempts = attempts;
        if let (Some(c), Some(k)) = (cache, &cache_key) {
            // A store failure must not fail a call that succeeded upstream.
            let _ = cache::put(env.kv, c, k, &output, env.clock.now_ms());
        }
        output.cost_micro_usd = self.account(
            env,
            &target.endpoint.name,
            &target.model,
            opts.caller.as_deref(),
            output.usage.as_ref(),
        )?;
        let info = ResponseInfo {
            provider: Some(&output.provider),
            usage: output.usage,
            cost_micro_usd: output.cost_micro_usd,
            attempts: u32::try_from(output.attempts.len()).unwrap_or(u32::MAX),
            cached: false,
        };
        tracer.response(env.clock.now_ms(), info, env.log);
        Ok(output)
    }

    fn output_for(&self, mut completion: Completion, target: &Target<'_>, raw: Vec<u8>) -> Output {
        if completion.model.is_empty() {
            completion.model = target.model.clone();
        }
        let raw = String::from_utf8(raw).ok();
        Output::from_completion(completion, target.endpoint.name.clone(), raw)
    }

    /// Streaming inference (WIT `gateway.stream`). Retries and fallbacks
    /// happen until the first event is known; an error before that is
    /// returned here, after that it ends the stream.
    pub fn stream<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<LiveStream<H::Body>> {
        let started_ms = env.clock.now_ms();
        let secrets = self.call_secrets(&opts.headers);
        let mut tracer =
            Tracer::new(self.logging.as_ref(), "stream", model, started_ms).with_secrets(&secrets);
        let result = self.stream_inner(env, model, input, opts, &mut tracer);
        let logging = self.logging.clone();
        let result = finish(env, tracer, result, |s, records| {
            s.set_trace(logging, model, started_ms, records)
        });
        match (result, secrets) {
            (Ok(mut s), std::borrow::Cow::Owned(all)) => {
                s.set_call_secrets(all);
                Ok(s)
            }
            (result, _) => result,
        }
    }

    fn stream_inner<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
        tracer: &mut Tracer<'_>,
    ) -> Result<LiveStream<H::Body>> {
        self.common_checks(input, opts)?;
        let plan = self.plan(model, opts)?;
        tracer.request(
            env.clock.now_ms(),
            plan.targets.first().map(|t| t.endpoint.name.as_str()),
            input,
            env.log,
        );
        self.admit(env, &plan, model, opts.caller.as_deref())?;
        let cache = self
            .cache
            .as_ref()
            .filter(|c| c.streams && opts.cache != Some(crate::types::CacheMode::Bypass));
        let cache_key = cache.map(|c| cache::key(c, &plan.identity, model, input, opts));
        if let (Some(c), Some(k)) = (cache, &cache_key)
            && opts.cache != Some(crate::types::CacheMode::Refresh)
            && let Some(hit) = cache::get(env.kv, c, k, env.clock.now_ms())
        {
            return Ok(LiveStream::replay(cache::replay_events(&hit)));
        }
        self.check_budget(env)?;
        let deadline = self.deadline(env.clock, opts.timeout_ms);
        let policy = opts.retry.as_ref().unwrap_or(&self.retry);
        let mut attempts = Vec::new();
        let result = self.execute(
            env,
            &plan.targets,
            &plan.move_on,
            policy,
            deadline,
            tracer,
            &mut attempts,
            |t| {
                let call = ChatCall {
                    endpoint: t.endpoint,
                    model: &t.model,
                    input,
                    options: opts,
                    stream: true,
                };
                let req = match provider::build_chat(&call) {
                    Ok(r) => r,
                    Err(e) => return (Err(e), None),
                };
                match env.http.send(&req, &self.send_options(deadline)) {
                    Err(e) => (Err(e.into_gateway(&t.endpoint.name)), None),
                    Ok((head, mut body)) => {
                        let status = Some(head.status);
                        if !head.is_success() {
                            let bytes = read_body(&head, &mut body, deadline, &t.endpoint.name);
                            let e = match bytes {
                                Ok(b) => {
                                    provider::error_for(t.endpoint, &head, &b, env.clock.now_ms())
                                }
                                Err(e) => e,
                            };
                            return (Err(e), status);
                        }
                        if let Err(e) =
                            provider::unexpected_content_type(&head, &[], &["text/html"])
                        {
                            return (Err(e), status);
                        }
                        if provider::media_type(&head)
                            .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
                        {
                            // A server that ignored `stream: true` (or sent
                            // its error as JSON): the answer, as events.
                            let bytes =
                                match read_body(&head, &mut body, deadline, &t.endpoint.name) {
                                    Ok(b) => b,
                                    Err(e) => return (Err(e), status),
                                };
                            return (stream::from_json_body(t, &head, &bytes), status);
                        }
                        let mut s = LiveStream::live(
                            body,
                            t.endpoint.wire,
                            &t.endpoint.name,
                            &t.model,
                            deadline,
                        );
                        if crate::encoding::says_gzip(&head) {
                            s.decode_gzip();
                        }
                        // Wait for the first event: an upstream that fails before
                        // sending anything is retried like any failed attempt.
                        match s.prime(env.clock) {
                            Ok(()) => (Ok(s), status),
                            Err(e) => (Err(e), status),
                        }
                    }
                }
            },
        );
        let (mut stream, served) = match result {
            Ok(v) => v,
            Err(e) => return Err(with_attempts(e, &attempts, tracer, env, &plan)),
        };
        let target = plan
            .targets
            .get(served)
            .ok_or_else(|| GatewayError::internal("served index out of range"))?;
        stream.set_context(
            stream::Context {
                provider: target.endpoint.name.clone(),
                model: target.model.clone(),
                caller: opts.caller.clone(),
                cache: cache.cloned().zip(cache_key),
            },
            attempts,
        );
        Ok(stream)
    }

    /// Server-side fallback through Cloudflare's Universal Endpoint (WIT
    /// `gateway.run-fallback`).
    pub fn run_fallback<H: Http>(
        &self,
        env: &Env<'_, H>,
        entries: &[FallbackEntry],
        input: &Input,
        opts: &RunOptions,
    ) -> Result<Output> {
        let model = entries
            .first()
            .map(|e| e.model.as_str())
            .unwrap_or_default();
        let secrets = self.call_secrets(&opts.headers);
        let mut tracer = Tracer::new(
            self.logging.as_ref(),
            "run-fallback",
            model,
            env.clock.now_ms(),
        )
        .with_secrets(&secrets);
        let result = self.run_fallback_inner(env, entries, input, opts, &mut tracer);
        finish(env, tracer, result, |o, t| o.trace = t)
    }

    fn run_fallback_inner<H: Http>(
        &self,
        env: &Env<'_, H>,
        entries: &[FallbackEntry],
        input: &Input,
        opts: &RunOptions,
        tracer: &mut Tracer<'_>,
    ) -> Result<Output> {
        self.common_checks(input, opts)?;
        let cf = self
            .cf
            .as_ref()
            .ok_or_else(|| GatewayError::validation("run-fallback requires cf-gateway"))?;
        if entries.is_empty() {
            return Err(GatewayError::validation(
                "run-fallback needs at least one entry",
            ));
        }
        let targets = entries
            .iter()
            .map(|e| {
                Ok(Target {
                    endpoint: self.endpoint(&e.provider)?,
                    model: e.model.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for t in &targets {
            self.check_allowed(t)?;
        }
        let req = universal::build(cf, &targets, input, opts)?;
        let first = targets
            .first()
            .ok_or_else(|| GatewayError::internal("no entries"))?;
        tracer.request(
            env.clock.now_ms(),
            Some(&first.endpoint.name),
            input,
            env.log,
        );
        let plan = Plan {
            identity: String::new(),
            targets: vec![first.clone()],
            move_on: MoveOn::Retryable,
        };
        self.admit(env, &plan, &first.model, opts.caller.as_deref())?;
        self.check_budget(env)?;
        let deadline = self.deadline(env.clock, opts.timeout_ms);
        let policy = opts.retry.as_ref().unwrap_or(&self.retry);
        let mut attempts = Vec::new();
        // The Universal Endpoint is one request; retries repeat it whole.
        let one = [first.clone()];
        let result = self.execute(
            env,
            &one,
            &MoveOn::Kinds(Vec::new()),
            policy,
            deadline,
            tracer,
            &mut attempts,
            |_| {
                let (head, mut body) = match env.http.send(&req, &self.send_options(deadline)) {
                    Ok(x) => x,
                    Err(e) => return (Err(e.into_gateway("cf-universal")), None),
                };
                let status = Some(head.status);
                let bytes = match read_body(&head, &mut body, deadline, "cf-universal") {
                    Ok(b) => b,
                    Err(e) => return (Err(e), status),
                };
                let step = universal::served_step(&head, targets.len());
                let served = targets.get(step).unwrap_or(first);
                if !head.is_success() {
                    return (
                        Err(provider::error_for(
                            served.endpoint,
                            &head,
                            &bytes,
                            env.clock.now_ms(),
                        )),
                        status,
                    );
                }
                let parsed = provider::parse_chat_reply(served.endpoint, &head, &bytes)
                    .map_err(|e| with_status(e, head.status));
                (parsed.map(|c| (c, bytes, step)), status)
            },
        );
        let ((completion, raw, step), _) = match result {
            Ok(v) => v,
            Err(e) => return Err(with_attempts(e, &attempts, tracer, env, &plan)),
        };
        let served = targets.get(step).unwrap_or(first);
        if let Some(a) = attempts.last_mut() {
            a.provider = served.endpoint.name.clone();
            a.model = served.model.clone();
        }
        let mut output = self.output_for(completion, served, raw);
        output.attempts = attempts;
        output.cost_micro_usd = self.account(
            env,
            &served.endpoint.name,
            &served.model,
            opts.caller.as_deref(),
            output.usage.as_ref(),
        )?;
        let info = ResponseInfo {
            provider: Some(&output.provider),
            usage: output.usage,
            cost_micro_usd: output.cost_micro_usd,
            attempts: u32::try_from(output.attempts.len()).unwrap_or(u32::MAX),
            cached: false,
        };
        tracer.response(env.clock.now_ms(), info, env.log);
        Ok(output)
    }

    /// Embeddings (WIT `gateway.embed`).
    pub fn embed<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &[String],
        opts: &EmbedOptions,
    ) -> Result<EmbedOutput> {
        let mut tracer = Tracer::new(self.logging.as_ref(), "embed", model, env.clock.now_ms())
            .with_secrets(&self.secrets);
        let result = self.embed_inner(env, model, input, opts, &mut tracer);
        finish(env, tracer, result, |_, _| {})
    }

    fn embed_inner<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &[String],
        opts: &EmbedOptions,
        tracer: &mut Tracer<'_>,
    ) -> Result<EmbedOutput> {
        check_model(model)?;
        let endpoint = self.resolve_provider(model, opts.provider.as_deref())?;
        let target = Target {
            endpoint,
            model: model.to_owned(),
        };
        self.check_allowed(&target)?;
        let req = provider::build_embed(endpoint, model, input, opts)?;
        let plan = Plan {
            identity: endpoint.name.clone(),
            targets: vec![target.clone()],
            move_on: MoveOn::Retryable,
        };
        self.admit(env, &plan, model, None)?;
        self.check_budget(env)?;
        let deadline = self.deadline(env.clock, opts.timeout_ms);
        let mut attempts = Vec::new();
        let result = self.execute(
            env,
            &plan.targets,
            &plan.move_on,
            &self.retry,
            deadline,
            tracer,
            &mut attempts,
            |t| {
                let (res, status) = self.exchange(env, t.endpoint, &req, deadline);
                let res = res.and_then(|(head, bytes)| {
                    provider::parse_embed(t.endpoint.wire, &bytes, input.len())
                        .map_err(|e| with_status(e, head.status))
                });
                (res, status)
            },
        );
        let ((vectors, usage, reported), _) = match result {
            Ok(v) => v,
            Err(e) => return Err(with_attempts(e, &attempts, tracer, env, &plan)),
        };
        self.account(env, &endpoint.name, model, None, usage.as_ref())?;
        Ok(EmbedOutput {
            embeddings: vectors,
            usage,
            provider: endpoint.name.clone(),
            model: reported.unwrap_or_else(|| model.to_owned()),
        })
    }

    /// The cache key of a call, when a cache is configured.
    fn cache_key_for(
        &self,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<Option<(&CacheConfig, String)>> {
        let Some(c) = &self.cache else {
            return Ok(None);
        };
        let plan = self.plan(model, opts)?;
        Ok(Some((c, cache::key(c, &plan.identity, model, input, opts))))
    }

    /// Whether a fresh cache entry exists for this exact call.
    pub fn is_cached<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<bool> {
        Ok(self
            .cache_key_for(model, input, opts)?
            .is_some_and(|(c, k)| cache::get(env.kv, c, &k, env.clock.now_ms()).is_some()))
    }

    /// Remove the cache entry for this exact call.
    pub fn invalidate<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<bool> {
        match self.cache_key_for(model, input, opts)? {
            Some((c, k)) => cache::invalidate(env.kv, c, &k, env.clock.now_ms()),
            None => Ok(false),
        }
    }
}

/// Read a whole response body (at most [`MAX_BODY`] bytes) and undo a
/// gzip content-encoding (decoded size bounded by the same limit).
fn read_body<B: Body>(
    head: &ResponseHead,
    body: &mut B,
    deadline: Option<u64>,
    provider: &str,
) -> Result<Vec<u8>> {
    let bytes = read_to_end(body, MAX_BODY, deadline).map_err(|e| e.into_gateway(provider))?;
    if !crate::encoding::says_gzip(head) {
        return Ok(bytes);
    }
    crate::encoding::gunzip(bytes, MAX_BODY).map_err(|e| decode_error(&e, provider))
}

/// A body that cannot be decoded: the same request would get it again.
pub(crate) fn decode_error(e: &crate::encoding::DecodeError, provider: &str) -> GatewayError {
    GatewayError::Upstream(crate::error::UpstreamDetail {
        message: e.to_string(),
        provider: Some(provider.to_owned()),
        retryable: false,
        ..crate::error::UpstreamDetail::default()
    })
}

/// Put the upstream status on a parse error of a 2xx body.
fn with_status(mut e: GatewayError, status: u16) -> GatewayError {
    if let GatewayError::Upstream(d) = &mut e
        && d.status.is_none()
    {
        d.status = Some(status);
    }
    e
}

/// The final error of a call: carries every attempt, and is logged once.
fn with_attempts<H: Http>(
    e: GatewayError,
    attempts: &[Attempt],
    tracer: &mut Tracer<'_>,
    env: &Env<'_, H>,
    plan: &Plan<'_>,
) -> GatewayError {
    let provider = e
        .detail()
        .and_then(|d| d.provider.clone())
        .or_else(|| plan.targets.first().map(|t| t.endpoint.name.clone()));
    tracer.error(
        env.clock.now_ms(),
        provider.as_deref(),
        u32::try_from(attempts.len()).unwrap_or(u32::MAX),
        e.to_string(),
        env.log,
    );
    e.with_attempts(attempts)
}

/// Attach the trace to a successful output; log an error that was not
/// logged yet (failures before any upstream attempt).
fn finish<H: Http, T>(
    env: &Env<'_, H>,
    mut tracer: Tracer<'_>,
    result: Result<T>,
    attach: impl FnOnce(&mut T, Vec<crate::types::LogRecord>),
) -> Result<T> {
    match result {
        Ok(mut v) => {
            attach(&mut v, tracer.into_records());
            Ok(v)
        }
        Err(mut e) => {
            tracer.scrub(&mut e);
            if !tracer.has_error() {
                tracer.error(env.clock.now_ms(), None, 0, e.to_string(), env.log);
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;

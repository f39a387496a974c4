//! The component boundary: the WIT bindings, their exports, and the WASI
//! ports. Everything here converts and delegates; the logic lives in
//! `engine` and `provider`.

mod convert;
mod host;
mod wasi_http;

use std::cell::RefCell;
use std::rc::Rc;

#[allow(
    unsafe_code,
    clippy::all,
    missing_debug_implementations,
    unused_qualifications,
    reason = "generated bindings"
)]
mod bindings;

use bindings::exports::workkit::ai_gateway::{
    api, cost_tracker, model_allowlist as wa, router, types as w,
};
use bindings::wasi::io::poll::Pollable;
use host::{StderrLog, WasiClock, WasiKv, WasiRandom};
use wasi_http::{WasiBody, WasiHttp};

use crate::engine::{self, Env, LiveStream, Poll};
use crate::error::GatewayError;

/// Run `f` with the WASI ports.
fn with_env<T>(f: impl FnOnce(&Env<'_, WasiHttp>) -> T) -> T {
    let env = Env {
        http: &WasiHttp,
        clock: &WasiClock,
        random: &WasiRandom,
        kv: &WasiKv,
        log: &StderrLog,
    };
    f(&env)
}

fn err(e: GatewayError) -> w::GatewayError {
    convert::error(e)
}

struct Component;

// ---------------------------------------------------------------- gateway

struct GatewayRes {
    inner: Rc<engine::Gateway>,
}

struct StreamRes {
    gateway: Rc<engine::Gateway>,
    live: RefCell<LiveStream<WasiBody>>,
}

impl api::Guest for Component {
    type Gateway = GatewayRes;
    type EventStream = StreamRes;

    fn open(config: w::GatewayConfig) -> Result<api::Gateway, w::GatewayError> {
        let gw = engine::Gateway::open(convert::gateway_config(config)).map_err(err)?;
        Ok(api::Gateway::new(GatewayRes { inner: Rc::new(gw) }))
    }
}

impl api::GuestGateway for GatewayRes {
    fn run(
        &self,
        model: String,
        input: w::AiInput,
        options: Option<w::RunOptions>,
    ) -> Result<w::AiOutput, w::GatewayError> {
        let (input, opts) = (convert::input(input), convert::options(options));
        with_env(|env| self.inner.run(env, &model, &input, &opts))
            .map(convert::output)
            .map_err(err)
    }

    fn stream(
        &self,
        model: String,
        input: w::AiInput,
        options: Option<w::RunOptions>,
    ) -> Result<api::EventStream, w::GatewayError> {
        let (input, opts) = (convert::input(input), convert::options(options));
        let live = with_env(|env| self.inner.stream(env, &model, &input, &opts)).map_err(err)?;
        Ok(api::EventStream::new(StreamRes {
            gateway: Rc::clone(&self.inner),
            live: RefCell::new(live),
        }))
    }

    fn run_fallback(
        &self,
        entries: Vec<w::FallbackEntry>,
        input: w::AiInput,
        options: Option<w::RunOptions>,
    ) -> Result<w::AiOutput, w::GatewayError> {
        let (entries, input, opts) = (
            convert::entries(entries),
            convert::input(input),
            convert::options(options),
        );
        with_env(|env| self.inner.run_fallback(env, &entries, &input, &opts))
            .map(convert::output)
            .map_err(err)
    }

    fn embed(
        &self,
        model: String,
        input: Vec<String>,
        options: Option<w::EmbedOptions>,
    ) -> Result<w::EmbedOutput, w::GatewayError> {
        let opts = convert::embed_options(options);
        with_env(|env| self.inner.embed(env, &model, &input, &opts))
            .map(convert::embed_output)
            .map_err(err)
    }

    fn count_tokens(
        &self,
        model: String,
        input: w::AiInput,
        options: Option<w::RunOptions>,
    ) -> Result<u64, w::GatewayError> {
        let (input, opts) = (convert::input(input), convert::options(options));
        with_env(|env| self.inner.count_tokens(env, &model, &input, &opts)).map_err(err)
    }

    fn providers(&self) -> Vec<String> {
        self.inner.providers()
    }

    fn default_provider(&self) -> Option<String> {
        self.inner.default_provider().map(str::to_owned)
    }

    fn resolve_provider(
        &self,
        model: String,
        provider: Option<String>,
    ) -> Result<String, w::GatewayError> {
        self.inner
            .resolve_provider(&model, provider.as_deref())
            .map(|e| e.name.clone())
            .map_err(err)
    }

    fn is_cached(
        &self,
        model: String,
        input: w::AiInput,
        options: Option<w::RunOptions>,
    ) -> Result<bool, w::GatewayError> {
        let (input, opts) = (convert::input(input), convert::options(options));
        with_env(|env| self.inner.is_cached(env, &model, &input, &opts)).map_err(err)
    }

    fn invalidate(
        &self,
        model: String,
        input: w::AiInput,
        options: Option<w::RunOptions>,
    ) -> Result<bool, w::GatewayError> {
        let (input, opts) = (convert::input(input), convert::options(options));
        with_env(|env| self.inner.invalidate(env, &model, &input, &opts)).map_err(err)
    }

    fn costs(&self) -> Result<w::CostTotals, w::GatewayError> {
        let t = self
            .inner
            .cost_tracker()
            .ok_or_else(|| err(GatewayError::validation("no cost config")))?;
        t.totals(&WasiKv).map(convert::totals).map_err(err)
    }

    fn budget(&self) -> Result<w::BudgetStatus, w::GatewayError> {
        let t = self
            .inner
            .cost_tracker()
            .ok_or_else(|| err(GatewayError::validation("no cost config")))?;
        let b = t
            .config()
            .budget_micro_usd
            .ok_or_else(|| err(GatewayError::validation("no budget configured")))?;
        t.budget_status(&WasiKv, b)
            .map(convert::budget)
            .map_err(err)
    }

    fn reset_costs(&self) -> Result<(), w::GatewayError> {
        let t = self
            .inner
            .cost_tracker()
            .ok_or_else(|| err(GatewayError::validation("no cost config")))?;
        t.reset(&WasiKv).map_err(err)
    }
}

/// A stream dropped before its terminal event gives back what it holds
/// against the budget and the token limits.
impl Drop for StreamRes {
    fn drop(&mut self) {
        let live = self.live.get_mut();
        with_env(|env| live.abandon(&self.gateway, env));
    }
}

impl api::GuestEventStream for StreamRes {
    fn next(&self) -> Option<w::StreamEvent> {
        let mut live = self.live.borrow_mut();
        with_env(|env| live.next(&self.gateway, env)).map(convert::event)
    }

    fn try_next(&self) -> w::PollEvent {
        let mut live = self.live.borrow_mut();
        match with_env(|env| live.try_next(&self.gateway, env)) {
            Poll::Ready(e) => w::PollEvent::Ready(convert::event(e)),
            Poll::Pending => w::PollEvent::Pending,
            Poll::Finished => w::PollEvent::Finished,
        }
    }

    fn subscribe(&self) -> Pollable {
        let live = self.live.borrow();
        // No upstream (a cache replay, or finished): always ready.
        live.body()
            .and_then(WasiBody::subscribe)
            .unwrap_or_else(|| bindings::wasi::clocks::monotonic_clock::subscribe_duration(0))
    }

    fn trace(&self) -> Vec<w::LogRecord> {
        self.live
            .borrow()
            .trace()
            .iter()
            .cloned()
            .map(convert::log_record)
            .collect()
    }

    fn attempts(&self) -> Vec<w::Attempt> {
        self.live
            .borrow()
            .attempts()
            .iter()
            .cloned()
            .map(convert::attempt)
            .collect()
    }
}

// ---------------------------------------------------------------- router

struct RouterRes(engine::router::Router);

impl router::Guest for Component {
    type Router = RouterRes;

    fn create_router(config: w::RouterConfig) -> Result<router::Router, w::GatewayError> {
        let r = engine::router::Router::new(convert::router_config(config)).map_err(err)?;
        Ok(router::Router::new(RouterRes(r)))
    }
}

impl router::GuestRouter for RouterRes {
    fn resolve(&self, model: String) -> Option<String> {
        self.0.resolve(&model).map(str::to_owned)
    }
}

// ---------------------------------------------------------------- cost

struct TrackerRes(engine::cost::CostTracker);

impl cost_tracker::Guest for Component {
    type Tracker = TrackerRes;

    fn open_tracker(config: w::CostConfig) -> Result<cost_tracker::Tracker, w::GatewayError> {
        let t = engine::cost::CostTracker::new(convert::cost_config(config)).map_err(err)?;
        Ok(cost_tracker::Tracker::new(TrackerRes(t)))
    }

    fn price(pricing: w::ModelPricing, usage: w::Usage) -> u64 {
        engine::cost::price(&convert::pricing(pricing), &convert::usage_from(usage))
    }
}

impl cost_tracker::GuestTracker for TrackerRes {
    fn record_usage(&self, model: String, usage: w::Usage) -> Result<u64, w::GatewayError> {
        self.0
            .record(&WasiKv, &model, &convert::usage_from(usage))
            .map_err(err)
    }

    fn totals(&self) -> Result<w::CostTotals, w::GatewayError> {
        self.0.totals(&WasiKv).map(convert::totals).map_err(err)
    }

    fn check_budget(&self, budget_micro_usd: u64) -> Result<w::BudgetStatus, w::GatewayError> {
        self.0
            .budget_status(&WasiKv, budget_micro_usd)
            .map(convert::budget)
            .map_err(err)
    }

    fn reset(&self) -> Result<(), w::GatewayError> {
        self.0.reset(&WasiKv).map_err(err)
    }
}

// ---------------------------------------------------------------- allowlist

struct AllowlistRes(engine::allowlist::Allowlist);

impl wa::Guest for Component {
    type Allowlist = AllowlistRes;

    fn create_model_allowlist(config: wa::AllowlistConfig) -> wa::Allowlist {
        wa::Allowlist::new(AllowlistRes(engine::allowlist::Allowlist::new(
            convert::allowlist(config),
        )))
    }

    fn is_allowed_model(config: wa::AllowlistConfig, provider: String, model: String) -> bool {
        engine::allowlist::is_allowed_model(&convert::allowlist(config), &provider, &model)
    }
}

impl wa::GuestAllowlist for AllowlistRes {
    fn is_allowed(&self, provider: String, model: String) -> bool {
        self.0.is_allowed(&provider, &model)
    }
}

bindings::export!(Component with_types_in bindings);

//! Typed calls into the gateway component's exports, one per function.

use wasmtime::component::ResourceAny;

use super::runtime::{GatewayHandle, Instance, StreamHandle};
use super::{w, wa};

/// A call's outcome: a trap (`Err`), else the export's own result.
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

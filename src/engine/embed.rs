//! `embed`: embeddings (WIT `gateway.embed`).

use super::call::no_trace;
use super::env::Env;
use super::exchange::with_status;
use super::target::Target;
use super::trace::ResponseInfo;
use super::{Gateway, cache, estimate};
use crate::error::Result;
use crate::ports::Http;
use crate::provider;
use crate::types::{EmbedOptions, EmbedOutput};
use crate::validate::check_model;

impl Gateway {
    /// Embeddings (WIT `gateway.embed`): one provider, retried by the
    /// gateway's policy, admitted, cached, accounted and logged (request,
    /// retry, response or error records) like a chat call.
    pub fn embed<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &[String],
        opts: &EmbedOptions,
    ) -> Result<EmbedOutput> {
        let mut call = self.begin(env, "embed", model, &[], None);
        let result = (|| {
            check_model(model)?;
            let endpoint = self.resolve_provider(model, opts.provider.as_deref())?;
            let target = Target {
                endpoint,
                model: model.to_owned(),
            };
            self.check_allowed(&target)?;
            let req = provider::build_embed(endpoint, model, input, opts)?;
            call.log_request(Some(&endpoint.name), input);
            let tokens = estimate::embed_tokens(input);
            call.admit(Some(&endpoint.name), model, None, tokens)?;
            let cache = self.cache.as_ref().map(|c| {
                let key = cache::embed_key(c, &endpoint.name, model, input, opts.dimensions);
                (c, key)
            });
            if let Some((c, k)) = &cache
                && let Some(hit) = cache::get_embed(env.kv, c, k, env.clock.now_ms())
            {
                let info = ResponseInfo {
                    provider: Some(&hit.provider),
                    usage: hit.usage,
                    cached: true,
                    ..ResponseInfo::default()
                };
                call.tracer.response(env.clock.now_ms(), info, env.log);
                return Ok(hit);
            }
            call.reserve([model], tokens, 0)?;
            let deadline = call.deadline(opts.timeout_ms);
            let (vectors, usage, reported) =
                call.attempt_one(&self.retry, deadline, &target, |t| {
                    let (res, status) = self.exchange(env, t.endpoint, &req, deadline);
                    let res = res.and_then(|(head, bytes)| {
                        provider::parse_embed(t.endpoint, &bytes, input.len())
                            .map_err(|e| with_status(e, head.status))
                    });
                    (res, status)
                })?;
            let output = EmbedOutput {
                embeddings: vectors,
                usage,
                provider: endpoint.name.clone(),
                model: reported.unwrap_or_else(|| model.to_owned()),
            };
            let cost = call.settle(&target, None, output.usage.as_ref())?;
            let info = ResponseInfo {
                provider: Some(&output.provider),
                usage: output.usage,
                cost_micro_usd: cost,
                attempts: u32::try_from(call.attempts.len()).unwrap_or(u32::MAX),
                cached: false,
            };
            call.tracer.response(env.clock.now_ms(), info, env.log);
            if let Some((c, k)) = &cache {
                // A store failure must not fail a call that succeeded upstream.
                let _ = cache::put_embed(env.kv, c, k, &output, env.clock.now_ms());
            }
            Ok(output)
        })();
        call.end(result, no_trace)
    }
}

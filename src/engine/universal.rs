//! `run-fallback`: Cloudflare AI Gateway's Universal Endpoint
//! (`runFallback` in the TypeScript library):
//! `POST https://gateway.ai.cloudflare.com/v1/{account}/{gateway}` with a
//! JSON array of steps `{provider, endpoint, headers, query}`. Cloudflare
//! tries them in order and answers with the first success, telling which
//! step served in the `cf-aig-step` response header (0-based).

use serde_json::{Value, json};

use super::call::attach_trace;
use super::env::Env;
use super::exchange::{chat_request, read_body, with_status};
use super::run::output_for;
use super::target::Target;
use super::{Gateway, estimate, retry};
use crate::config::{CfGatewayConfig, ProviderKind};
use crate::error::{GatewayError, Result};
use crate::http::{HttpRequest, ResponseHead};
use crate::ports::Http;
use crate::provider;
use crate::types::{FallbackEntry, Input, Output, RunOptions};

/// The name attempts and errors of the Universal Endpoint carry until the
/// answer says which step served.
const UNIVERSAL: &str = "cf-universal";

impl Gateway {
    /// Server-side fallback through Cloudflare's Universal Endpoint (WIT
    /// `gateway.run-fallback`): one request lists every entry; Cloudflare
    /// tries them in order. Retries repeat the whole request.
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
        let bounded = estimate::bounded(opts, self.reserves());
        let opts: &RunOptions = &bounded;
        let mut call = self.begin(env, "run-fallback", model, &opts.headers);
        let result = (|| {
            self.check_call(input, opts)?;
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
            let req = build(cf, &targets, input, opts)?;
            let first = targets
                .first()
                .ok_or_else(|| GatewayError::internal("no entries"))?;
            call.log_request(Some(first.provider()), input);
            let (tokens_in, tokens_out) = (
                estimate::input_tokens(input, opts),
                estimate::output_tokens(opts),
            );
            let tokens = tokens_in.saturating_add(tokens_out);
            call.admit(
                Some(first.provider()),
                &first.model,
                opts.caller.as_deref(),
                tokens,
            )?;
            let models = targets.iter().map(|t| t.model.as_str());
            call.reserve(models, tokens_in, tokens_out)?;
            let deadline = call.deadline(opts.timeout_ms);
            let policy = opts.retry.as_ref().unwrap_or(&self.retry);
            let (completion, raw, step) = call.attempt_one(policy, deadline, first, |_| {
                let (head, mut body) = match env.http.send(&req, &self.send_options(deadline)) {
                    Ok(x) => x,
                    Err(e) => return (Err(retry::from_transport(e, UNIVERSAL)), None),
                };
                let status = Some(head.status);
                let bytes = match read_body(&head, &mut body, deadline, UNIVERSAL) {
                    Ok(b) => b,
                    Err(e) => return (Err(e), status),
                };
                let step = served_step(&head, targets.len());
                let served = targets.get(step).unwrap_or(first);
                if !head.is_success() {
                    let now = env.clock.now_ms();
                    let e = provider::error_for(served.endpoint, &head, &bytes, now);
                    return (Err(e), status);
                }
                let parsed = provider::parse_chat_reply(served.endpoint, &head, &bytes)
                    .map_err(|e| with_status(e, head.status));
                (parsed.map(|c| (c, bytes, step)), status)
            })?;
            let served = targets.get(step).unwrap_or(first);
            if let Some(a) = call.attempts.last_mut() {
                a.provider = served.provider().to_owned();
                a.model = served.model.clone();
            }
            let mut output = output_for(completion, served, raw);
            output.attempts = std::mem::take(&mut call.attempts);
            output.cost_micro_usd =
                call.settle(served, opts.caller.as_deref(), output.usage.as_ref())?;
            call.log_output(&output);
            Ok(output)
        })();
        call.end(result, attach_trace)
    }
}

/// Build the Universal Endpoint request for `targets`. Only `openai` and
/// `anthropic` providers can be steps.
pub(crate) fn build(
    cf: &CfGatewayConfig,
    targets: &[Target<'_>],
    input: &Input,
    opts: &RunOptions,
) -> Result<HttpRequest> {
    let mut steps = Vec::with_capacity(targets.len());
    for t in targets {
        let (slug, path) = match t.endpoint.kind {
            ProviderKind::OpenAi => ("openai", "chat/completions"),
            ProviderKind::Anthropic => ("anthropic", "v1/messages"),
            ProviderKind::WorkersAi | ProviderKind::Custom => {
                return Err(GatewayError::validation(format!(
                    "run-fallback supports only openai and anthropic providers; {:?} is not one",
                    t.endpoint.name
                )));
            }
        };
        let req = chat_request(t, input, opts, false)?;
        let query: Value =
            serde_json::from_slice(&req.body).map_err(|e| GatewayError::internal(e.to_string()))?;
        // The step carries the provider's own headers; the cf-aig-* ones
        // belong on the outer request.
        let mut headers = serde_json::Map::new();
        for (k, v) in req
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with("cf-aig-"))
        {
            headers.insert(k.clone(), json!(v));
        }
        steps.push(json!({"provider": slug, "endpoint": path, "headers": headers, "query": query}));
    }
    Ok(HttpRequest::post_json(
        cf.universal_url(),
        cf.headers(),
        &Value::Array(steps),
    ))
}

/// Which step served, from `cf-aig-step`; the first when the header is
/// missing or out of range.
pub(crate) fn served_step(head: &ResponseHead, steps: usize) -> usize {
    head.header("cf-aig-step")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|s| *s < steps)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(v: Option<&str>) -> ResponseHead {
        ResponseHead {
            status: 200,
            headers: v
                .map(|v| vec![("cf-aig-step".to_owned(), v.to_owned())])
                .unwrap_or_default()
                .into(),
        }
    }

    #[test]
    fn served_step_maps_header_and_falls_back_to_first() {
        assert_eq!(served_step(&head(Some("1")), 2), 1);
        assert_eq!(served_step(&head(Some("0")), 2), 0);
        assert_eq!(served_step(&head(Some("5")), 2), 0);
        assert_eq!(served_step(&head(Some("x")), 2), 0);
        assert_eq!(served_step(&head(None), 2), 0);
    }
}

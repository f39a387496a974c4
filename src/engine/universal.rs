//! `run-fallback`: one call through Cloudflare AI Gateway's Universal
//! Endpoint, which tries every entry in order server-side. This file is the
//! call flow (checks, admission, reservation, retries, settling); the
//! request and the `cf-aig-step` reading are `provider/universal.rs`.

use super::call::attach_trace;
use super::env::Env;
use super::exchange::{read_body, with_status};
use super::run::output_for;
use super::target::Target;
use super::{Gateway, estimate, retry};
use crate::error::{GatewayError, Result};
use crate::ports::Http;
use crate::provider::universal::{build_request, served_step};
use crate::provider::{self, ChatCall};
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
        let mut call = self.begin(
            env,
            "run-fallback",
            model,
            &opts.headers,
            opts.request_id.as_deref(),
        );
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
            let calls: Vec<ChatCall<'_>> = targets
                .iter()
                .map(|t| ChatCall {
                    endpoint: t.endpoint,
                    model: &t.model,
                    input,
                    options: opts,
                    stream: false,
                })
                .collect();
            let req = build_request(cf, &calls)?;
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

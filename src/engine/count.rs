//! `count-tokens`: the input tokens of a call, counted by the provider
//! (WIT `gateway.count-tokens`; Anthropic's `POST /v1/messages/count_tokens`).

use super::Gateway;
use super::call::no_trace;
use super::env::Env;
use super::exchange::with_status;
use super::target::Target;
use crate::error::Result;
use crate::ports::Http;
use crate::provider::{self, ChatCall};
use crate::types::{Input, RunOptions};
use crate::validate::check_model;

impl Gateway {
    /// The input tokens `model` would read for this call, as its provider
    /// counts them. Only Anthropic's Messages API has a counting endpoint:
    /// another wire format is `validation`. Counting is free there and
    /// produces nothing, so it records no cost, reserves nothing and is not
    /// counted by the rate limits; the allowlist and the retry policy
    /// apply, and it is logged like any call.
    pub fn count_tokens<H: Http>(
        &self,
        env: &Env<'_, H>,
        model: &str,
        input: &Input,
        opts: &RunOptions,
    ) -> Result<u64> {
        let mut call = self.begin(
            env,
            "count-tokens",
            model,
            &opts.headers,
            opts.request_id.as_deref(),
        );
        let result = (|| {
            check_model(model)?;
            self.check_call(input, opts)?;
            let endpoint = self.resolve_provider(model, opts.provider.as_deref())?;
            let target = Target {
                endpoint,
                model: model.to_owned(),
            };
            self.check_allowed(&target)?;
            let req = provider::build_count(&ChatCall {
                endpoint,
                model,
                input,
                options: opts,
                stream: false,
            })?;
            let deadline = call.deadline(opts.timeout_ms);
            call.attempt_one(&self.retry, deadline, &target, |t| {
                let (res, status) = self.exchange(env, t.endpoint, &req, deadline);
                let res = res.and_then(|(head, bytes)| {
                    provider::parse_count(&bytes).map_err(|e| with_status(e, head.status))
                });
                (res, status)
            })
        })();
        call.end(result, no_trace)
    }
}

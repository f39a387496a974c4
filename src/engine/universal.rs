//! Cloudflare AI Gateway Universal Endpoint (seed `runFallback`):
//! `POST https://gateway.ai.cloudflare.com/v1/{account}/{gateway}` with a
//! JSON array of steps `{provider, endpoint, headers, query}`. Cloudflare
//! tries them in order and answers with the first success, telling which
//! step served in the `cf-aig-step` response header (0-based).

use serde_json::{Value, json};

use super::Target;
use crate::config::{CfGatewayConfig, ProviderKind};
use crate::error::{GatewayError, Result};
use crate::http::{HttpRequest, ResponseHead};
use crate::provider::{self, ChatCall};
use crate::types::{Input, RunOptions};

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
        let call = ChatCall {
            endpoint: t.endpoint,
            model: &t.model,
            input,
            options: opts,
            stream: false,
        };
        let req = provider::build_chat(&call)?;
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
                .unwrap_or_default(),
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

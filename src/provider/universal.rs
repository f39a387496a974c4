//! Cloudflare AI Gateway's Universal Endpoint, sans IO (`runFallback` in
//! the TypeScript library `@workkit/ai-gateway`):
//! `POST https://gateway.ai.cloudflare.com/v1/{account}/{gateway}` with a
//! JSON array of steps `{provider, endpoint, headers, query}`. Cloudflare
//! tries them in order and answers with the first success, telling which
//! step served in the `cf-aig-step` response header (0-based). Each step's
//! `provider` and `endpoint` are the provider's own
//! ([`crate::provider::defaults::CfGatewayRoute`]); its `query` is the body
//! the provider would be sent directly. The call flow (admission, retries,
//! settling the cost) is `engine/universal.rs`.

use serde::Serialize;
use serde_json::Value;

use super::build_chat;
use super::common::ChatCall;
use crate::config::CfGatewayConfig;
use crate::error::{GatewayError, Result};
use crate::http::{HttpRequest, ResponseHead};

/// One step of a Universal Endpoint request.
#[derive(Debug, Serialize)]
struct Step<'a> {
    provider: &'a str,
    endpoint: String,
    /// The provider's own headers (auth, version, the configured ones).
    headers: serde_json::Map<String, Value>,
    /// The request body the provider would be sent directly.
    query: Value,
}

/// The Universal Endpoint request trying `calls` in order. Only providers
/// Cloudflare AI Gateway routes to (`openai`, `anthropic`) can be steps.
pub fn build_request(cf: &CfGatewayConfig, calls: &[ChatCall<'_>]) -> Result<HttpRequest> {
    let mut steps = Vec::with_capacity(calls.len());
    for call in calls {
        let (route, chat_path) = call
            .endpoint
            .kind
            .defaults()
            .and_then(|d| d.cf_gateway)
            .and_then(|r| Some((r, r.chat_path?)))
            .ok_or_else(|| {
                GatewayError::validation(format!(
                    "run-fallback supports only providers Cloudflare AI Gateway's Universal \
                     Endpoint takes a fixed chat path for (openai, anthropic and the \
                     OpenAI-compatible presets it routes); {:?} is not one",
                    call.endpoint.name
                ))
            })?;
        let endpoint = match route.prefix {
            "" => chat_path.to_owned(),
            prefix => format!("{prefix}/{chat_path}"),
        };
        let req = build_chat(call)?;
        let query: Value =
            serde_json::from_slice(&req.body).map_err(|e| GatewayError::internal(e.to_string()))?;
        // The step carries the provider's own headers; the cf-aig-* ones
        // belong on the outer request.
        let headers = req
            .headers
            .iter()
            .filter(|(k, _)| !k.starts_with("cf-aig-"))
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        steps.push(Step {
            provider: route.slug,
            endpoint,
            headers,
            query,
        });
    }
    let body = serde_json::to_value(&steps).map_err(|e| GatewayError::internal(e.to_string()))?;
    Ok(HttpRequest::post_json(
        cf.universal_url(),
        cf.headers(),
        &body,
    ))
}

/// Which step served, from `cf-aig-step`; the first when the header is
/// missing or out of range.
pub fn served_step(head: &ResponseHead, steps: usize) -> usize {
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

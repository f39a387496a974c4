//! The OpenAI-compatible proxy component: `wasi:http/incoming-handler` on
//! top of the gateway's `api` interface, composed with `ai-gateway.wasm` by
//! `wac plug` into one deployable component.
//!
//! Endpoints: `POST /v1/chat/completions` (JSON and SSE in OpenAI's chunk
//! format), `POST /v1/messages` (Anthropic's Messages API: JSON and SSE with
//! Anthropic's named events, for the Anthropic SDKs and Claude Code),
//! `POST /v1/messages/count_tokens` (an estimate, ceil(bytes / 4), marked
//! `x-aigw-token-count: estimate`), `POST /v1/responses` (OpenAI's Responses
//! API: JSON and its semantic SSE events; stored responses in
//! `wasi:keyvalue` with a TTL for `previous_response_id`), `GET` and
//! `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`,
//! `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/embeddings`,
//! `GET /healthz`. Clients authenticate with `Authorization: Bearer` or
//! `x-api-key`; what each endpoint carries or refuses is in `params`
//! (Chat) and the component's `anthropic` (Messages) and `responses`
//! modules.
//! Settings come from application variables (`fermyon:spin/variables`):
//! `gateway_config` (JSON, see README) plus one variable per secret.

pub mod params;
pub mod text;

#[cfg(target_arch = "wasm32")]
#[allow(
    unsafe_code,
    reason = "wit-bindgen's generated ABI glue is unsafe by nature"
)]
mod component;

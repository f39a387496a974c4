//! The Spin side: spin-sdk's HTTP export and variables, wit-bindgen's
//! bindings of the gateway import. The only code that names binding types.

use std::cell::RefCell;

use futures::SinkExt as _;
use spin_sdk::http::{Fields, IncomingRequest, Method, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;

use crate::{ChatConfig, ChatReply, ChatRequest, ErrorBody, Outcome, ProviderKind, Usage};

#[allow(
    clippy::all,
    missing_debug_implementations,
    unused_qualifications,
    reason = "generated bindings"
)]
mod bindings {
    wit_bindgen::generate!({
        world: "example:spin-chat/chat@0.1.0",
        path: ["../../../wit", "wit"],
        generate_all,
    });
}

use bindings::workkit::ai_gateway::api::{self, Gateway};
use bindings::workkit::ai_gateway::types as wit;

thread_local! {
    /// The opened gateway and the config text it was opened with: an
    /// instance that serves many requests parses its config once, and a
    /// changed variable opens a new one.
    static GATEWAY: RefCell<Option<(String, Gateway)>> = const { RefCell::new(None) };
}

fn config_error(message: String) -> ErrorBody {
    ErrorBody {
        kind: "config".into(),
        message,
    }
}

fn variable(name: &str) -> Result<String, ErrorBody> {
    spin_sdk::variables::get(name).map_err(|e| config_error(format!("Spin variable {name}: {e}")))
}

fn gateway_config(config: &ChatConfig) -> Result<wit::GatewayConfig, ErrorBody> {
    let providers = config
        .providers
        .iter()
        .map(|p| {
            Ok(wit::ProviderConfig {
                name: p.name.clone(),
                kind: match p.kind {
                    ProviderKind::Openai => wit::ProviderKind::Openai,
                    ProviderKind::Anthropic => wit::ProviderKind::Anthropic,
                },
                api_key: Some(variable(&p.api_key_variable)?),
                base_url: p.base_url.clone(),
                account_id: None,
                wire_format: None,
                api_version: None,
                headers: Vec::new(),
                region: None,
                project: None,
                resource_name: None,
                aws_credentials: None,
                key_auth: None,
            })
        })
        .collect::<Result<Vec<_>, ErrorBody>>()?;
    Ok(wit::GatewayConfig {
        default_provider: providers.first().map(|p| p.name.clone()),
        providers,
        cf_gateway: None,
        router: None,
        retry: None,
        chains: Vec::new(),
        cache: config.cache.as_ref().map(|c| wit::CacheConfig {
            bucket: c.bucket.clone(),
            ttl_seconds: c.ttl_seconds,
            namespace: None,
            streams: true,
        }),
        cost: None,
        rate_limits: None,
        allowlist: None,
        logging: None,
        timeout_ms: config.timeout_ms,
        attempt_timeouts: None,
    })
}

/// Run `f` on the gateway for the current `chat_config`, opening it first
/// when this instance has none or the config changed.
fn with_gateway<T>(
    f: impl FnOnce(&Gateway, &ChatConfig) -> Result<T, ErrorBody>,
) -> Result<T, ErrorBody> {
    let text = variable("chat_config")?;
    let config = ChatConfig::parse(&text).map_err(config_error)?;
    GATEWAY.with(|cell| {
        let mut slot = cell.borrow_mut();
        let fresh = matches!(&*slot, Some((t, _)) if *t == text);
        if !fresh {
            let gateway = api::open(&gateway_config(&config)?).map_err(|e| error_body(&e))?;
            *slot = Some((text, gateway));
        }
        match &*slot {
            Some((_, gateway)) => f(gateway, &config),
            None => Err(config_error("no gateway".into())),
        }
    })
}

fn upstream_message(d: &wit::UpstreamDetail) -> String {
    match (&d.provider, d.status) {
        (Some(p), Some(s)) => format!("{p} answered {s}: {}", d.message),
        (Some(p), None) => format!("{p}: {}", d.message),
        _ => d.message.clone(),
    }
}

fn error_body(e: &wit::GatewayError) -> ErrorBody {
    use wit::GatewayError as E;
    let (kind, message) = match e {
        E::Validation(m) => ("validation", m.clone()),
        E::Auth(d) => ("auth", upstream_message(d)),
        E::NotFound(d) => ("not-found", upstream_message(d)),
        E::RateLimited(d) => ("rate-limited", upstream_message(d)),
        E::Timeout(d) => ("timeout", d.message.clone()),
        E::ServiceUnavailable(d) => ("service-unavailable", upstream_message(d)),
        E::Upstream(d) => ("upstream", upstream_message(d)),
        E::BudgetExceeded(b) => (
            "budget-exceeded",
            format!(
                "spent {} of {} micro-USD",
                b.spent_micro_usd, b.budget_micro_usd
            ),
        ),
        E::ModelNotAllowed(m) => (
            "model-not-allowed",
            format!("{} may not serve {}", m.provider, m.model),
        ),
        E::Internal(m) => ("internal", m.clone().unwrap_or_default()),
    };
    ErrorBody {
        kind: kind.into(),
        message,
    }
}

fn finish_reason(r: &wit::FinishReason) -> String {
    match r {
        wit::FinishReason::Stop => "stop".into(),
        wit::FinishReason::Length => "length".into(),
        wit::FinishReason::ToolCalls => "tool-calls".into(),
        wit::FinishReason::ContentFilter => "content-filter".into(),
        wit::FinishReason::Other(o) => o.clone(),
    }
}

fn usage(u: &wit::Usage) -> Usage {
    Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
    }
}

fn input(request: &ChatRequest) -> wit::AiInput {
    let message = |role, content: &str| wit::Message {
        role,
        content: wit::Content::Text(content.to_owned()),
        cache_control: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
    };
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(message(wit::Role::System, system));
    }
    messages.push(message(wit::Role::User, &request.prompt));
    wit::AiInput::Messages(messages)
}

fn options(request: &ChatRequest) -> wit::RunOptions {
    wit::RunOptions {
        provider: None,
        timeout_ms: None,
        response_format: None,
        tools: Vec::new(),
        tool_choice: None,
        max_tokens: request.max_tokens,
        temperature: None,
        top_p: None,
        stop: Vec::new(),
        reasoning_effort: None,
        extra_body: None,
        headers: Vec::new(),
        retry: None,
        fallback: None,
        cache: None,
        cache_key: None,
        caller: None,
        parallel_tool_calls: None,
        presence_penalty: None,
        frequency_penalty: None,
        logit_bias: Vec::new(),
        seed: None,
        logprobs: None,
        top_logprobs: None,
        end_user: None,
        metadata: Vec::new(),
        service_tier: None,
        request_id: None,
    }
}

fn chat(request: &ChatRequest) -> Result<ChatReply, ErrorBody> {
    with_gateway(|gateway, config| {
        let model = request.model.as_deref().unwrap_or(&config.model);
        let out = gateway
            .run(model, &input(request), Some(&options(request)))
            .map_err(|e| error_body(&e))?;
        Ok(ChatReply {
            text: out.text,
            outcome: Outcome {
                provider: out.provider,
                model: out.model,
                cached: out.cached,
                finish_reason: out.finish_reason.as_ref().map(finish_reason),
                usage: out.usage.as_ref().map(usage),
            },
        })
    })
}

/// Start a streaming response: the headers go out now, the body as it comes.
fn start(
    out: ResponseOutparam,
    status: u16,
    content_type: &str,
) -> Option<impl futures::Sink<Vec<u8>, Error = impl std::fmt::Display>> {
    let headers =
        Fields::from_list(&[("content-type".to_owned(), content_type.as_bytes().to_vec())]).ok()?;
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).ok()?;
    let body = response.take_body();
    out.set(response);
    Some(body)
}

async fn respond(out: ResponseOutparam, status: u16, content_type: &str, body: Vec<u8>) {
    if let Some(mut sink) = start(out, status, content_type) {
        if let Err(e) = sink.send(body).await {
            eprintln!("writing the response failed: {e}");
        }
        let _ = sink.close().await;
    }
}

async fn respond_error(out: ResponseOutparam, e: &ErrorBody) {
    respond(out, e.status(), "application/json", e.to_json()).await;
}

async fn stream(request: &ChatRequest, out: ResponseOutparam) {
    let events = with_gateway(|gateway, config| {
        let model = request.model.as_deref().unwrap_or(&config.model);
        gateway
            .stream(model, &input(request), Some(&options(request)))
            .map_err(|e| error_body(&e))
    });
    let events = match events {
        Ok(events) => events,
        // Failures before the first event get a plain error status.
        Err(e) => return respond_error(out, &e).await,
    };
    let Some(mut sink) = start(out, 200, "text/event-stream") else {
        return;
    };
    // `next` blocks until the upstream sends more; WASI 0.2 calls are
    // sequential, so this instance serves this stream until it ends.
    while let Some(event) = events.next() {
        let chunk = match event {
            wit::StreamEvent::Text(t) => crate::sse_event("text", &t),
            wit::StreamEvent::Reasoning(t) => crate::sse_event("reasoning", &t),
            wit::StreamEvent::Refusal(t) => crate::sse_event("refusal", &t),
            // This app asks for no tools and no log-probabilities, and
            // does not send reasoning back.
            wit::StreamEvent::ToolUse(_)
            | wit::StreamEvent::Logprobs(_)
            | wit::StreamEvent::ReasoningSignature(_)
            | wit::StreamEvent::ReasoningRedacted(_) => continue,
            wit::StreamEvent::Done(d) => crate::sse_event(
                "done",
                &Outcome {
                    provider: d.provider,
                    model: d.model,
                    cached: d.cached,
                    finish_reason: d.finish_reason.as_ref().map(finish_reason),
                    usage: d.usage.as_ref().map(usage),
                },
            ),
            wit::StreamEvent::Error(e) => crate::sse_event("error", &error_body(&e)),
        };
        if sink.send(chunk).await.is_err() {
            // The client went away: dropping `events` closes the upstream.
            return;
        }
    }
    let _ = sink.close().await;
}

/// The HTTP entry point (spin-sdk exports it as
/// `wasi:http/incoming-handler@0.2.0`).
#[http_component]
async fn handle(req: IncomingRequest, out: ResponseOutparam) {
    let path = req.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default().to_owned();
    let is_post = matches!(req.method(), Method::Post);
    let streaming = match path.as_str() {
        "/chat" => false,
        "/chat/stream" => true,
        _ => {
            let e = ErrorBody {
                kind: "not-found".into(),
                message: format!("no route {path}: try POST /chat or POST /chat/stream"),
            };
            return respond(out, 404, "application/json", e.to_json()).await;
        }
    };
    if !is_post {
        return respond(out, 405, "text/plain", b"use POST\n".to_vec()).await;
    }
    let body = match req.into_body().await {
        Ok(b) => b,
        Err(e) => {
            let e = ErrorBody {
                kind: "validation".into(),
                message: format!("reading the request body: {e}"),
            };
            return respond_error(out, &e).await;
        }
    };
    let request = match ChatRequest::parse(&body) {
        Ok(r) => r,
        Err(message) => {
            let e = ErrorBody {
                kind: "validation".into(),
                message,
            };
            return respond_error(out, &e).await;
        }
    };
    if streaming {
        stream(&request, out).await;
    } else {
        match chat(&request) {
            Ok(reply) => {
                let body = serde_json::to_vec(&reply).unwrap_or_default();
                respond(out, 200, "application/json", body).await;
            }
            Err(e) => respond_error(out, &e).await,
        }
    }
}

//! The proxy's component glue: routes requests, authenticates clients, calls
//! the gateway, and answers in OpenAI's formats (and Anthropic's, for
//! `/v1/messages`: `anthropic.rs`).

mod anthropic;
mod config;
mod io;
mod openai;
mod responses;

use std::cell::RefCell;
use std::rc::Rc;

#[allow(
    clippy::all,
    missing_debug_implementations,
    unused_qualifications,
    reason = "generated bindings"
)]
mod bindings {
    wit_bindgen::generate!({
        world: "workkit:ai-gateway-proxy/proxy@0.1.0",
        path: ["../wit", "wit"],
        generate_all,
    });
}

use bindings::exports::wasi::http::incoming_handler::Guest;
use bindings::wasi::http::types::{IncomingRequest, Method, ResponseOutparam};
use bindings::workkit::ai_gateway::{api, types as w};
use openai::ApiError;

use crate::text;

/// Everything built from the variables, once per instance: hosts that reuse
/// instances (host-test serve, Spin's instance reuse, a Worker isolate) pay
/// for config parsing and `open` once.
struct State {
    config: config::ProxyConfig,
    /// (client name, key) pairs; empty = no authentication.
    clients: Vec<(String, String)>,
    /// Opened gateways by client name ("" without clients), lazily.
    gateways: RefCell<Vec<(String, Rc<api::Gateway>)>>,
}

thread_local! {
    static STATE: RefCell<Option<Rc<State>>> = const { RefCell::new(None) };
}

fn state() -> Result<Rc<State>, ApiError> {
    if let Some(s) = STATE.with(|s| s.borrow().clone()) {
        return Ok(s);
    }
    let (config, clients) = config::load().map_err(config_error)?;
    let s = Rc::new(State {
        config,
        clients,
        gateways: RefCell::new(Vec::new()),
    });
    STATE.with(|cell| *cell.borrow_mut() = Some(Rc::clone(&s)));
    Ok(s)
}

impl State {
    /// The client calling, from its key: `Authorization: Bearer`, else
    /// `x-api-key` (Anthropic's SDKs); constant-time compare.
    fn authenticate(&self, req: &io::Request) -> Result<Option<String>, ApiError> {
        if self.clients.is_empty() {
            return Ok(None);
        }
        let unauthorized = |m: &str| ApiError {
            status: 401,
            code: Some("invalid_api_key".into()),
            ..ApiError::invalid(m)
        };
        let token = req
            .header("authorization")
            .and_then(text::bearer)
            .or_else(|| {
                req.header("x-api-key")
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
            })
            .ok_or_else(|| unauthorized("Missing bearer API key."))?;
        let mut found = None;
        for (name, key) in &self.clients {
            // Compare against every key, so timing does not reveal which matched.
            if text::constant_time_eq(token.as_bytes(), key.as_bytes()) {
                found = Some(name.clone());
            }
        }
        found
            .map(Some)
            .ok_or_else(|| unauthorized("Incorrect API key provided."))
    }

    fn gateway(&self, client: Option<&str>) -> Result<Rc<api::Gateway>, ApiError> {
        let name = client.unwrap_or("");
        if let Some((_, g)) = self.gateways.borrow().iter().find(|(n, _)| n == name) {
            return Ok(Rc::clone(g));
        }
        let c = client.and_then(|n| self.config.clients.iter().find(|c| c.name == n));
        let cfg = config::gateway_config(&self.config, c).map_err(config_error)?;
        let g = Rc::new(api::open(&cfg).map_err(|e| openai::api_error(&e))?);
        self.gateways
            .borrow_mut()
            .push((name.to_owned(), Rc::clone(&g)));
        Ok(g)
    }
}

fn config_error(m: String) -> ApiError {
    ApiError {
        status: 500,
        kind: "server_error",
        code: Some("proxy_config".into()),
        ..ApiError::invalid(m)
    }
}

fn now_secs() -> u64 {
    bindings::wasi::clocks::wall_clock::now().seconds
}

/// Run options with nothing set: each front door fills what its request
/// says.
pub(crate) fn blank_options() -> w::RunOptions {
    w::RunOptions {
        provider: None,
        timeout_ms: None,
        response_format: None,
        tools: Vec::new(),
        tool_choice: None,
        max_tokens: None,
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

fn completion_id() -> String {
    let r = bindings::wasi::random::random::get_random_u64();
    format!("chatcmpl-{r:016x}")
}

/// One request's reply context: its id (the client's `x-request-id` when
/// it sent a usable one, else generated) and when it arrived. Every
/// response carries `x-request-id` and `openai-processing-ms`.
struct Ctx {
    request_id: String,
    arrived_ns: u64,
}

impl Ctx {
    fn new(request: &IncomingRequest) -> Self {
        let arrived_ns = bindings::wasi::clocks::monotonic_clock::now();
        let given = request
            .headers()
            .get("x-request-id")
            .into_iter()
            .find_map(|v| String::from_utf8(v).ok())
            .filter(|id| text::is_request_id(id));
        let request_id = given.unwrap_or_else(|| {
            let r = bindings::wasi::random::random::get_random_bytes(16);
            let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
            format!("req_{hex}")
        });
        Self {
            request_id,
            arrived_ns,
        }
    }

    /// The headers every response carries, as of now.
    fn headers(&self) -> [(&'static str, String); 2] {
        let ms = bindings::wasi::clocks::monotonic_clock::now().saturating_sub(self.arrived_ns)
            / 1_000_000;
        [
            ("x-request-id", self.request_id.clone()),
            ("openai-processing-ms", ms.to_string()),
        ]
    }

    fn respond(
        &self,
        out: ResponseOutparam,
        status: u16,
        content_type: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) {
        let own = self.headers();
        let mut headers: Vec<(&str, &str)> = own.iter().map(|(k, v)| (*k, v.as_str())).collect();
        headers.extend_from_slice(extra);
        io::respond(out, status, content_type, body, &headers);
    }

    fn send_error(&self, out: ResponseOutparam, e: &ApiError) {
        let retry = e.retry_after_ms.map(|ms| ms.div_ceil(1000).to_string());
        let extra: Vec<(&str, &str)> = retry
            .as_deref()
            .map(|r| vec![("retry-after", r)])
            .unwrap_or_default();
        self.respond(
            out,
            e.status,
            "application/json",
            e.body().as_bytes(),
            &extra,
        );
    }

    fn send_json(&self, out: ResponseOutparam, v: &serde_json::Value) {
        self.respond(out, 200, "application/json", v.to_string().as_bytes(), &[]);
    }

    /// Start a streamed response.
    fn start(
        &self,
        out: ResponseOutparam,
        status: u16,
        headers: &[(&str, &str)],
    ) -> Option<io::Writer> {
        let own = self.headers();
        let mut all: Vec<(&str, &str)> = own.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(headers);
        io::Writer::start(out, status, &all)
    }
}

fn model_json(id: &str, owner: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": owner})
}

struct Proxy;

impl Guest for Proxy {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let ctx = Ctx::new(&request);
        let messages_api = request
            .path_with_query()
            .is_some_and(|p| p.starts_with("/v1/messages"));
        let req = match io::read(request) {
            Ok(r) => r,
            Err((status, m)) => {
                let e = ApiError {
                    status,
                    ..ApiError::invalid(m)
                };
                if messages_api {
                    return anthropic::send_error(&ctx, out, &e);
                }
                return ctx.send_error(out, &e);
            }
        };
        let path = req.path.split('?').next().unwrap_or("").to_owned();
        let listed = |s: &State| config::models(&s.config);
        match (&req.method, path.as_str()) {
            (Method::Get, "/healthz") => ctx.respond(out, 200, "text/plain", b"ok", &[]),
            (Method::Get, "/v1/models") => {
                match state().and_then(|s| s.authenticate(&req).map(|_| s)) {
                    Ok(s) => {
                        let data: Vec<serde_json::Value> = listed(&s)
                            .iter()
                            .map(|(id, owner)| model_json(id, owner))
                            .collect();
                        ctx.send_json(out, &serde_json::json!({"object": "list", "data": data}));
                    }
                    Err(e) => ctx.send_error(out, &e),
                }
            }
            (Method::Get, p) if p.starts_with("/v1/models/") => {
                let id = text::percent_decode(p.get("/v1/models/".len()..).unwrap_or(""));
                match state().and_then(|s| s.authenticate(&req).map(|_| s)) {
                    Ok(s) => match listed(&s).iter().find(|(m, _)| *m == id) {
                        Some((m, owner)) => ctx.send_json(out, &model_json(m, owner)),
                        None => ctx.send_error(out, &openai::model_not_found(&id)),
                    },
                    Err(e) => ctx.send_error(out, &e),
                }
            }
            (Method::Post, "/v1/chat/completions") => chat(&ctx, req, out),
            (Method::Post, "/v1/messages") => anthropic::messages(&ctx, req, out),
            (Method::Post, "/v1/messages/count_tokens") => anthropic::count_tokens(&ctx, req, out),
            (_, "/v1/messages" | "/v1/messages/count_tokens") => anthropic::send_error(
                &ctx,
                out,
                &ApiError {
                    status: 405,
                    ..ApiError::invalid("method not allowed")
                },
            ),
            (Method::Post, "/v1/responses") => responses::create(&ctx, req, out),
            (Method::Get, p) if p.starts_with("/v1/responses/") => {
                responses::by_id(&ctx, &req, out, false);
            }
            (Method::Delete, p) if p.starts_with("/v1/responses/") => {
                responses::by_id(&ctx, &req, out, true);
            }
            (Method::Post, "/v1/embeddings") => match embeddings(&req) {
                Ok(v) => ctx.send_json(out, &v),
                Err(e) => ctx.send_error(out, &e),
            },
            (_, "/v1/chat/completions" | "/v1/embeddings" | "/v1/models" | "/v1/responses") => {
                ctx.send_error(
                    out,
                    &ApiError {
                        status: 405,
                        ..ApiError::invalid("method not allowed")
                    },
                );
            }
            _ => ctx.send_error(
                out,
                &ApiError {
                    status: 404,
                    ..ApiError::invalid(format!("no route {path}"))
                },
            ),
        }
    }
}

fn chat(ctx: &Ctx, req: io::Request, out: ResponseOutparam) {
    let prepared = (|| {
        let s = state()?;
        let client = s.authenticate(&req)?;
        let body: openai::ChatRequest = serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))?;
        let gateway = s.gateway(client.as_deref())?;
        let provider = gateway
            .resolve_provider(&body.model, None)
            .map_err(|e| openai::api_error(&e))?;
        let wire = config::wire_of(&s.config, &provider);
        let (input, options) =
            openai::to_gateway(&body, client.clone(), wire, &provider, &ctx.request_id)?;
        let include_usage = body.include_usage()?;
        Ok::<_, ApiError>((gateway, body, input, options, include_usage))
    })();
    let (gateway, body, input, options, include_usage) = match prepared {
        Ok(p) => p,
        Err(e) => return ctx.send_error(out, &e),
    };
    let id = completion_id();
    let created = now_secs();
    if !body.stream {
        match gateway.run(&body.model, &input, Some(&options)) {
            Ok(o) => ctx.send_json(out, &openai::completion(&id, created, &o)),
            Err(e) => ctx.send_error(out, &openai::api_error(&e)),
        }
        return;
    }
    // Streams: errors before the first event are plain HTTP errors.
    let stream = match gateway.stream(&body.model, &input, Some(&options)) {
        Ok(s) => s,
        Err(e) => return ctx.send_error(out, &openai::api_error(&e)),
    };
    let Some(mut w) = ctx.start(
        out,
        200,
        &[
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
    ) else {
        return;
    };
    // The model field is the one the first chunk named on every chunk:
    // clients (and the OpenAI SDKs' stream helpers) expect it not to
    // change within a stream.
    let mut chunker = openai::Chunker::new(id, created, body.model.clone());
    let mut alive = w.write(text::sse(&chunker.role().to_string()).as_bytes());
    while alive {
        let Some(event) = stream.next() else { break };
        let frame = match &event {
            w::StreamEvent::Text(t) => chunker.text(t),
            w::StreamEvent::Reasoning(r) => chunker.reasoning(r),
            w::StreamEvent::ToolUse(c) => chunker.tool(c),
            w::StreamEvent::Refusal(r) => chunker.refusal(r),
            w::StreamEvent::Logprobs(l) => chunker.logprobs(l),
            // Chat Completions has no field for reasoning signatures.
            w::StreamEvent::ReasoningSignature(_) | w::StreamEvent::ReasoningRedacted(_) => {
                continue;
            }
            w::StreamEvent::Done(d) => {
                let mut frames = text::sse(
                    &chunker
                        .chunk(
                            serde_json::json!({}),
                            openai::finish_reason(d.finish_reason.as_ref()),
                        )
                        .to_string(),
                );
                if include_usage && let Some(u) = &d.usage {
                    frames.push_str(&text::sse(&chunker.usage(u).to_string()));
                }
                frames.push_str("data: [DONE]\n\n");
                w.write(frames.as_bytes());
                break;
            }
            w::StreamEvent::Error(e) => {
                let body = openai::api_error(e).body();
                w.write(text::sse(&body).as_bytes());
                break;
            }
        };
        alive = w.write(text::sse(&frame.to_string()).as_bytes());
    }
    // Dropping the stream closes the upstream connection if the client left.
    drop(stream);
    w.finish();
}

fn embeddings(req: &io::Request) -> Result<serde_json::Value, ApiError> {
    let s = state()?;
    let client = s.authenticate(req)?;
    let body: openai::EmbeddingsRequest = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))?;
    let input = openai::embed_input(&body.input)?;
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "unknown encoding_format {other:?}"
            )));
        }
    };
    let gateway = s.gateway(client.as_deref())?;
    let options = w::EmbedOptions {
        provider: None,
        dimensions: body.dimensions,
        timeout_ms: None,
    };
    let out = gateway
        .embed(&body.model, &input, Some(&options))
        .map_err(|e| openai::api_error(&e))?;
    Ok(openai::embeddings(&out, base64))
}

bindings::export!(Proxy with_types_in bindings);

//! Canned provider bodies: the recorded streams, the answers the mock gives
//! when no reply is scripted ([`default_reply`]), and builders for complete
//! answers, streams and error bodies in each wire format (OpenAI-compatible,
//! Anthropic, Workers AI) that the fault tests script.

use std::time::Duration;

use serde_json::{Value, json};

use super::Recorded;
use super::reply::Reply;

pub const OPENAI_TEXT_SSE: &[u8] =
    include_bytes!("../../../tests/fixtures/openai/text_with_usage.sse");
pub const OPENAI_TOOL_SSE: &[u8] =
    include_bytes!("../../../tests/fixtures/openai/tool_call_with_usage.sse");
pub const OPENAI_PARALLEL_SSE: &[u8] =
    include_bytes!("../../../tests/fixtures/openai/parallel_tool_calls.sse");
pub const ANTHROPIC_TEXT_SSE: &[u8] =
    include_bytes!("../../../tests/fixtures/anthropic/basic_response.sse");
pub const ANTHROPIC_TOOL_SSE: &[u8] =
    include_bytes!("../../../tests/fixtures/anthropic/tool_use_response.sse");
pub const GEMINI_TEXT_SSE: &[u8] =
    include_bytes!("../../../tests/fixtures/gemini/stream_reply_short.sse");
pub const GEMINI_THINKING_JSON: &[u8] =
    include_bytes!("../../../tests/fixtures/gemini/thinking_function_call_signature.json");
pub const GEMINI_THINKING_SSE: &[u8] =
    include_bytes!("../../../tests/fixtures/gemini/thinking_function_call_signature.sse");
pub const BEDROCK_TEXT_STREAM: &[u8] = include_bytes!(
    "../../../tests/fixtures/bedrock-eventstream/pydantic-ai/test_bedrock_model_stream.bin"
);
pub const BEDROCK_THINKING_STREAM: &[u8] = include_bytes!(
    "../../../tests/fixtures/bedrock-eventstream/pydantic-ai/test_bedrock_model_thinking_part_stream.bin"
);
pub const BEDROCK_REASONING_JSON: &[u8] =
    include_bytes!("../../../tests/fixtures/bedrock/reasoning_signature.json");

/// AWS's event-stream media type (Bedrock's `converse-stream`).
pub const EVENTSTREAM: &str = "application/vnd.amazon.eventstream";

/// The reply when no script is queued: a plausible answer in the format the
/// path implies.
pub(super) fn default_reply(req: &Recorded, pace: Duration) -> Reply {
    let body = req.json();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let path = req.path.split('?').next().unwrap_or("");
    if body.is_array() {
        // Cloudflare Universal Endpoint: the first step answers.
        let first = body.get(0).cloned().unwrap_or(Value::Null);
        let provider = first.get("provider").and_then(Value::as_str).unwrap_or("");
        let model = first
            .pointer("/query/model")
            .and_then(Value::as_str)
            .unwrap_or("mock");
        let reply = if provider == "anthropic" {
            anthropic_json(model)
        } else {
            openai_json(model)
        };
        return reply.header("cf-aig-step", "0");
    }
    if let Some(r) = google_or_aws(path, &body, pace) {
        return r;
    }
    if path.ends_with("/chat/completions") {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model");
        return if stream {
            Reply::sse(OPENAI_TEXT_SSE, pace)
        } else {
            openai_json(model)
        };
    }
    if path.ends_with("/v1/messages/count_tokens") {
        // A deterministic count the tests can predict: one per 4 bytes of
        // the messages' JSON (Anthropic counts with its tokenizer).
        let bytes = body.get("messages").map_or(0, |m| m.to_string().len());
        return Reply::json(200, serde_json::json!({"input_tokens": bytes.div_ceil(4)}));
    }
    if path.ends_with("/v1/messages") {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("claude-mock");
        return if stream {
            Reply::sse(ANTHROPIC_TEXT_SSE, pace)
        } else {
            anthropic_json(model)
        };
    }
    if path.ends_with("/embeddings") {
        let n = body
            .get("input")
            .and_then(Value::as_array)
            .map_or(1, Vec::len);
        let data: Vec<Value> = (0..n)
            .map(
                |i| json!({"object": "embedding", "index": i, "embedding": [i as f64, 0.5, -0.25]}),
            )
            .collect();
        return Reply::json(
            200,
            json!({"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": 3 * n, "total_tokens": 3 * n}}),
        );
    }
    if path.contains("/ai/run/") {
        if let Some(texts) = body.get("text").and_then(Value::as_array) {
            let data: Vec<Value> = (0..texts.len()).map(|i| json!([i as f64, 0.5])).collect();
            return Reply::json(
                200,
                json!({"result": {"shape": [texts.len(), 2], "data": data}, "success": true, "errors": []}),
            );
        }
        return if stream {
            workers_sse(pace)
        } else {
            workers_json()
        };
    }
    Reply::json(
        404,
        json!({"error": {"message": format!("the mock does not serve {path}"), "type": "not_found"}}),
    )
}

/// The default replies of the Gemini API (and Vertex AI's Gemini and
/// Claude models) and of Bedrock's Converse, by their path.
fn google_or_aws(path: &str, body: &Value, pace: Duration) -> Option<Reply> {
    let method = path.rsplit_once(':').map(|(_, m)| m);
    Some(match method {
        Some("generateContent") => {
            Reply::raw(200, "application/json", json_answer("gemini", MOCK_TEXT))
        }
        Some("streamGenerateContent") => Reply::sse(GEMINI_TEXT_SSE, pace),
        Some("batchEmbedContents") => {
            let n = body
                .get("requests")
                .and_then(Value::as_array)
                .map_or(1, Vec::len);
            let e: Vec<Value> = (0..n)
                .map(|i| json!({"values": [i as f64, 0.5, -0.25]}))
                .collect();
            Reply::json(200, json!({"embeddings": e}))
        }
        Some("predict") => {
            let n = body
                .get("instances")
                .and_then(Value::as_array)
                .map_or(1, Vec::len);
            let p: Vec<Value> = (0..n)
                .map(|i| json!({"embeddings": {"values": [i as f64, 0.5], "statistics": {"token_count": 3, "truncated": false}}}))
                .collect();
            Reply::json(200, json!({"predictions": p}))
        }
        Some("rawPredict") => anthropic_json("claude-mock"),
        Some("streamRawPredict") => Reply::sse(ANTHROPIC_TEXT_SSE, pace),
        _ if path.ends_with("/converse") => {
            Reply::raw(200, "application/json", json_answer("bedrock", MOCK_TEXT))
        }
        _ if path.ends_with("/converse-stream") => eventstream(sse_events("bedrock", &[MOCK_TEXT])),
        _ => return None,
    })
}

/// A Converse stream of these event-stream frames, one write each.
pub fn eventstream(frames: Vec<Vec<u8>>) -> Reply {
    Reply::chunks(200, EVENTSTREAM, frames, Duration::ZERO)
}

/// One Converse event as an event-stream frame.
pub fn bedrock_frame(event: &str, payload: &Value) -> Vec<u8> {
    use ai_gateway::provider::bedrock::eventstream::{HeaderValue, encode};
    encode(
        &[
            (":event-type", HeaderValue::String(event.into())),
            (
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            (":message-type", HeaderValue::String("event".into())),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An exception frame in a Converse stream.
pub fn bedrock_exception(kind: &str, message: &str) -> Vec<u8> {
    use ai_gateway::provider::bedrock::eventstream::{HeaderValue, encode};
    encode(
        &[
            (":exception-type", HeaderValue::String(kind.into())),
            (
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            (":message-type", HeaderValue::String("exception".into())),
        ],
        json!({ "message": message }).to_string().as_bytes(),
    )
}

pub const MOCK_TEXT: &str = "Hello! I am the ai-gateway mock upstream.";

pub fn openai_json(model: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": MOCK_TEXT, "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
                      "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}
        }),
    )
}

pub fn anthropic_json(model: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": MOCK_TEXT}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 9}
        }),
    )
}

pub fn workers_json() -> Reply {
    Reply::json(
        200,
        json!({"result": {"response": MOCK_TEXT, "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}},
               "success": true, "errors": [], "messages": []}),
    )
}

pub fn workers_sse(pace: Duration) -> Reply {
    let mut s = String::new();
    for w in MOCK_TEXT.split_inclusive(' ') {
        s.push_str(&format!(
            "data: {}\n\n",
            json!({"response": w, "p": "abcdef"})
        ));
    }
    s.push_str(&format!("data: {}\n\n", json!({"response": "", "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}})));
    s.push_str("data: [DONE]\n\n");
    Reply::sse(s.as_bytes(), pace)
}

// ------------------------------------------------- scripted answers by wire

// What the fault matrix scripts: complete answers, streams and error bodies
// for a provider kind ("openai", "anthropic", "gemini", "bedrock", else
// Workers AI). Bedrock's "events" are event-stream frames.

/// Input tokens of every scripted answer.
pub const TOKENS_IN: u64 = 12;
/// Output tokens of every scripted answer.
pub const TOKENS_OUT: u64 = 9;

/// A complete non-streaming answer with `text`, in the provider's format.
pub fn json_answer(provider: &str, text: &str) -> Vec<u8> {
    let v = match provider {
        "openai" => json!({
            "id": "chatcmpl-f", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": TOKENS_IN, "completion_tokens": TOKENS_OUT, "total_tokens": 21}
        }),
        "anthropic" => json!({
            "id": "msg_f", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": {"input_tokens": TOKENS_IN, "output_tokens": TOKENS_OUT}
        }),
        "gemini" => json!({
            "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": TOKENS_IN, "candidatesTokenCount": TOKENS_OUT, "totalTokenCount": 21},
            "modelVersion": "gemini-2.5-flash"
        }),
        "bedrock" => json!({
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": TOKENS_IN, "outputTokens": TOKENS_OUT, "totalTokens": 21},
            "metrics": {"latencyMs": 100}
        }),
        _ => json!({
            "result": {"response": text, "usage": {"prompt_tokens": TOKENS_IN, "completion_tokens": TOKENS_OUT, "total_tokens": 21}},
            "success": true, "errors": [], "messages": []
        }),
    };
    v.to_string().into_bytes()
}

/// The SSE events of a complete streamed answer whose text deltas are
/// `parts`, one event per element, in the provider's format.
pub fn sse_events(provider: &str, parts: &[&str]) -> Vec<Vec<u8>> {
    let data = |v: Value| format!("data: {v}\n\n").into_bytes();
    let named = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n").into_bytes();
    let mut out = Vec::new();
    match provider {
        "openai" => {
            for p in parts {
                out.push(data(
                    json!({"model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": p}}]}),
                ));
            }
            out.push(data(
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ));
            out.push(data(
                json!({"choices": [], "usage": {"prompt_tokens": TOKENS_IN, "completion_tokens": TOKENS_OUT}}),
            ));
            out.push(b"data: [DONE]\n\n".to_vec());
        }
        "anthropic" => {
            out.push(named(
                "message_start",
                json!({"type": "message_start", "message": {"model": "claude-sonnet-4-6", "usage": {"input_tokens": TOKENS_IN, "output_tokens": 1}}}),
            ));
            out.push(named(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ));
            for p in parts {
                out.push(named(
                    "content_block_delta",
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}),
                ));
            }
            out.push(named(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ));
            out.push(named(
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": TOKENS_OUT}}),
            ));
            out.push(named("message_stop", json!({"type": "message_stop"})));
        }
        "gemini" => {
            let last = parts.len().saturating_sub(1);
            for (i, p) in parts.iter().enumerate() {
                let (finish, out_tokens) = if i == last {
                    (json!("STOP"), json!(TOKENS_OUT))
                } else {
                    (Value::Null, json!(i + 1))
                };
                let mut candidate =
                    json!({"content": {"parts": [{"text": p}], "role": "model"}, "index": 0});
                if !finish.is_null()
                    && let Some(c) = candidate.as_object_mut()
                {
                    c.insert("finishReason".into(), finish);
                }
                out.push(data(json!({
                    "candidates": [candidate],
                    "modelVersion": "gemini-2.5-flash",
                    "usageMetadata": {"promptTokenCount": TOKENS_IN, "candidatesTokenCount": out_tokens}
                })));
            }
        }
        "bedrock" => {
            out.push(bedrock_frame("messageStart", &json!({"role": "assistant"})));
            for p in parts {
                out.push(bedrock_frame(
                    "contentBlockDelta",
                    &json!({"contentBlockIndex": 0, "delta": {"text": p}}),
                ));
            }
            out.push(bedrock_frame(
                "contentBlockStop",
                &json!({"contentBlockIndex": 0}),
            ));
            out.push(bedrock_frame(
                "messageStop",
                &json!({"stopReason": "end_turn"}),
            ));
            out.push(bedrock_frame(
                "metadata",
                &json!({"usage": {"inputTokens": TOKENS_IN, "outputTokens": TOKENS_OUT, "totalTokens": 21}, "metrics": {"latencyMs": 10}}),
            ));
        }
        _ => {
            for p in parts {
                out.push(data(json!({"response": p})));
            }
            out.push(data(
                json!({"response": "", "usage": {"prompt_tokens": TOKENS_IN, "completion_tokens": TOKENS_OUT, "total_tokens": 21}}),
            ));
            out.push(b"data: [DONE]\n\n".to_vec());
        }
    }
    out
}

/// A provider error body in the provider's own shape.
pub fn error_body(provider: &str, status: u16) -> Vec<u8> {
    let v = match provider {
        "openai" => {
            json!({"error": {"message": format!("mock {status}"), "type": "server_error", "code": null}})
        }
        "anthropic" => {
            json!({"type": "error", "error": {"type": "api_error", "message": format!("mock {status}")}})
        }
        // google.rpc.Status.
        "gemini" => {
            json!({"error": {"code": status, "message": format!("mock {status}"), "status": "INTERNAL"}})
        }
        // AWS: the message in the body, the type in `x-amzn-errortype`.
        "bedrock" => json!({"message": format!("mock {status}")}),
        _ => {
            json!({"result": null, "success": false, "errors": [{"code": 7000 + u32::from(status), "message": format!("mock {status}")}], "messages": []})
        }
    };
    v.to_string().into_bytes()
}

//! Google Vertex AI. Its Gemini models speak the Gemini wire format
//! (`gemini/`, the `vertex` kind) and its Claude models Anthropic's
//! Messages format through `rawPredict` (`anthropic/`, the
//! `vertex-anthropic` kind, which moves `model` into the URL and sends
//! `anthropic_version` in the body). What is Vertex's own is here: its
//! defaults and its text-embeddings API (`models/{model}:predict`).

pub mod defaults;

use serde::{Deserialize, Serialize};

use super::common::{Embeddings, ProviderRequest, from_json};
use crate::config::Endpoint;
use crate::error::{GatewayError, Result};
use crate::http::{encode_path, join_url};
use crate::types::{EmbedOptions, Usage};
use crate::validate::check_path_model;

#[derive(Debug, Serialize)]
struct PredictRequest<'a> {
    instances: Vec<Instance<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Parameters>,
}

#[derive(Debug, Serialize)]
struct Instance<'a> {
    content: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Parameters {
    output_dimensionality: u32,
}

#[derive(Debug, Deserialize)]
struct PredictResponse {
    #[serde(default)]
    predictions: Vec<Prediction>,
}

#[derive(Debug, Deserialize)]
struct Prediction {
    embeddings: PredictionEmbeddings,
}

#[derive(Debug, Deserialize)]
struct PredictionEmbeddings {
    #[serde(default)]
    values: Vec<f32>,
    #[serde(default)]
    statistics: Option<Statistics>,
}

#[derive(Debug, Deserialize)]
struct Statistics {
    #[serde(default)]
    token_count: f64,
}

/// `models/{model}:predict` with one instance per input.
pub(crate) fn embed_request(
    endpoint: &Endpoint,
    model: &str,
    input: &[String],
    options: &EmbedOptions,
) -> Result<ProviderRequest> {
    check_path_model(model)?;
    if model.contains('/') {
        return Err(GatewayError::validation(format!(
            "model {model:?} has a '/', which a Vertex AI model name cannot have"
        )));
    }
    let body = PredictRequest {
        instances: input.iter().map(|content| Instance { content }).collect(),
        parameters: options.dimensions.map(|d| Parameters {
            output_dimensionality: d,
        }),
    };
    ProviderRequest::new(
        join_url(
            &endpoint.base_url,
            &format!("models/{}:{}", encode_path(model), defaults::PREDICT),
        ),
        endpoint.auth_headers(defaults::AUTH),
        &body,
    )
}

/// `{"predictions": [{"embeddings": {"values", "statistics": {"token_count"}}}]}`.
pub(crate) fn parse_embed(body: &[u8]) -> Result<Embeddings> {
    let r: PredictResponse = from_json(body, "predict response")?;
    let mut tokens = 0u64;
    let mut vectors = Vec::with_capacity(r.predictions.len());
    for p in r.predictions {
        if let Some(s) = p.embeddings.statistics {
            // A count, sent as a JSON number that may carry `.0`.
            tokens = tokens.saturating_add(s.token_count.max(0.0) as u64);
        }
        vectors.push(p.embeddings.values);
    }
    let usage = (tokens > 0).then_some(Usage {
        input_tokens: tokens,
        ..Usage::default()
    });
    Ok((vectors, usage, None))
}

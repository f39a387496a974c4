//! Azure OpenAI: OpenAI's Chat Completions and Embeddings formats at a
//! resource's URL. What is Azure's own lives here: its defaults (the
//! resource URL, the v1 and deployment paths, the `api-key` header) and
//! where a request goes ([`url`]). The request and response code is
//! OpenAI's (`openai/mod.rs` asks this module for the URL and the header);
//! content-filter finish reasons and errors are OpenAI-shaped
//! (`finish_reason: content_filter`, an error `code` of `content_filter`).

pub mod defaults;

use crate::config::Endpoint;
use crate::error::{GatewayError, Result};
use crate::http::{encode_component, encode_path, join_url};
use crate::validate::check_path_model;

/// Where `path` (`chat/completions`, `embeddings`) goes: under the v1 API,
/// or, with a dated `api-version`, under the model's deployment. Through
/// Cloudflare AI Gateway only deployment URLs exist, without the
/// `openai/deployments` part: `.../azure-openai/{resource}/{model}/...`.
pub(crate) fn url(endpoint: &Endpoint, model: &str, path: &str) -> Result<String> {
    let version = match endpoint.api_version.as_deref().filter(|v| *v != "v1") {
        None if endpoint.via_cf_gateway => Some(defaults::CF_API_VERSION),
        v => v,
    };
    let Some(version) = version else {
        return Ok(join_url(
            &endpoint.base_url,
            &format!("{}/{path}", defaults::V1_PREFIX),
        ));
    };
    check_path_model(model)?;
    if model.contains('/') {
        return Err(GatewayError::validation(format!(
            "model {model:?} has a '/', which an Azure deployment name cannot have"
        )));
    }
    let deployment = if endpoint.via_cf_gateway {
        format!("{}/{path}", encode_path(model))
    } else {
        format!("{}/{}/{path}", defaults::DEPLOYMENTS, encode_path(model))
    };
    Ok(format!(
        "{}?api-version={}",
        join_url(&endpoint.base_url, &deployment),
        encode_component(version)
    ))
}

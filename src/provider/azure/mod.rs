//! Azure OpenAI: OpenAI's Chat Completions and Embeddings formats at a
//! resource's URL. What is Azure's own lives here: its defaults (the
//! resource URL, the v1 and deployment paths, the `api-key` header). The
//! request and response code is OpenAI's (`openai/mod.rs` picks the URL and
//! the header for this kind); content-filter finish reasons and errors are
//! OpenAI-shaped (`finish_reason: content_filter`, an error `code` of
//! `content_filter`).

pub mod defaults;

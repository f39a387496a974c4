//! The gemini wire format: non-stream chat and embeddings parsers and the
//! stream decoder (see `ai_gateway_fuzz::provider` for the input layout
//! and the properties).
#![no_main]

use ai_gateway::config::WireFormat;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ai_gateway_fuzz::provider(WireFormat::Gemini, data));

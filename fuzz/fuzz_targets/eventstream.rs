//! AWS's event-stream framing (Bedrock): the first byte picks a split
//! point; see `ai_gateway_fuzz::eventstream` for the properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ai_gateway_fuzz::eventstream(data));

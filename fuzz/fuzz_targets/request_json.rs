//! The OpenAI JSON request models of the gateway: any body is parsed into each of the
//! main request types and converted to the proto request, or refused with an OpenAI
//! error; never a panic (`assistd_gateway::fuzzing::request_json`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assistd_gateway::fuzzing::request_json(data);
});

//! The model client's SSE decoder, fed the input in pieces: the events do not depend
//! on how the bytes were cut (see `assert_cut_invariant`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../services/runs/src/model/sse.rs"]
#[allow(dead_code)]
mod sse;

fuzz_target!(|data: &[u8]| {
    sse::assert_cut_invariant(data);
});

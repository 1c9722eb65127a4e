//! The multipart reader the files and uploads routes use, on any body: fields and
//! chunks come out or an error does; it never panics or hangs
//! (`assistd_gateway::fuzzing::multipart`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    rt.block_on(assistd_gateway::fuzzing::multipart(data));
});

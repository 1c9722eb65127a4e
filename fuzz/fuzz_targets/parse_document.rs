//! The document parsers of vector store ingestion, on any bytes under any supported
//! extension: they answer text or an error, never panic, hang or blow up memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../services/vector_stores/src/ingest/parse.rs"]
#[allow(dead_code)]
mod parse;


fuzz_target!(|data: &[u8]| {
    let _ = parse::parse_fuzz_input(data);
});

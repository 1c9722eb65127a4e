//! A BERT encoder with mean pooling, the forward pass of all-MiniLM-L6-v2, for one text
//! at a time on plain `f32` slices: what the vector stores service embeds chunks and
//! search queries with (its `embed/minilm.rs` tokenizes and runs texts in parallel).
//!
//! A crate of its own so that debug builds compile it optimised (the workspace
//! `Cargo.toml` sets `opt-level = 3` for it, as for candle), and so that the workspace's
//! one `unsafe` block, in `matmul.rs`, sits in a small crate.

mod encoder;
mod matmul;

pub use encoder::Encoder;

//! The responses service: the Responses API's responses, their context (a previous
//! response's chain or a conversation, through the conversations service), the model
//! turn that produces their output, and its stream of events.
//!
//! `domain` (the values and their rules) ← `engine` (the model turn) ← `ops` (the
//! operations) ← `grpc` (the tonic adapter and proto conversions); `store` keeps the
//! rows; `peers` reaches the conversations service.

pub mod domain;
pub mod engine;
pub mod grpc;
pub mod ops;
pub mod peers;
pub mod prompt;
pub mod store;
pub mod tools;

pub use grpc::ResponsesService;
pub use ops::Responses;

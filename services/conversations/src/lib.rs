//! The conversations service: conversations (metadata and an ordered list of items)
//! that responses read as their context and append their input and output to.
//!
//! `domain` (the values and their rules) ← `ops` (the operations) ← `grpc` (the
//! tonic adapter and proto conversions); `store` keeps the rows.

pub mod domain;
pub mod grpc;
pub mod ops;
pub mod store;

pub use grpc::ConversationsService;
pub use ops::Conversations;

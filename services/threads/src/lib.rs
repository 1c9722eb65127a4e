//! The threads service: threads and their messages.
//!
//! `domain` (the values and their rules) ← `ops` (the operations) ← `grpc` (the
//! tonic adapter and proto conversions); `store` keeps the rows.

pub mod domain;
pub mod grpc;
pub mod ops;
pub mod store;

pub use grpc::ThreadsService;
pub use ops::Threads;

//! The threads service: threads and their messages.

pub mod domain;
pub mod grpc;
pub mod store;

pub use grpc::ThreadsService;

//! The assistants service: assistants (a model, instructions and tools).

pub mod domain;
pub mod grpc;
pub mod store;

pub use grpc::AssistantsService;

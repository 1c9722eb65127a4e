//! The runs service: runs and their steps, the engine that executes them (streamed
//! from the replica that serves the call, or from the database-backed queue by
//! workers), and the model backends it calls.

pub mod domain;
pub mod engine;
pub mod grpc;
pub mod model;
pub mod peers;
pub mod store;

pub use engine::{Engine, EngineConfig, Models};
pub use grpc::RunsService;

//! The files service: files and multipart uploads. Bytes stream to an
//! `object_store` (a local directory by default) and are never held whole in memory.

pub mod blobs;
pub mod domain;
pub mod grpc;
pub mod store;

pub use grpc::FilesService;

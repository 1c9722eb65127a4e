//! The files service: files and multipart uploads. Bytes stream to an
//! `object_store` (a local directory by default) and are never held whole in memory.
//!
//! `domain/` holds the records and their rules, `store/` the tables, `blobs` the
//! bytes, `ops/` the operations on domain values, and `grpc/` the tonic impl that
//! converts requests and answers around them.

pub mod blobs;
pub mod domain;
pub mod grpc;
pub mod ops;
pub mod store;

pub use grpc::FilesService;
pub use ops::Files;

//! The vector stores service: vector stores, their files and file batches, the
//! ingestion pipeline (parse → chunk → embed → index, see [`worker`]) and hybrid
//! search over a [`index::VectorIndex`] (embedded qdrant-edge or a Qdrant server).
//!
//! `domain/` holds the records and their rules, `store/` the tables, `ops/` the
//! operations of the API on domain values, and `grpc/` the tonic impl that converts
//! requests and answers around them.

pub mod domain;
pub mod embed;
pub mod grpc;
pub mod index;
pub mod ingest;
pub mod ops;
pub mod peers;
pub mod search;
pub mod store;
pub mod worker;

pub use grpc::VectorStoresService;
pub use ops::VectorStores;

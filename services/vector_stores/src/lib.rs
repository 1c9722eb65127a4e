//! The vector stores service: vector stores, their files and file batches, the
//! ingestion pipeline (parse → chunk → embed → index, see [`worker`]) and hybrid
//! search over a [`index::VectorIndex`] (embedded qdrant-edge or a Qdrant server).

pub mod domain;
pub mod embed;
pub mod grpc;
pub mod index;
pub mod ingest;
pub mod peers;
pub mod search;
pub mod store;
pub mod worker;

pub use grpc::VectorStoresService;

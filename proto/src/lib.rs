//! Generated gRPC types and services of the `assistd.v1` package.

#![allow(clippy::all, missing_docs)]

pub mod codec;

/// The `assistd.v1` package.
pub mod v1 {
    tonic::include_proto!("assistd.v1");
}

/// Encoded file descriptor set, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("assistd_descriptor");

pub use v1 as pb;

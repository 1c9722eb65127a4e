//! The channel type services and the gateway use to call a service: a network
//! `tonic` channel in split mode, the service's router itself in one process.

use tower::util::BoxCloneSyncService;

/// Boxed error of a channel.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A gRPC channel: network or in-process.
pub type GrpcChannel = BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    BoxError,
>;

//! The channel type services and the gateway use to call a service: a network
//! `tonic` channel in split mode, the service's router itself in one process.

use tower::util::BoxCloneSyncService;

/// Boxed error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error of a channel (a concrete type keeps tonic's bounds simple to prove).
#[derive(Debug)]
pub struct ChannelError(pub BoxError);

impl std::fmt::Display for ChannelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ChannelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// A gRPC channel: network or in-process.
pub type GrpcChannel =
    BoxCloneSyncService<http::Request<tonic::body::Body>, http::Response<tonic::body::Body>, ChannelError>;

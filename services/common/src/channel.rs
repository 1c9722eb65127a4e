//! The channel type services and the gateway use to call a service: a network
//! `tonic` channel in split mode, the service's router itself in one process.

use tower::util::BoxCloneSyncService;

/// The largest gRPC message any service or client of this workspace sends or accepts
/// (a file part, a page of file content).
pub const MAX_GRPC_MESSAGE: usize = 64 * 1024 * 1024;

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

/// A service (e.g. a tonic server's axum router) as an in-process channel: no
/// sockets, no HTTP/2 framing. Request extensions reach the service as they are.
pub fn in_process<S, B>(svc: S) -> GrpcChannel
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<B>, Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    use tower::ServiceExt as _;
    let svc = svc
        .map_err(|e: std::convert::Infallible| -> ChannelError { match e {} })
        .map_response(|r: http::Response<B>| r.map(tonic::body::Body::new));
    BoxCloneSyncService::new(svc)
}

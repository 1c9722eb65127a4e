//! Observation of the gRPC calls a service answers: a server span per call and the
//! gRPC metrics. It sits in front of the services' router, so the calls made in
//! process (the gateway's in one process, a service's to a peer) count as well as
//! network ones.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::caller::REQUEST_ID_HEADER;

/// Observes each gRPC call once: runs it in a server span named `service/method`,
/// child of the caller's trace context from the `traceparent` metadata and carrying
/// the client request's `x-request-id`, and records `assistd_grpc_requests_total` and
/// `assistd_grpc_request_duration_seconds` by service, method and code. The code is
/// the one sent with the response headers (errors); calls that end with trailers
/// count as `Ok`. For a server stream the duration runs to the first response headers.
pub async fn grpc_observe(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let start = Instant::now();
    let path = req.uri().path().trim_start_matches('/').to_owned();
    let (service, method) = path.split_once('/').unwrap_or((path.as_str(), ""));
    let request_id = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let span = tracing::info_span!(
        "grpc call",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        request_id = %request_id,
        trace_id = tracing::field::Empty,
    );
    crate::trace::set_parent_from(&span, req.headers());
    crate::trace::record_trace_id(&span);
    let res = next.run(req).instrument(span).await;
    let code = res
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(|c| format!("{:?}", tonic::Code::from_i32(c)))
        .unwrap_or_else(|| "Ok".to_owned());
    let labels = [("service", service.to_owned()), ("method", method.to_owned()), ("code", code)];
    metrics::counter!("assistd_grpc_requests_total", &labels).increment(1);
    metrics::histogram!("assistd_grpc_request_duration_seconds", &labels).record(start.elapsed().as_secs_f64());
    res
}

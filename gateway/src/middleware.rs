//! Cross-cutting HTTP behaviour: request ids, and OpenAI-shaped 404/405.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;

/// The id of the current request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Gives every request a unique id and every response an `x-request-id` header.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = format!("req_{}", assistd_common::ids::new_ulid());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// 404 for unknown routes, in OpenAI's words.
pub async fn not_found(req: Request) -> Response {
    ApiError::new(StatusCode::NOT_FOUND, format!("Invalid URL ({} {})", req.method(), req.uri().path())).into_response()
}

/// 405 for a known route with the wrong method.
pub async fn method_not_allowed(req: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Invalid method for URL ({} {})", req.method(), req.uri().path()),
    )
    .with_code("method_not_allowed")
    .into_response()
}

fn is_grpc(path: &str) -> bool {
    path.starts_with("/assistd.v1.") || path.starts_with("/grpc.")
}

/// Observes each REST request once: runs it in a server span
/// (`GET /v1/threads/{thread_id}`), the parent of the gRPC spans of the calls it makes
/// (an incoming `traceparent` header continues the caller's trace), and records
/// `assistd_http_requests_total` and `assistd_http_request_duration_seconds` by
/// method, route template and status. gRPC paths are left to [`grpc_observe`].
pub async fn http_observe(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    if is_grpc(req.uri().path()) {
        return next.run(req).await;
    }
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let span = tracing::info_span!(
        "http request",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        url.path = %req.uri().path(),
        request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    assistd_common::trace::set_parent_from(&span, req.headers());
    assistd_common::trace::record_trace_id(&span);
    let res = next.run(req).instrument(span.clone()).await;
    let status = res.status().as_u16();
    let elapsed = start.elapsed().as_secs_f64();
    span.record("http.response.status_code", status);
    span.in_scope(|| tracing::debug!(status, elapsed_ms = elapsed * 1e3, "request finished"));
    let labels = [("method", method), ("route", route), ("status", status.to_string())];
    metrics::counter!("assistd_http_requests_total", &labels).increment(1);
    metrics::histogram!("assistd_http_request_duration_seconds", &labels).record(elapsed);
    res
}

/// Observes each gRPC call once — direct ones and the gateway's in-process ones: runs
/// it in a server span named `service/method`, child of the caller's trace context
/// from the `traceparent` metadata, and records `assistd_grpc_requests_total` and
/// `assistd_grpc_request_duration_seconds` by service, method and code. The code is
/// the one sent with the response headers (errors); calls that end with trailers
/// count as `Ok`. For a server stream the duration runs to the first response headers.
pub async fn grpc_observe(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let start = Instant::now();
    let path = req.uri().path().trim_start_matches('/').to_owned();
    let (service, method) = path.split_once('/').unwrap_or((path.as_str(), ""));
    let span = tracing::info_span!(
        "grpc call",
        otel.name = %path,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        trace_id = tracing::field::Empty,
    );
    assistd_common::trace::set_parent_from(&span, req.headers());
    assistd_common::trace::record_trace_id(&span);
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

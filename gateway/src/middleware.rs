//! Cross-cutting HTTP behaviour: request ids, and OpenAI-shaped 404/405.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use assistd_common::caller::REQUEST_ID_HEADER;

use crate::errors::ApiError;

/// The id of the current request, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Gives every request an id, in its extensions, in its `x-request-id` header (which
/// the gateway passes on to the services it calls) and in the response's
/// `x-request-id` header. A REST request always gets a new one; a gRPC call keeps the
/// one its caller sent (the gateway's, a peer service's), so one client request has
/// one id in every process it reaches.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let kept = is_grpc(req.uri().path())
        .then(|| req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).filter(|v| valid_request_id(v)))
        .flatten()
        .map(str::to_owned);
    let id = kept.unwrap_or_else(|| format!("req_{}", assistd_common::ids::new_ulid()));
    req.extensions_mut().insert(RequestId(id.clone()));
    if let Ok(v) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let mut res = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    res
}

/// An id a caller may pass on: short, printable ASCII.
fn valid_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
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
/// method, route template and status. gRPC paths are left to the services' own observation
/// (`assistd_common::observe::grpc_observe`).
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

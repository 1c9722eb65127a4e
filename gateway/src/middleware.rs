//! Cross-cutting HTTP behaviour: request ids, and OpenAI-shaped 404/405.

use axum::extract::Request;
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

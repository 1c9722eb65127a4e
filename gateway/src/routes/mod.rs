//! The REST routes under `/v1`, one module per resource, mirroring
//! `shared/openai-spec/assistants-openapi.yaml`.

pub mod assistants;
pub mod conversations;
pub mod files;
pub mod models;
pub mod responses;
pub mod responses_ws;
pub mod runs;
pub mod threads;
pub mod uploads;
pub mod vector_stores;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::{get, post};

use crate::Upstreams;
use crate::errors::ApiError;

/// Largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// A gRPC request for a REST request with `headers`: the caller's credentials, the
/// request's id (`x-request-id`) and the current trace context (`traceparent`), as
/// every call between services carries: both are written by `assistd_common::caller::outgoing`.
pub fn grpc_request<T>(headers: &HeaderMap, message: T) -> tonic::Request<T> {
    use assistd_common::caller::{REQUEST_ID_HEADER, outgoing};
    let value =
        |name: &str| headers.get(name).and_then(|v| tonic::metadata::MetadataValue::try_from(v.as_bytes()).ok());
    let mut req = tonic::Request::new(message);
    outgoing(req.metadata_mut(), value(axum::http::header::AUTHORIZATION.as_str()), None, value(REQUEST_ID_HEADER));
    req
}

/// A path parameter by name (empty when absent).
pub fn path_param(p: &std::collections::HashMap<String, String>, name: &str) -> String {
    p.get(name).cloned().unwrap_or_default()
}

/// 501 for a route whose reply the gateway cannot convert yet.
pub fn not_converted(what: &str) -> ApiError {
    ApiError::new(axum::http::StatusCode::NOT_IMPLEMENTED, format!("{what} is not implemented yet in assistd."))
        .with_code("not_implemented")
}

/// Maps a service error for the operation `what` (e.g. `POST /v1/assistants`).
pub fn status_error(what: &'static str) -> impl Fn(tonic::Status) -> ApiError {
    move |s| ApiError::from_status(&s, what)
}

/// The REST API router (without the `/healthz` family).
pub fn router(upstreams: Upstreams) -> Router {
    let uploads_of_bytes = Router::new()
        .route("/v1/files", get(files::list).post(files::create))
        .route("/v1/uploads/{upload_id}/parts", post(uploads::add_part))
        .layer(DefaultBodyLimit::disable());
    let json = Router::new()
        .route("/v1/assistants", get(assistants::list).post(assistants::create))
        .route(
            "/v1/assistants/{assistant_id}",
            get(assistants::retrieve).post(assistants::modify).delete(assistants::delete),
        )
        .route("/v1/conversations", post(conversations::create))
        .route(
            "/v1/conversations/{conversation_id}",
            get(conversations::retrieve).post(conversations::update).delete(conversations::delete),
        )
        .route(
            "/v1/conversations/{conversation_id}/items",
            get(conversations::list_items).post(conversations::create_items),
        )
        .route(
            "/v1/conversations/{conversation_id}/items/{item_id}",
            get(conversations::retrieve_item).delete(conversations::delete_item),
        )
        .route("/v1/responses", get(responses_ws::connect).post(responses::create))
        .route("/v1/responses/input_tokens", post(responses::input_tokens))
        .route("/v1/responses/compact", post(responses::compact))
        .route("/v1/responses/{response_id}", get(responses::retrieve).delete(responses::delete))
        .route("/v1/responses/{response_id}/cancel", post(responses::cancel))
        .route("/v1/responses/{response_id}/input_items", get(responses::input_items))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{model}", get(models::retrieve))
        .route("/v1/threads", post(threads::create))
        .route("/v1/threads/runs", post(runs::create_thread_and_run))
        .route("/v1/threads/{thread_id}", get(threads::retrieve).post(threads::modify).delete(threads::delete))
        .route("/v1/threads/{thread_id}/messages", get(threads::list_messages).post(threads::create_message))
        .route(
            "/v1/threads/{thread_id}/messages/{message_id}",
            get(threads::retrieve_message).post(threads::modify_message).delete(threads::delete_message),
        )
        .route("/v1/threads/{thread_id}/runs", get(runs::list).post(runs::create))
        .route("/v1/threads/{thread_id}/runs/{run_id}", get(runs::retrieve).post(runs::modify))
        .route("/v1/threads/{thread_id}/runs/{run_id}/cancel", post(runs::cancel))
        .route("/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", post(runs::submit_tool_outputs))
        .route("/v1/threads/{thread_id}/runs/{run_id}/steps", get(runs::list_steps))
        .route("/v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}", get(runs::retrieve_step))
        .route("/v1/files/{file_id}", get(files::retrieve).delete(files::delete))
        .route("/v1/files/{file_id}/content", get(files::content))
        .route("/v1/uploads", post(uploads::create))
        .route("/v1/uploads/{upload_id}/complete", post(uploads::complete))
        .route("/v1/uploads/{upload_id}/cancel", post(uploads::cancel))
        .route("/v1/vector_stores", get(vector_stores::list).post(vector_stores::create))
        .route(
            "/v1/vector_stores/{vector_store_id}",
            get(vector_stores::retrieve).post(vector_stores::modify).delete(vector_stores::delete),
        )
        .route("/v1/vector_stores/{vector_store_id}/search", post(vector_stores::search))
        .route(
            "/v1/vector_stores/{vector_store_id}/files",
            get(vector_stores::list_files).post(vector_stores::create_file),
        )
        .route(
            "/v1/vector_stores/{vector_store_id}/files/{file_id}",
            get(vector_stores::retrieve_file).post(vector_stores::update_file).delete(vector_stores::delete_file),
        )
        .route("/v1/vector_stores/{vector_store_id}/files/{file_id}/content", get(vector_stores::file_content))
        .route("/v1/vector_stores/{vector_store_id}/file_batches", post(vector_stores::create_batch))
        .route("/v1/vector_stores/{vector_store_id}/file_batches/{batch_id}", get(vector_stores::retrieve_batch))
        .route("/v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel", post(vector_stores::cancel_batch))
        .route(
            "/v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/files",
            get(vector_stores::list_batch_files),
        )
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY));
    json.merge(uploads_of_bytes)
        .method_not_allowed_fallback(crate::middleware::method_not_allowed)
        .with_state(upstreams)
}

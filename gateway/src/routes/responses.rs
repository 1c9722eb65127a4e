//! `/v1/responses` ↔ `ResponseService`: JSON, or a `text/event-stream` of the
//! Responses API's events when `stream: true`.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::json;

use super::runs::SSE_KEEP_ALIVE;
use super::{grpc_request, status_error};
use crate::Upstreams;
use crate::errors::{ApiError, ApiResult};
use crate::extract::{JsonBody, ListQuery};
use crate::openai::conversations::ItemListOut;
use crate::openai::responses::{CompactIn, CompactOut, ResponseIn, ResponseOut, event_out};
use assistd_proto::pb;

const CREATE: &str = "POST /v1/responses";

/// POST /v1/responses
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ResponseIn>,
) -> ApiResult<Response> {
    let (req, stream) = body.into_pb()?;
    if stream {
        let res = up.responses()?.stream_response(grpc_request(&headers, req)).await;
        let mut events = res.map_err(status_error(CREATE))?.into_inner();
        // an error before the first event is a plain JSON error
        let first = match events.next().await {
            Some(Err(status)) => return Err(ApiError::from_status(&status, CREATE)),
            Some(Ok(ev)) => Some(ev),
            None => None,
        };
        return Ok(sse(futures::stream::iter(first.map(Ok)).chain(events)));
    }
    let r = up.responses()?.create_response(grpc_request(&headers, req)).await.map_err(status_error(CREATE))?;
    Ok(Json(ResponseOut::try_from(r.into_inner())?).into_response())
}

/// Events as a `text/event-stream` (`event: <type>`, `data: <json>`), with keep-alive
/// comments while idle. A failure of the upstream stream becomes an `error` event.
fn sse<S>(upstream: S) -> Response
where
    S: Stream<Item = Result<pb::ResponseEvent, tonic::Status>> + Send + 'static,
{
    let events = async_stream::stream! {
        let mut upstream = std::pin::pin!(upstream);
        let mut next_sequence = 0u64;
        while let Some(item) = upstream.next().await {
            match item.map_err(|s| ApiError::from_status(&s, CREATE)).and_then(event_out) {
                Ok((name, data)) => {
                    next_sequence = data["sequence_number"].as_u64().unwrap_or(next_sequence) + 1;
                    yield Ok::<_, Infallible>(Event::default().event(name).data(data.to_string()));
                }
                Err(e) => {
                    let data = json!({"type": "error", "code": e.code, "message": e.message, "param": e.param, "sequence_number": next_sequence});
                    yield Ok(Event::default().event("error").data(data.to_string()));
                    break;
                }
            }
        }
    };
    Sse::new(events).keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE)).into_response()
}

/// GET /v1/responses/{response_id}: the response, or with `stream=true` its events
/// (after `starting_after`) as they come.
pub async fn retrieve(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(response_id): Path<String>,
    q: ListQuery,
) -> ApiResult<Response> {
    const WHAT: &str = "GET /v1/responses/{response_id}";
    if q.get("stream").is_some_and(|s| s == "true") {
        let starting_after = match q.get("starting_after") {
            None => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                ApiError::invalid(
                    "starting_after",
                    format!("Invalid 'starting_after': expected an integer, but got '{v}' instead."),
                )
                .with_code("invalid_type")
            })?),
        };
        let req = pb::GetResponseRequest { response_id, include: q.include(), starting_after };
        let events = up.responses()?.follow_response(grpc_request(&headers, req)).await.map_err(status_error(WHAT))?;
        return Ok(sse(events.into_inner()));
    }
    Ok(retrieve_json(up, headers, response_id, q).await?.into_response())
}

async fn retrieve_json(
    up: Upstreams,
    headers: HeaderMap,
    response_id: String,
    q: ListQuery,
) -> ApiResult<Json<ResponseOut>> {
    let include = q.include();
    let req = pb::GetResponseRequest { response_id, include, starting_after: None };
    let r = up
        .responses()?
        .get_response(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/responses/{response_id}"))?;
    Ok(Json(ResponseOut::try_from(r.into_inner())?))
}

/// DELETE /v1/responses/{response_id}
pub async fn delete(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(response_id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let req = pb::DeleteResponseRequest { response_id };
    let r = up
        .responses()?
        .delete_response(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/responses/{response_id}"))?
        .into_inner();
    Ok(Json(json!({"id": r.id, "object": "response.deleted", "deleted": r.deleted})))
}

/// POST /v1/responses/{response_id}/cancel
pub async fn cancel(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(response_id): Path<String>,
) -> ApiResult<Json<ResponseOut>> {
    let req = pb::CancelResponseRequest { response_id };
    let r = up
        .responses()?
        .cancel_response(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/responses/{response_id}/cancel"))?;
    Ok(Json(ResponseOut::try_from(r.into_inner())?))
}

/// GET /v1/responses/{response_id}/input_items
pub async fn input_items(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(response_id): Path<String>,
    q: ListQuery,
) -> ApiResult<Json<ItemListOut>> {
    let include = q.include();
    let req = pb::ListInputItemsRequest { response_id, page: Some(q.page), include };
    let r = up
        .responses()?
        .list_input_items(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/responses/{response_id}/input_items"))?;
    Ok(Json(r.into_inner().try_into()?))
}

/// POST /v1/responses/input_tokens
pub async fn input_tokens(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ResponseIn>,
) -> ApiResult<Json<serde_json::Value>> {
    let (req, _) = body.into_pb()?;
    let r = up
        .responses()?
        .count_input_tokens(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/responses/input_tokens"))?
        .into_inner();
    Ok(Json(json!({"object": "response.input_tokens", "input_tokens": r.input_tokens})))
}

/// POST /v1/responses/compact
pub async fn compact(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CompactIn>,
) -> ApiResult<Json<CompactOut>> {
    let req = body.into_pb()?;
    let r = up
        .responses()?
        .compact_response(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/responses/compact"))?;
    Ok(Json(r.into_inner().try_into()?))
}

//! `/v1/threads` and `/v1/threads/{thread_id}/messages` ↔ `ThreadService`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use prost_types::FieldMask;

use super::{grpc_request, status_error};
use crate::Upstreams;
use crate::errors::ApiResult;
use crate::extract::{JsonBody, ListQuery};
use crate::openai::common::{DeletedOut, ListOut, metadata_to_pb};
use crate::openai::threads::{CreateThreadIn, MessageIn, MessageOut, ModifyMessageIn, ModifyThreadIn, ThreadOut};
use assistd_proto::pb;

/// POST /v1/threads
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateThreadIn>,
) -> ApiResult<Json<ThreadOut>> {
    let req = body.into_pb()?;
    let t = up.threads().create_thread(grpc_request(&headers, req)).await.map_err(status_error("POST /v1/threads"))?;
    Ok(Json(t.into_inner().into()))
}

/// GET /v1/threads/{thread_id}
pub async fn retrieve(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
) -> ApiResult<Json<ThreadOut>> {
    let req = pb::GetThreadRequest { thread_id };
    let t = up
        .threads()
        .get_thread(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/threads/{thread_id}"))?;
    Ok(Json(t.into_inner().into()))
}

/// POST /v1/threads/{thread_id}
pub async fn modify(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    JsonBody(body): JsonBody<ModifyThreadIn>,
) -> ApiResult<Json<ThreadOut>> {
    let ModifyThreadIn { tool_resources, metadata } = body;
    let mut paths = Vec::new();
    if tool_resources.is_some() {
        paths.push("tool_resources".to_owned());
    }
    if metadata.is_some() {
        paths.push("metadata".to_owned());
    }
    let req = pb::ModifyThreadRequest {
        thread_id,
        tool_resources: tool_resources.flatten().map(pb::ToolResources::from),
        metadata: metadata.map(metadata_to_pb),
        update_mask: Some(FieldMask { paths }),
    };
    let t = up
        .threads()
        .modify_thread(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/threads/{thread_id}"))?;
    Ok(Json(t.into_inner().into()))
}

/// DELETE /v1/threads/{thread_id}
pub async fn delete(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
) -> ApiResult<Json<DeletedOut>> {
    let req = pb::DeleteThreadRequest { thread_id };
    let r = up
        .threads()
        .delete_thread(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/threads/{thread_id}"))?;
    Ok(Json(DeletedOut::new(r.into_inner(), "thread.deleted")))
}

/// POST /v1/threads/{thread_id}/messages
pub async fn create_message(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    JsonBody(body): JsonBody<MessageIn>,
) -> ApiResult<Json<MessageOut>> {
    let req = pb::CreateMessageRequest { thread_id, message: Some(body.into_pb("")?) };
    let m = up
        .threads()
        .create_message(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/threads/{thread_id}/messages"))?;
    Ok(Json(m.into_inner().into()))
}

/// GET /v1/threads/{thread_id}/messages
pub async fn list_messages(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    q: ListQuery,
) -> ApiResult<Json<ListOut<MessageOut>>> {
    let run_id = q.get("run_id").map(str::to_owned);
    let req = pb::ListMessagesRequest { thread_id, page: Some(q.page), run_id };
    let r = up
        .threads()
        .list_messages(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/threads/{thread_id}/messages"))?
        .into_inner();
    Ok(Json(ListOut::new(r.data.into_iter().map(Into::into).collect(), r.first_id, r.last_id, r.has_more)))
}

/// GET /v1/threads/{thread_id}/messages/{message_id}
pub async fn retrieve_message(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageOut>> {
    let req = pb::GetMessageRequest { thread_id, message_id };
    let m = up
        .threads()
        .get_message(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/threads/{thread_id}/messages/{message_id}"))?;
    Ok(Json(m.into_inner().into()))
}

/// POST /v1/threads/{thread_id}/messages/{message_id}
pub async fn modify_message(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, message_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ModifyMessageIn>,
) -> ApiResult<Json<MessageOut>> {
    let paths = if body.metadata.is_some() { vec!["metadata".to_owned()] } else { vec![] };
    let req = pb::ModifyMessageRequest {
        thread_id,
        message_id,
        metadata: body.metadata.map(metadata_to_pb),
        update_mask: Some(FieldMask { paths }),
    };
    let m = up
        .threads()
        .modify_message(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/threads/{thread_id}/messages/{message_id}"))?;
    Ok(Json(m.into_inner().into()))
}

/// DELETE /v1/threads/{thread_id}/messages/{message_id}
pub async fn delete_message(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<DeletedOut>> {
    let req = pb::DeleteMessageRequest { thread_id, message_id };
    let r = up
        .threads()
        .delete_message(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/threads/{thread_id}/messages/{message_id}"))?;
    Ok(Json(DeletedOut::new(r.into_inner(), "thread.message.deleted")))
}

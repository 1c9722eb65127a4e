//! `/v1/assistants` ↔ `AssistantService`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use prost_types::FieldMask;

use super::{grpc_request, status_error};
use crate::Upstreams;
use crate::errors::ApiResult;
use crate::extract::{JsonBody, ListQuery};
use crate::openai::assistants::{AssistantIn, AssistantOut};
use crate::openai::common::{DeletedOut, ListOut};
use assistd_proto::pb;

/// POST /v1/assistants
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AssistantIn>,
) -> ApiResult<Json<AssistantOut>> {
    let (fields, _) = body.into_pb();
    let req = pb::CreateAssistantRequest { assistant: Some(fields) };
    let a = up
        .assistants()
        .create_assistant(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/assistants"))?;
    Ok(Json(a.into_inner().into()))
}

/// GET /v1/assistants
pub async fn list(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    q: ListQuery,
) -> ApiResult<Json<ListOut<AssistantOut>>> {
    let req = pb::ListAssistantsRequest { page: Some(q.page) };
    let r = up
        .assistants()
        .list_assistants(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/assistants"))?
        .into_inner();
    Ok(Json(ListOut::new(r.data.into_iter().map(Into::into).collect(), r.first_id, r.last_id, r.has_more)))
}

/// GET /v1/assistants/{assistant_id}
pub async fn retrieve(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(assistant_id): Path<String>,
) -> ApiResult<Json<AssistantOut>> {
    let req = pb::GetAssistantRequest { assistant_id };
    let a = up
        .assistants()
        .get_assistant(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/assistants/{assistant_id}"))?;
    Ok(Json(a.into_inner().into()))
}

/// POST /v1/assistants/{assistant_id}
pub async fn modify(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(assistant_id): Path<String>,
    JsonBody(body): JsonBody<AssistantIn>,
) -> ApiResult<Json<AssistantOut>> {
    let (fields, paths) = body.into_pb();
    let req =
        pb::ModifyAssistantRequest { assistant_id, assistant: Some(fields), update_mask: Some(FieldMask { paths }) };
    let a = up
        .assistants()
        .modify_assistant(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/assistants/{assistant_id}"))?;
    Ok(Json(a.into_inner().into()))
}

/// DELETE /v1/assistants/{assistant_id}
pub async fn delete(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(assistant_id): Path<String>,
) -> ApiResult<Json<DeletedOut>> {
    let req = pb::DeleteAssistantRequest { assistant_id };
    let r = up
        .assistants()
        .delete_assistant(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/assistants/{assistant_id}"))?;
    Ok(Json(DeletedOut::new(r.into_inner(), "assistant.deleted")))
}

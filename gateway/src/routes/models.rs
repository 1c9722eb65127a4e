//! `/v1/models` ↔ `RunService.ListModels`: the model names runs can use.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use super::{grpc_request, status_error};
use crate::Upstreams;
use crate::errors::{ApiError, ApiResult};
use crate::openai::models::{ModelOut, ModelsOut};
use assistd_proto::pb;

async fn models(up: &Upstreams, headers: &HeaderMap, what: &'static str) -> ApiResult<pb::ListModelsResponse> {
    Ok(up
        .runs()
        .list_models(grpc_request(headers, pb::ListModelsRequest {}))
        .await
        .map_err(status_error(what))?
        .into_inner())
}

/// GET /v1/models
pub async fn list(State(up): State<Upstreams>, headers: HeaderMap) -> ApiResult<Json<ModelsOut>> {
    Ok(Json(models(&up, &headers, "GET /v1/models").await?.into()))
}

/// GET /v1/models/{model}
pub async fn retrieve(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(model): Path<String>,
) -> ApiResult<Json<ModelOut>> {
    let list = models(&up, &headers, "GET /v1/models/{model}").await?;
    match list.data.into_iter().find(|m| m.id == model) {
        Some(m) => Ok(Json(m.into())),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("The model '{model}' does not exist"))
            .with_param("model")
            .with_code("model_not_found")),
    }
}

//! `/v1/uploads` ↔ `FileService` (multipart uploads).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use super::files::{multipart_error, stream_field};
use super::{grpc_request, status_error};
use crate::Upstreams;
use crate::errors::{ApiError, ApiResult};
use crate::extract::{JsonBody, MultipartBody};
use crate::openai::files::{CompleteUploadIn, CreateUploadIn, UploadOut, UploadPartOut};
use assistd_proto::pb;

/// POST /v1/uploads
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateUploadIn>,
) -> ApiResult<Json<UploadOut>> {
    let CreateUploadIn { filename, purpose, bytes, mime_type, expires_after } = body;
    let req = pb::CreateUploadRequest {
        filename,
        purpose,
        bytes,
        mime_type,
        expires_after: expires_after.map(|e| pb::ExpiresAfter { anchor: e.anchor, seconds: e.seconds }),
    };
    let u = up.files().create_upload(grpc_request(&headers, req)).await.map_err(status_error("POST /v1/uploads"))?;
    Ok(Json(u.into_inner().into()))
}

fn part_chunk(b: bytes::Bytes) -> pb::AddUploadPartRequest {
    pb::AddUploadPartRequest { part: Some(pb::add_upload_part_request::Part::Chunk(b.to_vec())) }
}

/// POST /v1/uploads/{upload_id}/parts (multipart: `data`)
pub async fn add_part(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(upload_id): Path<String>,
    MultipartBody(mut mp): MultipartBody,
) -> ApiResult<Json<UploadPartOut>> {
    let mut part = None;
    while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "data" {
            return Err(ApiError::unknown(name));
        }
        if part.is_some() {
            return Err(ApiError::invalid("data", "Only one 'data' field may be sent per part."));
        }
        let first =
            pb::AddUploadPartRequest { part: Some(pb::add_upload_part_request::Part::UploadId(upload_id.clone())) };
        let mut client = up.files();
        let h = &headers;
        let sent = stream_field(field, first, part_chunk, |body| async move {
            client.add_upload_part(grpc_request(h, body)).await
        })
        .await?;
        let p = match sent {
            Ok(p) => p.into_inner(),
            Err(status) => {
                // Read what is left of the body (at least the closing boundary), so the
                // connection stays usable for the client's next request.
                drain(&mut mp).await;
                return Err(status_error("POST /v1/uploads/{upload_id}/parts")(status));
            }
        };
        part = Some(p);
    }
    let part = part.ok_or_else(|| {
        ApiError::invalid("data", "Missing required parameter: 'data'.").with_code("missing_required_parameter")
    })?;
    Ok(Json(part.into()))
}

/// POST /v1/uploads/{upload_id}/complete
pub async fn complete(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(upload_id): Path<String>,
    JsonBody(body): JsonBody<CompleteUploadIn>,
) -> ApiResult<Json<UploadOut>> {
    let req = pb::CompleteUploadRequest { upload_id, part_ids: body.part_ids, md5: body.md5 };
    let u = up
        .files()
        .complete_upload(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/uploads/{upload_id}/complete"))?;
    Ok(Json(u.into_inner().into()))
}

/// POST /v1/uploads/{upload_id}/cancel
pub async fn cancel(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(upload_id): Path<String>,
) -> ApiResult<Json<UploadOut>> {
    let req = pb::CancelUploadRequest { upload_id };
    let u = up
        .files()
        .cancel_upload(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/uploads/{upload_id}/cancel"))?;
    Ok(Json(u.into_inner().into()))
}

/// Reads and drops the rest of a multipart body (bounded by the route's body limit).
async fn drain(mp: &mut axum::extract::Multipart) {
    while let Ok(Some(mut field)) = mp.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

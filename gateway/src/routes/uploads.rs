//! `/v1/uploads` ↔ `FileService` (multipart uploads).

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::HeaderMap;
use serde_json::Value;
use tokio_stream::wrappers::ReceiverStream;

use super::files::multipart_error;
use super::{grpc_request, status_error};
use crate::Upstreams;
use crate::errors::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::openai::files::{CompleteUploadIn, CreateUploadIn, upload_out, upload_part_out};
use assistd_proto::pb;

/// POST /v1/uploads
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateUploadIn>,
) -> ApiResult<Json<Value>> {
    let CreateUploadIn { filename, purpose, bytes, mime_type, expires_after } = body;
    let req = pb::CreateUploadRequest {
        filename,
        purpose,
        bytes,
        mime_type,
        expires_after: expires_after.map(|e| pb::ExpiresAfter { anchor: e.anchor, seconds: e.seconds }),
    };
    let u = up.files().create_upload(grpc_request(&headers, req)).await.map_err(status_error("POST /v1/uploads"))?;
    Ok(Json(upload_out(u.into_inner())))
}

/// POST /v1/uploads/{upload_id}/parts (multipart: `data`)
pub async fn add_part(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(upload_id): Path<String>,
    mut mp: Multipart,
) -> ApiResult<Json<Value>> {
    let mut part = None;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "data" {
            return Err(ApiError::invalid(name.clone(), format!("Unrecognized request argument supplied: {name}"))
                .with_code("unknown_parameter"));
        }
        if part.is_some() {
            return Err(ApiError::invalid("data", "Only one 'data' field may be sent per part."));
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<pb::AddUploadPartRequest>(4);
        let _ = tx
            .send(pb::AddUploadPartRequest {
                part: Some(pb::add_upload_part_request::Part::UploadId(upload_id.clone())),
            })
            .await;
        let mut client = up.files();
        let call = client.add_upload_part(grpc_request(&headers, ReceiverStream::new(rx)));
        tokio::pin!(call);
        let feed = async move {
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                for piece in chunk.chunks(256 * 1024) {
                    let msg = pb::AddUploadPartRequest {
                        part: Some(pb::add_upload_part_request::Part::Chunk(piece.to_vec())),
                    };
                    if tx.send(msg).await.is_err() {
                        return Ok(());
                    }
                }
            }
            Ok::<(), ApiError>(())
        };
        let p = tokio::select! {
            r = &mut call => r,
            fed = feed => { fed?; call.await }
        }
        .map_err(status_error("POST /v1/uploads/{upload_id}/parts"))?
        .into_inner();
        part = Some(p);
    }
    let part = part.ok_or_else(|| {
        ApiError::invalid("data", "Missing required parameter: 'data'.").with_code("missing_required_parameter")
    })?;
    Ok(Json(upload_part_out(part)))
}

/// POST /v1/uploads/{upload_id}/complete
pub async fn complete(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(upload_id): Path<String>,
    JsonBody(body): JsonBody<CompleteUploadIn>,
) -> ApiResult<Json<Value>> {
    let req = pb::CompleteUploadRequest { upload_id, part_ids: body.part_ids, md5: body.md5 };
    let u = up
        .files()
        .complete_upload(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/uploads/{upload_id}/complete"))?;
    Ok(Json(upload_out(u.into_inner())))
}

/// POST /v1/uploads/{upload_id}/cancel
pub async fn cancel(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(upload_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let req = pb::CancelUploadRequest { upload_id };
    let u = up
        .files()
        .cancel_upload(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/uploads/{upload_id}/cancel"))?;
    Ok(Json(upload_out(u.into_inner())))
}

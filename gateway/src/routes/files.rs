//! `/v1/files` ↔ `FileService`. Uploads stream from the multipart body into the
//! service's client-streaming rpc; downloads stream back. Neither holds a whole file.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_stream::wrappers::ReceiverStream;

use super::{grpc_request, status_error};
use crate::Upstreams;
use crate::errors::{ApiError, ApiResult};
use crate::extract::{ListQuery, MultipartBody};
use crate::openai::common::{DeletedOut, ListOut};
use crate::openai::files::FileOut;
use assistd_proto::pb;

/// Bytes per gRPC chunk message.
const CHUNK: usize = 256 * 1024;

/// A multipart error as a 400.
pub fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if crate::extract::is_body_timeout(&e) {
        return crate::extract::body_timeout();
    }
    ApiError::new(e.status(), format!("Could not read the multipart body: {}", e.body_text()))
        .with_code("invalid_multipart")
}

fn chunk_msg(b: bytes::Bytes) -> pb::UploadFileRequest {
    pb::UploadFileRequest { part: Some(pb::upload_file_request::Part::Chunk(b.to_vec())) }
}

/// Splits large chunks so no gRPC message exceeds [`CHUNK`].
fn split(b: bytes::Bytes) -> impl Iterator<Item = bytes::Bytes> {
    let n = b.len().div_ceil(CHUNK).max(1);
    (0..n).map(move |i| b.slice(i * CHUNK..((i + 1) * CHUNK).min(b.len()))).filter(|s| !s.is_empty())
}

/// Streams a multipart field into a client-streaming rpc: `first`, then the field's
/// bytes in pieces of at most [`CHUNK`], each wrapped by `wrap`. Whichever ends first
/// decides: a service that answers early (an error) stops the reading; a body that
/// fails drops the call, which cancels it, so nothing is stored.
pub(super) async fn stream_field<M, R, F, Fut>(
    mut field: axum::extract::multipart::Field<'_>,
    first: M,
    wrap: fn(bytes::Bytes) -> M,
    call: F,
) -> ApiResult<Result<R, tonic::Status>>
where
    F: FnOnce(ReceiverStream<M>) -> Fut,
    Fut: std::future::Future<Output = Result<R, tonic::Status>>,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<M>(4);
    let _ = tx.send(first).await;
    let call = call(ReceiverStream::new(rx));
    tokio::pin!(call);
    let feed = async move {
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            for piece in split(chunk) {
                if tx.send(wrap(piece)).await.is_err() {
                    return Ok(());
                }
            }
        }
        Ok::<(), ApiError>(())
    };
    Ok(tokio::select! {
        r = &mut call => r,
        fed = feed => { fed?; call.await }
    })
}

fn spool_error(e: std::io::Error) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("could not spool the upload: {e}"))
}

/// The file part, either streamed straight through or spooled to disk because it
/// came before `purpose`.
enum Spool {
    None,
    Streamed(pb::File),
    OnDisk { path: tempfile::TempPath, filename: String, content_type: Option<String> },
}

/// POST /v1/files (multipart: `file`, `purpose`, `expires_after[anchor]`, `expires_after[seconds]`)
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    MultipartBody(mut mp): MultipartBody,
) -> ApiResult<Json<FileOut>> {
    let mut purpose: Option<String> = None;
    let mut anchor: Option<String> = None;
    let mut seconds: Option<i64> = None;
    let mut spool = Spool::None;
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if matches!(spool, Spool::Streamed(_)) && name != "file" {
            // The file was already stored with the fields seen before it.
            if let Spool::Streamed(f) = &spool {
                let _ = up
                    .files()
                    .delete_file(grpc_request(&headers, pb::DeleteFileRequest { file_id: f.id.clone() }))
                    .await;
            }
            return Err(ApiError::invalid(
                name.clone(),
                format!("The multipart field '{name}' must come before 'file'."),
            ));
        }
        match name.as_str() {
            "purpose" => purpose = Some(field.text().await.map_err(multipart_error)?),
            "expires_after[anchor]" => anchor = Some(field.text().await.map_err(multipart_error)?),
            "expires_after[seconds]" => {
                let t = field.text().await.map_err(multipart_error)?;
                seconds = Some(t.trim().parse().map_err(|_| {
                    ApiError::invalid(
                        "expires_after.seconds",
                        format!("Invalid 'expires_after.seconds': expected an integer, but got '{t}' instead."),
                    )
                    .with_code("invalid_type")
                })?);
            }
            "file" => {
                if !matches!(spool, Spool::None) {
                    return Err(ApiError::invalid("file", "Only one 'file' may be uploaded per request."));
                }
                let filename = field.file_name().unwrap_or("file").to_owned();
                let content_type = field.content_type().map(str::to_owned);
                match &purpose {
                    Some(p) => {
                        let header = header_msg(&filename, p, content_type, &anchor, seconds)?;
                        let mut client = up.files();
                        let h = &headers;
                        let file = stream_field(field, header, chunk_msg, |body| async move {
                            client.upload_file(grpc_request(h, body)).await
                        })
                        .await?
                        .map_err(status_error("POST /v1/files"))?
                        .into_inner();
                        spool = Spool::Streamed(file);
                    }
                    None => {
                        let tmp = tempfile::NamedTempFile::new().map_err(spool_error)?;
                        let path = tmp.into_temp_path();
                        let mut out = tokio::fs::File::create(&path).await.map_err(spool_error)?;
                        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                            out.write_all(&chunk).await.map_err(spool_error)?;
                        }
                        out.flush().await.map_err(spool_error)?;
                        spool = Spool::OnDisk { path, filename, content_type };
                    }
                }
            }
            other => {
                return Err(ApiError::unknown(other));
            }
        }
    }
    let file = match spool {
        Spool::None => {
            return Err(ApiError::invalid("file", "Missing required parameter: 'file'.")
                .with_code("missing_required_parameter"));
        }
        Spool::Streamed(f) => f,
        Spool::OnDisk { path, filename, content_type } => {
            let Some(p) = purpose else {
                return Err(ApiError::invalid("purpose", "Missing required parameter: 'purpose'.")
                    .with_code("missing_required_parameter"));
            };
            let header = header_msg(&filename, &p, content_type, &anchor, seconds)?;
            let f = tokio::fs::File::open(&path).await.map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("could not read the spooled upload: {e}"))
            })?;
            let body = tokio_util::io::ReaderStream::with_capacity(f, CHUNK)
                .filter_map(|r| async move { r.ok().map(chunk_msg) });
            let stream = futures::stream::once(async move { header }).chain(body);
            let file = up
                .files()
                .upload_file(grpc_request(&headers, stream))
                .await
                .map_err(status_error("POST /v1/files"))?
                .into_inner();
            drop(path);
            file
        }
    };
    Ok(Json(file.into()))
}

fn header_msg(
    filename: &str,
    purpose: &str,
    content_type: Option<String>,
    anchor: &Option<String>,
    seconds: Option<i64>,
) -> ApiResult<pb::UploadFileRequest> {
    let expires_after = match (anchor, seconds) {
        (None, None) => None,
        (Some(a), Some(s)) => Some(pb::ExpiresAfter { anchor: a.clone(), seconds: s }),
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "expires_after.anchor",
                "Missing required parameter: 'expires_after.anchor'.",
            ));
        }
        (Some(_), None) => {
            return Err(ApiError::invalid(
                "expires_after.seconds",
                "Missing required parameter: 'expires_after.seconds'.",
            ));
        }
    };
    Ok(pb::UploadFileRequest {
        part: Some(pb::upload_file_request::Part::Header(pb::UploadFileHeader {
            filename: filename.to_owned(),
            purpose: purpose.to_owned(),
            expires_after,
            content_type,
            tool_output: false,
        })),
    })
}

/// GET /v1/files
pub async fn list(State(up): State<Upstreams>, headers: HeaderMap, q: ListQuery) -> ApiResult<Json<ListOut<FileOut>>> {
    if q.page.before.is_some() {
        return Err(ApiError::unknown("before"));
    }
    let purpose = q.get("purpose").map(str::to_owned);
    let req = pb::ListFilesRequest { page: Some(q.page), purpose };
    let r =
        up.files().list_files(grpc_request(&headers, req)).await.map_err(status_error("GET /v1/files"))?.into_inner();
    Ok(Json(ListOut::new(r.data.into_iter().map(FileOut::from).collect(), r.first_id, r.last_id, r.has_more)))
}

/// GET /v1/files/{file_id}
pub async fn retrieve(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(file_id): Path<String>,
) -> ApiResult<Json<FileOut>> {
    let req = pb::GetFileRequest { file_id };
    let f = up.files().get_file(grpc_request(&headers, req)).await.map_err(status_error("GET /v1/files/{file_id}"))?;
    Ok(Json(f.into_inner().into()))
}

/// DELETE /v1/files/{file_id}
pub async fn delete(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(file_id): Path<String>,
) -> ApiResult<Json<DeletedOut>> {
    let req = pb::DeleteFileRequest { file_id };
    let r = up
        .files()
        .delete_file(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/files/{file_id}"))?;
    Ok(Json(DeletedOut::new(r.into_inner(), "file")))
}

/// GET /v1/files/{file_id}/content: the raw bytes.
pub async fn content(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(file_id): Path<String>,
) -> ApiResult<Response> {
    let req = pb::DownloadFileRequest { file_id };
    let what = "GET /v1/files/{file_id}/content";
    let mut stream =
        up.files().download_file(grpc_request(&headers, req)).await.map_err(status_error(what))?.into_inner();
    let info = match stream.message().await.map_err(status_error(what))? {
        Some(pb::DownloadFileResponse { part: Some(pb::download_file_response::Part::Info(info)) }) => info,
        _ => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The file service answered without file info.",
            ));
        }
    };
    let body = stream.filter_map(|m| async move {
        match m {
            Ok(pb::DownloadFileResponse { part: Some(pb::download_file_response::Part::Chunk(c)) }) => {
                Some(Ok(bytes::Bytes::from(c)))
            }
            Ok(_) => None,
            Err(e) => Some(Err(std::io::Error::other(e.message().to_owned()))),
        }
    });
    let mut res = Body::from_stream(body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&info.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(info.bytes.max(0) as u64));
    let disposition = format!("attachment; filename=\"{}\"", info.filename.replace(['"', '\\', '\r', '\n'], "_"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

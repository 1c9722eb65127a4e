//! The tonic implementation of `FileService`: thin handlers that turn the request into
//! domain values (`convert.rs`; a client stream into its header and a stream of
//! bytes), call the operation (`crate::ops`), and convert its answer back.

pub mod convert;

use std::pin::Pin;

use assistd_common::ids::FileId;
use assistd_common::page::PageRequest;
use assistd_common::{Project, ServiceError, ServiceResult, time};
use assistd_proto::pb;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::domain::{NewFile, NewUpload};
use crate::ops::Files;

/// The gRPC face of the files service, over its operations.
#[derive(Clone)]
pub struct FilesService {
    ops: Files,
}

impl FilesService {
    /// A service calling `ops`.
    pub fn new(ops: Files) -> Self {
        Self { ops }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::file_service_server::FileServiceServer<Self> {
        pb::file_service_server::FileServiceServer::new(self)
    }

    /// Runs the expiry sweep (see [`Files::sweep_expired`]) every `every` until the
    /// process ends.
    pub fn spawn_sweeper(self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        self.ops.spawn_sweeper(every)
    }
}

fn stream_error(status: Status) -> ServiceError {
    ServiceError::invalid("file", format!("The upload stream failed: {}", status.message()))
}

/// The first message of a client stream, or the error that `missing` describes.
async fn first<T>(stream: &mut Streaming<T>, missing: impl FnOnce() -> ServiceError) -> ServiceResult<T> {
    match stream.next().await {
        Some(Ok(m)) => Ok(m),
        Some(Err(s)) => Err(stream_error(s)),
        None => Err(missing()),
    }
}

/// The chunks that follow the first message of a client stream.
fn chunks<T, F>(stream: Streaming<T>, chunk: F) -> impl Stream<Item = ServiceResult<Bytes>> + Unpin
where
    T: Send + 'static,
    F: Fn(T) -> Option<Bytes> + Send + 'static,
{
    stream.map(move |m| match m {
        Ok(m) => chunk(m).ok_or_else(|| ServiceError::invalid("file", "Expected only chunks after the first message.")),
        Err(s) => Err(stream_error(s)),
    })
}

type DownloadStream = Pin<Box<dyn Stream<Item = Result<pb::DownloadFileResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::file_service_server::FileService for FilesService {
    async fn upload_file(
        &self,
        request: Request<Streaming<pb::UploadFileRequest>>,
    ) -> Result<Response<pb::File>, Status> {
        let project = Project::of(&request)?;
        let mut stream = request.into_inner();
        let no_header = || ServiceError::invalid("file", "The first message of UploadFile must be its header.");
        let header = match first(&mut stream, no_header).await?.part {
            Some(pb::upload_file_request::Part::Header(h)) => h,
            _ => return Err(no_header().into()),
        };
        let new = NewFile::try_from(header)?;
        let body = chunks(stream, |m: pb::UploadFileRequest| match m.part {
            Some(pb::upload_file_request::Part::Chunk(c)) => Some(Bytes::from(c)),
            _ => None,
        });
        Ok(Response::new(self.ops.create_file(&project, new, body).await?.into()))
    }

    async fn list_files(
        &self,
        request: Request<pb::ListFilesRequest>,
    ) -> Result<Response<pb::ListFilesResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListFilesRequest { page, purpose } = request.into_inner();
        let page = PageRequest::from_pb(page, 10_000, 10_000)?.cursors_of::<FileId>()?;
        let purpose = purpose.filter(|p| !p.is_empty());
        let result = self.ops.list_files(&project, purpose.as_deref(), &page).await?;
        let data: Vec<pb::File> = result.data.into_iter().map(Into::into).collect();
        Ok(Response::new(pb::ListFilesResponse {
            first_id: data.first().map(|f| f.id.clone()),
            last_id: data.last().map(|f| f.id.clone()),
            has_more: result.has_more,
            data,
        }))
    }

    async fn get_file(&self, request: Request<pb::GetFileRequest>) -> Result<Response<pb::File>, Status> {
        let project = Project::of(&request)?;
        let pb::GetFileRequest { file_id } = request.into_inner();
        Ok(Response::new(self.ops.get_file(&project, &file_id).await?.into()))
    }

    async fn delete_file(
        &self,
        request: Request<pb::DeleteFileRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::DeleteFileRequest { file_id } = request.into_inner();
        self.ops.delete_file(&project, &file_id).await?;
        Ok(Response::new(pb::DeleteResponse { id: file_id, deleted: true }))
    }

    async fn download_file(
        &self,
        request: Request<pb::DownloadFileRequest>,
    ) -> Result<Response<DownloadStream>, Status> {
        let project = Project::of(&request)?;
        let pb::DownloadFileRequest { file_id } = request.into_inner();
        let (file, body) = self.ops.file_content(&project, &file_id).await?;
        let first = futures::stream::once(async move {
            Ok(pb::DownloadFileResponse { part: Some(pb::download_file_response::Part::Info(file.into())) })
        });
        let rest = body.map(|r| {
            r.map(|b| pb::DownloadFileResponse { part: Some(pb::download_file_response::Part::Chunk(b.to_vec())) })
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(first.chain(rest))))
    }

    async fn create_upload(&self, request: Request<pb::CreateUploadRequest>) -> Result<Response<pb::Upload>, Status> {
        let project = Project::of(&request)?;
        let new = NewUpload::try_from(request.into_inner())?;
        let upload = self.ops.create_upload(&project, new).await?;
        Ok(Response::new(convert::upload_to_pb(upload, time::now_secs())))
    }

    async fn add_upload_part(
        &self,
        request: Request<Streaming<pb::AddUploadPartRequest>>,
    ) -> Result<Response<pb::UploadPart>, Status> {
        let project = Project::of(&request)?;
        let mut stream = request.into_inner();
        let no_id = || ServiceError::invalid("upload_id", "The first message of AddUploadPart must be the upload id.");
        let upload_id = match first(&mut stream, no_id).await?.part {
            Some(pb::add_upload_part_request::Part::UploadId(id)) => id,
            _ => return Err(no_id().into()),
        };
        let body = chunks(stream, |m: pb::AddUploadPartRequest| match m.part {
            Some(pb::add_upload_part_request::Part::Chunk(c)) => Some(Bytes::from(c)),
            _ => None,
        });
        Ok(Response::new(self.ops.add_upload_part(&project, upload_id, body).await?.into()))
    }

    async fn complete_upload(
        &self,
        request: Request<pb::CompleteUploadRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let project = Project::of(&request)?;
        let pb::CompleteUploadRequest { upload_id, part_ids, md5 } = request.into_inner();
        let upload = self.ops.complete_upload(&project, &upload_id, &part_ids, md5.as_deref()).await?;
        Ok(Response::new(convert::upload_to_pb(upload, time::now_secs())))
    }

    async fn cancel_upload(&self, request: Request<pb::CancelUploadRequest>) -> Result<Response<pb::Upload>, Status> {
        let project = Project::of(&request)?;
        let pb::CancelUploadRequest { upload_id } = request.into_inner();
        let upload = self.ops.cancel_upload(&project, &upload_id).await?;
        Ok(Response::new(convert::upload_to_pb(upload, time::now_secs())))
    }
}

#[cfg(test)]
mod tests;

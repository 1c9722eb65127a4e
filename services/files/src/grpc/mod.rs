//! The tonic implementation of `FileService`.

pub mod convert;

use std::pin::Pin;

use assistd_common::ids::{FileId, PartId, UploadId};
use assistd_common::page::PageRequest;
use assistd_common::{Project, ServiceError, ServiceResult, time};
use assistd_proto::pb;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use tonic::{Request, Response, Status, Streaming};

use crate::blobs::Blobs;
use crate::domain::{self, File, Upload, UploadPart, upload_status};
use crate::store::{Store, file_blob_key};

/// The files service.
#[derive(Clone)]
pub struct FilesService {
    store: Store,
    blobs: Blobs,
}

impl FilesService {
    /// A service storing rows in `store` and bytes in `blobs`.
    pub fn new(store: Store, blobs: Blobs) -> Self {
        Self { store, blobs }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::file_service_server::FileServiceServer<Self> {
        pb::file_service_server::FileServiceServer::new(self)
    }

    /// Deletes expired files (rows and bytes) and expires pending uploads past their
    /// hour (deleting their parts), as of `now`. Returns how many objects it handled.
    pub async fn sweep_expired(&self, now: i64) -> ServiceResult<usize> {
        let mut handled = 0;
        loop {
            let batch = self.store.expired_files(now, 500).await?;
            if batch.is_empty() {
                break;
            }
            for (id, key) in batch {
                self.store.purge_file(&id).await?;
                self.blobs.delete(&key).await;
                handled += 1;
            }
        }
        for (project, id) in self.store.expired_uploads(now, 10_000).await? {
            let project = Project(project);
            if self.store.transition_upload(&project, &id, upload_status::PENDING, upload_status::EXPIRED, None).await?
            {
                for p in self.store.parts(&project, &id).await? {
                    self.blobs.delete(&p.blob_key).await;
                }
                self.store.delete_parts(&project, &id).await?;
                handled += 1;
            }
        }
        Ok(handled)
    }

    /// Runs [`sweep_expired`](Self::sweep_expired) every `every` until the process ends.
    pub fn spawn_sweeper(self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match self.sweep_expired(time::now_secs()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(objects = n, "expired files and uploads removed"),
                    Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
                }
            }
        })
    }

    async fn upload_with_file(&self, project: &Project, u: Upload, now: i64) -> ServiceResult<pb::Upload> {
        let file = match &u.file_id {
            Some(id) => self.store.get_file(project, id, now).await?.map(|(f, _)| f),
            None => None,
        };
        Ok(convert::upload_to_pb(u, file, now))
    }

    async fn pending_upload(&self, project: &Project, id: &str, now: i64) -> ServiceResult<Upload> {
        let u = self.store.get_upload(project, id).await?.ok_or_else(|| ServiceError::not_found("upload", id))?;
        let status = u.effective_status(now);
        if status != upload_status::PENDING {
            return Err(ServiceError::precondition(format!(
                "Upload {id} is {status}; only pending uploads accept this operation."
            ))
            .with_param("upload_id"));
        }
        Ok(u)
    }
}

fn stream_error(status: Status) -> ServiceError {
    ServiceError::invalid("file", format!("The upload stream failed: {}", status.message()))
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
        let header = match stream.next().await {
            Some(Ok(pb::UploadFileRequest { part: Some(pb::upload_file_request::Part::Header(h)) })) => h,
            Some(Err(s)) => return Err(stream_error(s).into()),
            _ => {
                return Err(ServiceError::invalid("file", "The first message of UploadFile must be its header.").into());
            }
        };
        let pb::UploadFileHeader { filename, purpose, expires_after, content_type } = header;
        domain::validate_filename(&filename, "file")?;
        domain::validate_purpose(&purpose, domain::FILE_PURPOSES)?;
        let ttl = match expires_after {
            Some(pb::ExpiresAfter { anchor, seconds }) => Some(domain::validate_expires_after(&anchor, seconds)?),
            None if purpose == "batch" => Some(domain::BATCH_DEFAULT_TTL_SECS),
            None => None,
        };
        let id = FileId::generate().into_string();
        let key = file_blob_key(&project, &id);
        let body = chunks(stream, |m: pb::UploadFileRequest| match m.part {
            Some(pb::upload_file_request::Part::Chunk(c)) => Some(Bytes::from(c)),
            _ => None,
        });
        let size = self.blobs.put_stream(&key, body, domain::MAX_FILE_BYTES, "file").await?;
        let now = time::now_secs();
        let file = File {
            id,
            bytes: size as i64,
            created_at: now,
            expires_at: ttl.map(|t| now + t),
            content_type: content_type
                .filter(|c| !c.is_empty() && c != "application/octet-stream")
                .unwrap_or_else(|| domain::guess_content_type(&filename)),
            filename,
            purpose,
            status: "processed".into(),
            status_details: None,
        };
        if let Err(e) = self.store.insert_file(&project, &file, &key).await {
            self.blobs.delete(&key).await;
            return Err(e.into());
        }
        Ok(Response::new(file.into()))
    }

    async fn list_files(
        &self,
        request: Request<pb::ListFilesRequest>,
    ) -> Result<Response<pb::ListFilesResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListFilesRequest { page, purpose } = request.into_inner();
        let page = PageRequest::from_pb(page, 10_000, 10_000)?.cursors_of::<FileId>()?;
        let purpose = purpose.filter(|p| !p.is_empty());
        if let Some(p) = &purpose {
            domain::validate_purpose(p, domain::OBJECT_PURPOSES)?;
        }
        let result = self.store.list_files(&project, purpose.as_deref(), &page, time::now_secs()).await?;
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
        let id = request.into_inner().file_id;
        let (f, _) = self
            .store
            .get_file(&project, &id, time::now_secs())
            .await?
            .ok_or_else(|| ServiceError::not_found("file", &id))?;
        Ok(Response::new(f.into()))
    }

    async fn delete_file(
        &self,
        request: Request<pb::DeleteFileRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().file_id;
        let key = self
            .store
            .delete_file(&project, &id, time::now_secs())
            .await?
            .ok_or_else(|| ServiceError::not_found("file", &id))?;
        self.blobs.delete(&key).await;
        Ok(Response::new(pb::DeleteResponse { id, deleted: true }))
    }

    async fn download_file(
        &self,
        request: Request<pb::DownloadFileRequest>,
    ) -> Result<Response<DownloadStream>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().file_id;
        let (file, key) = self
            .store
            .get_file(&project, &id, time::now_secs())
            .await?
            .ok_or_else(|| ServiceError::not_found("file", &id))?;
        let body = self.blobs.get_stream(&key).await?;
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
        let pb::CreateUploadRequest { filename, purpose, bytes, mime_type, expires_after } = request.into_inner();
        domain::validate_filename(&filename, "filename")?;
        domain::validate_purpose(&purpose, domain::UPLOAD_PURPOSES)?;
        if bytes < 0 || bytes as u64 > domain::MAX_UPLOAD_BYTES {
            return Err(ServiceError::invalid(
                "bytes",
                format!("Invalid 'bytes': expected a value between 0 and {}.", domain::MAX_UPLOAD_BYTES),
            )
            .into());
        }
        if mime_type.is_empty() {
            return Err(ServiceError::invalid("mime_type", "Missing required parameter: 'mime_type'.").into());
        }
        let file_expires_after = match expires_after {
            Some(pb::ExpiresAfter { anchor, seconds }) => Some(domain::validate_expires_after(&anchor, seconds)?),
            None => None,
        };
        let now = time::now_secs();
        let u = Upload {
            id: UploadId::generate().into_string(),
            created_at: now,
            filename,
            bytes,
            purpose,
            mime_type,
            status: upload_status::PENDING.into(),
            expires_at: now + domain::UPLOAD_TTL_SECS,
            file_expires_after,
            file_id: None,
        };
        self.store.insert_upload(&project, &u).await?;
        Ok(Response::new(convert::upload_to_pb(u, None, now)))
    }

    async fn add_upload_part(
        &self,
        request: Request<Streaming<pb::AddUploadPartRequest>>,
    ) -> Result<Response<pb::UploadPart>, Status> {
        let project = Project::of(&request)?;
        let mut stream = request.into_inner();
        let upload_id = match stream.next().await {
            Some(Ok(pb::AddUploadPartRequest { part: Some(pb::add_upload_part_request::Part::UploadId(id)) })) => id,
            Some(Err(s)) => return Err(stream_error(s).into()),
            _ => {
                return Err(ServiceError::invalid(
                    "upload_id",
                    "The first message of AddUploadPart must be the upload id.",
                )
                .into());
            }
        };
        self.pending_upload(&project, &upload_id, time::now_secs()).await?;
        let part_id = PartId::generate().into_string();
        let key = format!("uploads/{}/{upload_id}/{part_id}", project.id());
        let body = chunks(stream, |m: pb::AddUploadPartRequest| match m.part {
            Some(pb::add_upload_part_request::Part::Chunk(c)) => Some(Bytes::from(c)),
            _ => None,
        });
        let size = self.blobs.put_stream(&key, body, domain::MAX_PART_BYTES, "data").await?;
        // The upload may have been cancelled or completed while the bytes streamed.
        if let Err(e) = self.pending_upload(&project, &upload_id, time::now_secs()).await {
            self.blobs.delete(&key).await;
            return Err(e.into());
        }
        let part = UploadPart {
            id: part_id,
            created_at: time::now_secs(),
            upload_id,
            bytes: size as i64,
            blob_key: key.clone(),
        };
        if let Err(e) = self.store.insert_part(&project, &part).await {
            self.blobs.delete(&key).await;
            return Err(e.into());
        }
        let UploadPart { id, created_at, upload_id, .. } = part;
        Ok(Response::new(pb::UploadPart { id, created_at, upload_id }))
    }

    async fn complete_upload(
        &self,
        request: Request<pb::CompleteUploadRequest>,
    ) -> Result<Response<pb::Upload>, Status> {
        let project = Project::of(&request)?;
        let pb::CompleteUploadRequest { upload_id, part_ids, md5 } = request.into_inner();
        let now = time::now_secs();
        let mut upload = self.pending_upload(&project, &upload_id, now).await?;
        let parts = self.store.parts(&project, &upload_id).await?;
        let mut ordered = Vec::with_capacity(part_ids.len());
        let mut seen = std::collections::HashSet::new();
        for (i, pid) in part_ids.iter().enumerate() {
            let part = parts.iter().find(|p| &p.id == pid).ok_or_else(|| {
                ServiceError::invalid(
                    format!("part_ids[{i}]"),
                    format!("Part '{pid}' does not belong to upload '{upload_id}'."),
                )
            })?;
            if !seen.insert(pid.clone()) {
                return Err(
                    ServiceError::invalid(format!("part_ids[{i}]"), format!("Part '{pid}' is listed twice.")).into()
                );
            }
            ordered.push(part.clone());
        }
        let total: i64 = ordered.iter().map(|p| p.bytes).sum();
        if total != upload.bytes {
            return Err(ServiceError::invalid(
                "part_ids",
                format!("The parts add up to {total} bytes, but the upload was created with bytes={}.", upload.bytes),
            )
            .into());
        }
        let file_id = FileId::generate().into_string();
        let key = file_blob_key(&project, &file_id);
        let blobs = self.blobs.clone();
        let keys: Vec<String> = ordered.iter().map(|p| p.blob_key.clone()).collect();
        let hasher = std::sync::Arc::new(std::sync::Mutex::new(Md5::new()));
        let h = hasher.clone();
        let body = async_stream::stream! {
            for k in keys {
                match blobs.get_stream(&k).await {
                    Ok(mut parts) => {
                        while let Some(item) = parts.next().await {
                            if let Ok(b) = &item {
                                h.lock().unwrap_or_else(|e| e.into_inner()).update(b);
                            }
                            yield item;
                        }
                    }
                    Err(e) => {
                        yield Err(e);
                        return;
                    }
                }
            }
        };
        let size = self.blobs.put_stream(&key, Box::pin(body), domain::MAX_UPLOAD_BYTES, "part_ids").await?;
        if let Some(expected) = md5.filter(|m| !m.is_empty()) {
            let got = hex::encode(hasher.lock().unwrap_or_else(|e| e.into_inner()).clone().finalize());
            if !got.eq_ignore_ascii_case(&expected) {
                self.blobs.delete(&key).await;
                return Err(ServiceError::invalid(
                    "md5",
                    format!("The md5 of the assembled file is {got}, not {expected}."),
                )
                .into());
            }
        }
        let file = File {
            id: file_id.clone(),
            bytes: size as i64,
            created_at: now,
            expires_at: upload.file_expires_after.map(|t| now + t),
            filename: upload.filename.clone(),
            purpose: upload.purpose.clone(),
            status: "processed".into(),
            status_details: None,
            content_type: upload.mime_type.clone(),
        };
        if let Err(e) = self.store.insert_file(&project, &file, &key).await {
            self.blobs.delete(&key).await;
            return Err(e.into());
        }
        if !self
            .store
            .transition_upload(&project, &upload_id, upload_status::PENDING, upload_status::COMPLETED, Some(&file_id))
            .await?
        {
            // Cancelled concurrently: undo the file.
            self.store.delete_file(&project, &file_id, now).await?;
            self.blobs.delete(&key).await;
            return Err(ServiceError::precondition(format!("Upload {upload_id} is no longer pending.")).into());
        }
        for p in &parts {
            self.blobs.delete(&p.blob_key).await;
        }
        self.store.delete_parts(&project, &upload_id).await?;
        upload.status = upload_status::COMPLETED.into();
        upload.file_id = Some(file_id);
        Ok(Response::new(self.upload_with_file(&project, upload, now).await?))
    }

    async fn cancel_upload(&self, request: Request<pb::CancelUploadRequest>) -> Result<Response<pb::Upload>, Status> {
        let project = Project::of(&request)?;
        let upload_id = request.into_inner().upload_id;
        let now = time::now_secs();
        let mut upload = self.pending_upload(&project, &upload_id, now).await?;
        if !self
            .store
            .transition_upload(&project, &upload_id, upload_status::PENDING, upload_status::CANCELLED, None)
            .await?
        {
            return Err(ServiceError::precondition(format!("Upload {upload_id} is no longer pending.")).into());
        }
        for p in self.store.parts(&project, &upload_id).await? {
            self.blobs.delete(&p.blob_key).await;
        }
        self.store.delete_parts(&project, &upload_id).await?;
        upload.status = upload_status::CANCELLED.into();
        Ok(Response::new(self.upload_with_file(&project, upload, now).await?))
    }
}

#[cfg(test)]
mod tests;

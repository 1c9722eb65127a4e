//! Uploads: a file sent in parts. An upload is created pending, takes parts (each
//! streamed to the blob store), and is completed (its parts assembled, in the order
//! the client lists them, into one file) or cancelled; one left pending expires after
//! an hour. Every change of state is guarded by the stored status, so of a concurrent
//! complete and cancel only one wins.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use assistd_common::ids::{FileId, PartId, UploadId};
use assistd_common::{Project, ServiceError, ServiceResult, time};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};

use super::Files;
use crate::blobs::Blobs;
use crate::domain::{self, File, FileStatus, NewUpload, Upload, UploadPart, UploadStatus, UploadView};
use crate::store::{file_blob_key, part_blob_key};

impl Files {
    /// Starts an upload of `new`, pending for an hour.
    pub async fn create_upload(&self, project: &Project, new: NewUpload) -> ServiceResult<UploadView> {
        let NewUpload { filename, purpose, bytes, mime_type, file_ttl } = new;
        let now = time::now_secs();
        let upload = Upload {
            id: UploadId::generate().into_string(),
            created_at: now,
            filename,
            bytes,
            purpose,
            mime_type,
            status: UploadStatus::Pending,
            expires_at: now + domain::UPLOAD_TTL_SECS,
            file_expires_after: file_ttl,
            file_id: None,
        };
        self.store.insert_upload(project, &upload).await?;
        Ok(UploadView { upload, file: None })
    }

    /// Adds a part with the bytes of `body` (at most [`domain::MAX_PART_BYTES`]) to the
    /// pending upload `upload_id`. An upload completed or cancelled while the bytes
    /// streamed takes no part, and its bytes are removed.
    pub async fn add_upload_part<S>(&self, project: &Project, upload_id: String, body: S) -> ServiceResult<UploadPart>
    where
        S: Stream<Item = ServiceResult<Bytes>> + Unpin,
    {
        self.pending_upload(project, &upload_id, time::now_secs()).await?;
        let part_id = PartId::generate().into_string();
        let key = part_blob_key(project, &upload_id, &part_id);
        let size = self.blobs.put_stream(&key, body, domain::MAX_PART_BYTES, "data").await?;
        if let Err(e) = self.pending_upload(project, &upload_id, time::now_secs()).await {
            self.blobs.delete(&key).await;
            return Err(e);
        }
        let part =
            UploadPart { id: part_id, created_at: time::now_secs(), upload_id, bytes: size as i64, blob_key: key };
        if let Err(e) = self.store.insert_part(project, &part).await {
            self.blobs.delete(&part.blob_key).await;
            return Err(e);
        }
        Ok(part)
    }

    /// Completes the pending upload `upload_id`: the parts `part_ids` (each once, all
    /// of this upload, adding up to its size) are assembled into a new file, checked
    /// against `md5` when given, and the parts removed.
    pub async fn complete_upload(
        &self,
        project: &Project,
        upload_id: &str,
        part_ids: &[String],
        md5: Option<&str>,
    ) -> ServiceResult<UploadView> {
        let now = time::now_secs();
        let mut upload = self.pending_upload(project, upload_id, now).await?;
        let parts = self.store.parts(project, upload_id).await?;
        let ordered = ordered_parts(&parts, part_ids, upload_id)?;
        let total: i64 = ordered.iter().map(|p| p.bytes).sum();
        if total != upload.bytes {
            return Err(ServiceError::invalid(
                "part_ids",
                format!("The parts add up to {total} bytes, but the upload was created with bytes={}.", upload.bytes),
            ));
        }
        let file_id = FileId::generate().into_string();
        let key = file_blob_key(project, &file_id);
        let keys: Vec<String> = ordered.iter().map(|p| p.blob_key.clone()).collect();
        let hasher = Arc::new(Mutex::new(Md5::new()));
        let body = concatenated(self.blobs.clone(), keys, hasher.clone());
        let size = self.blobs.put_stream(&key, body, domain::MAX_UPLOAD_BYTES, "part_ids").await?;
        if let Some(expected) = md5.filter(|m| !m.is_empty()) {
            let got = hex::encode(hasher.lock().unwrap_or_else(|e| e.into_inner()).clone().finalize());
            if !got.eq_ignore_ascii_case(expected) {
                self.blobs.delete(&key).await;
                return Err(ServiceError::invalid(
                    "md5",
                    format!("The md5 of the assembled file is {got}, not {expected}."),
                ));
            }
        }
        let file = File {
            id: file_id.clone(),
            bytes: size as i64,
            created_at: now,
            expires_at: upload.file_expires_after.map(|t| now + t),
            filename: upload.filename.clone(),
            purpose: upload.purpose.clone(),
            status: FileStatus::Processed,
            status_details: None,
            content_type: upload.mime_type.clone(),
        };
        if let Err(e) = self.store.insert_file(project, &file, &key).await {
            self.blobs.delete(&key).await;
            return Err(e);
        }
        if !self
            .store
            .transition_upload(project, upload_id, UploadStatus::Pending, UploadStatus::Completed, Some(&file_id))
            .await?
        {
            // Cancelled concurrently: undo the file.
            self.store.delete_file(project, &file_id, now).await?;
            self.blobs.delete(&key).await;
            return Err(ServiceError::precondition(format!("Upload {upload_id} is no longer pending.")));
        }
        for p in &parts {
            self.blobs.delete(&p.blob_key).await;
        }
        self.store.delete_parts(project, upload_id).await?;
        upload.status = UploadStatus::Completed;
        upload.file_id = Some(file_id);
        self.view(project, upload, now).await
    }

    /// Cancels the pending upload `upload_id` and removes its parts.
    pub async fn cancel_upload(&self, project: &Project, upload_id: &str) -> ServiceResult<UploadView> {
        let now = time::now_secs();
        let mut upload = self.pending_upload(project, upload_id, now).await?;
        if !self
            .store
            .transition_upload(project, upload_id, UploadStatus::Pending, UploadStatus::Cancelled, None)
            .await?
        {
            return Err(ServiceError::precondition(format!("Upload {upload_id} is no longer pending.")));
        }
        self.drop_parts(project, upload_id).await?;
        upload.status = UploadStatus::Cancelled;
        self.view(project, upload, now).await
    }

    /// The upload with its file, if it has one that has not expired at `now`.
    async fn view(&self, project: &Project, upload: Upload, now: i64) -> ServiceResult<UploadView> {
        let file = match &upload.file_id {
            Some(id) => self.store.get_file(project, id, now).await?.map(|(f, _)| f),
            None => None,
        };
        Ok(UploadView { upload, file })
    }

    /// The upload `id` if it is pending at `now`; a 404, or a 400 naming its status.
    async fn pending_upload(&self, project: &Project, id: &str, now: i64) -> ServiceResult<Upload> {
        let u = self.store.get_upload(project, id).await?.ok_or_else(|| ServiceError::not_found("upload", id))?;
        let status = u.effective_status(now);
        if status != UploadStatus::Pending {
            return Err(ServiceError::precondition(format!(
                "Upload {id} is {}; only pending uploads accept this operation.",
                status.as_str()
            ))
            .with_param("upload_id"));
        }
        Ok(u)
    }
}

/// The bytes of the blobs `keys` one after the other, fed to `hasher` as they pass.
fn concatenated(
    blobs: Blobs,
    keys: Vec<String>,
    hasher: Arc<Mutex<Md5>>,
) -> impl Stream<Item = ServiceResult<Bytes>> + Unpin {
    Box::pin(async_stream::stream! {
        for k in keys {
            match blobs.get_stream(&k).await {
                Ok(mut parts) => {
                    while let Some(item) = parts.next().await {
                        if let Ok(b) = &item {
                            hasher.lock().unwrap_or_else(|e| e.into_inner()).update(b);
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
    })
}

/// The parts `part_ids` names, in its order: each must be one of `parts` (the
/// upload's) and be named once.
fn ordered_parts(parts: &[UploadPart], part_ids: &[String], upload_id: &str) -> ServiceResult<Vec<UploadPart>> {
    let mut ordered = Vec::with_capacity(part_ids.len());
    let mut seen = HashSet::new();
    for (i, pid) in part_ids.iter().enumerate() {
        let part = parts.iter().find(|p| &p.id == pid).ok_or_else(|| {
            ServiceError::invalid(
                format!("part_ids[{i}]"),
                format!("Part '{pid}' does not belong to upload '{upload_id}'."),
            )
        })?;
        if !seen.insert(pid.clone()) {
            return Err(ServiceError::invalid(format!("part_ids[{i}]"), format!("Part '{pid}' is listed twice.")));
        }
        ordered.push(part.clone());
    }
    Ok(ordered)
}

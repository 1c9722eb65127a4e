//! Files: store one from a byte stream, list, get, delete, and read its bytes back.

use assistd_common::ids::FileId;
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult, time};
use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;

use super::Files;
use crate::domain::{self, File, FileStatus, NewFile};
use crate::store::file_blob_key;

/// The bytes of a file, as they come from the blob store.
pub type ByteStream = BoxStream<'static, ServiceResult<Bytes>>;

impl Files {
    /// Stores `new` with the bytes of `body` (at most [`domain::MAX_FILE_BYTES`]): the
    /// bytes stream to the blob store, then the row is written; a failed write leaves
    /// neither.
    pub async fn create_file<S>(&self, project: &Project, new: NewFile, body: S) -> ServiceResult<File>
    where
        S: Stream<Item = ServiceResult<Bytes>> + Unpin,
    {
        let NewFile { filename, purpose, ttl, content_type } = new;
        let id = FileId::generate().into_string();
        let key = file_blob_key(project, &id);
        let size = self.blobs.put_stream(&key, body, domain::MAX_FILE_BYTES, "file").await?;
        let now = time::now_secs();
        let file = File {
            id,
            bytes: size as i64,
            created_at: now,
            expires_at: ttl.map(|t| now + t),
            content_type: content_type.unwrap_or_else(|| domain::guess_content_type(&filename)),
            filename,
            purpose,
            status: FileStatus::Processed,
            status_details: None,
        };
        if let Err(e) = self.store.insert_file(project, &file, &key).await {
            self.blobs.delete(&key).await;
            return Err(e);
        }
        Ok(file)
    }

    /// A page of the project's files that have not expired, of one purpose when
    /// `purpose` is given (one of [`domain::OBJECT_PURPOSES`]).
    pub async fn list_files(
        &self,
        project: &Project,
        purpose: Option<&str>,
        page: &PageRequest,
    ) -> ServiceResult<Page<File>> {
        if let Some(p) = purpose {
            domain::validate_purpose(p, domain::OBJECT_PURPOSES)?;
        }
        self.store.list_files(project, purpose, page, time::now_secs()).await
    }

    /// The file `id`; an expired file is a 404.
    pub async fn get_file(&self, project: &Project, id: &str) -> ServiceResult<File> {
        Ok(self.stored(project, id).await?.0)
    }

    /// Deletes the file `id`, row and bytes.
    pub async fn delete_file(&self, project: &Project, id: &str) -> ServiceResult<()> {
        let key = self
            .store
            .delete_file(project, id, time::now_secs())
            .await?
            .ok_or_else(|| ServiceError::not_found("file", id))?;
        self.blobs.delete(&key).await;
        Ok(())
    }

    /// The file `id` and its bytes, streamed.
    pub async fn file_content(&self, project: &Project, id: &str) -> ServiceResult<(File, ByteStream)> {
        let (file, key) = self.stored(project, id).await?;
        Ok((file, self.blobs.get_stream(&key).await?))
    }

    /// The file `id` and its blob key, or a 404.
    async fn stored(&self, project: &Project, id: &str) -> ServiceResult<(File, String)> {
        self.store.get_file(project, id, time::now_secs()).await?.ok_or_else(|| ServiceError::not_found("file", id))
    }
}

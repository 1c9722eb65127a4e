//! File batches: files attached to a store together, counted together, cancelled
//! together.

use assistd_common::caller::Caller;
use assistd_common::ids::FileBatchId;
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult, time};

use super::VectorStores;
use crate::domain::{BatchView, FileBatch, FileStatus, NewStoreFile, StoreFile};

impl VectorStores {
    /// Attaches `files` (each must exist for the caller) to the store `vs` (which must
    /// not have expired) as one batch, queued for indexing.
    pub async fn create_batch(&self, caller: &Caller, vs: &str, files: Vec<NewStoreFile>) -> ServiceResult<BatchView> {
        let project = &caller.project;
        self.usable(project, vs).await?;
        let ids: Vec<String> = files.iter().map(|f| f.file_id.clone()).collect();
        self.check_files(caller, &ids).await?;
        let now = time::now_secs();
        let batch = FileBatch {
            id: FileBatchId::generate().into_string(),
            vector_store_id: vs.to_owned(),
            created_at: now,
            cancelled: false,
        };
        let files: Vec<StoreFile> = files.into_iter().map(|f| f.attach(vs, Some(&batch.id), now)).collect();
        self.store.attach(project, Some(&batch), &files).await?;
        self.ingestor.wake();
        // Counted after the insert, so `file_counts` is right from this answer on.
        self.store
            .get_batch(project, vs, &batch.id)
            .await?
            .ok_or_else(|| ServiceError::internal("file batch", "the batch just written is missing"))
    }

    /// The batch `batch_id` of store `vs`, with its counts.
    pub async fn get_batch(&self, project: &Project, vs: &str, batch_id: &str) -> ServiceResult<BatchView> {
        self.batch(project, vs, batch_id).await
    }

    /// Cancels the batch `batch_id` of store `vs` while it is in progress: its files
    /// not yet indexed are cancelled (workers holding them stop).
    pub async fn cancel_batch(&self, project: &Project, vs: &str, batch_id: &str) -> ServiceResult<BatchView> {
        let status = self.batch(project, vs, batch_id).await?.status();
        if status != FileStatus::InProgress {
            return Err(ServiceError::precondition(format!(
                "Cannot cancel file batch {batch_id} with status {}.",
                status.as_str()
            )));
        }
        self.store.cancel_batch(project, vs, batch_id).await?;
        self.batch(project, vs, batch_id).await
    }

    /// A page of the files of batch `batch_id` of store `vs`, only those with `status`
    /// when given. A missing batch is a 404 whatever `page` says.
    pub async fn list_batch_files(
        &self,
        project: &Project,
        vs: &str,
        batch_id: &str,
        status: Option<FileStatus>,
        page: ServiceResult<PageRequest>,
    ) -> ServiceResult<Page<StoreFile>> {
        self.batch(project, vs, batch_id).await?;
        self.store.list_files(project, vs, Some(batch_id), status, &page?).await
    }
}

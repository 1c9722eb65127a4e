//! The operations of the files service on domain values: files (`files.rs`), uploads
//! and their parts (`uploads.rs`), and the sweep of expired files and uploads. Rows go
//! to the [`Store`], bytes stream to the [`Blobs`]; a step that fails removes what the
//! steps before it wrote. The tonic impl (`grpc/`) converts and calls these.

mod files;
mod uploads;

use assistd_common::{Project, ServiceResult, time};

pub use self::files::ByteStream;
use crate::blobs::Blobs;
use crate::domain::UploadStatus;
use crate::store::Store;

/// How many expired files the sweep deletes per query.
const SWEEP_FILES: u64 = 500;
/// Most expired uploads one sweep handles.
const SWEEP_UPLOADS: u64 = 10_000;

/// The files service's operations (cheap to clone).
#[derive(Clone)]
pub struct Files {
    pub(crate) store: Store,
    pub(crate) blobs: Blobs,
}

impl Files {
    /// Operations storing rows in `store` and bytes in `blobs`.
    pub fn new(store: Store, blobs: Blobs) -> Self {
        Self { store, blobs }
    }

    /// Deletes expired files (rows and bytes) and expires pending uploads past their
    /// hour (deleting their parts), as of `now`. Returns how many objects it handled.
    pub async fn sweep_expired(&self, now: i64) -> ServiceResult<usize> {
        let mut handled = 0;
        loop {
            let batch = self.store.expired_files(now, SWEEP_FILES).await?;
            if batch.is_empty() {
                break;
            }
            for (id, key) in batch {
                self.store.purge_file(&id).await?;
                self.blobs.delete(&key).await;
                handled += 1;
            }
        }
        for (project, id) in self.store.expired_uploads(now, SWEEP_UPLOADS).await? {
            let project = Project(project);
            if self.store.transition_upload(&project, &id, UploadStatus::Pending, UploadStatus::Expired, None).await? {
                self.drop_parts(&project, &id).await?;
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

    /// Deletes the parts of an upload, bytes and rows.
    async fn drop_parts(&self, project: &Project, upload_id: &str) -> ServiceResult<()> {
        for p in self.store.parts(project, upload_id).await? {
            self.blobs.delete(&p.blob_key).await;
        }
        self.store.delete_parts(project, upload_id).await
    }
}

//! The operations of the vector stores service on domain values: stores and search
//! (`stores.rs`), their files (`files.rs`) and file batches (`batches.rs`). They check
//! what needs the stored state (the store exists and has not expired, the files exist
//! for the caller, a batch can still be cancelled), write the store, wake the
//! ingestion workers and keep the index in step. The tonic impl (`grpc/`) converts
//! and calls these.

mod batches;
mod files;
mod stores;

use assistd_common::caller::Caller;
use assistd_common::error::ErrorKind;
use assistd_common::{Project, ServiceError, ServiceResult, time};

use crate::domain::{BatchView, StoreFile, VectorStore};
use crate::index::IndexError;
use crate::peers::Files;
use crate::search::Searcher;
use crate::store::Store;
use crate::worker::Ingestor;

/// The vector stores service's operations (cheap to clone).
#[derive(Clone)]
pub struct VectorStores {
    store: Store,
    files: Files,
    ingestor: Ingestor,
    searcher: Searcher,
}

impl VectorStores {
    /// Operations over `store`, checking files through `files`, handing new files to
    /// `ingestor` and searching with `searcher`.
    pub fn new(store: Store, files: Files, ingestor: Ingestor, searcher: Searcher) -> Self {
        Self { store, files, ingestor, searcher }
    }

    /// The searcher (its index answers `/readyz`).
    pub fn searcher(&self) -> &Searcher {
        &self.searcher
    }

    /// The store `id` if it has not expired; a 404, or a 400 once expired.
    async fn usable(&self, project: &Project, id: &str) -> ServiceResult<VectorStore> {
        let s = self.store.require_store(project, id).await?;
        if s.expired(time::now_secs()) {
            return Err(ServiceError::precondition(format!(
                "Vector store {id} has expired and can no longer be used."
            )));
        }
        Ok(s)
    }

    /// The file in the store, or a 404.
    async fn file(&self, project: &Project, vs: &str, file_id: &str) -> ServiceResult<StoreFile> {
        self.store.get_file(project, vs, file_id).await?.ok_or_else(|| file_not_found(vs, file_id))
    }

    /// The batch in the store with its counts, or a 404.
    async fn batch(&self, project: &Project, vs: &str, batch_id: &str) -> ServiceResult<BatchView> {
        self.store
            .get_batch(project, vs, batch_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("file batch", batch_id))
    }

    /// Checks every file exists (through the files service, as the caller).
    async fn check_files(&self, caller: &Caller, ids: &[String]) -> ServiceResult<()> {
        for id in ids {
            self.files.get(caller, id).await?;
        }
        Ok(())
    }
}

fn file_not_found(vs: &str, file_id: &str) -> ServiceError {
    ServiceError::new(ErrorKind::NotFound, format!("No file found with id '{file_id}' in vector store '{vs}'."))
}

/// An index failure as the client sees it: a 503 while the index is unreachable,
/// else an opaque 500.
fn index_error(e: IndexError) -> ServiceError {
    match e {
        IndexError::Invalid(m) => ServiceError::internal("vector index", m),
        IndexError::Unavailable(m) => {
            ServiceError::new(ErrorKind::Unavailable, format!("The vector index is unavailable: {m}"))
        }
    }
}

//! The files of a store: attach one, list, get, detach, set its attributes, and read
//! its parsed text.

use assistd_common::caller::Caller;
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceResult, time};
use serde_json::{Map, Value};

use super::{VectorStores, file_not_found, index_error};
use crate::domain::{FileStatus, NewStoreFile, StoreFile};

impl VectorStores {
    /// Attaches `new` (which must exist for the caller) to the store `vs` (which must
    /// not have expired), queued for indexing; a file attached before is indexed again.
    pub async fn attach_file(&self, caller: &Caller, vs: &str, new: NewStoreFile) -> ServiceResult<StoreFile> {
        self.usable(&caller.project, vs).await?;
        self.check_files(caller, std::slice::from_ref(&new.file_id)).await?;
        let file = new.attach(vs, None, time::now_secs());
        self.store.attach(&caller.project, None, std::slice::from_ref(&file)).await?;
        self.ingestor.wake();
        Ok(file)
    }

    /// A page of the files of store `vs`, only those with `status` when given. A
    /// missing store is a 404 whatever `page` says; an invalid page is a 400 only for a
    /// store that exists.
    pub async fn list_files(
        &self,
        project: &Project,
        vs: &str,
        status: Option<FileStatus>,
        page: ServiceResult<PageRequest>,
    ) -> ServiceResult<Page<StoreFile>> {
        self.store.require_store(project, vs).await?;
        self.store.list_files(project, vs, None, status, &page?).await
    }

    /// The file `file_id` of store `vs`.
    pub async fn get_file(&self, project: &Project, vs: &str, file_id: &str) -> ServiceResult<StoreFile> {
        self.file(project, vs, file_id).await
    }

    /// Detaches the file `file_id` from store `vs`, dropping its text and chunks (the
    /// file itself stays in the files service).
    pub async fn detach_file(&self, project: &Project, vs: &str, file_id: &str) -> ServiceResult<()> {
        if !self.store.delete_file(project, vs, file_id).await? {
            return Err(file_not_found(vs, file_id));
        }
        self.searcher.index().delete_file(project.id(), vs, file_id).await.map_err(index_error)
    }

    /// Replaces the attributes of file `file_id` of store `vs`, in the table and on
    /// its indexed chunks (a worker indexing it meanwhile applies the stored ones when
    /// it is done).
    pub async fn set_attributes(
        &self,
        project: &Project,
        vs: &str,
        file_id: &str,
        attributes: Map<String, Value>,
    ) -> ServiceResult<StoreFile> {
        let mut f = self.file(project, vs, file_id).await?;
        f.attributes = attributes;
        self.store.set_attributes(project, &f).await?;
        self.searcher.index().set_attributes(project.id(), vs, file_id, &f.attributes).await.map_err(index_error)?;
        Ok(f)
    }

    /// The parsed text of file `file_id` of store `vs`; none until it is indexed.
    pub async fn file_content(&self, project: &Project, vs: &str, file_id: &str) -> ServiceResult<Option<String>> {
        self.file(project, vs, file_id).await?;
        self.store.content(project, vs, file_id).await
    }
}

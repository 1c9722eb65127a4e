//! Vector stores: create (with their first files), list, get, modify, delete, and
//! search one.

use assistd_common::caller::Caller;
use assistd_common::ids::VectorStoreId;
use assistd_common::metadata;
use assistd_common::page::{Page, PageRequest};
use assistd_common::{Project, ServiceError, ServiceResult, time};

use super::{VectorStores, index_error};
use crate::domain::{NewStoreFile, NewVectorStore, StoreUpdate, StoreView, VectorStore};
use crate::index::AttrFilter;
use crate::search::{SearchOptions, SearchParams, SearchResult, SearchResults, rewrite};

impl VectorStores {
    /// Creates a store with the files `new` names (each must exist for the caller),
    /// queued for indexing.
    pub async fn create_store(&self, caller: &Caller, new: NewVectorStore) -> ServiceResult<StoreView> {
        let NewVectorStore { name, file_ids, chunking, expires_after_days, metadata } = new;
        self.check_files(caller, &file_ids).await?;
        let now = time::now_secs();
        let store = VectorStore {
            id: VectorStoreId::generate().into_string(),
            created_at: now,
            name,
            expires_after_days,
            expires_at: VectorStore::expiry(expires_after_days, now),
            last_active_at: now,
            metadata,
        };
        let files: Vec<_> = file_ids
            .into_iter()
            .map(|file_id| {
                NewStoreFile { file_id, chunking, attributes: Default::default() }.attach(&store.id, None, now)
            })
            .collect();
        self.store.insert_store(&caller.project, &store, &files).await?;
        self.ingestor.wake();
        self.store.view(store).await
    }

    /// A page of the project's stores, with their counts.
    pub async fn list_stores(&self, project: &Project, page: &PageRequest) -> ServiceResult<Page<StoreView>> {
        let result = self.store.list_stores(project, page).await?;
        Ok(Page { data: self.store.views(result.data).await?, has_more: result.has_more })
    }

    /// The store `id` with its counts (expired stores included).
    pub async fn get_store(&self, project: &Project, id: &str) -> ServiceResult<StoreView> {
        let s = self.store.require_store(project, id).await?;
        self.store.view(s).await
    }

    /// Applies `update` to the store `id`: its expiry and metadata are checked once the
    /// store is found; a new expiry policy counts from the store's last activity.
    pub async fn modify_store(&self, project: &Project, id: &str, update: StoreUpdate) -> ServiceResult<StoreView> {
        let StoreUpdate { name, expires_after, metadata: meta } = update;
        let mut s = self.store.require_store(project, id).await?;
        if let Some(name) = name {
            s.name = name;
        }
        if let Some(expires_after) = expires_after {
            s.expires_after_days = expires_after.as_ref().map(|e| e.checked()).transpose()?;
            s.expires_at = VectorStore::expiry(s.expires_after_days, s.last_active_at);
        }
        if let Some(meta) = meta {
            metadata::validate("metadata", &meta)?;
            s.metadata = meta;
        }
        self.store.update_store(project, &s).await?;
        self.store.view(s).await
    }

    /// Deletes the store `id` with its files, batches and indexed chunks.
    pub async fn delete_store(&self, project: &Project, id: &str) -> ServiceResult<()> {
        if !self.store.delete_store(project, id).await? {
            return Err(ServiceError::not_found("vector store", id));
        }
        // Workers indexing its files lose their leases and clean up after themselves;
        // this removes everything already indexed.
        self.searcher.index().delete_store(project.id(), id).await.map_err(index_error)
    }

    /// Searches the store `id` (which must not have expired) with `options`, only
    /// chunks whose attributes pass `filter`; a search is activity that moves the
    /// store's expiry.
    pub async fn search(
        &self,
        project: &Project,
        id: &str,
        options: SearchOptions,
        filter: Option<AttrFilter>,
    ) -> ServiceResult<SearchResults> {
        let SearchOptions { queries, max_results, score_threshold, rewrite: rewrites } = options;
        let store = self.usable(project, id).await?;
        let queries: Vec<String> = if rewrites { queries.iter().map(|q| rewrite(q)).collect() } else { queries };
        let params = SearchParams {
            project: project.id().to_owned(),
            vector_store_ids: vec![id.to_owned()],
            queries: queries.clone(),
            filter,
            max_results,
            score_threshold,
        };
        let found = self.searcher.search(&params).await.map_err(index_error)?;
        self.touch(project, store).await?;
        let file_ids: Vec<String> = found.iter().map(|f| f.file_id.clone()).collect();
        let names = self.store.filenames(&params.vector_store_ids, &file_ids).await?;
        let data = found
            .into_iter()
            .map(|found| {
                let filename = names.get(&found.file_id).cloned().unwrap_or_default();
                SearchResult { found, filename }
            })
            .collect();
        Ok(SearchResults { search_query: queries, data })
    }

    /// Marks a store used now (moving its expiry).
    async fn touch(&self, project: &Project, mut s: VectorStore) -> ServiceResult<()> {
        let now = time::now_secs();
        if s.last_active_at == now {
            return Ok(());
        }
        s.last_active_at = now;
        s.expires_at = VectorStore::expiry(s.expires_after_days, now);
        self.store.update_store(project, &s).await
    }
}

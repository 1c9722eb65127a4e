//! The tonic implementation of `VectorStoreService`: thin handlers over the store,
//! the ingestion workers and the searcher.

pub mod convert;
pub mod request;

#[cfg(test)]
mod tests;

use assistd_common::caller::Caller;
use assistd_common::ids::{FileBatchId, FileId, VectorStoreId};
use assistd_common::page::PageRequest;
use assistd_common::{Project, ServiceError, ServiceResult, metadata, time};
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::domain::{FileBatch, FileStatus, MAX_BATCH_FILES, MAX_CREATE_FILES, StoreFile, VectorStore};
use crate::peers::Files;
use crate::search::{SearchParams, Searcher, rewrite};
use crate::store::Store;
use crate::worker::Ingestor;

/// The vector stores service.
#[derive(Clone)]
pub struct VectorStoresService {
    store: Store,
    files: Files,
    ingestor: Ingestor,
    searcher: Searcher,
}

fn not_found(id: &str) -> Status {
    ServiceError::not_found("vector store", id).into()
}

fn file_not_found(vs: &str, file_id: &str) -> Status {
    ServiceError::new(
        assistd_common::error::ErrorKind::NotFound,
        format!("No file found with id '{file_id}' in vector store '{vs}'."),
    )
    .into()
}

impl VectorStoresService {
    /// The service over its store, with its workers and searcher.
    pub fn new(store: Store, files: Files, ingestor: Ingestor, searcher: Searcher) -> Self {
        Self { store, files, ingestor, searcher }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::vector_store_service_server::VectorStoreServiceServer<Self> {
        pb::vector_store_service_server::VectorStoreServiceServer::new(self)
    }

    /// The searcher (its index answers `/readyz`).
    pub fn searcher(&self) -> &Searcher {
        &self.searcher
    }

    /// A store that exists and has not expired.
    async fn usable(&self, project: &Project, id: &str) -> ServiceResult<VectorStore> {
        let s = self.store.get_store(project, id).await?.ok_or_else(|| ServiceError::not_found("vector store", id))?;
        if s.expired(time::now_secs()) {
            return Err(ServiceError::precondition(format!(
                "Vector store {id} has expired and can no longer be used."
            )));
        }
        Ok(s)
    }

    /// The file in the store, or a 404.
    async fn file(&self, project: &Project, vs: &str, file_id: &str) -> Result<StoreFile, Status> {
        self.store.get_file(project, vs, file_id).await?.ok_or_else(|| file_not_found(vs, file_id))
    }

    /// The batch in the store with its counts, or a 404.
    async fn batch(&self, project: &Project, vs: &str, batch_id: &str) -> Result<crate::domain::BatchView, Status> {
        Ok(self
            .store
            .get_batch(project, vs, batch_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("file batch", batch_id))?)
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

    /// Checks every file exists (through the files service, as the caller).
    async fn check_files(&self, caller: &Caller, ids: &[String]) -> ServiceResult<()> {
        for id in ids {
            self.files.get(caller, id).await?;
        }
        Ok(())
    }

    fn new_files(
        vs: &str,
        batch: Option<&str>,
        files: Vec<(String, crate::domain::Chunking, serde_json::Map<String, serde_json::Value>)>,
    ) -> Vec<StoreFile> {
        let now = time::now_secs();
        files
            .into_iter()
            .map(|(file_id, chunking, attributes)| StoreFile {
                vector_store_id: vs.to_owned(),
                file_id,
                created_at: now,
                status: FileStatus::InProgress,
                last_error: None,
                usage_bytes: 0,
                chunking,
                attributes,
                batch_id: batch.map(str::to_owned),
            })
            .collect()
    }

    async fn list_page(
        &self,
        project: &Project,
        vs: &str,
        batch: Option<&str>,
        filter: Option<i32>,
        page: Option<pb::ListParams>,
    ) -> ServiceResult<pb::ListVectorStoreFilesResponse> {
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<FileId>()?;
        let status = convert::status_filter(filter);
        let result = self.store.list_files(project, vs, batch, status, &page).await?;
        let data: Vec<pb::VectorStoreFile> = result.data.into_iter().map(convert::file).collect();
        Ok(pb::ListVectorStoreFilesResponse {
            first_id: data.first().map(|f| f.id.clone()),
            last_id: data.last().map(|f| f.id.clone()),
            has_more: result.has_more,
            data,
        })
    }
}

#[tonic::async_trait]
impl pb::vector_store_service_server::VectorStoreService for VectorStoresService {
    async fn create_vector_store(
        &self,
        request: Request<pb::CreateVectorStoreRequest>,
    ) -> Result<Response<pb::VectorStore>, Status> {
        let project = Project::of(&request)?;
        let caller = Caller::of(project.clone(), request.metadata());
        let pb::CreateVectorStoreRequest {
            name,
            description: _,
            file_ids,
            chunking_strategy,
            expires_after,
            metadata: m,
        } = request.into_inner();
        let meta = m.map(|m| m.entries.into_iter().collect()).unwrap_or_default();
        metadata::validate("metadata", &meta)?;
        let days = expires_after.as_ref().map(request::expiry_days).transpose()?;
        let ids = request::file_ids("file_ids", file_ids, 0, MAX_CREATE_FILES)?;
        let chunking = request::chunking("chunking_strategy", chunking_strategy)?;
        self.check_files(&caller, &ids).await?;
        let now = time::now_secs();
        let store = VectorStore {
            id: VectorStoreId::generate().into_string(),
            created_at: now,
            name,
            expires_after_days: days,
            expires_at: VectorStore::expiry(days, now),
            last_active_at: now,
            metadata: meta,
        };
        let files =
            Self::new_files(&store.id, None, ids.into_iter().map(|id| (id, chunking, Default::default())).collect());
        self.store.insert_store(&project, &store, &files).await?;
        self.ingestor.wake();
        let view = self.store.view(store).await?;
        Ok(Response::new(convert::store(view, now)))
    }

    async fn list_vector_stores(
        &self,
        request: Request<pb::ListVectorStoresRequest>,
    ) -> Result<Response<pb::ListVectorStoresResponse>, Status> {
        let project = Project::of(&request)?;
        let page = PageRequest::from_pb(request.into_inner().page, 20, 100)?.cursors_of::<VectorStoreId>()?;
        let result = self.store.list_stores(&project, &page).await?;
        let now = time::now_secs();
        let data: Vec<pb::VectorStore> =
            self.store.views(result.data).await?.into_iter().map(|v| convert::store(v, now)).collect();
        Ok(Response::new(pb::ListVectorStoresResponse {
            first_id: data.first().map(|s| s.id.clone()),
            last_id: data.last().map(|s| s.id.clone()),
            has_more: result.has_more,
            data,
        }))
    }

    async fn get_vector_store(
        &self,
        request: Request<pb::GetVectorStoreRequest>,
    ) -> Result<Response<pb::VectorStore>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().vector_store_id;
        let s = self.store.get_store(&project, &id).await?.ok_or_else(|| not_found(&id))?;
        Ok(Response::new(convert::store(self.store.view(s).await?, time::now_secs())))
    }

    async fn modify_vector_store(
        &self,
        request: Request<pb::ModifyVectorStoreRequest>,
    ) -> Result<Response<pb::VectorStore>, Status> {
        let project = Project::of(&request)?;
        let pb::ModifyVectorStoreRequest { vector_store_id, name, expires_after, metadata: m, update_mask } =
            request.into_inner();
        let paths = update_mask.map(|m| m.paths).unwrap_or_default();
        let named = |p: &str| paths.iter().any(|x| x == p);
        let mut s =
            self.store.get_store(&project, &vector_store_id).await?.ok_or_else(|| not_found(&vector_store_id))?;
        if name.is_some() || named("name") {
            s.name = name;
        }
        if expires_after.is_some() || named("expires_after") {
            s.expires_after_days = expires_after.as_ref().map(request::expiry_days).transpose()?;
            s.expires_at = VectorStore::expiry(s.expires_after_days, s.last_active_at);
        }
        if m.is_some() || named("metadata") {
            let meta = m.map(|m| m.entries.into_iter().collect()).unwrap_or_default();
            metadata::validate("metadata", &meta)?;
            s.metadata = meta;
        }
        self.store.update_store(&project, &s).await?;
        Ok(Response::new(convert::store(self.store.view(s).await?, time::now_secs())))
    }

    async fn delete_vector_store(
        &self,
        request: Request<pb::DeleteVectorStoreRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let id = request.into_inner().vector_store_id;
        if !self.store.delete_store(&project, &id).await? {
            return Err(not_found(&id));
        }
        // Workers indexing its files lose their leases and clean up after themselves;
        // this removes everything already indexed.
        self.searcher.index().delete_store(project.id(), &id).await.map_err(index_error)?;
        Ok(Response::new(pb::DeleteResponse { id, deleted: true }))
    }

    async fn create_vector_store_file(
        &self,
        request: Request<pb::CreateVectorStoreFileRequest>,
    ) -> Result<Response<pb::VectorStoreFile>, Status> {
        let project = Project::of(&request)?;
        let caller = Caller::of(project.clone(), request.metadata());
        let pb::CreateVectorStoreFileRequest { vector_store_id, file } = request.into_inner();
        let file = file.unwrap_or_default();
        if file.file_id.is_empty() {
            return Err(ServiceError::invalid("file_id", "Missing required parameter: 'file_id'.").into());
        }
        let chunking = request::chunking("chunking_strategy", file.chunking_strategy)?;
        let attributes = request::attributes("attributes", file.attributes)?;
        self.usable(&project, &vector_store_id).await?;
        self.check_files(&caller, std::slice::from_ref(&file.file_id)).await?;
        let files = Self::new_files(&vector_store_id, None, vec![(file.file_id, chunking, attributes)]);
        self.store.attach(&project, None, &files).await?;
        self.ingestor.wake();
        Ok(Response::new(convert::file(files.into_iter().next().expect("one file"))))
    }

    async fn list_vector_store_files(
        &self,
        request: Request<pb::ListVectorStoreFilesRequest>,
    ) -> Result<Response<pb::ListVectorStoreFilesResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListVectorStoreFilesRequest { vector_store_id, page, filter } = request.into_inner();
        self.store.get_store(&project, &vector_store_id).await?.ok_or_else(|| not_found(&vector_store_id))?;
        Ok(Response::new(self.list_page(&project, &vector_store_id, None, filter, page).await?))
    }

    async fn get_vector_store_file(
        &self,
        request: Request<pb::GetVectorStoreFileRequest>,
    ) -> Result<Response<pb::VectorStoreFile>, Status> {
        let project = Project::of(&request)?;
        let pb::GetVectorStoreFileRequest { vector_store_id, file_id } = request.into_inner();
        let f = self.file(&project, &vector_store_id, &file_id).await?;
        Ok(Response::new(convert::file(f)))
    }

    async fn delete_vector_store_file(
        &self,
        request: Request<pb::DeleteVectorStoreFileRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::DeleteVectorStoreFileRequest { vector_store_id, file_id } = request.into_inner();
        if !self.store.delete_file(&project, &vector_store_id, &file_id).await? {
            return Err(file_not_found(&vector_store_id, &file_id));
        }
        self.searcher.index().delete_file(project.id(), &vector_store_id, &file_id).await.map_err(index_error)?;
        Ok(Response::new(pb::DeleteResponse { id: file_id, deleted: true }))
    }

    async fn update_vector_store_file_attributes(
        &self,
        request: Request<pb::UpdateVectorStoreFileAttributesRequest>,
    ) -> Result<Response<pb::VectorStoreFile>, Status> {
        let project = Project::of(&request)?;
        let pb::UpdateVectorStoreFileAttributesRequest { vector_store_id, file_id, attributes } = request.into_inner();
        let attributes = request::attributes("attributes", attributes)?;
        let mut f = self.file(&project, &vector_store_id, &file_id).await?;
        f.attributes = attributes;
        self.store.set_attributes(&project, &f).await?;
        self.searcher
            .index()
            .set_attributes(project.id(), &vector_store_id, &file_id, &f.attributes)
            .await
            .map_err(index_error)?;
        Ok(Response::new(convert::file(f)))
    }

    async fn get_vector_store_file_content(
        &self,
        request: Request<pb::GetVectorStoreFileContentRequest>,
    ) -> Result<Response<pb::VectorStoreFileContentResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::GetVectorStoreFileContentRequest { vector_store_id, file_id } = request.into_inner();
        self.file(&project, &vector_store_id, &file_id).await?;
        let text = self.store.content(&project, &vector_store_id, &file_id).await?;
        let data = text.into_iter().map(|text| pb::VectorStoreContent { text }).collect();
        Ok(Response::new(pb::VectorStoreFileContentResponse { data, has_more: false, next_page: None }))
    }

    async fn create_file_batch(
        &self,
        request: Request<pb::CreateFileBatchRequest>,
    ) -> Result<Response<pb::VectorStoreFileBatch>, Status> {
        let project = Project::of(&request)?;
        let caller = Caller::of(project.clone(), request.metadata());
        let pb::CreateFileBatchRequest { vector_store_id, file_ids, files, attributes, chunking_strategy } =
            request.into_inner();
        let specs = match (file_ids.is_empty(), files.is_empty()) {
            (false, true) => {
                let ids = request::file_ids("file_ids", file_ids, 1, MAX_BATCH_FILES)?;
                let chunking = request::chunking("chunking_strategy", chunking_strategy)?;
                let attributes = request::attributes("attributes", attributes)?;
                ids.into_iter().map(|id| (id, chunking, attributes.clone())).collect::<Vec<_>>()
            }
            (true, false) => {
                if files.len() > MAX_BATCH_FILES {
                    return Err(ServiceError::invalid(
                        "files",
                        format!("Invalid 'files': at most {MAX_BATCH_FILES} files, but got {}.", files.len()),
                    )
                    .into());
                }
                let mut seen = std::collections::HashSet::new();
                let mut out = Vec::new();
                for (i, f) in files.into_iter().enumerate() {
                    if f.file_id.is_empty() {
                        return Err(ServiceError::invalid(
                            format!("files[{i}].file_id"),
                            format!("Missing required parameter: 'files[{i}].file_id'."),
                        )
                        .into());
                    }
                    let chunking = request::chunking(&format!("files[{i}].chunking_strategy"), f.chunking_strategy)?;
                    let attributes = request::attributes(&format!("files[{i}].attributes"), f.attributes)?;
                    if seen.insert(f.file_id.clone()) {
                        out.push((f.file_id, chunking, attributes));
                    }
                }
                out
            }
            (true, true) => {
                return Err(
                    ServiceError::invalid("file_ids", "Missing required parameter: 'file_ids' or 'files'.").into()
                );
            }
            (false, false) => {
                return Err(ServiceError::invalid("files", "Give either 'file_ids' or 'files', not both.").into());
            }
        };
        self.usable(&project, &vector_store_id).await?;
        let ids: Vec<String> = specs.iter().map(|(id, _, _)| id.clone()).collect();
        self.check_files(&caller, &ids).await?;
        let batch = FileBatch {
            id: FileBatchId::generate().into_string(),
            vector_store_id: vector_store_id.clone(),
            created_at: time::now_secs(),
            cancelled: false,
        };
        let files = Self::new_files(&vector_store_id, Some(&batch.id), specs);
        self.store.attach(&project, Some(&batch), &files).await?;
        self.ingestor.wake();
        // Counted after the insert, so `file_counts` is right from this response on.
        let view = self
            .store
            .get_batch(&project, &vector_store_id, &batch.id)
            .await?
            .ok_or_else(|| ServiceError::internal("file batch", "the batch just written is missing"))?;
        Ok(Response::new(convert::batch(view)))
    }

    async fn get_file_batch(
        &self,
        request: Request<pb::GetFileBatchRequest>,
    ) -> Result<Response<pb::VectorStoreFileBatch>, Status> {
        let project = Project::of(&request)?;
        let pb::GetFileBatchRequest { vector_store_id, batch_id } = request.into_inner();
        let view = self.batch(&project, &vector_store_id, &batch_id).await?;
        Ok(Response::new(convert::batch(view)))
    }

    async fn cancel_file_batch(
        &self,
        request: Request<pb::CancelFileBatchRequest>,
    ) -> Result<Response<pb::VectorStoreFileBatch>, Status> {
        let project = Project::of(&request)?;
        let pb::CancelFileBatchRequest { vector_store_id, batch_id } = request.into_inner();
        let view = self.batch(&project, &vector_store_id, &batch_id).await?;
        let status = view.status();
        if status != FileStatus::InProgress {
            return Err(ServiceError::precondition(format!(
                "Cannot cancel file batch {batch_id} with status {}.",
                status.as_str()
            ))
            .into());
        }
        self.store.cancel_batch(&project, &vector_store_id, &batch_id).await?;
        let view = self.batch(&project, &vector_store_id, &batch_id).await?;
        Ok(Response::new(convert::batch(view)))
    }

    async fn list_file_batch_files(
        &self,
        request: Request<pb::ListFileBatchFilesRequest>,
    ) -> Result<Response<pb::ListVectorStoreFilesResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListFileBatchFilesRequest { vector_store_id, batch_id, page, filter } = request.into_inner();
        self.batch(&project, &vector_store_id, &batch_id).await?;
        Ok(Response::new(self.list_page(&project, &vector_store_id, Some(&batch_id), filter, page).await?))
    }

    async fn search_vector_store(
        &self,
        request: Request<pb::SearchVectorStoreRequest>,
    ) -> Result<Response<pb::SearchVectorStoreResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::SearchVectorStoreRequest {
            vector_store_id,
            query,
            filters,
            max_num_results,
            ranking_options,
            rewrite_query,
        } = request.into_inner();
        let opts = request::search_options(query, max_num_results, ranking_options, rewrite_query)?;
        let filter = filters.map(|f| request::filter("filters", f)).transpose()?;
        let store = self.usable(&project, &vector_store_id).await?;
        let queries: Vec<String> =
            if opts.rewrite { opts.queries.iter().map(|q| rewrite(q)).collect() } else { opts.queries.clone() };
        let params = SearchParams {
            project: project.id().to_owned(),
            vector_store_ids: vec![vector_store_id.clone()],
            queries: queries.clone(),
            filter,
            max_results: opts.max_results,
            score_threshold: opts.score_threshold,
        };
        let found = self.searcher.search(&params).await.map_err(index_error)?;
        self.touch(&project, store).await?;
        let file_ids: Vec<String> = found.iter().map(|f| f.file_id.clone()).collect();
        let names = self.store.filenames(std::slice::from_ref(&vector_store_id), &file_ids).await?;
        let data = found
            .into_iter()
            .map(|f| {
                let name = names.get(&f.file_id).cloned().unwrap_or_default();
                convert::found(f, name)
            })
            .collect();
        Ok(Response::new(pb::SearchVectorStoreResponse {
            search_query: queries,
            data,
            has_more: false,
            next_page: None,
        }))
    }
}

fn index_error(e: crate::index::IndexError) -> Status {
    match e {
        crate::index::IndexError::Invalid(m) => ServiceError::internal("vector index", m).into(),
        crate::index::IndexError::Unavailable(m) => ServiceError::new(
            assistd_common::error::ErrorKind::Unavailable,
            format!("The vector index is unavailable: {m}"),
        )
        .into(),
    }
}

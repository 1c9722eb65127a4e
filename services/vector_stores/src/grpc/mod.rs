//! The tonic implementation of `VectorStoreService`: thin handlers that turn the
//! request into checked domain values (`request.rs`), call the operation
//! (`crate::ops`), and convert its answer (`convert.rs`).

pub mod convert;
pub mod request;

#[cfg(test)]
mod tests;

use assistd_common::caller::Caller;
use assistd_common::ids::{FileId, VectorStoreId};
use assistd_common::page::PageRequest;
use assistd_common::{Project, ServiceResult, time};
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::ops::VectorStores;
use crate::search::Searcher;

/// The gRPC face of the vector stores service, over its operations.
#[derive(Clone)]
pub struct VectorStoresService {
    ops: VectorStores,
}

impl VectorStoresService {
    /// A service calling `ops`.
    pub fn new(ops: VectorStores) -> Self {
        Self { ops }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::vector_store_service_server::VectorStoreServiceServer<Self> {
        pb::vector_store_service_server::VectorStoreServiceServer::new(self)
    }

    /// The searcher (its index answers `/readyz`).
    pub fn searcher(&self) -> &Searcher {
        self.ops.searcher()
    }
}

fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    Ok(Caller::of(Project::of(request)?, request.metadata()))
}

/// The page of a list of files, as the operation takes it (see
/// [`VectorStores::list_files`]).
fn files_page(page: Option<pb::ListParams>) -> ServiceResult<PageRequest> {
    PageRequest::from_pb(page, 20, 100)?.cursors_of::<FileId>()
}

#[tonic::async_trait]
impl pb::vector_store_service_server::VectorStoreService for VectorStoresService {
    async fn create_vector_store(
        &self,
        request: Request<pb::CreateVectorStoreRequest>,
    ) -> Result<Response<pb::VectorStore>, Status> {
        let caller = caller(&request)?;
        let new = request::new_store(request.into_inner())?;
        let view = self.ops.create_store(&caller, new).await?;
        Ok(Response::new(convert::store(view, time::now_secs())))
    }

    async fn list_vector_stores(
        &self,
        request: Request<pb::ListVectorStoresRequest>,
    ) -> Result<Response<pb::ListVectorStoresResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListVectorStoresRequest { page } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<VectorStoreId>()?;
        let result = self.ops.list_stores(&project, &page).await?;
        Ok(Response::new(convert::stores_page(result, time::now_secs())))
    }

    async fn get_vector_store(
        &self,
        request: Request<pb::GetVectorStoreRequest>,
    ) -> Result<Response<pb::VectorStore>, Status> {
        let project = Project::of(&request)?;
        let pb::GetVectorStoreRequest { vector_store_id } = request.into_inner();
        let view = self.ops.get_store(&project, &vector_store_id).await?;
        Ok(Response::new(convert::store(view, time::now_secs())))
    }

    async fn modify_vector_store(
        &self,
        request: Request<pb::ModifyVectorStoreRequest>,
    ) -> Result<Response<pb::VectorStore>, Status> {
        let project = Project::of(&request)?;
        let pb::ModifyVectorStoreRequest { vector_store_id, name, expires_after, metadata, update_mask } =
            request.into_inner();
        let update = request::store_update(name, expires_after, metadata, update_mask);
        let view = self.ops.modify_store(&project, &vector_store_id, update).await?;
        Ok(Response::new(convert::store(view, time::now_secs())))
    }

    async fn delete_vector_store(
        &self,
        request: Request<pb::DeleteVectorStoreRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::DeleteVectorStoreRequest { vector_store_id } = request.into_inner();
        self.ops.delete_store(&project, &vector_store_id).await?;
        Ok(Response::new(pb::DeleteResponse { id: vector_store_id, deleted: true }))
    }

    async fn create_vector_store_file(
        &self,
        request: Request<pb::CreateVectorStoreFileRequest>,
    ) -> Result<Response<pb::VectorStoreFile>, Status> {
        let caller = caller(&request)?;
        let pb::CreateVectorStoreFileRequest { vector_store_id, file } = request.into_inner();
        let new = request::new_file("", file.unwrap_or_default())?;
        let file = self.ops.attach_file(&caller, &vector_store_id, new).await?;
        Ok(Response::new(convert::file(file)))
    }

    async fn list_vector_store_files(
        &self,
        request: Request<pb::ListVectorStoreFilesRequest>,
    ) -> Result<Response<pb::ListVectorStoreFilesResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListVectorStoreFilesRequest { vector_store_id, page, filter } = request.into_inner();
        let status = convert::status_filter(filter);
        let result = self.ops.list_files(&project, &vector_store_id, status, files_page(page)).await?;
        Ok(Response::new(convert::files_page(result)))
    }

    async fn get_vector_store_file(
        &self,
        request: Request<pb::GetVectorStoreFileRequest>,
    ) -> Result<Response<pb::VectorStoreFile>, Status> {
        let project = Project::of(&request)?;
        let pb::GetVectorStoreFileRequest { vector_store_id, file_id } = request.into_inner();
        Ok(Response::new(convert::file(self.ops.get_file(&project, &vector_store_id, &file_id).await?)))
    }

    async fn delete_vector_store_file(
        &self,
        request: Request<pb::DeleteVectorStoreFileRequest>,
    ) -> Result<Response<pb::DeleteResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::DeleteVectorStoreFileRequest { vector_store_id, file_id } = request.into_inner();
        self.ops.detach_file(&project, &vector_store_id, &file_id).await?;
        Ok(Response::new(pb::DeleteResponse { id: file_id, deleted: true }))
    }

    async fn update_vector_store_file_attributes(
        &self,
        request: Request<pb::UpdateVectorStoreFileAttributesRequest>,
    ) -> Result<Response<pb::VectorStoreFile>, Status> {
        let project = Project::of(&request)?;
        let pb::UpdateVectorStoreFileAttributesRequest { vector_store_id, file_id, attributes } = request.into_inner();
        let attributes = request::attributes("attributes", attributes)?;
        let file = self.ops.set_attributes(&project, &vector_store_id, &file_id, attributes).await?;
        Ok(Response::new(convert::file(file)))
    }

    async fn get_vector_store_file_content(
        &self,
        request: Request<pb::GetVectorStoreFileContentRequest>,
    ) -> Result<Response<pb::VectorStoreFileContentResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::GetVectorStoreFileContentRequest { vector_store_id, file_id } = request.into_inner();
        let text = self.ops.file_content(&project, &vector_store_id, &file_id).await?;
        let data = text.into_iter().map(|text| pb::VectorStoreContent { text }).collect();
        Ok(Response::new(pb::VectorStoreFileContentResponse { data, has_more: false, next_page: None }))
    }

    async fn create_file_batch(
        &self,
        request: Request<pb::CreateFileBatchRequest>,
    ) -> Result<Response<pb::VectorStoreFileBatch>, Status> {
        let caller = caller(&request)?;
        let pb::CreateFileBatchRequest { vector_store_id, file_ids, files, attributes, chunking_strategy } =
            request.into_inner();
        let files = request::batch_files(file_ids, files, attributes, chunking_strategy)?;
        let view = self.ops.create_batch(&caller, &vector_store_id, files).await?;
        Ok(Response::new(convert::batch(view)))
    }

    async fn get_file_batch(
        &self,
        request: Request<pb::GetFileBatchRequest>,
    ) -> Result<Response<pb::VectorStoreFileBatch>, Status> {
        let project = Project::of(&request)?;
        let pb::GetFileBatchRequest { vector_store_id, batch_id } = request.into_inner();
        Ok(Response::new(convert::batch(self.ops.get_batch(&project, &vector_store_id, &batch_id).await?)))
    }

    async fn cancel_file_batch(
        &self,
        request: Request<pb::CancelFileBatchRequest>,
    ) -> Result<Response<pb::VectorStoreFileBatch>, Status> {
        let project = Project::of(&request)?;
        let pb::CancelFileBatchRequest { vector_store_id, batch_id } = request.into_inner();
        Ok(Response::new(convert::batch(self.ops.cancel_batch(&project, &vector_store_id, &batch_id).await?)))
    }

    async fn list_file_batch_files(
        &self,
        request: Request<pb::ListFileBatchFilesRequest>,
    ) -> Result<Response<pb::ListVectorStoreFilesResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListFileBatchFilesRequest { vector_store_id, batch_id, page, filter } = request.into_inner();
        let status = convert::status_filter(filter);
        let result = self.ops.list_batch_files(&project, &vector_store_id, &batch_id, status, files_page(page)).await?;
        Ok(Response::new(convert::files_page(result)))
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
        let options = request::search_options(query, max_num_results, ranking_options, rewrite_query)?;
        let filter = filters.map(|f| request::filter("filters", f)).transpose()?;
        let results = self.ops.search(&project, &vector_store_id, options, filter).await?;
        Ok(Response::new(convert::search_results(results)))
    }
}

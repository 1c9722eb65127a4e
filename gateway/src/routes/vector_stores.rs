//! `/v1/vector_stores…` ↔ `VectorStoreService`.
//!
//! Vector stores belong to a later issue: `VectorStoreService` answers UNIMPLEMENTED
//! for now, and these routes pass that on as a 501 in OpenAI's format. Each route
//! calls its own rpc, so the service is the only place that decides.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::Value;

use super::{grpc_request, not_converted, path_param as param, status_error};
use crate::Upstreams;
use crate::errors::ApiResult;
use assistd_proto::pb;

type Params = Path<HashMap<String, String>>;

macro_rules! vs_route {
    ($(#[$doc:meta])* $name:ident, $rpc:ident, $what:literal, |$p:ident| $req:expr) => {
        $(#[$doc])*
        pub async fn $name(State(up): State<Upstreams>, headers: HeaderMap, $p: Option<Params>) -> ApiResult<Json<Value>> {
            let $p = $p.map(|Path(p)| p).unwrap_or_default();
            let req = $req;
            up.vector_stores().$rpc(grpc_request(&headers, req)).await.map_err(status_error($what))?;
            Err(not_converted($what))
        }
    };
}

vs_route!(/// POST /v1/vector_stores
    create, create_vector_store, "POST /v1/vector_stores", |_p| pb::CreateVectorStoreRequest::default());
vs_route!(/// GET /v1/vector_stores
    list, list_vector_stores, "GET /v1/vector_stores", |_p| pb::ListVectorStoresRequest::default());
vs_route!(/// GET /v1/vector_stores/{vector_store_id}
    retrieve, get_vector_store, "GET /v1/vector_stores/{vector_store_id}", |p| pb::GetVectorStoreRequest { vector_store_id: param(&p, "vector_store_id") });
vs_route!(/// POST /v1/vector_stores/{vector_store_id}
    modify, modify_vector_store, "POST /v1/vector_stores/{vector_store_id}", |p| pb::ModifyVectorStoreRequest { vector_store_id: param(&p, "vector_store_id"), ..Default::default() });
vs_route!(/// DELETE /v1/vector_stores/{vector_store_id}
    delete, delete_vector_store, "DELETE /v1/vector_stores/{vector_store_id}", |p| pb::DeleteVectorStoreRequest { vector_store_id: param(&p, "vector_store_id") });
vs_route!(/// POST /v1/vector_stores/{vector_store_id}/search
    search, search_vector_store, "POST /v1/vector_stores/{vector_store_id}/search", |p| pb::SearchVectorStoreRequest { vector_store_id: param(&p, "vector_store_id"), ..Default::default() });
vs_route!(/// POST /v1/vector_stores/{vector_store_id}/files
    create_file, create_vector_store_file, "POST /v1/vector_stores/{vector_store_id}/files", |p| pb::CreateVectorStoreFileRequest { vector_store_id: param(&p, "vector_store_id"), ..Default::default() });
vs_route!(/// GET /v1/vector_stores/{vector_store_id}/files
    list_files, list_vector_store_files, "GET /v1/vector_stores/{vector_store_id}/files", |p| pb::ListVectorStoreFilesRequest { vector_store_id: param(&p, "vector_store_id"), ..Default::default() });
vs_route!(/// GET /v1/vector_stores/{vector_store_id}/files/{file_id}
    retrieve_file, get_vector_store_file, "GET /v1/vector_stores/{vector_store_id}/files/{file_id}", |p| pb::GetVectorStoreFileRequest { vector_store_id: param(&p, "vector_store_id"), file_id: param(&p, "file_id") });
vs_route!(/// POST /v1/vector_stores/{vector_store_id}/files/{file_id}
    update_file, update_vector_store_file_attributes, "POST /v1/vector_stores/{vector_store_id}/files/{file_id}", |p| pb::UpdateVectorStoreFileAttributesRequest { vector_store_id: param(&p, "vector_store_id"), file_id: param(&p, "file_id"), ..Default::default() });
vs_route!(/// DELETE /v1/vector_stores/{vector_store_id}/files/{file_id}
    delete_file, delete_vector_store_file, "DELETE /v1/vector_stores/{vector_store_id}/files/{file_id}", |p| pb::DeleteVectorStoreFileRequest { vector_store_id: param(&p, "vector_store_id"), file_id: param(&p, "file_id") });
vs_route!(/// GET /v1/vector_stores/{vector_store_id}/files/{file_id}/content
    file_content, get_vector_store_file_content, "GET /v1/vector_stores/{vector_store_id}/files/{file_id}/content", |p| pb::GetVectorStoreFileContentRequest { vector_store_id: param(&p, "vector_store_id"), file_id: param(&p, "file_id") });
vs_route!(/// POST /v1/vector_stores/{vector_store_id}/file_batches
    create_batch, create_file_batch, "POST /v1/vector_stores/{vector_store_id}/file_batches", |p| pb::CreateFileBatchRequest { vector_store_id: param(&p, "vector_store_id"), ..Default::default() });
vs_route!(/// GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}
    retrieve_batch, get_file_batch, "GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}", |p| pb::GetFileBatchRequest { vector_store_id: param(&p, "vector_store_id"), batch_id: param(&p, "batch_id") });
vs_route!(/// POST /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel
    cancel_batch, cancel_file_batch, "POST /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel", |p| pb::CancelFileBatchRequest { vector_store_id: param(&p, "vector_store_id"), batch_id: param(&p, "batch_id") });
vs_route!(/// GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/files
    list_batch_files, list_file_batch_files, "GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/files", |p| pb::ListFileBatchFilesRequest { vector_store_id: param(&p, "vector_store_id"), batch_id: param(&p, "batch_id"), ..Default::default() });

//! `/v1/vector_stores…` ↔ `VectorStoreService`: stores, their files and file
//! batches, search and parsed file content.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{grpc_request, status_error};
use crate::errors::ApiResult;
use crate::extract::{JsonBody, ListQuery};
use crate::openai::common::{DeletedOut, ListOut};
use crate::openai::vector_stores::{
    CreateFileBatchIn, CreateVectorStoreFileIn, CreateVectorStoreIn, FileContentPageOut, ModifyVectorStoreIn, SearchIn,
    SearchPageOut, UpdateVectorStoreFileAttributesIn, VectorStoreFileBatchOut, VectorStoreFileOut, VectorStoreOut,
    file_status_filter,
};
use crate::{Upstreams, poll};
use assistd_proto::pb;

/// POST /v1/vector_stores
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateVectorStoreIn>,
) -> ApiResult<Json<VectorStoreOut>> {
    let req = body.into_pb();
    let s = up
        .vector_stores()
        .create_vector_store(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/vector_stores"))?;
    Ok(Json(s.into_inner().into()))
}

/// GET /v1/vector_stores
pub async fn list(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    q: ListQuery,
) -> ApiResult<Json<ListOut<VectorStoreOut>>> {
    let req = pb::ListVectorStoresRequest { page: Some(q.page) };
    let r = up
        .vector_stores()
        .list_vector_stores(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/vector_stores"))?
        .into_inner();
    Ok(Json(ListOut::new(r.data.into_iter().map(VectorStoreOut::from).collect(), r.first_id, r.last_id, r.has_more)))
}

/// GET /v1/vector_stores/{vector_store_id}
pub async fn retrieve(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(vector_store_id): Path<String>,
) -> ApiResult<Json<VectorStoreOut>> {
    let req = pb::GetVectorStoreRequest { vector_store_id };
    let s = up
        .vector_stores()
        .get_vector_store(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/vector_stores/{vector_store_id}"))?;
    Ok(Json(s.into_inner().into()))
}

/// POST /v1/vector_stores/{vector_store_id}
pub async fn modify(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(vector_store_id): Path<String>,
    JsonBody(body): JsonBody<ModifyVectorStoreIn>,
) -> ApiResult<Json<VectorStoreOut>> {
    let req = body.into_pb(vector_store_id);
    let s = up
        .vector_stores()
        .modify_vector_store(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/vector_stores/{vector_store_id}"))?;
    Ok(Json(s.into_inner().into()))
}

/// DELETE /v1/vector_stores/{vector_store_id}
pub async fn delete(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(vector_store_id): Path<String>,
) -> ApiResult<Json<DeletedOut>> {
    let req = pb::DeleteVectorStoreRequest { vector_store_id };
    let r = up
        .vector_stores()
        .delete_vector_store(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/vector_stores/{vector_store_id}"))?;
    Ok(Json(DeletedOut::new(r.into_inner(), "vector_store.deleted")))
}

/// POST /v1/vector_stores/{vector_store_id}/search
pub async fn search(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(vector_store_id): Path<String>,
    JsonBody(body): JsonBody<SearchIn>,
) -> ApiResult<Json<SearchPageOut>> {
    let req = body.into_pb(vector_store_id)?;
    let r = up
        .vector_stores()
        .search_vector_store(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/vector_stores/{vector_store_id}/search"))?;
    Ok(Json(r.into_inner().into()))
}

/// POST /v1/vector_stores/{vector_store_id}/files
pub async fn create_file(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(vector_store_id): Path<String>,
    JsonBody(body): JsonBody<CreateVectorStoreFileIn>,
) -> ApiResult<Json<VectorStoreFileOut>> {
    let req = pb::CreateVectorStoreFileRequest { vector_store_id, file: Some(body.into_pb()) };
    let f = up
        .vector_stores()
        .create_vector_store_file(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/vector_stores/{vector_store_id}/files"))?;
    Ok(Json(f.into_inner().into()))
}

/// GET /v1/vector_stores/{vector_store_id}/files
pub async fn list_files(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(vector_store_id): Path<String>,
    q: ListQuery,
) -> ApiResult<Json<ListOut<VectorStoreFileOut>>> {
    let filter = file_status_filter(q.get("filter"))?;
    let req = pb::ListVectorStoreFilesRequest { vector_store_id, page: Some(q.page), filter };
    let r = up
        .vector_stores()
        .list_vector_store_files(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/vector_stores/{vector_store_id}/files"))?
        .into_inner();
    Ok(Json(ListOut::new(
        r.data.into_iter().map(VectorStoreFileOut::from).collect(),
        r.first_id,
        r.last_id,
        r.has_more,
    )))
}

/// GET /v1/vector_stores/{vector_store_id}/files/{file_id}
pub async fn retrieve_file(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((vector_store_id, file_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let req = pb::GetVectorStoreFileRequest { vector_store_id, file_id };
    let f = up
        .vector_stores()
        .get_vector_store_file(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/vector_stores/{vector_store_id}/files/{file_id}"))?
        .into_inner();
    Ok(([poll::header(poll::indexing(f.status))], Json(VectorStoreFileOut::from(f))).into_response())
}

/// POST /v1/vector_stores/{vector_store_id}/files/{file_id}
pub async fn update_file(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((vector_store_id, file_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateVectorStoreFileAttributesIn>,
) -> ApiResult<Json<VectorStoreFileOut>> {
    let req = body.into_pb(vector_store_id, file_id);
    let f = up
        .vector_stores()
        .update_vector_store_file_attributes(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/vector_stores/{vector_store_id}/files/{file_id}"))?;
    Ok(Json(f.into_inner().into()))
}

/// DELETE /v1/vector_stores/{vector_store_id}/files/{file_id} (the file itself stays)
pub async fn delete_file(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((vector_store_id, file_id)): Path<(String, String)>,
) -> ApiResult<Json<DeletedOut>> {
    let req = pb::DeleteVectorStoreFileRequest { vector_store_id, file_id };
    let r = up
        .vector_stores()
        .delete_vector_store_file(grpc_request(&headers, req))
        .await
        .map_err(status_error("DELETE /v1/vector_stores/{vector_store_id}/files/{file_id}"))?;
    Ok(Json(DeletedOut::new(r.into_inner(), "vector_store.file.deleted")))
}

/// GET /v1/vector_stores/{vector_store_id}/files/{file_id}/content
pub async fn file_content(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((vector_store_id, file_id)): Path<(String, String)>,
) -> ApiResult<Json<FileContentPageOut>> {
    let req = pb::GetVectorStoreFileContentRequest { vector_store_id, file_id };
    let r = up
        .vector_stores()
        .get_vector_store_file_content(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/vector_stores/{vector_store_id}/files/{file_id}/content"))?;
    Ok(Json(r.into_inner().into()))
}

/// POST /v1/vector_stores/{vector_store_id}/file_batches
pub async fn create_batch(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(vector_store_id): Path<String>,
    JsonBody(body): JsonBody<CreateFileBatchIn>,
) -> ApiResult<Json<VectorStoreFileBatchOut>> {
    let req = body.into_pb(vector_store_id)?;
    let b = up
        .vector_stores()
        .create_file_batch(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/vector_stores/{vector_store_id}/file_batches"))?;
    Ok(Json(b.into_inner().into()))
}

/// GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}
pub async fn retrieve_batch(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((vector_store_id, batch_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let req = pb::GetFileBatchRequest { vector_store_id, batch_id };
    let b = up
        .vector_stores()
        .get_file_batch(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}"))?
        .into_inner();
    Ok(([poll::header(poll::indexing(b.status))], Json(VectorStoreFileBatchOut::from(b))).into_response())
}

/// POST /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel (the body,
/// if any, is ignored: clients send an empty one with `Content-Type: application/json`).
pub async fn cancel_batch(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((vector_store_id, batch_id)): Path<(String, String)>,
) -> ApiResult<Json<VectorStoreFileBatchOut>> {
    let req = pb::CancelFileBatchRequest { vector_store_id, batch_id };
    let b = up
        .vector_stores()
        .cancel_file_batch(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel"))?;
    Ok(Json(b.into_inner().into()))
}

/// GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/files
pub async fn list_batch_files(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((vector_store_id, batch_id)): Path<(String, String)>,
    q: ListQuery,
) -> ApiResult<Json<ListOut<VectorStoreFileOut>>> {
    let filter = file_status_filter(q.get("filter"))?;
    let req = pb::ListFileBatchFilesRequest { vector_store_id, batch_id, page: Some(q.page), filter };
    let r = up
        .vector_stores()
        .list_file_batch_files(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/files"))?
        .into_inner();
    Ok(Json(ListOut::new(
        r.data.into_iter().map(VectorStoreFileOut::from).collect(),
        r.first_id,
        r.last_id,
        r.has_more,
    )))
}

#[cfg(test)]
mod tests {
    use std::any::Any;
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tonic::{Response, Status};
    use tower::ServiceExt;

    use super::*;
    use crate::openai::vector_stores::tests::{
        BATCH_REQUIRED, CONTENT_PAGE_REQUIRED, DELETED_REQUIRED, FILE_REQUIRED, LIST_REQUIRED, SEARCH_PAGE_REQUIRED,
        STORE_REQUIRED, assert_schema,
    };

    /// A request as the service saw it: its authorization and its message.
    type Seen = (Option<String>, Box<dyn Any + Send>);

    /// A `VectorStoreService` that keeps each request and answers canned objects.
    #[derive(Clone, Default)]
    struct Fake {
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl Fake {
        /// Keeps a request (and the authorization it came with) and hands its message on.
        fn keep<T: Clone + Send + 'static>(&self, r: tonic::Request<T>) -> T {
            let auth = r.metadata().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let msg = r.into_inner();
            self.seen.lock().unwrap().push((auth, Box::new(msg.clone())));
            msg
        }

        /// The last request, which must be a `T`, and the authorization it came with.
        fn last<T: Clone + 'static>(&self) -> (T, Option<String>) {
            let seen = self.seen.lock().unwrap();
            let (auth, m) = seen.last().expect("no request reached the service");
            (m.downcast_ref::<T>().expect("another rpc was called").clone(), auth.clone())
        }

        fn calls(&self) -> usize {
            self.seen.lock().unwrap().len()
        }
    }

    fn store() -> pb::VectorStore {
        pb::VectorStore {
            id: "vs_1".into(),
            created_at: 1,
            name: "n".into(),
            status: pb::VectorStoreStatus::Completed as i32,
            file_counts: Some(pb::VectorStoreFileCounts { completed: 1, total: 1, ..Default::default() }),
            last_active_at: Some(2),
            ..Default::default()
        }
    }

    fn file() -> pb::VectorStoreFile {
        pb::VectorStoreFile {
            id: "file-1".into(),
            created_at: 1,
            vector_store_id: "vs_1".into(),
            status: pb::VectorStoreFileStatus::InProgress as i32,
            ..Default::default()
        }
    }

    fn batch() -> pb::VectorStoreFileBatch {
        pb::VectorStoreFileBatch {
            id: "vsfb_1".into(),
            created_at: 1,
            vector_store_id: "vs_1".into(),
            status: pb::VectorStoreFileStatus::InProgress as i32,
            file_counts: Some(pb::VectorStoreFileCounts { in_progress: 2, total: 2, ..Default::default() }),
        }
    }

    fn files_page() -> pb::ListVectorStoreFilesResponse {
        pb::ListVectorStoreFilesResponse {
            data: vec![file()],
            first_id: Some("file-1".into()),
            last_id: Some("file-1".into()),
            has_more: false,
        }
    }

    macro_rules! fake_service {
        ($($name:ident($req:ty) -> $res:ty = |$m:pat_param| $reply:expr;)*) => {
            #[tonic::async_trait]
            impl pb::vector_store_service_server::VectorStoreService for Fake {
                $(
                    async fn $name(&self, r: tonic::Request<$req>) -> Result<Response<$res>, Status> {
                        let $m = self.keep(r);
                        $reply.map(Response::new)
                    }
                )*
            }
        };
    }

    fake_service! {
        create_vector_store(pb::CreateVectorStoreRequest) -> pb::VectorStore = |_| Ok(store());
        list_vector_stores(pb::ListVectorStoresRequest) -> pb::ListVectorStoresResponse = |_| {
            Ok(pb::ListVectorStoresResponse {
                data: vec![store()],
                first_id: Some("vs_1".into()),
                last_id: Some("vs_1".into()),
                has_more: true,
            })
        };
        get_vector_store(pb::GetVectorStoreRequest) -> pb::VectorStore = |m| {
            if m.vector_store_id == "vs_gone" {
                Err(Status::not_found("No vector store found with id 'vs_gone'."))
            } else {
                Ok(store())
            }
        };
        modify_vector_store(pb::ModifyVectorStoreRequest) -> pb::VectorStore = |_| Ok(store());
        delete_vector_store(pb::DeleteVectorStoreRequest) -> pb::DeleteResponse = |m| {
            Ok(pb::DeleteResponse { id: m.vector_store_id, deleted: true })
        };
        create_vector_store_file(pb::CreateVectorStoreFileRequest) -> pb::VectorStoreFile = |_| Ok(file());
        list_vector_store_files(pb::ListVectorStoreFilesRequest) -> pb::ListVectorStoreFilesResponse = |_| {
            Ok(files_page())
        };
        get_vector_store_file(pb::GetVectorStoreFileRequest) -> pb::VectorStoreFile = |_| Ok(file());
        delete_vector_store_file(pb::DeleteVectorStoreFileRequest) -> pb::DeleteResponse = |m| {
            Ok(pb::DeleteResponse { id: m.file_id, deleted: true })
        };
        update_vector_store_file_attributes(pb::UpdateVectorStoreFileAttributesRequest) -> pb::VectorStoreFile = |_| {
            Ok(file())
        };
        get_vector_store_file_content(pb::GetVectorStoreFileContentRequest) -> pb::VectorStoreFileContentResponse =
            |_| {
                Ok(pb::VectorStoreFileContentResponse {
                    data: vec![pb::VectorStoreContent { text: "hello".into() }],
                    has_more: false,
                    next_page: None,
                })
            };
        create_file_batch(pb::CreateFileBatchRequest) -> pb::VectorStoreFileBatch = |_| Ok(batch());
        get_file_batch(pb::GetFileBatchRequest) -> pb::VectorStoreFileBatch = |_| Ok(batch());
        cancel_file_batch(pb::CancelFileBatchRequest) -> pb::VectorStoreFileBatch = |_| Ok(batch());
        list_file_batch_files(pb::ListFileBatchFilesRequest) -> pb::ListVectorStoreFilesResponse = |_| {
            Ok(files_page())
        };
        search_vector_store(pb::SearchVectorStoreRequest) -> pb::SearchVectorStoreResponse = |m| {
            Ok(pb::SearchVectorStoreResponse {
                search_query: m.query,
                data: vec![pb::VectorStoreSearchResult {
                    file_id: "file-1".into(),
                    filename: "a.txt".into(),
                    score: 0.5,
                    attributes: Default::default(),
                    content: vec![pb::VectorStoreContent { text: "hit".into() }],
                }],
                has_more: false,
                next_page: None,
            })
        };
    }

    fn app(fake: &Fake) -> axum::Router {
        let server = pb::vector_store_service_server::VectorStoreServiceServer::new(fake.clone());
        let ch = assistd_common::channel::in_process(tonic::service::Routes::new(server).into_axum_router());
        crate::router(Upstreams {
            assistants: ch.clone(),
            threads: ch.clone(),
            runs: ch.clone(),
            files: ch.clone(),
            vector_stores: ch,
            conversations: None,
            responses: None,
        })
    }

    async fn call(fake: &Fake, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Bearer sk-test")
            .header("content-type", "application/json")
            .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
            .unwrap();
        let res = app(fake).oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn stores() {
        let f = Fake::default();
        let (st, v) = call(
            &f,
            "POST",
            "/v1/vector_stores",
            Some(
                json!({"name": "n", "file_ids": ["file-1"], "expires_after": {"anchor": "last_active_at", "days": 2}}),
            ),
        )
        .await;
        assert_eq!((st, v["object"].as_str()), (StatusCode::OK, Some("vector_store")), "{v}");
        assert_schema(&v, "VectorStoreObject", STORE_REQUIRED);
        let (r, auth) = f.last::<pb::CreateVectorStoreRequest>();
        assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
        assert_eq!((r.name.as_deref(), r.file_ids), (Some("n"), vec!["file-1".to_owned()]));
        assert_eq!(r.expires_after.map(|e| e.days), Some(2));

        // An empty body creates a store with nothing set.
        let (st, _) = call(&f, "POST", "/v1/vector_stores", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(f.last::<pb::CreateVectorStoreRequest>().0, pb::CreateVectorStoreRequest::default());

        let (st, v) = call(&f, "GET", "/v1/vector_stores?limit=2&order=asc&after=vs_0", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!((v["object"].as_str(), v["has_more"].as_bool()), (Some("list"), Some(true)));
        assert_eq!(v["data"][0]["object"], "vector_store");
        assert_schema(&v, "ListVectorStoresResponse", LIST_REQUIRED);
        let page = f.last::<pb::ListVectorStoresRequest>().0.page.unwrap();
        assert_eq!((page.limit, page.order, page.after.as_deref()), (Some(2), pb::Order::Asc as i32, Some("vs_0")));

        let (st, v) = call(&f, "GET", "/v1/vector_stores/vs_1", None).await;
        assert_eq!((st, v["id"].as_str()), (StatusCode::OK, Some("vs_1")));
        assert_eq!(f.last::<pb::GetVectorStoreRequest>().0.vector_store_id, "vs_1");

        let (st, v) =
            call(&f, "POST", "/v1/vector_stores/vs_1", Some(json!({"name": null, "metadata": {"a": "b"}}))).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let r = f.last::<pb::ModifyVectorStoreRequest>().0;
        assert_eq!((r.vector_store_id.as_str(), r.name), ("vs_1", None));
        assert_eq!(r.update_mask.unwrap().paths, vec!["name", "metadata"]);

        let (st, v) = call(&f, "DELETE", "/v1/vector_stores/vs_1", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v, json!({"id": "vs_1", "object": "vector_store.deleted", "deleted": true}));
        assert_schema(&v, "DeleteVectorStoreResponse", DELETED_REQUIRED);
    }

    #[tokio::test]
    async fn files_batches_search_and_content() {
        let f = Fake::default();
        let (st, v) = call(
            &f,
            "POST",
            "/v1/vector_stores/vs_1/files",
            Some(json!({"file_id": "file-1", "attributes": {"year": 2020}})),
        )
        .await;
        assert_eq!((st, v["object"].as_str()), (StatusCode::OK, Some("vector_store.file")), "{v}");
        assert_schema(&v, "VectorStoreFileObject", FILE_REQUIRED);
        let r = f.last::<pb::CreateVectorStoreFileRequest>().0;
        assert_eq!((r.vector_store_id.as_str(), r.file.as_ref().map(|f| f.file_id.as_str())), ("vs_1", Some("file-1")));

        let (st, v) = call(&f, "GET", "/v1/vector_stores/vs_1/files?filter=completed&limit=5", None).await;
        assert_eq!((st, v["object"].as_str()), (StatusCode::OK, Some("list")));
        assert_eq!(v["data"][0]["object"], "vector_store.file");
        assert_schema(&v, "ListVectorStoreFilesResponse", LIST_REQUIRED);
        let r = f.last::<pb::ListVectorStoreFilesRequest>().0;
        assert_eq!(r.filter, Some(pb::VectorStoreFileStatus::Completed as i32));
        assert_eq!(r.page.and_then(|p| p.limit), Some(5));

        let (st, v) = call(&f, "GET", "/v1/vector_stores/vs_1/files/file-1", None).await;
        assert_eq!((st, v["last_error"].clone()), (StatusCode::OK, Value::Null));
        let r = f.last::<pb::GetVectorStoreFileRequest>().0;
        assert_eq!((r.vector_store_id.as_str(), r.file_id.as_str()), ("vs_1", "file-1"));

        let (st, _) =
            call(&f, "POST", "/v1/vector_stores/vs_1/files/file-1", Some(json!({"attributes": {"k": "v"}}))).await;
        assert_eq!(st, StatusCode::OK);
        let r = f.last::<pb::UpdateVectorStoreFileAttributesRequest>().0;
        assert_eq!((r.file_id.as_str(), r.attributes.len()), ("file-1", 1));

        let (st, v) = call(&f, "GET", "/v1/vector_stores/vs_1/files/file-1/content", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(
            v,
            json!({"object": "vector_store.file_content.page", "data": [{"type": "text", "text": "hello"}],
                   "has_more": false, "next_page": null})
        );
        assert_eq!(f.last::<pb::GetVectorStoreFileContentRequest>().0.file_id, "file-1");
        assert_schema(&v, "VectorStoreFileContentResponse", CONTENT_PAGE_REQUIRED);

        let (st, v) = call(&f, "DELETE", "/v1/vector_stores/vs_1/files/file-1", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v, json!({"id": "file-1", "object": "vector_store.file.deleted", "deleted": true}));
        assert_schema(&v, "DeleteVectorStoreFileResponse", DELETED_REQUIRED);
        assert_eq!(f.last::<pb::DeleteVectorStoreFileRequest>().0.vector_store_id, "vs_1");

        let (st, v) =
            call(&f, "POST", "/v1/vector_stores/vs_1/file_batches", Some(json!({"file_ids": ["file-1", "file-2"]})))
                .await;
        assert_eq!((st, v["object"].as_str()), (StatusCode::OK, Some("vector_store.files_batch")), "{v}");
        assert_eq!(v["file_counts"]["in_progress"], 2);
        assert_schema(&v, "VectorStoreFileBatchObject", BATCH_REQUIRED);
        assert_eq!(f.last::<pb::CreateFileBatchRequest>().0.file_ids.len(), 2);

        let (st, _) = call(&f, "GET", "/v1/vector_stores/vs_1/file_batches/vsfb_1", None).await;
        assert_eq!(st, StatusCode::OK);
        let r = f.last::<pb::GetFileBatchRequest>().0;
        assert_eq!((r.vector_store_id.as_str(), r.batch_id.as_str()), ("vs_1", "vsfb_1"));

        // The SDK sends an empty JSON body with cancel.
        let (st, _) = call(&f, "POST", "/v1/vector_stores/vs_1/file_batches/vsfb_1/cancel", None).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(f.last::<pb::CancelFileBatchRequest>().0.batch_id, "vsfb_1");

        let (st, v) =
            call(&f, "GET", "/v1/vector_stores/vs_1/file_batches/vsfb_1/files?filter=in_progress&order=desc", None)
                .await;
        assert_eq!((st, v["data"][0]["id"].as_str()), (StatusCode::OK, Some("file-1")));
        let r = f.last::<pb::ListFileBatchFilesRequest>().0;
        assert_eq!((r.batch_id.as_str(), r.filter), ("vsfb_1", Some(pb::VectorStoreFileStatus::InProgress as i32)));

        let (st, v) = call(
            &f,
            "POST",
            "/v1/vector_stores/vs_1/search",
            Some(json!({"query": "what", "filters": {"type": "or", "filters": [{"key": "a", "value": 1}]}})),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["object"], "vector_store.search_results.page");
        assert_eq!(v["search_query"], json!(["what"]));
        assert_schema(&v, "VectorStoreSearchResultsPage", SEARCH_PAGE_REQUIRED);
        assert_eq!(v["data"][0]["content"], json!([{"type": "text", "text": "hit"}]));
        let r = f.last::<pb::SearchVectorStoreRequest>().0;
        assert_eq!((r.vector_store_id.as_str(), r.query), ("vs_1", vec!["what".to_owned()]));
        assert!(r.filters.is_some());
    }

    #[tokio::test]
    async fn refusals_are_openai_errors() {
        let f = Fake::default();
        for (method, uri, body, param) in [
            ("POST", "/v1/vector_stores", Some(json!({"colour": "red"})), "colour"),
            ("POST", "/v1/vector_stores/vs_1", Some(json!({"file_ids": []})), "file_ids"),
            ("GET", "/v1/vector_stores/vs_1/files?filter=done", None, "filter"),
            ("GET", "/v1/vector_stores/vs_1/file_batches/vsfb_1/files?filter=all", None, "filter"),
            (
                "POST",
                "/v1/vector_stores/vs_1/files",
                Some(json!({"file_id": "f", "attributes": {"a": [1]}})),
                "attributes.a",
            ),
            ("POST", "/v1/vector_stores/vs_1/files/file-1", Some(json!({})), "attributes"),
            ("POST", "/v1/vector_stores/vs_1/file_batches", Some(json!({})), "file_ids"),
            ("POST", "/v1/vector_stores/vs_1/search", Some(json!({})), "query"),
            (
                "POST",
                "/v1/vector_stores/vs_1/search",
                Some(json!({"query": "q", "filters": {"type": "eq", "key": "a", "value": {}}})),
                "filters.value",
            ),
        ] {
            let (st, v) = call(&f, method, uri, body).await;
            assert_eq!(st, StatusCode::BAD_REQUEST, "{uri}: {v}");
            assert_eq!(v["error"]["param"], param, "{uri}: {v}");
            assert_eq!(v["error"]["type"], "invalid_request_error");
        }
        assert_eq!(f.calls(), 0, "refused requests must not reach the service");

        let (st, v) = call(&f, "GET", "/v1/vector_stores/vs_gone", None).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("vs_gone")), "{v}");
    }
}

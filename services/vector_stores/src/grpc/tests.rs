//! The vector stores service end to end inside one process: the real files service
//! on the same database (SQLite and, when configured, PostgreSQL), the ingestion
//! workers and the embedded qdrant-edge index (lexical: these tests are about the
//! service, the embedders have their own).

use std::sync::Arc;
use std::time::Duration;

use assistd_common::channel::{GrpcChannel, in_process};
use assistd_common::testing::{request, test_databases};
use assistd_proto::pb;
use assistd_proto::pb::file_service_client::FileServiceClient;
use assistd_proto::pb::vector_store_service_server::VectorStoreService;
use tokio_util::sync::CancellationToken;

use super::VectorStoresService;
use crate::index::VectorIndex;
use crate::index::edge::EdgeIndex;
use crate::ops::VectorStores;
use crate::peers::Files;
use crate::search::Searcher;
use crate::store::{Lease, Store};
use crate::worker::{IngestConfig, Ingestor};

const P: &str = "p";

struct World {
    svc: VectorStoresService,
    files: FileServiceClient<GrpcChannel>,
    index: Arc<EdgeIndex>,
    store: Store,
    ingestor: Ingestor,
    stop: CancellationToken,
    workers: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn cfg() -> IngestConfig {
    IngestConfig { lease: Duration::from_millis(900), poll: Duration::from_millis(50), ..IngestConfig::default() }
}

async fn world(url: &str, start_workers: bool) -> World {
    let db = assistd_common::db::connect(url).await.unwrap();
    for s in [assistd_migrations::Service::Files, assistd_migrations::Service::VectorStores] {
        assistd_migrations::up(&db, s).await.unwrap();
    }
    let files_svc = assistd_files::FilesService::new(assistd_files::Files::new(
        assistd_files::store::Store::new(db.clone()),
        assistd_files::blobs::Blobs::open("memory://").unwrap(),
    ));
    let channel = in_process(tonic::service::Routes::new(files_svc.into_server()).into_axum_router());
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(EdgeIndex::open(dir.path(), None).unwrap());
    let store = Store::new(db);
    let peer = Files::new(channel.clone());
    let ingestor = Ingestor::new(store.clone(), peer.clone(), index.clone(), None, cfg());
    let stop = CancellationToken::new();
    let workers = if start_workers { vec![ingestor.spawn(stop.clone())] } else { vec![] };
    let searcher = Searcher::new(index.clone(), None);
    let svc = VectorStoresService::new(VectorStores::new(store.clone(), peer, ingestor.clone(), searcher));
    World { svc, files: FileServiceClient::new(channel), index, store, ingestor, stop, workers, _dir: dir }
}

impl World {
    fn start_workers(&mut self) {
        self.workers.push(self.ingestor.spawn(self.stop.clone()));
    }

    /// Stops the workers before the index's directory goes.
    async fn close(self) {
        self.stop.cancel();
        for w in self.workers {
            w.await.unwrap();
        }
    }

    async fn upload(&self, project: &str, name: &str, bytes: &[u8]) -> String {
        let parts = vec![
            pb::UploadFileRequest {
                part: Some(pb::upload_file_request::Part::Header(pb::UploadFileHeader {
                    filename: name.into(),
                    purpose: "assistants".into(),
                    ..Default::default()
                })),
            },
            pb::UploadFileRequest { part: Some(pb::upload_file_request::Part::Chunk(bytes.to_vec())) },
        ];
        let req = request(project, tokio_stream::iter(parts));
        self.files.clone().upload_file(req).await.unwrap().into_inner().id
    }

    async fn create_store(&self, file_ids: Vec<String>) -> pb::VectorStore {
        let req = pb::CreateVectorStoreRequest { name: Some("docs".into()), file_ids, ..Default::default() };
        self.svc.create_vector_store(request(P, req)).await.unwrap().into_inner()
    }

    async fn add_file(&self, vs: &str, file_id: &str, attributes: serde_json::Value) -> pb::VectorStoreFile {
        let attributes = attributes
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), assistd_common::json::json_to_value(v)))
            .collect();
        let file = pb::NewVectorStoreFile { file_id: file_id.into(), chunking_strategy: None, attributes };
        let req = pb::CreateVectorStoreFileRequest { vector_store_id: vs.into(), file: Some(file) };
        self.svc.create_vector_store_file(request(P, req)).await.unwrap().into_inner()
    }

    /// The file once it is no longer in progress.
    async fn settled(&self, vs: &str, file_id: &str) -> pb::VectorStoreFile {
        for _ in 0..400 {
            let req = pb::GetVectorStoreFileRequest { vector_store_id: vs.into(), file_id: file_id.into() };
            let f = self.svc.get_vector_store_file(request(P, req)).await.unwrap().into_inner();
            if f.status != pb::VectorStoreFileStatus::InProgress as i32 {
                return f;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("file {file_id} still in progress");
    }

    async fn search(&self, vs: &str, q: &str, filters: Option<pb::SearchFilter>) -> Vec<pb::VectorStoreSearchResult> {
        let req = pb::SearchVectorStoreRequest {
            vector_store_id: vs.into(),
            query: vec![q.into()],
            filters,
            ..Default::default()
        };
        self.svc.search_vector_store(request(P, req)).await.unwrap().into_inner().data
    }
}

fn eq(key: &str, v: serde_json::Value) -> pb::SearchFilter {
    pb::SearchFilter {
        filter: Some(pb::search_filter::Filter::Comparison(pb::ComparisonFilter {
            key: key.into(),
            r#type: pb::ComparisonType::Eq as i32,
            value: Some(assistd_common::json::json_to_value(&v)),
        })),
    }
}

#[tokio::test]
async fn ingest_search_filter_and_delete() {
    for db in test_databases().await {
        let w = world(&db.url, true).await;
        let txt =
            w.upload(P, "otters.txt", b"Sea otters hold hands while they sleep so they do not drift apart.").await;
        let md = w
            .upload(P, "bees.md", b"# Bees\n\nHoneybees communicate the direction of flowers with a waggle dance.")
            .await;
        let odd = w.upload(P, "blob.xyz", b"whatever").await;
        let vs = w.create_store(vec![txt.clone(), md.clone(), odd.clone()]).await;
        assert_eq!(vs.file_counts.as_ref().unwrap().total, 3, "{}", db.backend);
        assert_eq!(vs.status, pb::VectorStoreStatus::InProgress as i32);

        assert_eq!(w.settled(&vs.id, &txt).await.status, pb::VectorStoreFileStatus::Completed as i32);
        assert_eq!(w.settled(&vs.id, &md).await.status, pb::VectorStoreFileStatus::Completed as i32);
        let failed = w.settled(&vs.id, &odd).await;
        assert_eq!(failed.status, pb::VectorStoreFileStatus::Failed as i32);
        assert_eq!(failed.last_error.unwrap().code, "unsupported_file");

        let got = w
            .svc
            .get_vector_store(request(P, pb::GetVectorStoreRequest { vector_store_id: vs.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        let counts = got.file_counts.unwrap();
        assert_eq!((counts.completed, counts.failed, counts.in_progress, counts.total), (2, 1, 0, 3));
        assert_eq!(got.status, pb::VectorStoreStatus::Completed as i32);
        assert!(got.usage_bytes > 100);

        let hits = w.search(&vs.id, "waggle dance", None).await;
        assert_eq!(hits[0].file_id, md, "{}", db.backend);
        assert_eq!(hits[0].filename, "bees.md");
        assert!(hits[0].content[0].text.contains("waggle dance"));
        assert!(hits[0].score > 0.0 && hits[0].score <= 1.0);

        // Attributes filter the search, and follow updates.
        let other = w.upload(P, "otters2.txt", b"Otters also use rocks as tools to crack shells.").await;
        w.add_file(&vs.id, &other, serde_json::json!({"topic": "tools", "year": 2024})).await;
        w.settled(&vs.id, &other).await;
        let hits = w.search(&vs.id, "otters", Some(eq("topic", serde_json::json!("tools")))).await;
        assert_eq!(hits.iter().map(|h| h.file_id.as_str()).collect::<Vec<_>>(), vec![other.as_str()]);
        assert_eq!(hits[0].attributes["year"], assistd_common::json::json_to_value(&serde_json::json!(2024)));
        let update = pb::UpdateVectorStoreFileAttributesRequest {
            vector_store_id: vs.id.clone(),
            file_id: other.clone(),
            attributes: [("topic".to_string(), assistd_common::json::json_to_value(&serde_json::json!("play")))]
                .into_iter()
                .collect(),
        };
        w.svc.update_vector_store_file_attributes(request(P, update)).await.unwrap();
        assert!(w.search(&vs.id, "otters", Some(eq("topic", serde_json::json!("tools")))).await.is_empty());
        assert_eq!(w.search(&vs.id, "otters", Some(eq("topic", serde_json::json!("play")))).await.len(), 1);

        // The parsed text.
        let content = w
            .svc
            .get_vector_store_file_content(request(
                P,
                pb::GetVectorStoreFileContentRequest { vector_store_id: vs.id.clone(), file_id: md.clone() },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(content.data[0].text.contains("Honeybees"));

        // Another project sees nothing.
        let req = pb::GetVectorStoreRequest { vector_store_id: vs.id.clone() };
        assert_eq!(w.svc.get_vector_store(request("q", req)).await.unwrap_err().code(), tonic::Code::NotFound);

        // Detaching removes the file's chunks; deleting the store removes the rest.
        let del = pb::DeleteVectorStoreFileRequest { vector_store_id: vs.id.clone(), file_id: md.clone() };
        w.svc.delete_vector_store_file(request(P, del)).await.unwrap();
        assert!(w.search(&vs.id, "waggle dance", None).await.iter().all(|h| h.file_id != md));
        assert_eq!(w.index.count(P, &vs.id, Some(&md)).await.unwrap(), 0);
        assert!(w.index.count(P, &vs.id, None).await.unwrap() > 0);
        let del = pb::DeleteVectorStoreRequest { vector_store_id: vs.id.clone() };
        w.svc.delete_vector_store(request(P, del)).await.unwrap();
        assert_eq!(w.index.count(P, &vs.id, None).await.unwrap(), 0);
        w.close().await;
    }
}

#[tokio::test]
async fn batches_count_from_the_start_and_cancel() {
    for db in test_databases().await {
        // No workers yet: the batch stays in progress until they start.
        let mut w = world(&db.url, false).await;
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(w.upload(P, &format!("f{i}.txt"), format!("document number {i}").as_bytes()).await);
        }
        let vs = w.create_store(vec![]).await;
        let req =
            pb::CreateFileBatchRequest { vector_store_id: vs.id.clone(), file_ids: ids.clone(), ..Default::default() };
        let batch = w.svc.create_file_batch(request(P, req)).await.unwrap().into_inner();
        let counts = batch.file_counts.unwrap();
        assert_eq!((counts.in_progress, counts.total), (3, 3), "{}", db.backend);
        assert_eq!(batch.status, pb::VectorStoreFileStatus::InProgress as i32);

        // Cancel: every file still waiting is cancelled and never indexed.
        let req = pb::CancelFileBatchRequest { vector_store_id: vs.id.clone(), batch_id: batch.id.clone() };
        let cancelled = w.svc.cancel_file_batch(request(P, req.clone())).await.unwrap().into_inner();
        assert_eq!(cancelled.status, pb::VectorStoreFileStatus::Cancelled as i32);
        assert_eq!(cancelled.file_counts.unwrap().cancelled, 3);
        assert!(w.svc.cancel_file_batch(request(P, req)).await.is_err(), "cancelling twice");

        // A second batch completes once workers run.
        w.start_workers();
        let req =
            pb::CreateFileBatchRequest { vector_store_id: vs.id.clone(), file_ids: ids.clone(), ..Default::default() };
        let batch = w.svc.create_file_batch(request(P, req)).await.unwrap().into_inner();
        let mut last = None;
        for _ in 0..400 {
            let req = pb::GetFileBatchRequest { vector_store_id: vs.id.clone(), batch_id: batch.id.clone() };
            let b = w.svc.get_file_batch(request(P, req)).await.unwrap().into_inner();
            if b.file_counts.as_ref().unwrap().in_progress == 0 {
                last = Some(b);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let b = last.expect("batch finished");
        assert_eq!(b.status, pb::VectorStoreFileStatus::Completed as i32);
        assert_eq!(b.file_counts.unwrap().completed, 3);
        let req = pb::ListFileBatchFilesRequest {
            vector_store_id: vs.id.clone(),
            batch_id: batch.id.clone(),
            page: None,
            filter: Some(pb::VectorStoreFileStatus::Completed as i32),
        };
        assert_eq!(w.svc.list_file_batch_files(request(P, req)).await.unwrap().into_inner().data.len(), 3);
        assert_eq!(w.search(&vs.id, "document number", None).await.len(), 3);
        w.close().await;
    }
}

#[tokio::test]
async fn attributes_set_while_a_file_is_indexed_reach_its_chunks() {
    for db in test_databases().await {
        let w = world(&db.url, false).await;
        let id = w.upload(P, "a.txt", b"The lighthouse keeper logs every passing ship.").await;
        let vs = w.create_store(vec![id.clone()]).await;
        // A worker takes the file (with its attributes as they are now)…
        let claimed = w.ingestor.claim_now().await;
        assert_eq!(claimed.len(), 1);
        // …a client sets new ones while it is indexed…
        let attributes = [("team".to_owned(), assistd_common::json::json_to_value(&serde_json::json!("blue")))];
        let req = pb::UpdateVectorStoreFileAttributesRequest {
            vector_store_id: vs.id.clone(),
            file_id: id.clone(),
            attributes: attributes.into_iter().collect(),
        };
        w.svc.update_vector_store_file_attributes(request(P, req)).await.unwrap();
        // …and the chunks the worker writes end up with them.
        for c in claimed {
            w.ingestor.ingest(c).await;
        }
        let f = w.settled(&vs.id, &id).await;
        assert_eq!(f.status, pb::VectorStoreFileStatus::Completed as i32, "{}", db.backend);
        assert_eq!(f.attributes.len(), 1);
        assert_eq!(w.search(&vs.id, "lighthouse", Some(eq("team", serde_json::json!("blue")))).await.len(), 1);
        w.close().await;
    }
}

#[tokio::test]
async fn a_dead_workers_file_is_indexed_again() {
    for db in test_databases().await {
        let mut w = world(&db.url, false).await;
        let id = w.upload(P, "a.txt", b"The lighthouse keeper logs every passing ship.").await;
        let vs = w.create_store(vec![id.clone()]).await;
        // A worker claims the file and dies (its lease lapses).
        let dead = Lease { owner: "dead".into(), until_ms: 1 };
        assert_eq!(w.store.claim(&dead, 0, 10).await.unwrap().len(), 1);
        w.start_workers();
        let f = w.settled(&vs.id, &id).await;
        assert_eq!(f.status, pb::VectorStoreFileStatus::Completed as i32, "{}", db.backend);
        assert_eq!(w.search(&vs.id, "lighthouse", None).await.len(), 1);
        w.close().await;
    }
}

#[tokio::test]
async fn bad_requests_are_refused() {
    for db in test_databases().await {
        let w = world(&db.url, false).await;
        let vs = w.create_store(vec![]).await;
        let invalid = |s: tonic::Status| {
            assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
            assistd_common::error::error_detail(&s).and_then(|d| d.param).unwrap_or_default()
        };
        // Unknown file.
        let file = pb::NewVectorStoreFile { file_id: "file-nope".into(), ..Default::default() };
        let req = pb::CreateVectorStoreFileRequest { vector_store_id: vs.id.clone(), file: Some(file) };
        assert_eq!(w.svc.create_vector_store_file(request(P, req)).await.unwrap_err().code(), tonic::Code::NotFound);
        // Chunking bounds.
        let chunking = pb::ChunkingStrategy {
            strategy: Some(pb::chunking_strategy::Strategy::Static(pb::StaticChunking {
                max_chunk_size_tokens: 50,
                chunk_overlap_tokens: 0,
            })),
        };
        let req = pb::CreateVectorStoreRequest { chunking_strategy: Some(chunking), ..Default::default() };
        let e = w.svc.create_vector_store(request(P, req)).await.unwrap_err();
        assert_eq!(invalid(e), "chunking_strategy.static.max_chunk_size_tokens");
        // Search limits.
        let req = pb::SearchVectorStoreRequest {
            vector_store_id: vs.id.clone(),
            query: vec!["x".into()],
            max_num_results: Some(51),
            ..Default::default()
        };
        assert_eq!(invalid(w.svc.search_vector_store(request(P, req)).await.unwrap_err()), "max_num_results");
        // Expiry bounds.
        let req = pb::CreateVectorStoreRequest {
            expires_after: Some(pb::VectorStoreExpiresAfter { anchor: "last_active_at".into(), days: 366 }),
            ..Default::default()
        };
        assert_eq!(invalid(w.svc.create_vector_store(request(P, req)).await.unwrap_err()), "expires_after.days");
        // Too many attributes.
        let attributes =
            (0..17).map(|i| (format!("k{i}"), assistd_common::json::json_to_value(&serde_json::json!(i)))).collect();
        let file = pb::NewVectorStoreFile { file_id: "file-x".into(), attributes, ..Default::default() };
        let req = pb::CreateVectorStoreFileRequest { vector_store_id: vs.id.clone(), file: Some(file) };
        assert_eq!(invalid(w.svc.create_vector_store_file(request(P, req)).await.unwrap_err()), "attributes");
        // Nothing was written by the refused requests.
        let req = pb::ListVectorStoresRequest::default();
        assert_eq!(w.svc.list_vector_stores(request(P, req)).await.unwrap().into_inner().data.len(), 1);
        w.close().await;
    }
}

/// A completed file the index lost (a new collection after the embedder changed, a lost
/// Qdrant collection) is indexed again from its stored text by the repair, attributes
/// and all; files the index holds are left alone.
#[tokio::test]
async fn repair_reindexes_completed_files_the_index_lost() {
    for db in test_databases().await {
        let w = world(&db.url, true).await;
        let kept = w.upload(P, "kept.txt", b"Lighthouses warn ships away from rocky coasts at night.").await;
        let lost = w.upload(P, "lost.txt", b"Sea otters hold hands while they sleep so they do not drift apart.").await;
        let vs = w.create_store(vec![kept.clone()]).await;
        w.add_file(&vs.id, &lost, serde_json::json!({"topic": "otters"})).await;
        w.settled(&vs.id, &kept).await;
        assert_eq!(w.settled(&vs.id, &lost).await.status, pb::VectorStoreFileStatus::Completed as i32);
        let before = w.index.count(P, &vs.id, Some(&lost)).await.unwrap();
        assert!(before > 0);

        w.index.delete_file(P, &vs.id, &lost).await.unwrap();
        assert!(w.search(&vs.id, "otters drift", None).await.is_empty(), "{}", db.backend);
        assert_eq!(w.ingestor.repair(CancellationToken::new()).await, 1, "{}", db.backend);
        assert_eq!(w.index.count(P, &vs.id, Some(&lost)).await.unwrap(), before);
        let hits = w.search(&vs.id, "otters drift", Some(eq("topic", serde_json::json!("otters")))).await;
        assert_eq!(hits[0].file_id, lost, "{}", db.backend);
        assert_eq!(w.ingestor.repair(CancellationToken::new()).await, 0, "nothing left to repair");
        w.close().await;
    }
}

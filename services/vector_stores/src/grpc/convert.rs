//! Domain → protobuf: vector stores, their files, batches and search results (and
//! the one request value that needs no check, `expires_after`; the others are
//! `request.rs`'s).

use assistd_common::json::json_to_value;
use assistd_common::page::Page;
use assistd_proto::pb;
use serde_json::{Map, Value};

use crate::domain::{BatchView, Chunking, ExpiresAfter, FileCounts, FileStatus, StoreFile, StoreStatus, StoreView};
use crate::search::{Found, SearchResult, SearchResults};

impl From<pb::VectorStoreExpiresAfter> for ExpiresAfter {
    fn from(e: pb::VectorStoreExpiresAfter) -> Self {
        let pb::VectorStoreExpiresAfter { anchor, days } = e;
        ExpiresAfter { anchor, days }
    }
}

/// Attributes as protobuf values.
pub fn attributes(a: &Map<String, Value>) -> std::collections::HashMap<String, prost_types::Value> {
    a.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect()
}

fn counts(c: FileCounts) -> pb::VectorStoreFileCounts {
    let FileCounts { in_progress, completed, failed, cancelled } = c;
    pb::VectorStoreFileCounts { in_progress, completed, failed, cancelled, total: c.total() }
}

/// The protobuf status of a file or batch.
pub fn file_status(s: FileStatus) -> pb::VectorStoreFileStatus {
    match s {
        FileStatus::InProgress => pb::VectorStoreFileStatus::InProgress,
        FileStatus::Completed => pb::VectorStoreFileStatus::Completed,
        FileStatus::Failed => pb::VectorStoreFileStatus::Failed,
        FileStatus::Cancelled => pb::VectorStoreFileStatus::Cancelled,
    }
}

/// The domain status of a protobuf filter.
pub fn status_filter(s: Option<i32>) -> Option<FileStatus> {
    match pb::VectorStoreFileStatus::try_from(s?).ok()? {
        pb::VectorStoreFileStatus::InProgress => Some(FileStatus::InProgress),
        pb::VectorStoreFileStatus::Completed => Some(FileStatus::Completed),
        pb::VectorStoreFileStatus::Failed => Some(FileStatus::Failed),
        pb::VectorStoreFileStatus::Cancelled => Some(FileStatus::Cancelled),
        pb::VectorStoreFileStatus::Unspecified => None,
    }
}

/// A store as the API shows it at `now`.
pub fn store(v: StoreView, now: i64) -> pb::VectorStore {
    let status = match v.status(now) {
        StoreStatus::Expired => pb::VectorStoreStatus::Expired,
        StoreStatus::InProgress => pb::VectorStoreStatus::InProgress,
        StoreStatus::Completed => pb::VectorStoreStatus::Completed,
    };
    let StoreView { store, counts: c, usage_bytes } = v;
    let crate::domain::VectorStore { id, created_at, name, expires_after_days, expires_at, last_active_at, metadata } =
        store;
    pb::VectorStore {
        id,
        created_at,
        name: name.unwrap_or_default(),
        usage_bytes,
        file_counts: Some(counts(c)),
        status: status as i32,
        expires_after: expires_after_days
            .map(|days| pb::VectorStoreExpiresAfter { anchor: "last_active_at".into(), days }),
        expires_at,
        last_active_at: Some(last_active_at),
        metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }),
    }
}

/// A page of stores as the API shows them at `now`.
pub fn stores_page(p: Page<StoreView>, now: i64) -> pb::ListVectorStoresResponse {
    let Page { data, has_more } = p;
    let data: Vec<pb::VectorStore> = data.into_iter().map(|v| store(v, now)).collect();
    pb::ListVectorStoresResponse {
        first_id: data.first().map(|s| s.id.clone()),
        last_id: data.last().map(|s| s.id.clone()),
        has_more,
        data,
    }
}

fn chunking(c: Chunking) -> pb::ChunkingStrategy {
    pb::ChunkingStrategy {
        strategy: Some(pb::chunking_strategy::Strategy::Static(pb::StaticChunking {
            max_chunk_size_tokens: c.max_tokens as i32,
            chunk_overlap_tokens: c.overlap_tokens as i32,
        })),
    }
}

/// A vector store file.
pub fn file(f: StoreFile) -> pb::VectorStoreFile {
    let StoreFile {
        vector_store_id,
        file_id,
        created_at,
        status,
        last_error,
        usage_bytes,
        chunking: c,
        attributes: a,
        batch_id: _,
    } = f;
    pb::VectorStoreFile {
        id: file_id,
        created_at,
        vector_store_id,
        usage_bytes,
        status: file_status(status) as i32,
        last_error: last_error.map(|e| pb::VectorStoreFileError { code: e.code, message: e.message }),
        chunking_strategy: Some(chunking(c)),
        attributes: attributes(&a),
    }
}

/// A file batch.
pub fn batch(v: BatchView) -> pb::VectorStoreFileBatch {
    let status = v.status();
    let BatchView { batch, counts: c } = v;
    pb::VectorStoreFileBatch {
        id: batch.id,
        created_at: batch.created_at,
        vector_store_id: batch.vector_store_id,
        status: file_status(status) as i32,
        file_counts: Some(counts(c)),
    }
}

/// A page of a store's (or a batch's) files.
pub fn files_page(p: Page<StoreFile>) -> pb::ListVectorStoreFilesResponse {
    let Page { data, has_more } = p;
    let data: Vec<pb::VectorStoreFile> = data.into_iter().map(file).collect();
    pb::ListVectorStoreFilesResponse {
        first_id: data.first().map(|f| f.id.clone()),
        last_id: data.last().map(|f| f.id.clone()),
        has_more,
        data,
    }
}

/// What a search found.
pub fn search_results(r: SearchResults) -> pb::SearchVectorStoreResponse {
    let SearchResults { search_query, data } = r;
    pb::SearchVectorStoreResponse {
        search_query,
        data: data.into_iter().map(found).collect(),
        has_more: false,
        next_page: None,
    }
}

fn found(r: SearchResult) -> pb::VectorStoreSearchResult {
    let SearchResult { found, filename } = r;
    let Found { vector_store_id: _, file_id, position: _, text, attributes: a, score } = found;
    pb::VectorStoreSearchResult {
        file_id,
        filename,
        score,
        attributes: attributes(&a),
        content: vec![pb::VectorStoreContent { text }],
    }
}

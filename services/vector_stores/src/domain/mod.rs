//! The vector stores service's own types: stores, their files and file batches, the
//! requests that make and change them (checked by `grpc/request.rs` with the rules
//! here, or by the operations where a rule needs the stored state), the chunking of a
//! file and the rules on file attributes and expiry.

use std::fmt;
use std::str::FromStr;

use assistd_common::metadata::Metadata;
use assistd_common::{ServiceError, ServiceResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest `expires_after.days`.
pub const MAX_EXPIRY_DAYS: i32 = 365;
/// Most attributes on a file.
pub const MAX_ATTRIBUTES: usize = 16;
/// Longest attribute key.
pub const MAX_ATTRIBUTE_KEY: usize = 64;
/// Longest string attribute value.
pub const MAX_ATTRIBUTE_VALUE: usize = 512;
/// Most `file_ids` when a store is created.
pub const MAX_CREATE_FILES: usize = 500;
/// Most files in one batch.
pub const MAX_BATCH_FILES: usize = 2000;

/// A vector store, as stored. Its status, file counts and usage come from its files.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorStore {
    /// `vs_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub name: Option<String>,
    /// Days after last activity it expires, if it does.
    pub expires_after_days: Option<i32>,
    /// Unix seconds of expiry (from `last_active_at`).
    pub expires_at: Option<i64>,
    /// Unix seconds of the last use.
    pub last_active_at: i64,
    pub metadata: Metadata,
}

impl VectorStore {
    /// When the store expires if it was last used at `last_active_at`.
    pub fn expiry(days: Option<i32>, last_active_at: i64) -> Option<i64> {
        days.map(|d| last_active_at + i64::from(d) * 86_400)
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

/// Number of files in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Being indexed.
    pub in_progress: i64,
    /// Indexed.
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
}

impl FileCounts {
    /// All files.
    pub fn total(&self) -> i64 {
        self.in_progress + self.completed + self.failed + self.cancelled
    }

    /// Adds `n` files of `status`.
    pub fn add(&mut self, status: FileStatus, n: i64) {
        match status {
            FileStatus::InProgress => self.in_progress += n,
            FileStatus::Completed => self.completed += n,
            FileStatus::Failed => self.failed += n,
            FileStatus::Cancelled => self.cancelled += n,
        }
    }
}

/// A store with what its files say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreView {
    pub store: VectorStore,
    /// Its files by state.
    pub counts: FileCounts,
    /// Bytes used by its indexed files.
    pub usage_bytes: i64,
}

/// A store's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStatus {
    /// Past its `expires_at`.
    Expired,
    /// Some files are being indexed.
    InProgress,
    /// Ready.
    Completed,
}

impl StoreView {
    /// The status at `now`.
    pub fn status(&self, now: i64) -> StoreStatus {
        if self.store.expired(now) {
            StoreStatus::Expired
        } else if self.counts.in_progress > 0 {
            StoreStatus::InProgress
        } else {
            StoreStatus::Completed
        }
    }
}

/// Where a vector store file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileStatus {
    /// Being indexed.
    InProgress,
    /// Indexed.
    Completed,
    /// Failed (see `last_error`).
    Failed,
    /// Cancelled before indexing finished.
    Cancelled,
}

impl FileStatus {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl FromStr for FileStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Ok(match s {
            "in_progress" => Self::InProgress,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return Err(UnknownStatus(s.to_owned())),
        })
    }
}

/// A status name that [`FileStatus`] does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown status '{}'", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

/// Why a file failed to index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileError {
    /// `server_error`, `unsupported_file` or `invalid_file`.
    pub code: String,
    /// For people.
    pub message: String,
}

impl FileError {
    /// A failure of ours.
    pub fn server(message: impl Into<String>) -> Self {
        Self { code: "server_error".into(), message: message.into() }
    }

    /// A file type we do not index.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self { code: "unsupported_file".into(), message: message.into() }
    }

    /// A file that is not what its type says, or has no text.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self { code: "invalid_file".into(), message: message.into() }
    }
}

/// How a file is cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunking {
    /// Tokens per chunk (100-4096).
    pub max_tokens: u32,
    /// Tokens shared by consecutive chunks (at most half of `max_tokens`).
    pub overlap_tokens: u32,
}

impl Default for Chunking {
    /// `auto`: 800 tokens with 400 overlap.
    fn default() -> Self {
        Self { max_tokens: 800, overlap_tokens: 400 }
    }
}

impl Chunking {
    /// A `static` strategy, checked against the spec's bounds.
    pub fn fixed(param: &str, max_tokens: i32, overlap_tokens: i32) -> ServiceResult<Self> {
        if !(100..=4096).contains(&max_tokens) {
            return Err(ServiceError::invalid(
                format!("{param}.static.max_chunk_size_tokens"),
                format!(
                    "Invalid '{param}.static.max_chunk_size_tokens': integer below minimum value or above maximum value. Expected a value between 100 and 4096, but got {max_tokens} instead."
                ),
            ));
        }
        if overlap_tokens < 0 || overlap_tokens > max_tokens / 2 {
            return Err(ServiceError::invalid(
                format!("{param}.static.chunk_overlap_tokens"),
                format!(
                    "Invalid '{param}.static.chunk_overlap_tokens': must be between 0 and half of max_chunk_size_tokens ({}), but got {overlap_tokens} instead.",
                    max_tokens / 2
                ),
            ));
        }
        Ok(Self { max_tokens: max_tokens as u32, overlap_tokens: overlap_tokens as u32 })
    }
}

/// A file in a vector store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreFile {
    /// The store.
    pub vector_store_id: String,
    /// The `file-…` id.
    pub file_id: String,
    /// Unix seconds when it was attached.
    pub created_at: i64,
    pub status: FileStatus,
    /// Why it failed.
    pub last_error: Option<FileError>,
    /// Bytes of parsed text indexed.
    pub usage_bytes: i64,
    /// How it is chunked.
    pub chunking: Chunking,
    /// Attributes for filters.
    pub attributes: Map<String, Value>,
    /// The batch that attached it, if any.
    pub batch_id: Option<String>,
}

/// A batch of files attached together.
#[derive(Debug, Clone, PartialEq)]
pub struct FileBatch {
    /// `vsfb_…`
    pub id: String,
    /// The store.
    pub vector_store_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Whether it was cancelled.
    pub cancelled: bool,
}

/// A batch with its files' counts.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchView {
    pub batch: FileBatch,
    /// Its files by state.
    pub counts: FileCounts,
}

impl BatchView {
    /// The batch's status: cancelled once cancelled and nothing is still running,
    /// in progress while files are, failed when every file failed, else completed.
    pub fn status(&self) -> FileStatus {
        if self.counts.in_progress > 0 {
            FileStatus::InProgress
        } else if self.batch.cancelled {
            FileStatus::Cancelled
        } else if self.counts.total() > 0 && self.counts.failed == self.counts.total() {
            FileStatus::Failed
        } else {
            FileStatus::Completed
        }
    }
}

/// `expires_after` as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiresAfter {
    /// What the expiry counts from; only `last_active_at` is accepted.
    pub anchor: String,
    pub days: i32,
}

impl ExpiresAfter {
    /// The days, checked (1 to [`MAX_EXPIRY_DAYS`]).
    pub fn checked(&self) -> ServiceResult<i32> {
        if self.anchor != "last_active_at" {
            return Err(ServiceError::invalid(
                "expires_after.anchor",
                format!(
                    "Invalid 'expires_after.anchor': expected 'last_active_at', but got '{}' instead.",
                    self.anchor
                ),
            ));
        }
        if !(1..=MAX_EXPIRY_DAYS).contains(&self.days) {
            return Err(ServiceError::invalid(
                "expires_after.days",
                format!(
                    "Invalid 'expires_after.days': integer below minimum value or above maximum value. Expected a value between 1 and {MAX_EXPIRY_DAYS}, but got {} instead.",
                    self.days
                ),
            ));
        }
        Ok(self.days)
    }
}

/// A vector store to create, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVectorStore {
    pub name: Option<String>,
    /// Files to attach at once (distinct, at most [`MAX_CREATE_FILES`]).
    pub file_ids: Vec<String>,
    /// How those files are chunked.
    pub chunking: Chunking,
    /// Days after last activity it expires, if it does.
    pub expires_after_days: Option<i32>,
    pub metadata: Metadata,
}

/// What a modify request changes; `None` leaves a field alone. The expiry and the
/// metadata are checked against the store as found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreUpdate {
    /// The new name (`Some(None)` clears it).
    pub name: Option<Option<String>>,
    /// The new expiry policy (`Some(None)` removes it).
    pub expires_after: Option<Option<ExpiresAfter>>,
    /// The new metadata, replacing all of it.
    pub metadata: Option<Metadata>,
}

/// A file to attach to a store, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStoreFile {
    /// The `file-…` id (its existence is checked with the files service).
    pub file_id: String,
    pub chunking: Chunking,
    /// Attributes for filters (see [`validate_attributes`]).
    pub attributes: Map<String, Value>,
}

impl NewStoreFile {
    /// The file as attached to store `vector_store_id` at `now` (by batch `batch_id`
    /// if any): in progress until a worker has indexed it.
    pub fn attach(self, vector_store_id: &str, batch_id: Option<&str>, now: i64) -> StoreFile {
        let NewStoreFile { file_id, chunking, attributes } = self;
        StoreFile {
            vector_store_id: vector_store_id.to_owned(),
            file_id,
            created_at: now,
            status: FileStatus::InProgress,
            last_error: None,
            usage_bytes: 0,
            chunking,
            attributes,
            batch_id: batch_id.map(str::to_owned),
        }
    }
}

/// Checks file attributes: at most 16; keys at most 64 characters; values strings of
/// at most 512 characters, numbers or booleans.
pub fn validate_attributes(param: &str, attrs: &Map<String, Value>) -> ServiceResult<()> {
    if attrs.len() > MAX_ATTRIBUTES {
        return Err(ServiceError::invalid(
            param,
            format!(
                "Invalid '{param}': too many properties. Expected an object with at most {MAX_ATTRIBUTES} properties, but got {} instead.",
                attrs.len()
            ),
        ));
    }
    for (k, v) in attrs {
        if k.chars().count() > MAX_ATTRIBUTE_KEY {
            return Err(ServiceError::invalid(
                param,
                format!(
                    "Invalid '{param}': attribute key '{k}' is too long. Expected at most {MAX_ATTRIBUTE_KEY} characters."
                ),
            ));
        }
        match v {
            Value::String(s) if s.chars().count() > MAX_ATTRIBUTE_VALUE => {
                return Err(ServiceError::invalid(
                    format!("{param}.{k}"),
                    format!(
                        "Invalid '{param}.{k}': string too long. Expected a string with maximum length {MAX_ATTRIBUTE_VALUE}, but got a string with length {} instead.",
                        s.chars().count()
                    ),
                ));
            }
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
            _ => {
                return Err(ServiceError::invalid(
                    format!("{param}.{k}"),
                    format!("Invalid '{param}.{k}': expected a string, a number or a boolean."),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_bounds() {
        assert!(Chunking::fixed("c", 100, 50).is_ok());
        assert!(Chunking::fixed("c", 4096, 2048).is_ok());
        assert!(Chunking::fixed("c", 99, 0).is_err());
        assert!(Chunking::fixed("c", 4097, 0).is_err());
        assert!(Chunking::fixed("c", 800, 401).is_err());
        assert!(Chunking::fixed("c", 800, -1).is_err());
        assert_eq!(Chunking::default(), Chunking { max_tokens: 800, overlap_tokens: 400 });
    }

    #[test]
    fn attributes_rules() {
        let ok: Map<String, Value> = serde_json::from_str(r#"{"a":"x","b":1.5,"c":true}"#).unwrap();
        assert!(validate_attributes("attributes", &ok).is_ok());
        let nested: Map<String, Value> = serde_json::from_str(r#"{"a":{"b":1}}"#).unwrap();
        assert!(validate_attributes("attributes", &nested).is_err());
        let long: Map<String, Value> = [("a".to_string(), Value::String("x".repeat(513)))].into_iter().collect();
        assert!(validate_attributes("attributes", &long).is_err());
        let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), Value::Bool(true))).collect();
        assert!(validate_attributes("attributes", &many).is_err());
    }

    #[test]
    fn status_names() {
        for s in [FileStatus::InProgress, FileStatus::Completed, FileStatus::Failed, FileStatus::Cancelled] {
            assert_eq!(s.as_str().parse::<FileStatus>(), Ok(s));
        }
        assert_eq!("done".parse::<FileStatus>(), Err(UnknownStatus("done".into())));
    }

    #[test]
    fn batch_status() {
        let batch = FileBatch { id: "vsfb_1".into(), vector_store_id: "vs_1".into(), created_at: 0, cancelled: false };
        let mut v = BatchView { batch, counts: FileCounts { in_progress: 1, completed: 1, ..Default::default() } };
        assert_eq!(v.status(), FileStatus::InProgress);
        v.counts.in_progress = 0;
        assert_eq!(v.status(), FileStatus::Completed);
        v.counts = FileCounts { failed: 2, ..Default::default() };
        assert_eq!(v.status(), FileStatus::Failed);
        v.batch.cancelled = true;
        assert_eq!(v.status(), FileStatus::Cancelled);
    }
}

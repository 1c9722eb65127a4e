//! Files and uploads as plain Rust values, their statuses, the checked requests that
//! make them (`NewFile`, `NewUpload`), and their rules.

use std::fmt;
use std::str::FromStr;

use assistd_common::{ServiceError, ServiceResult};

/// Largest file, in bytes (512 MB).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Largest upload, in bytes (8 GB).
pub const MAX_UPLOAD_BYTES: u64 = 8 * 1024 * 1024 * 1024;
/// Largest upload part, in bytes (64 MB).
pub const MAX_PART_BYTES: u64 = 64 * 1024 * 1024;
/// Uploads expire this long after creation.
pub const UPLOAD_TTL_SECS: i64 = 3600;
/// Purposes `POST /files` accepts.
pub const FILE_PURPOSES: &[&str] = &["assistants", "batch", "fine-tune", "vision", "user_data", "evals"];
/// The purpose of files a tool made (only the services' own uploads carry it).
pub const TOOL_OUTPUT_PURPOSE: &str = "assistants_output";
/// Purposes `POST /uploads` accepts.
pub const UPLOAD_PURPOSES: &[&str] = &["assistants", "batch", "fine-tune", "vision"];
/// Purposes a file object may carry.
pub const OBJECT_PURPOSES: &[&str] = &[
    "assistants",
    TOOL_OUTPUT_PURPOSE,
    "batch",
    "batch_output",
    "fine-tune",
    "fine-tune-results",
    "vision",
    "user_data",
    "evals",
];
/// Batch files expire after 30 days unless told otherwise.
pub const BATCH_DEFAULT_TTL_SECS: i64 = 30 * 24 * 3600;

/// A stored file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// `file-…`
    pub id: String,
    /// Size in bytes.
    pub bytes: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub filename: String,
    pub purpose: String,
    pub status: FileStatus,
    /// Why the status is `error`.
    pub status_details: Option<String>,
    /// MIME type.
    pub content_type: String,
}

/// A file's status. assistd processes a file as it is stored, so every file it makes
/// is `processed`; the others are OpenAI's and read back as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileStatus {
    /// Stored, not yet processed.
    Uploaded,
    /// Stored and ready.
    Processed,
    /// Processing failed (see `status_details`).
    Error,
}

impl FileStatus {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploaded => "uploaded",
            Self::Processed => "processed",
            Self::Error => "error",
        }
    }
}

impl FromStr for FileStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Ok(match s {
            "uploaded" => Self::Uploaded,
            "processed" => Self::Processed,
            "error" => Self::Error,
            _ => return Err(UnknownStatus(s.to_owned())),
        })
    }
}

/// Where an upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UploadStatus {
    /// Accepting parts.
    Pending,
    /// Assembled into a file.
    Completed,
    /// Cancelled by its client.
    Cancelled,
    /// Past its hour while pending.
    Expired,
}

impl UploadStatus {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }
}

impl FromStr for UploadStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Ok(match s {
            "pending" => Self::Pending,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            "expired" => Self::Expired,
            _ => return Err(UnknownStatus(s.to_owned())),
        })
    }
}

/// A status name that none of the status enums has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown status '{}'", self.0)
    }
}

impl std::error::Error for UnknownStatus {}

/// A multipart upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// `upload_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The name the file will have.
    pub filename: String,
    /// The size the parts must add up to.
    pub bytes: i64,
    pub purpose: String,
    /// The file's MIME type.
    pub mime_type: String,
    /// As stored: a pending upload past its hour is expired only once the sweeper
    /// gets to it (see [`effective_status`](Self::effective_status)).
    pub status: UploadStatus,
    /// Unix seconds.
    pub expires_at: i64,
    /// Seconds after creation the file expires, if set.
    pub file_expires_after: Option<i64>,
    /// The file once completed.
    pub file_id: Option<String>,
}

impl Upload {
    /// The status as seen at `now` (a pending upload past its hour is expired).
    pub fn effective_status(&self, now: i64) -> UploadStatus {
        if self.status == UploadStatus::Pending && now >= self.expires_at { UploadStatus::Expired } else { self.status }
    }
}

/// An upload as the API shows it: with its file once completed.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadView {
    pub upload: Upload,
    /// The file it made (completed uploads whose file still exists).
    pub file: Option<File>,
}

/// A part of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadPart {
    /// `part_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub upload_id: String,
    /// Size in bytes.
    pub bytes: i64,
    /// Where its bytes are in the blob store.
    pub blob_key: String,
}

/// A file to store, checked: `POST /files` (its bytes follow as a stream).
#[derive(Debug, Clone, PartialEq)]
pub struct NewFile {
    pub filename: String,
    /// One of [`FILE_PURPOSES`].
    pub purpose: String,
    /// Seconds after creation the file expires, if it does.
    pub ttl: Option<i64>,
    /// The MIME type the client gave, if it said anything more than
    /// `application/octet-stream`.
    pub content_type: Option<String>,
}

impl NewFile {
    /// Checks a file's name and purpose, and resolves its expiry (`expires_after`,
    /// else 30 days for batch files).
    pub fn new(
        filename: String,
        purpose: String,
        expires_after: Option<ExpiresAfter>,
        content_type: Option<String>,
    ) -> ServiceResult<Self> {
        validate_filename(&filename, "file")?;
        validate_purpose(&purpose, FILE_PURPOSES)?;
        let ttl = match expires_after {
            Some(e) => Some(e.checked()?),
            None if purpose == "batch" => Some(BATCH_DEFAULT_TTL_SECS),
            None => None,
        };
        let content_type = content_type.filter(|c| !c.is_empty() && c != "application/octet-stream");
        Ok(Self { filename, purpose, ttl, content_type })
    }

    /// A file a tool made (purpose `assistants_output`, no expiry).
    pub fn tool_output(filename: String, content_type: Option<String>) -> ServiceResult<Self> {
        validate_filename(&filename, "file")?;
        let content_type = content_type.filter(|c| !c.is_empty() && c != "application/octet-stream");
        Ok(Self { filename, purpose: TOOL_OUTPUT_PURPOSE.to_owned(), ttl: None, content_type })
    }
}

/// An upload to start, checked: `POST /uploads`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUpload {
    pub filename: String,
    /// One of [`UPLOAD_PURPOSES`].
    pub purpose: String,
    /// The size the parts must add up to (at most [`MAX_UPLOAD_BYTES`]).
    pub bytes: i64,
    /// The file's MIME type.
    pub mime_type: String,
    /// Seconds after creation the file expires, if it does.
    pub file_ttl: Option<i64>,
}

impl NewUpload {
    /// Checks an upload's name, purpose, size, MIME type and file expiry, in that order.
    pub fn new(
        filename: String,
        purpose: String,
        bytes: i64,
        mime_type: String,
        expires_after: Option<ExpiresAfter>,
    ) -> ServiceResult<Self> {
        validate_filename(&filename, "filename")?;
        validate_purpose(&purpose, UPLOAD_PURPOSES)?;
        if bytes < 0 || bytes as u64 > MAX_UPLOAD_BYTES {
            return Err(ServiceError::invalid(
                "bytes",
                format!("Invalid 'bytes': expected a value between 0 and {MAX_UPLOAD_BYTES}."),
            ));
        }
        if mime_type.is_empty() {
            return Err(ServiceError::invalid("mime_type", "Missing required parameter: 'mime_type'."));
        }
        let file_ttl = expires_after.map(|e| e.checked()).transpose()?;
        Ok(Self { filename, purpose, bytes, mime_type, file_ttl })
    }
}

/// `expires_after` as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiresAfter {
    /// What the expiry counts from; only `created_at` is accepted.
    pub anchor: String,
    pub seconds: i64,
}

impl ExpiresAfter {
    /// The seconds, checked (see [`validate_expires_after`]).
    pub fn checked(&self) -> ServiceResult<i64> {
        validate_expires_after(&self.anchor, self.seconds)
    }
}

/// Checks a purpose against the accepted ones.
pub fn validate_purpose(purpose: &str, accepted: &[&str]) -> ServiceResult<()> {
    if accepted.contains(&purpose) {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "purpose",
            format!(
                "Invalid value: '{purpose}'. Supported values are: {}.",
                accepted.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
            ),
        ))
    }
}

/// Checks `expires_after` and returns its seconds.
pub fn validate_expires_after(anchor: &str, seconds: i64) -> ServiceResult<i64> {
    if anchor != "created_at" {
        return Err(ServiceError::invalid(
            "expires_after.anchor",
            format!("Invalid value: '{anchor}'. Supported values are: 'created_at'."),
        ));
    }
    if !(3600..=2_592_000).contains(&seconds) {
        return Err(ServiceError::invalid(
            "expires_after.seconds",
            format!(
                "Invalid 'expires_after.seconds': expected a value between 3600 and 2592000, but got {seconds} instead."
            ),
        ));
    }
    Ok(seconds)
}

/// Checks a file name.
pub fn validate_filename(name: &str, param: &str) -> ServiceResult<()> {
    if name.is_empty() {
        return Err(ServiceError::invalid(param, "The file name must not be empty."));
    }
    assistd_common::tools::validate_len(name, 1024, param)
}

/// The MIME type served for a file name when none was given.
pub fn guess_content_type(filename: &str) -> String {
    mime_guess::from_path(filename).first_or_octet_stream().essence_str().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(validate_purpose("assistants", FILE_PURPOSES).is_ok());
        assert!(validate_purpose("user_data", UPLOAD_PURPOSES).is_err());
        assert!(validate_expires_after("created_at", 3599).is_err());
        assert_eq!(validate_expires_after("created_at", 3600).unwrap(), 3600);
        assert!(validate_expires_after("last_active_at", 3600).is_err());
        assert_eq!(guess_content_type("a.txt"), "text/plain");
        assert_eq!(guess_content_type("a.unknownext"), "application/octet-stream");
    }

    #[test]
    fn status_names() {
        for s in [FileStatus::Uploaded, FileStatus::Processed, FileStatus::Error] {
            assert_eq!(s.as_str().parse::<FileStatus>(), Ok(s));
        }
        for s in [UploadStatus::Pending, UploadStatus::Completed, UploadStatus::Cancelled, UploadStatus::Expired] {
            assert_eq!(s.as_str().parse::<UploadStatus>(), Ok(s));
        }
        assert_eq!("done".parse::<UploadStatus>(), Err(UnknownStatus("done".into())));
    }

    #[test]
    fn upload_expiry() {
        let u = Upload {
            id: "upload_1".into(),
            created_at: 0,
            filename: "f".into(),
            bytes: 1,
            purpose: "assistants".into(),
            mime_type: "text/plain".into(),
            status: UploadStatus::Pending,
            expires_at: 3600,
            file_expires_after: None,
            file_id: None,
        };
        assert_eq!(u.effective_status(10), UploadStatus::Pending);
        assert_eq!(u.effective_status(3600), UploadStatus::Expired);
    }
}

//! Files and uploads as plain Rust values, and their rules.

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
/// Purposes `POST /uploads` accepts.
pub const UPLOAD_PURPOSES: &[&str] = &["assistants", "batch", "fine-tune", "vision"];
/// Purposes a file object may carry.
pub const OBJECT_PURPOSES: &[&str] = &[
    "assistants",
    "assistants_output",
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
    /// Size.
    pub bytes: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    /// Name.
    pub filename: String,
    /// Purpose.
    pub purpose: String,
    /// uploaded, processed, error.
    pub status: String,
    /// Why error.
    pub status_details: Option<String>,
    /// MIME type.
    pub content_type: String,
}

/// Upload states.
pub mod upload_status {
    /// Accepting parts.
    pub const PENDING: &str = "pending";
    /// Assembled into a file.
    pub const COMPLETED: &str = "completed";
    /// Cancelled.
    pub const CANCELLED: &str = "cancelled";
    /// Past its hour.
    pub const EXPIRED: &str = "expired";
}

/// A multipart upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// `upload_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// File name.
    pub filename: String,
    /// Expected total.
    pub bytes: i64,
    /// Purpose.
    pub purpose: String,
    /// MIME type.
    pub mime_type: String,
    /// Status (see [`upload_status`]).
    pub status: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Seconds after creation the file expires, if set.
    pub file_expires_after: Option<i64>,
    /// The file once completed.
    pub file_id: Option<String>,
}

impl Upload {
    /// The status as seen at `now` (a pending upload past its hour is expired).
    pub fn effective_status(&self, now: i64) -> &str {
        if self.status == upload_status::PENDING && now >= self.expires_at {
            upload_status::EXPIRED
        } else {
            &self.status
        }
    }
}

/// A part of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadPart {
    /// `part_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Upload.
    pub upload_id: String,
    /// Size.
    pub bytes: i64,
    /// Blob key.
    pub blob_key: String,
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
    fn upload_expiry() {
        let u = Upload {
            id: "upload_1".into(),
            created_at: 0,
            filename: "f".into(),
            bytes: 1,
            purpose: "assistants".into(),
            mime_type: "text/plain".into(),
            status: upload_status::PENDING.into(),
            expires_at: 3600,
            file_expires_after: None,
            file_id: None,
        };
        assert_eq!(u.effective_status(10), "pending");
        assert_eq!(u.effective_status(3600), "expired");
    }
}

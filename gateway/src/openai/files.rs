//! File and upload JSON.

use assistd_proto::pb;
use serde::{Deserialize, Serialize};

/// `OpenAIFile`. `expires_at` and `status_details` are left out when unset (the
/// spec has them optional, not nullable); `content_type` is not part of the object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileOut {
    /// `file-…`.
    pub id: String,
    /// Always `file`.
    pub object: &'static str,
    /// Size in bytes.
    pub bytes: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; absent when the file never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The name given at upload.
    pub filename: String,
    /// As given at upload (`assistants`, `user_data`, …).
    pub purpose: String,
    /// `uploaded`, `processed` or `error` (deprecated by OpenAI, still required).
    pub status: String,
    /// Why `status` is `error`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_details: Option<String>,
}

impl From<pb::File> for FileOut {
    fn from(f: pb::File) -> Self {
        let pb::File { id, bytes, created_at, expires_at, filename, purpose, status, status_details, content_type: _ } =
            f;
        FileOut { id, object: "file", bytes, created_at, expires_at, filename, purpose, status, status_details }
    }
}

/// `Upload`. `file` is null until the upload completes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadOut {
    /// `upload_…`.
    pub id: String,
    /// Always `upload`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// The name of the file to create.
    pub filename: String,
    /// Total bytes expected.
    pub bytes: i64,
    /// The purpose of the file to create.
    pub purpose: String,
    /// `pending`, `completed`, `cancelled` or `expired`.
    pub status: String,
    /// Unix seconds (one hour after creation).
    pub expires_at: i64,
    /// The created file once completed, else null.
    pub file: Option<FileOut>,
}

impl From<pb::Upload> for UploadOut {
    fn from(u: pb::Upload) -> Self {
        let pb::Upload { id, created_at, filename, bytes, purpose, status, expires_at, file } = u;
        UploadOut {
            id,
            object: "upload",
            created_at,
            filename,
            bytes,
            purpose,
            status,
            expires_at,
            file: file.map(FileOut::from),
        }
    }
}

/// `UploadPart`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadPartOut {
    /// `part_…`.
    pub id: String,
    /// Always `upload.part`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// The upload it belongs to.
    pub upload_id: String,
}

impl From<pb::UploadPart> for UploadPartOut {
    fn from(p: pb::UploadPart) -> Self {
        let pb::UploadPart { id, created_at, upload_id } = p;
        UploadPartOut { id, object: "upload.part", created_at, upload_id }
    }
}

/// `FileExpirationAfter` as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiresAfterIn {
    /// Always `created_at` (checked by the service).
    pub anchor: String,
    /// Seconds after the anchor, 3600-2592000 (checked by the service).
    pub seconds: i64,
}

/// `CreateUploadRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadIn {
    /// The name of the file to create.
    pub filename: String,
    /// The purpose of the file to create (checked by the service).
    pub purpose: String,
    /// Total bytes the parts will add up to.
    pub bytes: i64,
    /// MIME type the file will be served with.
    pub mime_type: String,
    /// When the created file expires; never when unset.
    pub expires_after: Option<ExpiresAfterIn>,
}

/// `CompleteUploadRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteUploadIn {
    /// The `part_…` ids, in the order their bytes join.
    pub part_ids: Vec<String>,
    /// Hex MD5 of the whole file, checked when given.
    pub md5: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn json_of<T: Serialize>(v: T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    /// Parses JSON the code before the typed structs answered for the same message.
    fn old(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    fn file_with_expiry() -> pb::File {
        pb::File {
            id: "file-b".into(),
            bytes: 0,
            created_at: 5,
            expires_at: Some(99),
            filename: String::new(),
            purpose: "user_data".into(),
            status: "error".into(),
            status_details: Some("bad".into()),
            content_type: String::new(),
        }
    }

    #[test]
    fn file_leaves_out_unset_expiry_and_details() {
        let f = pb::File {
            id: "file-a".into(),
            bytes: 12,
            created_at: 1_700_000_000,
            expires_at: None,
            filename: "a.txt".into(),
            purpose: "assistants".into(),
            status: "processed".into(),
            status_details: None,
            content_type: "text/plain".into(),
        };
        assert_eq!(
            json_of(FileOut::from(f)),
            old(
                r#"{"bytes":12,"created_at":1700000000,"filename":"a.txt","id":"file-a","object":"file","purpose":"assistants","status":"processed"}"#
            )
        );
        assert_eq!(
            json_of(FileOut::from(file_with_expiry())),
            old(
                r#"{"bytes":0,"created_at":5,"expires_at":99,"filename":"","id":"file-b","object":"file","purpose":"user_data","status":"error","status_details":"bad"}"#
            )
        );
        assert_eq!(
            json_of(FileOut::from(pb::File::default())),
            old(r#"{"bytes":0,"created_at":0,"filename":"","id":"","object":"file","purpose":"","status":""}"#)
        );
    }

    #[test]
    fn upload_file_is_null_until_completed() {
        let u = pb::Upload {
            id: "upload_1".into(),
            created_at: 1,
            filename: "a.txt".into(),
            bytes: 100,
            purpose: "assistants".into(),
            status: "pending".into(),
            expires_at: 3601,
            file: None,
        };
        assert_eq!(
            json_of(UploadOut::from(u)),
            old(
                r#"{"bytes":100,"created_at":1,"expires_at":3601,"file":null,"filename":"a.txt","id":"upload_1","object":"upload","purpose":"assistants","status":"pending"}"#
            )
        );
        let u = pb::Upload {
            id: "upload_2".into(),
            created_at: 2,
            filename: "b".into(),
            bytes: 0,
            purpose: "batch".into(),
            status: "completed".into(),
            expires_at: 0,
            file: Some(file_with_expiry()),
        };
        assert_eq!(
            json_of(UploadOut::from(u)),
            old(
                r#"{"bytes":0,"created_at":2,"expires_at":0,"file":{"bytes":0,"created_at":5,"expires_at":99,"filename":"","id":"file-b","object":"file","purpose":"user_data","status":"error","status_details":"bad"},"filename":"b","id":"upload_2","object":"upload","purpose":"batch","status":"completed"}"#
            )
        );
        assert_eq!(
            json_of(UploadOut::from(pb::Upload::default())),
            old(
                r#"{"bytes":0,"created_at":0,"expires_at":0,"file":null,"filename":"","id":"","object":"upload","purpose":"","status":""}"#
            )
        );
        let p = pb::UploadPart { id: "part_1".into(), created_at: 7, upload_id: "upload_1".into() };
        assert_eq!(
            json_of(UploadPartOut::from(p)),
            old(r#"{"created_at":7,"id":"part_1","object":"upload.part","upload_id":"upload_1"}"#)
        );
    }
}

//! File and upload JSON.

use assistd_proto::pb;
use serde::Deserialize;
use serde_json::{Value, json};

/// `OpenAIFile`.
pub fn file_out(f: pb::File) -> Value {
    let pb::File { id, bytes, created_at, expires_at, filename, purpose, status, status_details, content_type: _ } = f;
    let mut v = json!({
        "id": id,
        "object": "file",
        "bytes": bytes,
        "created_at": created_at,
        "filename": filename,
        "purpose": purpose,
        "status": status,
    });
    if let Some(e) = expires_at {
        v["expires_at"] = e.into();
    }
    if let Some(d) = status_details {
        v["status_details"] = d.into();
    }
    v
}

/// `Upload`.
pub fn upload_out(u: pb::Upload) -> Value {
    let pb::Upload { id, created_at, filename, bytes, purpose, status, expires_at, file } = u;
    json!({
        "id": id,
        "object": "upload",
        "created_at": created_at,
        "filename": filename,
        "bytes": bytes,
        "purpose": purpose,
        "status": status,
        "expires_at": expires_at,
        "file": file.map(file_out),
    })
}

/// `UploadPart`.
pub fn upload_part_out(p: pb::UploadPart) -> Value {
    json!({"id": p.id, "object": "upload.part", "created_at": p.created_at, "upload_id": p.upload_id})
}

/// `FileExpirationAfter` as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiresAfterIn {
    /// created_at.
    pub anchor: String,
    /// Seconds.
    pub seconds: i64,
}

/// `CreateUploadRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadIn {
    /// Name.
    pub filename: String,
    /// Purpose.
    pub purpose: String,
    /// Total bytes.
    pub bytes: i64,
    /// MIME type.
    pub mime_type: String,
    /// File expiry.
    pub expires_after: Option<ExpiresAfterIn>,
}

/// `CompleteUploadRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteUploadIn {
    /// Part order.
    pub part_ids: Vec<String>,
    /// MD5 of the whole.
    pub md5: Option<String>,
}

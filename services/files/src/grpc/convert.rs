//! Proto ⇄ domain conversions of the files service.

use assistd_proto::pb;

use crate::domain::{File, Upload};

impl From<File> for pb::File {
    fn from(f: File) -> Self {
        let File { id, bytes, created_at, expires_at, filename, purpose, status, status_details, content_type } = f;
        pb::File { id, bytes, created_at, expires_at, filename, purpose, status, status_details, content_type }
    }
}

/// An upload as proto, with its file once completed, status as seen at `now`.
pub fn upload_to_pb(u: Upload, file: Option<File>, now: i64) -> pb::Upload {
    let status = u.effective_status(now).to_owned();
    let Upload {
        id,
        created_at,
        filename,
        bytes,
        purpose,
        mime_type: _,
        status: _,
        expires_at,
        file_expires_after: _,
        file_id: _,
    } = u;
    pb::Upload { id, created_at, filename, bytes, purpose, status, expires_at, file: file.map(Into::into) }
}

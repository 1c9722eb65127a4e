//! Proto ⇄ domain conversions of the files service. Requests become checked domain
//! values (`TryFrom`, the rules are the domain's); answers become proto (`From`).

use assistd_common::ServiceError;
use assistd_proto::pb;

use crate::domain::{ExpiresAfter, File, NewFile, NewUpload, Upload, UploadPart, UploadView};

impl From<File> for pb::File {
    fn from(f: File) -> Self {
        let File { id, bytes, created_at, expires_at, filename, purpose, status, status_details, content_type } = f;
        pb::File {
            id,
            bytes,
            created_at,
            expires_at,
            filename,
            purpose,
            status: status.as_str().to_owned(),
            status_details,
            content_type,
        }
    }
}

/// An upload as proto, status as seen at `now`.
pub fn upload_to_pb(v: UploadView, now: i64) -> pb::Upload {
    let UploadView { upload, file } = v;
    let status = upload.effective_status(now).as_str().to_owned();
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
    } = upload;
    pb::Upload { id, created_at, filename, bytes, purpose, status, expires_at, file: file.map(Into::into) }
}

impl From<UploadPart> for pb::UploadPart {
    fn from(p: UploadPart) -> Self {
        let UploadPart { id, created_at, upload_id, bytes: _, blob_key: _ } = p;
        pb::UploadPart { id, created_at, upload_id }
    }
}

impl From<pb::ExpiresAfter> for ExpiresAfter {
    fn from(e: pb::ExpiresAfter) -> Self {
        let pb::ExpiresAfter { anchor, seconds } = e;
        ExpiresAfter { anchor, seconds }
    }
}

impl TryFrom<pb::UploadFileHeader> for NewFile {
    type Error = ServiceError;

    fn try_from(h: pb::UploadFileHeader) -> Result<Self, ServiceError> {
        let pb::UploadFileHeader { filename, purpose, expires_after, content_type, tool_output } = h;
        if tool_output {
            return NewFile::tool_output(filename, content_type);
        }
        NewFile::new(filename, purpose, expires_after.map(Into::into), content_type)
    }
}

impl TryFrom<pb::CreateUploadRequest> for NewUpload {
    type Error = ServiceError;

    fn try_from(r: pb::CreateUploadRequest) -> Result<Self, ServiceError> {
        let pb::CreateUploadRequest { filename, purpose, bytes, mime_type, expires_after } = r;
        NewUpload::new(filename, purpose, bytes, mime_type, expires_after.map(Into::into))
    }
}

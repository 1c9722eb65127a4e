//! Checking that files referenced by another object exist, through the files
//! service's gRPC API (never its tables), acting with the caller's credentials.

use crate::caller::Caller;
use crate::channel::GrpcChannel;
use crate::error::{ErrorKind, ServiceError, ServiceResult};
use crate::images;
use assistd_proto::pb;
use assistd_proto::pb::file_service_client::FileServiceClient;

/// A client of the files service used to check references, if one is configured.
#[derive(Clone, Default)]
pub struct FileRefs {
    client: Option<FileServiceClient<GrpcChannel>>,
}

impl FileRefs {
    /// Checks references through `channel`.
    pub fn new(channel: GrpcChannel) -> Self {
        Self { client: Some(FileServiceClient::new(channel)) }
    }

    /// No checks (the files service is not reachable from this process).
    pub fn unchecked() -> Self {
        Self { client: None }
    }

    /// Fails with 400 naming the first `(param, file_id)` whose file does not exist
    /// for the caller.
    pub async fn check(&self, caller: &Caller, refs: &[(String, String)]) -> ServiceResult<()> {
        let Some(client) = &self.client else { return Ok(()) };
        let checks = refs.iter().map(|(param, file_id)| {
            let mut client = client.clone();
            let req = caller.request(pb::GetFileRequest { file_id: file_id.clone() }, None);
            async move {
                match client.get_file(req).await {
                    Ok(_) => Ok(()),
                    Err(s) if s.code() == tonic::Code::NotFound => {
                        Err(ServiceError::invalid(param.clone(), format!("No file found with id '{file_id}'.")))
                    }
                    Err(s) => Err(ServiceError::new(
                        ErrorKind::Unavailable,
                        format!("Could not check file '{file_id}': {}", s.message()),
                    )),
                }
            }
        });
        for r in futures::future::join_all(checks).await {
            r?;
        }
        Ok(())
    }

    /// Fails with 400 naming the first `(param, file_id)` that is not an image a model
    /// reads (PNG, JPEG, GIF or WEBP, at most [`images::MAX_IMAGE_BYTES`]); files that
    /// do not exist are [`FileRefs::check`]'s to report.
    pub async fn check_images(&self, caller: &Caller, refs: &[(String, String)]) -> ServiceResult<()> {
        let Some(client) = &self.client else { return Ok(()) };
        for (param, file_id) in refs {
            let req = caller.request(pb::GetFileRequest { file_id: file_id.clone() }, None);
            let Ok(file) = client.clone().get_file(req).await.map(tonic::Response::into_inner) else { continue };
            if images::mime(&file.filename, &file.content_type).is_none() {
                return Err(ServiceError::invalid(
                    param.clone(),
                    format!(
                        "File '{file_id}' ({}) is not a supported image: use PNG, JPEG, GIF or WEBP.",
                        file.filename
                    ),
                ));
            }
            if file.bytes.max(0) as u64 > images::MAX_IMAGE_BYTES {
                return Err(ServiceError::invalid(
                    param.clone(),
                    format!(
                        "Image '{file_id}' is {} bytes; images may be at most {} MB.",
                        file.bytes,
                        images::MAX_IMAGE_BYTES >> 20
                    ),
                ));
            }
        }
        Ok(())
    }
}

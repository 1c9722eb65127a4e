//! The vector stores service's client of the files service: it checks the files a
//! caller attaches and downloads them to index them, always through the files
//! service's gRPC API, acting for the file's project (see [`Caller`]).

use assistd_common::caller::Caller;
use assistd_common::channel::GrpcChannel;
use assistd_common::{ServiceError, ServiceResult};
use assistd_proto::pb;
use assistd_proto::pb::file_service_client::FileServiceClient;
use tonic::metadata::{Ascii, MetadataValue};

/// A client of the files service.
#[derive(Clone)]
pub struct Files {
    client: FileServiceClient<GrpcChannel>,
    internal: Option<MetadataValue<Ascii>>,
}

impl Files {
    /// A client over `channel`.
    pub fn new(channel: GrpcChannel) -> Self {
        Self {
            client: FileServiceClient::new(channel)
                .max_decoding_message_size(assistd_common::channel::MAX_GRPC_MESSAGE),
            internal: None,
        }
    }

    /// Authenticates the service's own calls (ingestion workers) with the
    /// deployment's internal token (see `assistd_common::auth::internal_token`).
    pub fn with_internal_token(mut self, token: Option<String>) -> Self {
        self.internal = assistd_common::caller::internal_authorization(token);
        self
    }

    /// The file's object; a 404 names the file.
    pub async fn get(&self, c: &Caller, file_id: &str) -> ServiceResult<pb::File> {
        let req = c.request(pb::GetFileRequest { file_id: file_id.to_owned() }, self.internal.as_ref());
        Ok(self.client.clone().get_file(req).await.map_err(|s| ServiceError::from_status(&s))?.into_inner())
    }

    /// The file's object and bytes; files over `max_bytes` are refused.
    pub async fn download(&self, c: &Caller, file_id: &str, max_bytes: u64) -> ServiceResult<(pb::File, Vec<u8>)> {
        let req = c.request(pb::DownloadFileRequest { file_id: file_id.to_owned() }, self.internal.as_ref());
        let mut stream =
            self.client.clone().download_file(req).await.map_err(|s| ServiceError::from_status(&s))?.into_inner();
        let mut info = None;
        let mut bytes = Vec::new();
        while let Some(part) = stream.message().await.map_err(|s| ServiceError::from_status(&s))? {
            match part.part {
                Some(pb::download_file_response::Part::Info(f)) => {
                    if f.bytes.max(0) as u64 > max_bytes {
                        return Err(ServiceError::too_large(
                            "file_id",
                            format!(
                                "File {file_id} is {} bytes; the most a vector store indexes is {max_bytes}.",
                                f.bytes
                            ),
                        ));
                    }
                    bytes.reserve(f.bytes.max(0) as usize);
                    info = Some(f);
                }
                Some(pb::download_file_response::Part::Chunk(c)) => bytes.extend_from_slice(&c),
                None => {}
            }
        }
        let info = info.ok_or_else(|| ServiceError::internal("downloading a file", "no file info in the stream"))?;
        Ok((info, bytes))
    }
}

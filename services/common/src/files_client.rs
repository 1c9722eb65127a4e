//! A client of the files service for the other services: the vector stores service
//! checks the files a caller attaches and downloads them to index them; the runs engine
//! downloads code_interpreter's input files and uploads what the code made. Always
//! through the files service's gRPC API, acting for the file's project (see [`Caller`]).

use crate::caller::Caller;
use crate::channel::GrpcChannel;
use crate::{ServiceError, ServiceResult};
use assistd_proto::pb;
use assistd_proto::pb::file_service_client::FileServiceClient;
use bytes::Bytes;
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
                .max_decoding_message_size(crate::channel::MAX_GRPC_MESSAGE)
                .max_encoding_message_size(crate::channel::MAX_GRPC_MESSAGE),
            internal: None,
        }
    }

    /// Authenticates the service's own calls (ingestion workers) with the
    /// deployment's internal token (see `assistd_common::auth::internal_token`).
    pub fn with_internal_token(mut self, token: Option<String>) -> Self {
        self.internal = crate::caller::internal_authorization(token);
        self
    }

    /// Authenticates the service's own calls with this `authorization` value.
    pub fn with_internal_authorization(mut self, value: Option<MetadataValue<Ascii>>) -> Self {
        self.internal = value;
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
                                "File {file_id} is {} bytes; the most that can be read here is {max_bytes}.",
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

    /// Stores `data` as a new file a tool made (purpose `assistants_output`).
    pub async fn upload_output(&self, c: &Caller, filename: &str, data: Bytes) -> ServiceResult<pb::File> {
        use pb::upload_file_request::Part;
        let header = pb::UploadFileHeader {
            filename: filename.to_owned(),
            purpose: String::new(),
            expires_after: None,
            content_type: None,
            tool_output: true,
        };
        let mut parts = vec![pb::UploadFileRequest { part: Some(Part::Header(header)) }];
        let mut at = 0;
        while at < data.len() {
            let end = (at + UPLOAD_CHUNK).min(data.len());
            parts.push(pb::UploadFileRequest { part: Some(Part::Chunk(data.slice(at..end).to_vec())) });
            at = end;
        }
        let req = c.request(futures::stream::iter(parts), self.internal.as_ref());
        Ok(self.client.clone().upload_file(req).await.map_err(|s| ServiceError::from_status(&s))?.into_inner())
    }
}

/// Bytes per message of an upload stream.
const UPLOAD_CHUNK: usize = 1 << 20;

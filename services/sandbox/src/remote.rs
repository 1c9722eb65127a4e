//! The sandbox as a peer: [`Sandbox`] over a `SandboxService` channel, in this process
//! or across the network (`--upstream sandbox=URL`). Runs hold one of these whatever
//! the deployment.

use assistd_common::caller::Caller;
use assistd_common::channel::GrpcChannel;
use assistd_common::{Project, ServiceError};
use assistd_proto::pb;
use assistd_proto::pb::sandbox_service_client::SandboxServiceClient;
use async_trait::async_trait;
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};

use crate::{Cell, Execution, Outcome, OutputFile, Sandbox, SandboxError, SandboxResult, SessionKey};

#[derive(Clone)]
pub struct RemoteSandbox {
    client: SandboxServiceClient<GrpcChannel>,
    /// `Bearer <internal token>`: the engine's calls have no client key.
    internal: Option<MetadataValue<Ascii>>,
}

impl RemoteSandbox {
    pub fn new(channel: GrpcChannel, internal: Option<MetadataValue<Ascii>>) -> Self {
        let max = assistd_common::channel::MAX_GRPC_MESSAGE;
        let client = SandboxServiceClient::new(channel).max_decoding_message_size(max).max_encoding_message_size(max);
        Self { client, internal }
    }

    fn request<T>(&self, key: &SessionKey, msg: T) -> tonic::Request<T> {
        Caller::engine(Project(key.project.clone())).request(msg, self.internal.as_ref())
    }
}

fn error(status: tonic::Status) -> SandboxError {
    let message = ServiceError::from_status(&status).message;
    match status.code() {
        Code::FailedPrecondition => SandboxError::Unavailable(message),
        Code::Unavailable | Code::Unimplemented => {
            SandboxError::Unavailable(format!("the sandbox service is unavailable: {message}"))
        }
        Code::ResourceExhausted => SandboxError::Busy(message),
        Code::InvalidArgument | Code::OutOfRange => SandboxError::Invalid(message),
        _ => SandboxError::Internal(message),
    }
}

#[async_trait]
impl Sandbox for RemoteSandbox {
    async fn execute(&self, cell: Cell) -> SandboxResult<Execution> {
        let msg = pb::ExecuteRequest {
            session: cell.session.owner.clone(),
            expect_file_ids: cell.expect,
            files: cell
                .files
                .into_iter()
                .map(|f| pb::SandboxFile { id: f.id, name: f.name, data: f.data.to_vec() })
                .collect(),
            code: cell.code,
        };
        let request = self.request(&cell.session, msg);
        let r = self.client.clone().execute(request).await.map_err(error)?.into_inner();
        if !r.missing_file_ids.is_empty() {
            return Err(SandboxError::MissingFiles(r.missing_file_ids));
        }
        let outcome = match pb::CellOutcome::try_from(r.outcome) {
            Ok(pb::CellOutcome::Completed) => Outcome::Completed,
            Ok(pb::CellOutcome::Failed) => Outcome::Failed,
            Ok(pb::CellOutcome::TimedOut) => Outcome::TimedOut,
            Ok(pb::CellOutcome::Ended) => Outcome::Ended,
            _ => return Err(SandboxError::Internal(format!("the sandbox answered outcome {}", r.outcome))),
        };
        Ok(Execution {
            outcome,
            logs: r.logs,
            images: r.images.into_iter().map(Into::into).collect(),
            files: r.files.into_iter().map(|f| OutputFile { name: f.name, data: f.data.into() }).collect(),
        })
    }

    async fn close(&self, session: &SessionKey) {
        let request = self.request(session, pb::CloseSessionRequest { session: session.owner.clone() });
        if let Err(e) = self.client.clone().close_session(request).await {
            tracing::warn!(%session, error = %e.message(), "closing a sandbox session failed");
        }
    }
}

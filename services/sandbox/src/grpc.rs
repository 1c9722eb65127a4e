//! `SandboxService` over any [`Sandbox`]: what `assistd serve` hosts (over the local
//! sandbox) for runs in the same process or, with `--only sandbox`, for runs elsewhere.

use std::sync::Arc;

use assistd_common::error::ErrorKind;
use assistd_common::{Project, ServiceError};
use assistd_proto::pb;
use tonic::{Request, Response, Status};

use crate::{Cell, Execution, InputFile, Outcome, Sandbox, SandboxError, SessionKey};

#[derive(Clone)]
pub struct SandboxServer {
    sandbox: Arc<dyn Sandbox>,
}

impl SandboxServer {
    pub fn new(sandbox: Arc<dyn Sandbox>) -> Self {
        Self { sandbox }
    }

    pub fn into_server(self) -> pb::sandbox_service_server::SandboxServiceServer<Self> {
        let max = assistd_common::channel::MAX_GRPC_MESSAGE;
        pb::sandbox_service_server::SandboxServiceServer::new(self)
            .max_decoding_message_size(max)
            .max_encoding_message_size(max)
    }
}

fn session(project: &Project, owner: &str) -> Result<SessionKey, Status> {
    if owner.is_empty() {
        return Err(ServiceError::invalid("session", "A session is required.").into());
    }
    Ok(SessionKey::new(project.id(), owner))
}

#[tonic::async_trait]
impl pb::sandbox_service_server::SandboxService for SandboxServer {
    async fn execute(&self, request: Request<pb::ExecuteRequest>) -> Result<Response<pb::ExecuteResponse>, Status> {
        let project = Project::of(&request)?;
        let r = request.into_inner();
        let cell = Cell {
            session: session(&project, &r.session)?,
            expect: r.expect_file_ids,
            files: r.files.into_iter().map(|f| InputFile { id: f.id, name: f.name, data: f.data.into() }).collect(),
            code: r.code,
        };
        match self.sandbox.execute(cell).await {
            Ok(e) => Ok(Response::new(e.into())),
            Err(SandboxError::MissingFiles(ids)) => {
                Ok(Response::new(pb::ExecuteResponse { missing_file_ids: ids, ..Default::default() }))
            }
            Err(e) => Err(ServiceError::from(e).into()),
        }
    }

    async fn close_session(
        &self,
        request: Request<pb::CloseSessionRequest>,
    ) -> Result<Response<pb::CloseSessionResponse>, Status> {
        let project = Project::of(&request)?;
        let key = session(&project, &request.get_ref().session)?;
        self.sandbox.close(&key).await;
        Ok(Response::new(pb::CloseSessionResponse {}))
    }
}

impl From<SandboxError> for ServiceError {
    fn from(e: SandboxError) -> Self {
        let kind = match &e {
            // not Unavailable: that would say "try again later" to a run
            SandboxError::Unavailable(_) => ErrorKind::FailedPrecondition,
            SandboxError::Busy(_) => ErrorKind::RateLimited,
            SandboxError::Invalid(_) | SandboxError::MissingFiles(_) => ErrorKind::InvalidArgument,
            SandboxError::Internal(_) => ErrorKind::Internal,
        };
        ServiceError::new(kind, e.to_string())
    }
}

impl From<Execution> for pb::ExecuteResponse {
    fn from(e: Execution) -> Self {
        let outcome = match e.outcome {
            Outcome::Completed => pb::CellOutcome::Completed,
            Outcome::Failed => pb::CellOutcome::Failed,
            Outcome::TimedOut => pb::CellOutcome::TimedOut,
            Outcome::Ended => pb::CellOutcome::Ended,
        };
        Self {
            outcome: outcome as i32,
            logs: e.logs,
            images: e.images.into_iter().map(|b| b.to_vec()).collect(),
            files: e
                .files
                .into_iter()
                .map(|f| pb::SandboxFile { id: String::new(), name: f.name, data: f.data.to_vec() })
                .collect(),
            missing_file_ids: vec![],
        }
    }
}

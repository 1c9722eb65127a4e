//! The tonic implementation of `RunService`: thin handlers that parse the request
//! (`request.rs`), call the engine, and convert its answer (`convert.rs`), streamed
//! runs' domain events included.

pub mod convert;
mod request;

use std::pin::Pin;

use assistd_common::ids::{RunId, StepId};
use assistd_common::metadata::Metadata;
use assistd_common::page::PageRequest;
use assistd_common::{Project, ServiceError};
use assistd_proto::pb;
use futures::Stream;
use tonic::{Request, Response, Status};

use self::convert::{event_to_pb, step_to_pb};
use crate::engine::{Engine, EventStream, NewRun};
use crate::peers::Caller;

/// The gRPC face of the runs service, over the run engine.
#[derive(Clone)]
pub struct RunsService {
    engine: Engine,
}

/// The events of a streamed run, as the gRPC stream carries them.
pub type RunEventStream = Pin<Box<dyn Stream<Item = Result<pb::RunEvent, Status>> + Send>>;

impl RunsService {
    /// A service driving runs with `engine`.
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }

    /// The tonic server for this service.
    pub fn into_server(self) -> pb::run_service_server::RunServiceServer<Self> {
        pb::run_service_server::RunServiceServer::new(self)
    }

    async fn new_run(&self, caller: &Caller, r: pb::CreateRunRequest) -> Result<NewRun, Status> {
        let (thread_id, params, additional_messages) = request::create_run(r);
        let checked = request::check(params)?;
        if additional_messages.len() > 32 {
            return Err(ServiceError::invalid(
                "additional_messages",
                "Invalid 'additional_messages': array too long. Expected an array with maximum length 32.",
            )
            .into());
        }
        Ok(self.engine.new_run(caller, &thread_id, checked, additional_messages).await?)
    }

    async fn new_thread_and_run(&self, caller: &Caller, r: pb::CreateThreadAndRunRequest) -> Result<NewRun, Status> {
        let (params, thread) = request::create_thread_and_run(r);
        let checked = request::check(params)?;
        Ok(self.engine.new_thread_and_run(caller, checked, thread).await?)
    }
}

fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    Ok(Caller::of(Project::of(request)?, request.metadata()))
}

fn in_mask(mask: &Option<prost_types::FieldMask>, field: &str) -> bool {
    mask.as_ref().is_some_and(|m| m.paths.iter().any(|p| p == field))
}

/// The run's events on the wire; steps carry what `include` asks for.
fn stream_response(events: EventStream, include: Vec<String>) -> Response<RunEventStream> {
    use futures::StreamExt;
    Response::new(events.map(move |e| Ok(event_to_pb(e, &include))).boxed())
}

#[tonic::async_trait]
impl pb::run_service_server::RunService for RunsService {
    async fn create_run(&self, request: Request<pb::CreateRunRequest>) -> Result<Response<pb::Run>, Status> {
        let caller = caller(&request)?;
        let new = self.new_run(&caller, request.into_inner()).await?;
        Ok(Response::new(self.engine.create(&caller, new).await?.into()))
    }

    async fn create_thread_and_run(
        &self,
        request: Request<pb::CreateThreadAndRunRequest>,
    ) -> Result<Response<pb::Run>, Status> {
        let caller = caller(&request)?;
        let new = self.new_thread_and_run(&caller, request.into_inner()).await?;
        Ok(Response::new(self.engine.create(&caller, new).await?.into()))
    }

    async fn list_runs(&self, request: Request<pb::ListRunsRequest>) -> Result<Response<pb::ListRunsResponse>, Status> {
        let caller = caller(&request)?;
        let pb::ListRunsRequest { thread_id, page } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<RunId>()?;
        let result = self.engine.list_runs(&caller, &thread_id, &page).await?;
        let data: Vec<pb::Run> = result.data.into_iter().map(Into::into).collect();
        Ok(Response::new(pb::ListRunsResponse {
            first_id: data.first().map(|r| r.id.clone()),
            last_id: data.last().map(|r| r.id.clone()),
            has_more: result.has_more,
            data,
        }))
    }

    async fn list_models(
        &self,
        request: Request<pb::ListModelsRequest>,
    ) -> Result<Response<pb::ListModelsResponse>, Status> {
        Project::of(&request)?;
        let data = self.engine.list_models().await.into_iter().map(pb::Model::from).collect();
        Ok(Response::new(pb::ListModelsResponse { data }))
    }

    async fn get_run(&self, request: Request<pb::GetRunRequest>) -> Result<Response<pb::Run>, Status> {
        let project = Project::of(&request)?;
        let pb::GetRunRequest { thread_id, run_id } = request.into_inner();
        Ok(Response::new(self.engine.get_run(&project, &thread_id, &run_id).await?.into()))
    }

    async fn modify_run(&self, request: Request<pb::ModifyRunRequest>) -> Result<Response<pb::Run>, Status> {
        let project = Project::of(&request)?;
        let pb::ModifyRunRequest { thread_id, run_id, metadata, update_mask } = request.into_inner();
        let run = if in_mask(&update_mask, "metadata") {
            let m: Metadata = metadata.map(|m| m.entries.into_iter().collect()).unwrap_or_default();
            self.engine.set_run_metadata(&project, &thread_id, &run_id, m).await?
        } else {
            self.engine.get_run(&project, &thread_id, &run_id).await?
        };
        Ok(Response::new(run.into()))
    }

    async fn cancel_run(&self, request: Request<pb::CancelRunRequest>) -> Result<Response<pb::Run>, Status> {
        let project = Project::of(&request)?;
        let pb::CancelRunRequest { thread_id, run_id } = request.into_inner();
        Ok(Response::new(self.engine.cancel(&project, &thread_id, &run_id).await?.into()))
    }

    async fn submit_tool_outputs(
        &self,
        request: Request<pb::SubmitToolOutputsRequest>,
    ) -> Result<Response<pb::Run>, Status> {
        let project = Project::of(&request)?;
        let pb::SubmitToolOutputsRequest { thread_id, run_id, tool_outputs } = request.into_inner();
        let outputs = tool_outputs.into_iter().map(request::tool_output).collect();
        Ok(Response::new(self.engine.submit(&project, &thread_id, &run_id, outputs).await?.into()))
    }

    async fn list_run_steps(
        &self,
        request: Request<pb::ListRunStepsRequest>,
    ) -> Result<Response<pb::ListRunStepsResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListRunStepsRequest { thread_id, run_id, page, include } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<StepId>()?;
        let result = self.engine.list_steps(&project, &thread_id, &run_id, &page).await?;
        let data: Vec<pb::RunStep> = result.data.into_iter().map(|s| step_to_pb(s, &include)).collect();
        Ok(Response::new(pb::ListRunStepsResponse {
            first_id: data.first().map(|s| s.id.clone()),
            last_id: data.last().map(|s| s.id.clone()),
            has_more: result.has_more,
            data,
        }))
    }

    async fn get_run_step(&self, request: Request<pb::GetRunStepRequest>) -> Result<Response<pb::RunStep>, Status> {
        let project = Project::of(&request)?;
        let pb::GetRunStepRequest { thread_id, run_id, step_id, include } = request.into_inner();
        let step = self.engine.get_step(&project, &thread_id, &run_id, &step_id).await?;
        Ok(Response::new(step_to_pb(step, &include)))
    }

    async fn stream_run(&self, request: Request<pb::CreateRunRequest>) -> Result<Response<RunEventStream>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let include = r.include.clone();
        let new = self.new_run(&caller, r).await?;
        Ok(stream_response(self.engine.create_streamed(&caller, new).await?, include))
    }

    async fn stream_thread_and_run(
        &self,
        request: Request<pb::CreateThreadAndRunRequest>,
    ) -> Result<Response<RunEventStream>, Status> {
        let caller = caller(&request)?;
        let new = self.new_thread_and_run(&caller, request.into_inner()).await?;
        Ok(stream_response(self.engine.create_streamed(&caller, new).await?, vec![]))
    }

    async fn stream_submit_tool_outputs(
        &self,
        request: Request<pb::SubmitToolOutputsRequest>,
    ) -> Result<Response<RunEventStream>, Status> {
        let project = Project::of(&request)?;
        let pb::SubmitToolOutputsRequest { thread_id, run_id, tool_outputs } = request.into_inner();
        let outputs = tool_outputs.into_iter().map(request::tool_output).collect();
        Ok(stream_response(self.engine.submit_streamed(&project, &thread_id, &run_id, outputs).await?, vec![]))
    }
}

#[cfg(test)]
mod tests;

//! The tonic implementation of `RunService`: thin handlers that parse, call the
//! engine or the store, and convert.

pub mod convert;
mod request;

use std::pin::Pin;

use assistd_common::ids::{RunId, StepId};
use assistd_common::metadata::{self, Metadata};
use assistd_common::page::PageRequest;
use assistd_common::{Project, ServiceError};
use assistd_proto::pb;
use futures::Stream;
use tonic::{Request, Response, Status};

use self::convert::step_to_pb;
use self::request::RunParams;
use crate::engine::{Engine, NewRun};
use crate::peers::Caller;

/// The runs service.
#[derive(Clone)]
pub struct RunsService {
    engine: Engine,
}

/// A stream of run events.
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
        let pb::CreateRunRequest {
            thread_id,
            assistant_id,
            model,
            reasoning_effort,
            instructions,
            additional_instructions,
            additional_messages,
            tools,
            metadata,
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy,
            tool_choice,
            parallel_tool_calls,
            response_format,
            include,
        } = r;
        let checked = request::check(RunParams {
            assistant_id,
            model,
            reasoning_effort,
            instructions,
            additional_instructions,
            tools,
            tool_resources: None,
            metadata,
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy,
            tool_choice,
            parallel_tool_calls,
            response_format,
            include,
        })?;
        if additional_messages.len() > 32 {
            return Err(ServiceError::invalid(
                "additional_messages",
                "Invalid 'additional_messages': array too long. Expected an array with maximum length 32.",
            )
            .into());
        }
        let peers = self.engine.peers();
        let (thread, assistant) =
            tokio::try_join!(peers.thread(caller, &thread_id), peers.assistant(caller, checked.assistant_id()))?;
        Ok(NewRun { run: checked.into_run(assistant, thread.id)?, additional_messages, created_thread: None })
    }

    async fn new_thread_and_run(&self, caller: &Caller, r: pb::CreateThreadAndRunRequest) -> Result<NewRun, Status> {
        let pb::CreateThreadAndRunRequest {
            assistant_id,
            thread,
            model,
            instructions,
            tools,
            tool_resources,
            metadata,
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy,
            tool_choice,
            parallel_tool_calls,
            response_format,
        } = r;
        let checked = request::check(RunParams {
            assistant_id,
            model,
            reasoning_effort: None,
            instructions,
            additional_instructions: None,
            tools,
            tool_resources,
            metadata,
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy,
            tool_choice,
            parallel_tool_calls,
            response_format,
            include: vec![],
        })?;
        let peers = self.engine.peers();
        let assistant = peers.assistant(caller, checked.assistant_id()).await?;
        peers.check_vector_stores(caller, &checked.vector_store_refs()?).await?;
        // Everything is checked before the thread is made; the thread's own rules
        // are checked by the threads service, with `thread.` before their params.
        let thread = peers.create_thread(caller, thread.unwrap_or_default()).await.map_err(|mut e| {
            e.param = e.param.map(|p| format!("thread.{p}"));
            e
        })?;
        let run = match checked.into_run(assistant, thread.id.clone()) {
            Ok(r) => r,
            Err(e) => {
                let _ = peers.delete_thread(caller, &thread.id).await;
                return Err(e.into());
            }
        };
        Ok(NewRun { run, additional_messages: vec![], created_thread: Some(thread) })
    }
}

fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    Ok(Caller::of(Project::of(request)?, request.metadata()))
}

fn in_mask(mask: &Option<prost_types::FieldMask>, field: &str) -> bool {
    mask.as_ref().is_some_and(|m| m.paths.iter().any(|p| p == field))
}

fn stream_response(s: Option<crate::engine::EventStream>) -> Result<Response<RunEventStream>, Status> {
    let s = s.ok_or_else(|| Status::internal("no event stream"))?;
    Ok(Response::new(s))
}

#[tonic::async_trait]
impl pb::run_service_server::RunService for RunsService {
    async fn create_run(&self, request: Request<pb::CreateRunRequest>) -> Result<Response<pb::Run>, Status> {
        let caller = caller(&request)?;
        let new = self.new_run(&caller, request.into_inner()).await?;
        let (run, _) = self.engine.create(&caller, new, None).await?;
        Ok(Response::new(run.into()))
    }

    async fn create_thread_and_run(
        &self,
        request: Request<pb::CreateThreadAndRunRequest>,
    ) -> Result<Response<pb::Run>, Status> {
        let caller = caller(&request)?;
        let new = self.new_thread_and_run(&caller, request.into_inner()).await?;
        let (run, _) = self.engine.create(&caller, new, None).await?;
        Ok(Response::new(run.into()))
    }

    async fn list_runs(&self, request: Request<pb::ListRunsRequest>) -> Result<Response<pb::ListRunsResponse>, Status> {
        let caller = caller(&request)?;
        let pb::ListRunsRequest { thread_id, page } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<RunId>()?;
        let result = self.engine.store().list_runs(&caller.project, &thread_id, &page).await?;
        if result.data.is_empty() {
            self.engine.peers().thread(&caller, &thread_id).await?;
        }
        let data: Vec<pb::Run> = result.data.into_iter().map(Into::into).collect();
        Ok(Response::new(pb::ListRunsResponse {
            first_id: data.first().map(|r| r.id.clone()),
            last_id: data.last().map(|r| r.id.clone()),
            has_more: result.has_more,
            data,
        }))
    }

    async fn get_run(&self, request: Request<pb::GetRunRequest>) -> Result<Response<pb::Run>, Status> {
        let project = Project::of(&request)?;
        let pb::GetRunRequest { thread_id, run_id } = request.into_inner();
        let run = self
            .engine
            .store()
            .get_run(&project, &thread_id, &run_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("run", &run_id))?;
        Ok(Response::new(run.into()))
    }

    async fn modify_run(&self, request: Request<pb::ModifyRunRequest>) -> Result<Response<pb::Run>, Status> {
        let project = Project::of(&request)?;
        let pb::ModifyRunRequest { thread_id, run_id, metadata, update_mask } = request.into_inner();
        let mut run = self
            .engine
            .store()
            .get_run(&project, &thread_id, &run_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("run", &run_id))?;
        if in_mask(&update_mask, "metadata") {
            let m: Metadata = metadata.map(|m| m.entries.into_iter().collect()).unwrap_or_default();
            metadata::validate("metadata", &m)?;
            run.metadata = m;
            self.engine.store().set_run_metadata(&project, &run).await?;
        }
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
        let caller = caller(&request)?;
        let pb::SubmitToolOutputsRequest { thread_id, run_id, tool_outputs } = request.into_inner();
        let (run, _) = self.engine.submit(&caller, &thread_id, &run_id, tool_outputs, None).await?;
        Ok(Response::new(run.into()))
    }

    async fn list_run_steps(
        &self,
        request: Request<pb::ListRunStepsRequest>,
    ) -> Result<Response<pb::ListRunStepsResponse>, Status> {
        let project = Project::of(&request)?;
        let pb::ListRunStepsRequest { thread_id, run_id, page, include } = request.into_inner();
        let page = PageRequest::from_pb(page, 20, 100)?.cursors_of::<StepId>()?;
        self.engine
            .store()
            .get_run(&project, &thread_id, &run_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("run", &run_id))?;
        let result = self.engine.store().list_steps(&project, &run_id, &page).await?;
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
        self.engine
            .store()
            .get_run(&project, &thread_id, &run_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("run", &run_id))?;
        let step = self
            .engine
            .store()
            .get_step(&project, &run_id, &step_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("run step", &step_id))?;
        Ok(Response::new(step_to_pb(step, &include)))
    }

    async fn stream_run(&self, request: Request<pb::CreateRunRequest>) -> Result<Response<RunEventStream>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let include = r.include.clone();
        let new = self.new_run(&caller, r).await?;
        let (_, events) = self.engine.create(&caller, new, Some(include)).await?;
        stream_response(events)
    }

    async fn stream_thread_and_run(
        &self,
        request: Request<pb::CreateThreadAndRunRequest>,
    ) -> Result<Response<RunEventStream>, Status> {
        let caller = caller(&request)?;
        let new = self.new_thread_and_run(&caller, request.into_inner()).await?;
        let (_, events) = self.engine.create(&caller, new, Some(vec![])).await?;
        stream_response(events)
    }

    async fn stream_submit_tool_outputs(
        &self,
        request: Request<pb::SubmitToolOutputsRequest>,
    ) -> Result<Response<RunEventStream>, Status> {
        let caller = caller(&request)?;
        let pb::SubmitToolOutputsRequest { thread_id, run_id, tool_outputs } = request.into_inner();
        let (_, events) = self.engine.submit(&caller, &thread_id, &run_id, tool_outputs, Some(vec![])).await?;
        stream_response(events)
    }
}

#[cfg(test)]
mod tests;

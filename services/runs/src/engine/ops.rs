//! The state-changing operations of the API: make a run from a checked request (on
//! its thread, or on one made for it), start it, cancel it, submit tool outputs. Each
//! checks the run's state, writes the change with a guard on the stored status (so
//! concurrent callers and workers cannot both win), then either leaves the run to the
//! workers or executes it here, streaming its events.

use assistd_common::{Project, ServiceError, ServiceResult, time};
use assistd_proto::pb;
use tokio::sync::mpsc;

use super::events::{EventStream, RunEvent};
use super::{Emitter, Engine};
use crate::domain::{Run, RunStatus, RunStep, StepDetails, StepStatus, StepToolCall};
use crate::peers::Caller;

/// Room for events not yet read by a streaming client; a slow client slows its run.
const STREAM_BUFFER: usize = 32;

/// A run request checked on its own rules, which the engine completes with its
/// peers' records: the assistant (the run's parameters default to the assistant's)
/// and the thread.
pub trait RunRequest {
    /// The assistant the run is for.
    fn assistant_id(&self) -> &str;
    /// The vector stores the request's own `tool_resources` name, as `(param, id)`.
    fn vector_store_refs(&self) -> ServiceResult<Vec<(String, String)>>;
    /// The queued run on `thread_id`, the request merged over `assistant`.
    fn into_run(self, assistant: pb::Assistant, thread_id: String) -> ServiceResult<Run>;
}

/// A run ready to start, made by [`Engine::new_run`] or [`Engine::new_thread_and_run`]:
/// checked against its assistant, on a thread that exists.
pub struct NewRun {
    /// The run, queued.
    run: Run,
    /// Messages to add to the thread first.
    additional_messages: Vec<pb::NewMessage>,
    /// A thread created for it (create-thread-and-run), to announce and to undo.
    created_thread: Option<pb::Thread>,
}

/// The output of one function call a run waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// The call answered (`call_…`).
    pub tool_call_id: String,
    /// What the call returned, as the model will read it.
    pub output: String,
}

/// Where a run that starts (or resumes) executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// On a worker: the run is stored queued.
    Queue,
    /// In this process at once, streaming: the run is stored in progress, leased here.
    Here,
}

/// A run recorded as started (or resumed).
struct Started {
    /// The run as the client first sees it: queued.
    announced: Run,
    /// The run as stored: in progress when it executes here.
    stored: Run,
    /// The thread made for it (create-thread-and-run).
    created_thread: Option<pb::Thread>,
}

impl Engine {
    /// A run of the request's assistant on the existing thread `thread_id` (both must
    /// exist for the caller); it adds `additional_messages` to the thread as it starts.
    pub async fn new_run(
        &self,
        caller: &Caller,
        thread_id: &str,
        request: impl RunRequest,
        additional_messages: Vec<pb::NewMessage>,
    ) -> ServiceResult<NewRun> {
        let peers = &self.inner.peers;
        let (thread, assistant) =
            tokio::try_join!(peers.thread(caller, thread_id), peers.assistant(caller, request.assistant_id()))?;
        Ok(NewRun { run: request.into_run(assistant, thread.id)?, additional_messages, created_thread: None })
    }

    /// A run of the request's assistant on a thread made for it from `thread`
    /// (create-thread-and-run). The assistant and the vector stores the request names
    /// are checked before the thread is made; the thread's own rules are the threads
    /// service's, their errors naming params under `thread.`. The thread is deleted
    /// again when the run cannot be made on it.
    pub async fn new_thread_and_run(
        &self,
        caller: &Caller,
        request: impl RunRequest,
        thread: pb::CreateThreadRequest,
    ) -> ServiceResult<NewRun> {
        let peers = &self.inner.peers;
        let assistant = peers.assistant(caller, request.assistant_id()).await?;
        peers.check_vector_stores(caller, &request.vector_store_refs()?).await?;
        let thread = peers.create_thread(caller, thread).await.map_err(|mut e| {
            e.param = e.param.map(|p| format!("thread.{p}"));
            e
        })?;
        match request.into_run(assistant, thread.id.clone()) {
            Ok(run) => Ok(NewRun { run, additional_messages: vec![], created_thread: Some(thread) }),
            Err(e) => {
                if let Err(d) = peers.delete_thread(caller, &thread.id).await {
                    tracing::warn!(thread_id = %thread.id, error = %d.message, "could not undo a thread");
                }
                Err(e)
            }
        }
    }

    /// Starts a run for the workers: adds its messages, records it queued, and
    /// returns it.
    pub async fn create(&self, caller: &Caller, new: NewRun) -> ServiceResult<Run> {
        let started = self.start(caller, new, Start::Queue).await?;
        self.inner.wake.notify_one();
        Ok(started.announced)
    }

    /// Starts a run executing in this process at once: adds its messages, records it
    /// in progress under this process's lease, and returns its events (the thread
    /// made for it, `thread.run.created`, `thread.run.queued`, then the drive's).
    pub async fn create_streamed(&self, caller: &Caller, new: NewRun) -> ServiceResult<EventStream> {
        let Started { announced, stored, created_thread } = self.start(caller, new, Start::Here).await?;
        let mut announce: Vec<RunEvent> = created_thread.into_iter().map(RunEvent::ThreadCreated).collect();
        announce.push(RunEvent::RunCreated(announced.clone()));
        announce.push(RunEvent::Run(announced));
        Ok(self.stream_here(caller.project.clone(), stored, announce))
    }

    /// Adds the run's messages and records it as `start` says; a thread made for the
    /// run is deleted again when the run cannot be recorded.
    async fn start(&self, caller: &Caller, new: NewRun, start: Start) -> ServiceResult<Started> {
        let NewRun { run, additional_messages, created_thread } = new;
        let project = &caller.project;
        let undo = async |e: ServiceError| {
            if let Some(t) = &created_thread
                && let Err(d) = self.inner.peers.delete_thread(caller, &t.id).await
            {
                tracing::warn!(thread_id = %t.id, error = %d.message, "could not undo a thread");
            }
            e
        };
        // The unique index refuses a second active run anyway; checking first keeps
        // a refused run from adding its messages.
        if !additional_messages.is_empty()
            && let Some(active) = self.inner.store.active_run(project, &run.thread_id).await?
        {
            return Err(undo(crate::store::thread_busy(&run.thread_id, Some(&active))).await);
        }
        for (i, m) in additional_messages.into_iter().enumerate() {
            if let Err(mut e) = self.inner.peers.create_message(caller, &run.thread_id, m).await {
                e.param = e.param.map(|p| format!("additional_messages[{i}].{p}"));
                return Err(e);
            }
        }
        // A run that executes here starts at once: it is stored in progress already.
        let mut stored = run.clone();
        let hold = (start == Start::Here).then(|| self.hold());
        if hold.is_some() {
            stored.status = RunStatus::InProgress;
            stored.started_at = Some(time::now_secs());
        }
        if let Err(e) = self.inner.store.insert_run(project, &stored, hold.as_ref()).await {
            return Err(undo(e).await);
        }
        Ok(Started { announced: run, stored, created_thread })
    }

    /// Executes `run` (stored in progress, leased here) in this process, streaming its
    /// events after `announce` (what the client learns before the run starts).
    fn stream_here(&self, project: Project, run: Run, announce: Vec<RunEvent>) -> EventStream {
        use futures::StreamExt;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut emit = Emitter::to(tx);
        let engine = self.clone();
        tokio::spawn(async move {
            for event in announce {
                emit.send(event).await;
            }
            engine.drive(project, run, emit).await;
        });
        tokio_stream::wrappers::ReceiverStream::new(rx).map(|e| *e).boxed()
    }

    /// Cancels a run. A run nobody executes (queued, or waiting for tool outputs)
    /// is cancelled at once; one being executed becomes `cancelling` and its executor
    /// stops it (at once in this process, at its next lease renewal elsewhere).
    pub async fn cancel(&self, project: &Project, thread_id: &str, run_id: &str) -> ServiceResult<Run> {
        for _ in 0..5 {
            let mut run = self.get_run(project, thread_id, run_id).await?;
            run.status.check_transition(RunStatus::Cancelling)?;
            let now = time::now_secs();
            match run.status {
                RunStatus::RequiresAction => {
                    run.status = RunStatus::Cancelled;
                    run.cancelled_at = Some(now);
                    run.required_action = None;
                    run.expires_at = None;
                    if self.inner.store.save_run(project, &run, &[RunStatus::RequiresAction], None, None).await? {
                        self.end_open_steps(project, &run, StepStatus::Cancelled).await?;
                        return Ok(run);
                    }
                }
                RunStatus::Queued if self.inner.store.cancel_unclaimed(project, &run.id, now).await? => {
                    run.status = RunStatus::Cancelled;
                    run.cancelled_at = Some(now);
                    run.expires_at = None;
                    return Ok(run);
                }
                RunStatus::Queued | RunStatus::InProgress => {
                    let from = run.status;
                    run.status = RunStatus::Cancelling;
                    if self.inner.store.set_status(project, &run.id, from, RunStatus::Cancelling).await? {
                        self.interrupt(&run.id);
                        return Ok(run);
                    }
                }
                _ => return Ok(run),
            }
        }
        Err(ServiceError::new(assistd_common::error::ErrorKind::Conflict, "The run changed while cancelling; retry."))
    }

    /// Ends a run's steps still in progress with `status`.
    pub(super) async fn end_open_steps(&self, project: &Project, run: &Run, status: StepStatus) -> ServiceResult<()> {
        let now = time::now_secs();
        for mut step in self.inner.store.all_steps(project, &run.id).await? {
            if step.status == StepStatus::InProgress {
                step.finish(status, now);
                if status == StepStatus::Failed {
                    step.last_error = run.last_error.clone();
                }
                self.inner.store.save_step(project, &step).await?;
            }
        }
        Ok(())
    }

    /// Records the outputs of the calls a run waits for and queues it again for the
    /// workers; returns it.
    pub async fn submit(
        &self,
        project: &Project,
        thread_id: &str,
        run_id: &str,
        outputs: Vec<ToolOutput>,
    ) -> ServiceResult<Run> {
        let (started, _) = self.resume(project, thread_id, run_id, outputs, Start::Queue).await?;
        self.inner.wake.notify_one();
        Ok(started.announced)
    }

    /// Records the outputs of the calls a run waits for and resumes it in this process
    /// at once; returns its events (the completed tool step, `thread.run.queued`, then
    /// the drive's).
    pub async fn submit_streamed(
        &self,
        project: &Project,
        thread_id: &str,
        run_id: &str,
        outputs: Vec<ToolOutput>,
    ) -> ServiceResult<EventStream> {
        let (started, step) = self.resume(project, thread_id, run_id, outputs, Start::Here).await?;
        let announce = vec![RunEvent::Step(step), RunEvent::Run(started.announced)];
        Ok(self.stream_here(project.clone(), started.stored, announce))
    }

    /// Checks `outputs` against the calls the run waits for, completes its tool step
    /// with them, and records the run as `start` says. Returns the run and the step.
    async fn resume(
        &self,
        project: &Project,
        thread_id: &str,
        run_id: &str,
        outputs: Vec<ToolOutput>,
        start: Start,
    ) -> ServiceResult<(Started, RunStep)> {
        let mut run = self.get_run(project, thread_id, run_id).await?;
        if run.status != RunStatus::RequiresAction {
            return Err(ServiceError::precondition(format!(
                "Runs in status \"{}\" do not accept tool outputs.",
                run.status.as_str()
            )));
        }
        let now = time::now_secs();
        if run.expires_at.is_some_and(|e| e <= now) {
            return Err(ServiceError::precondition(format!(
                "Run {run_id} has expired and can no longer accept tool outputs."
            )));
        }
        let pending = run.required_action.clone().unwrap_or_default();
        for (i, o) in outputs.iter().enumerate() {
            if !pending.iter().any(|c| c.id == o.tool_call_id) {
                return Err(ServiceError::invalid(
                    format!("tool_outputs[{i}].tool_call_id"),
                    format!("No tool call found with id '{}' for run {run_id}.", o.tool_call_id),
                ));
            }
            if outputs[..i].iter().any(|p| p.tool_call_id == o.tool_call_id) {
                return Err(ServiceError::invalid(
                    format!("tool_outputs[{i}].tool_call_id"),
                    format!("Duplicate output for tool call '{}'.", o.tool_call_id),
                ));
            }
        }
        let missing: Vec<&str> =
            pending.iter().filter(|c| !outputs.iter().any(|o| o.tool_call_id == c.id)).map(|c| c.id.as_str()).collect();
        if !missing.is_empty() {
            return Err(ServiceError::invalid(
                "tool_outputs",
                format!(
                    "Expected tool outputs for call_ids {:?}, got {:?}",
                    pending.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
                    outputs.iter().map(|o| o.tool_call_id.as_str()).collect::<Vec<_>>()
                ),
            ));
        }
        let mut step = self
            .inner
            .store
            .all_steps(project, &run.id)
            .await?
            .into_iter()
            .rev()
            .find(|s| s.status == StepStatus::InProgress && matches!(s.details, StepDetails::ToolCalls { .. }))
            .ok_or_else(|| ServiceError::internal("submitting tool outputs", "no open tool step"))?;
        if let StepDetails::ToolCalls { tool_calls } = &mut step.details {
            for call in tool_calls.iter_mut() {
                if let StepToolCall::Function { id, output, .. } = call
                    && let Some(o) = outputs.iter().find(|o| &o.tool_call_id == id)
                {
                    *output = Some(o.output.clone());
                }
            }
        }
        step.finish(StepStatus::Completed, now);

        run.status = RunStatus::Queued;
        run.required_action = None;
        run.expires_at = Some(now + crate::domain::REQUIRES_ACTION_TTL_SECS);
        // One that executes here resumes at once: stored in progress already.
        let mut stored = run.clone();
        let hold = (start == Start::Here).then(|| self.hold());
        if hold.is_some() {
            stored.status = RunStatus::InProgress;
        }
        if !self.inner.store.save_run(project, &stored, &[RunStatus::RequiresAction], hold.as_ref(), None).await? {
            return Err(ServiceError::precondition(format!("Run {run_id} is no longer waiting for tool outputs.")));
        }
        self.inner.store.save_step(project, &step).await?;
        Ok((Started { announced: run, stored, created_thread: None }, step))
    }
}

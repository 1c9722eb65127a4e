//! The state-changing operations of the API: create a run, cancel it, submit tool
//! outputs. Each checks the run's state, writes the change with a guard on the stored
//! status (so concurrent callers and workers cannot both win), then either streams
//! the run from here or leaves it to the workers.

use assistd_common::{Project, ServiceError, ServiceResult, time};
use assistd_proto::pb;
use tokio::sync::mpsc;

use super::{Emitter, Engine};
use crate::domain::{Run, RunStatus, RunStep, StepDetails, StepStatus, StepToolCall};
use crate::peers::Caller;

/// Events of a streamed run, as the gRPC stream carries them.
pub type EventStream = futures::stream::BoxStream<'static, Result<pb::RunEvent, tonic::Status>>;

fn event_stream(rx: mpsc::Receiver<Box<pb::RunEvent>>) -> EventStream {
    use futures::StreamExt;
    tokio_stream::wrappers::ReceiverStream::new(rx).map(|e| Ok(*e)).boxed()
}

/// Room for events not yet read by a streaming client; a slow client slows its run.
const STREAM_BUFFER: usize = 32;

/// An event sent before a streamed run starts executing.
enum Announce {
    /// `thread.created`.
    Thread(pb::Thread),
    /// `event` with the run.
    Run(&'static str, Run),
    /// `thread.run.step.<what>`.
    Step(&'static str, RunStep),
}

/// A run to start, validated; the thread exists.
pub struct NewRun {
    /// The run, queued.
    pub run: Run,
    /// Messages to add to the thread first.
    pub additional_messages: Vec<pb::NewMessage>,
    /// A thread created for it (create-thread-and-run), to announce and to undo.
    pub created_thread: Option<pb::Thread>,
}

impl Engine {
    /// Starts a run: adds its messages, records it queued, and either hands it to the
    /// workers (returns the run) or executes it here, streaming.
    pub async fn create(
        &self,
        caller: &Caller,
        new: NewRun,
        stream: Option<Vec<String>>,
    ) -> ServiceResult<(Run, Option<EventStream>)> {
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
        let hold = stream.is_some().then(|| self.hold());
        // A streamed run starts at once, here: it is stored in progress already.
        let mut stored = run.clone();
        if stream.is_some() {
            stored.status = RunStatus::InProgress;
            stored.started_at = Some(time::now_secs());
        }
        if let Err(e) = self.inner.store.insert_run(project, &stored, hold.as_ref()).await {
            return Err(undo(e).await);
        }
        let Some(include) = stream else {
            self.inner.wake.notify_one();
            return Ok((run, None));
        };
        let mut announce: Vec<Announce> = created_thread.into_iter().map(Announce::Thread).collect();
        announce.push(Announce::Run("thread.run.created", run.clone()));
        announce.push(Announce::Run("thread.run.queued", run.clone()));
        let events = self.stream_here(project.clone(), stored, include, announce);
        Ok((run, Some(events)))
    }

    /// Executes `run` (stored in progress, leased here) in this process, streaming its
    /// events after `announce` (what the client learns before the run starts).
    fn stream_here(&self, project: Project, run: Run, include: Vec<String>, announce: Vec<Announce>) -> EventStream {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut emit = Emitter::to(tx, include);
        let engine = self.clone();
        tokio::spawn(async move {
            for a in announce {
                match a {
                    Announce::Thread(t) => emit.thread(t).await,
                    Announce::Run(event, r) => emit.run_as(event, &r).await,
                    Announce::Step(what, s) => emit.step(what, &s).await,
                }
            }
            engine.drive(project, run, emit).await;
        });
        event_stream(rx)
    }

    async fn existing(&self, project: &Project, thread_id: &str, run_id: &str) -> ServiceResult<Run> {
        self.inner
            .store
            .get_run(project, thread_id, run_id)
            .await?
            .ok_or_else(|| ServiceError::not_found("run", run_id))
    }

    /// Cancels a run. A run nobody executes (queued, or waiting for tool outputs)
    /// is cancelled at once; one being executed becomes `cancelling` and its executor
    /// stops it (at once in this process, at its next lease renewal elsewhere).
    pub async fn cancel(&self, project: &Project, thread_id: &str, run_id: &str) -> ServiceResult<Run> {
        for _ in 0..5 {
            let mut run = self.existing(project, thread_id, run_id).await?;
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

    /// Records the outputs of the calls a run waits for and queues it again: for the
    /// workers, or to execute here when `stream` is given (it then starts with the
    /// completed tool step and `thread.run.queued`).
    pub async fn submit(
        &self,
        caller: &Caller,
        thread_id: &str,
        run_id: &str,
        outputs: Vec<pb::ToolOutput>,
        stream: Option<Vec<String>>,
    ) -> ServiceResult<(Run, Option<EventStream>)> {
        let project = &caller.project;
        let mut run = self.existing(project, thread_id, run_id).await?;
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
        let hold = stream.is_some().then(|| self.hold());
        // Streamed, it resumes here at once: stored in progress already.
        let mut stored = run.clone();
        if stream.is_some() {
            stored.status = RunStatus::InProgress;
        }
        if !self.inner.store.save_run(project, &stored, &[RunStatus::RequiresAction], hold.as_ref(), None).await? {
            return Err(ServiceError::precondition(format!("Run {run_id} is no longer waiting for tool outputs.")));
        }
        self.inner.store.save_step(project, &step).await?;
        let Some(include) = stream else {
            self.inner.wake.notify_one();
            return Ok((run, None));
        };
        let announce = vec![Announce::Step("completed", step), Announce::Run("thread.run.queued", run.clone())];
        let events = self.stream_here(project.clone(), stored, include, announce);
        Ok((run, Some(events)))
    }
}

//! Queue workers and the reaper. Workers claim queued runs from the database (at most
//! `concurrency` at once in this process) and drive them. The reaper queues again the
//! runs whose executor stopped renewing its lease (what it left open is closed; what it
//! finished stays), up to [`MAX_ATTEMPTS`] drives, then ends them (`failed` with
//! `server_error`); it expires runs that waited for tool outputs past `expires_at`.

use std::sync::Arc;

use assistd_common::{Project, ServiceResult, time};
use assistd_proto::pb;
use tokio::sync::Semaphore;

use super::{Emitter, Engine, now_ms};
use crate::domain::{Run, RunError, RunStatus, StepDetails, StepStatus};
use crate::peers::Caller;
use crate::store::Lease;

/// Most drives a run gets: a run whose worker died is queued again until it has been
/// started this many times, then it fails (`server_error`).
pub const MAX_ATTEMPTS: u32 = 5;

impl Engine {
    /// Starts the reaper and, when `claim`, the workers on the runtime; they stop
    /// with [`Engine::stop_workers`]. Every process hosting the engine reaps, so runs
    /// of a dead worker end even where no other worker runs.
    pub fn spawn_workers(&self, claim: bool) {
        if claim {
            let engine = self.clone();
            tokio::spawn(async move { engine.work().await });
        }
        let engine = self.clone();
        tokio::spawn(async move { engine.reap_forever().await });
    }

    async fn work(&self) {
        let slots = Arc::new(Semaphore::new(self.inner.cfg.concurrency.max(1)));
        loop {
            let permit = tokio::select! {
                () = self.inner.stopping.cancelled() => return,
                p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            };
            match self.inner.store.claim(&self.hold()).await {
                Ok(Some((project, run))) => {
                    metrics::counter!("assistd_runs_claimed_total").increment(1);
                    let engine = self.clone();
                    tracing::debug!(run_id = %run.id, "claimed a queued run");
                    tokio::spawn(async move {
                        engine.drive(project, run, Emitter::none()).await;
                        drop(permit);
                    });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        () = self.inner.stopping.cancelled() => return,
                        () = self.inner.wake.notified() => {}
                        () = tokio::time::sleep(self.inner.cfg.poll) => {}
                    }
                }
                Err(e) => {
                    drop(permit);
                    tracing::warn!(error = %e.message, "claiming a queued run failed");
                    tokio::time::sleep(self.inner.cfg.poll).await;
                }
            }
        }
    }

    async fn reap_forever(&self) {
        loop {
            tokio::select! {
                () = self.inner.stopping.cancelled() => return,
                () = tokio::time::sleep(self.inner.cfg.poll) => {}
            }
            if let Err(e) = self.reap().await {
                tracing::warn!(error = %e.message, "reaping runs failed");
            }
        }
    }

    /// One pass of the reaper.
    pub async fn reap(&self) -> ServiceResult<()> {
        for (project, run) in self.inner.store.lapsed(now_ms()).await? {
            // Take the run first, so that one process alone decides what becomes of it
            // (under a name of its own: this process's workers cannot renew it).
            let reaper = Lease::for_next(&format!("{}/reaper", self.inner.owner), self.inner.cfg.lease);
            let Some(attempts) = self.inner.store.take_lapsed(&run.id, &reaper, now_ms()).await? else { continue };
            if run.status != RunStatus::Cancelling && attempts + 1 < MAX_ATTEMPTS {
                tracing::warn!(run_id = %run.id, attempts, "the executor of a run stopped renewing its lease; queueing it again");
                metrics::counter!("assistd_runs_reaped_total", "reason" => "requeued").increment(1);
                self.requeue_abandoned(&project, run, &reaper).await?;
            } else {
                tracing::warn!(run_id = %run.id, attempts, "the executor of a run stopped renewing its lease; ending the run");
                metrics::counter!("assistd_runs_reaped_total", "reason" => "lease_lapsed").increment(1);
                self.end_abandoned(&project, run, &reaper).await?;
            }
        }
        for (project, run) in self.inner.store.overdue(time::now_secs()).await? {
            metrics::counter!("assistd_runs_reaped_total", "reason" => "expired").increment(1);
            self.expire(&project, run).await?;
        }
        Ok(())
    }

    /// Queues a run whose worker died for another drive. What the dead drive finished
    /// stays (completed steps: a tool call that ran is not run again); what it left
    /// open is closed (its message `incomplete`, its step `failed`), and the next drive
    /// goes on from there with a new message.
    async fn requeue_abandoned(&self, project: &Project, mut run: Run, reaper: &Lease) -> ServiceResult<()> {
        if self.answered(project, &run).await? {
            // It died after its answer was written, before the run was marked done.
            self.end_open_steps(project, &run, StepStatus::Completed).await?;
            run.status = RunStatus::Completed;
            run.completed_at = Some(time::now_secs());
            run.expires_at = None;
            run.required_action = None;
            let from = [RunStatus::Queued, RunStatus::InProgress];
            self.inner.store.save_run(project, &run, &from, None, Some(&reaper.owner)).await?;
            return Ok(());
        }
        run.last_error = Some(RunError::server("The worker executing this step stopped; the run was queued again."));
        self.close_messages(project, &run, "run_failed").await?;
        self.end_open_steps(project, &run, StepStatus::Failed).await?;
        if self.inner.store.requeue(&run.id, &reaper.owner).await? {
            self.inner.wake.notify_one();
        }
        Ok(())
    }

    /// Whether the run's answer is written: its last step writes a message that is
    /// `completed` (the engine closes a message before the answer's end only once a
    /// later step is stored).
    async fn answered(&self, project: &Project, run: &Run) -> ServiceResult<bool> {
        let steps = self.inner.store.all_steps(project, &run.id).await?;
        let Some(StepDetails::MessageCreation { message_id }) = steps.last().map(|s| &s.details) else {
            return Ok(false);
        };
        let caller = Caller::engine(project.clone());
        match self.inner.peers.message(&caller, &run.thread_id, message_id).await {
            Ok(message) => Ok(message.status == pb::MessageStatus::Completed as i32),
            Err(e) if e.kind == assistd_common::error::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn end_abandoned(&self, project: &Project, mut run: Run, reaper: &Lease) -> ServiceResult<()> {
        let from = run.status;
        let now = time::now_secs();
        if from == RunStatus::Cancelling {
            run.status = RunStatus::Cancelled;
            run.cancelled_at = Some(now);
        } else {
            run.status = RunStatus::Failed;
            run.failed_at = Some(now);
            run.last_error = Some(RunError::server("The worker executing this run stopped before it finished."));
        }
        run.expires_at = None;
        run.required_action = None;
        if !self.inner.store.save_run(project, &run, &[from], None, Some(&reaper.owner)).await? {
            return Ok(());
        }
        let step_status = if run.status == RunStatus::Cancelled { StepStatus::Cancelled } else { StepStatus::Failed };
        let reason = if run.status == RunStatus::Cancelled { "run_cancelled" } else { "run_failed" };
        self.close_messages(project, &run, reason).await?;
        self.end_open_steps(project, &run, step_status).await
    }

    async fn expire(&self, project: &Project, mut run: Run) -> ServiceResult<()> {
        run.status = RunStatus::Expired;
        run.required_action = None;
        if self.inner.store.save_run(project, &run, &[RunStatus::RequiresAction], None, None).await? {
            self.end_open_steps(project, &run, StepStatus::Expired).await?;
        }
        Ok(())
    }

    /// Marks the run's messages still in progress `incomplete`, keeping what was
    /// written. They are found by `run_id`, not through the steps: a message is written
    /// before its step, and a process may die between the two.
    async fn close_messages(&self, project: &Project, run: &Run, reason: &str) -> ServiceResult<()> {
        let caller = Caller::engine(project.clone());
        for m in self.inner.peers.messages(&caller, &run.thread_id, Some(&run.id)).await? {
            if m.status != pb::MessageStatus::InProgress as i32 {
                continue;
            }
            self.inner
                .peers
                .update_run_message(
                    &caller,
                    pb::UpdateRunMessageRequest {
                        thread_id: run.thread_id.clone(),
                        message_id: m.id.clone(),
                        status: pb::MessageStatus::Incomplete as i32,
                        content: m.content,
                        incomplete_reason: Some(reason.to_owned()),
                    },
                )
                .await?;
        }
        Ok(())
    }
}

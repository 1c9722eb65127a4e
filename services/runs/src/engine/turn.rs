//! One drive of a run: model calls streamed into a message and steps, until the run
//! ends or waits for tool outputs. Whatever stops it (the end of the answer, a token
//! budget, a backend error, a cancel, a lost lease, a storage error), the open message
//! and steps are closed and the run is left in a state that says why; except when the
//! database or a peer service is unavailable, when the run is left to the reaper, which
//! queues it again once its lease lapses.

use assistd_common::error::ErrorKind;
use assistd_common::ids::{CallId, MessageId, StepId};
use assistd_common::{Project, ServiceResult, time};
use assistd_proto::pb;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::events::{CallDelta, Emitter, MessageEvent};
use super::{Engine, code, file_search, images, prompt};
use crate::domain::{
    CodeFile, REQUIRES_ACTION_TTL_SECS, RequiredCall, Run, RunError, RunStatus, RunStep, SearchResult, StepDetails,
    StepStatus, StepToolCall, Usage,
};
use crate::model::{ChatEvent, ModelError};
use crate::peers::Caller;
use assistd_common::tools::Tool;

/// How a drive ends.
#[derive(Debug)]
enum End {
    Completed,
    RequiresAction(Vec<RequiredCall>),
    Incomplete(&'static str),
    Failed(RunError),
    Cancelled,
}

impl From<ModelError> for End {
    fn from(e: ModelError) -> Self {
        End::Failed(RunError { code: e.run_error_code().into(), message: e.to_string() })
    }
}

fn shutdown() -> End {
    End::Failed(RunError::server("The server shut down before the run finished."))
}

struct OpenMessage {
    step: RunStep,
    message: pb::Message,
    /// Figures code_interpreter drew since the last message, shown before the text.
    images: Vec<String>,
    text: String,
    /// The message and its step being written (announced before the write is done,
    /// so the first token is not kept waiting for the database).
    written: Option<tokio::task::JoinHandle<ServiceResult<()>>>,
}

struct OpenCall {
    id: String,
    name: String,
    arguments: String,
    /// The code of a code_interpreter call, streamed out of its arguments.
    code: Option<code::CodeStream>,
}

struct OpenTools {
    step: RunStep,
    /// By the model's call index.
    calls: Vec<(u32, OpenCall)>,
}

/// One drive of one run.
pub(super) struct Exec<'a> {
    engine: &'a Engine,
    project: Project,
    caller: Caller,
    run: Run,
    emit: &'a mut Emitter,
    cancel: CancellationToken,
    message: Option<OpenMessage>,
    tools: Option<OpenTools>,
    /// Results of the run's file_search calls so far, in order (markers cite them).
    searches: Vec<Vec<SearchResult>>,
    /// file_search and code_interpreter calls run in this turn, kept with the function
    /// calls that wait.
    searched: Vec<StepToolCall>,
    /// code_interpreter's input files (found on the first turn that needs them).
    code_inputs: Option<Vec<code::InputRef>>,
    /// Files the run's code wrote so far (`sandbox:` links in messages name them).
    written: Vec<CodeFile>,
    /// Figures the run's code drew that no message shows yet.
    images: Vec<String>,
    /// Uploaded images read so far in this drive.
    image_inputs: images::ImageInputs,
}

/// A run's message as written: the figures code drew before it, then its text with
/// the citations of file_search results and the paths of files the code wrote.
fn message_content(
    open: &OpenMessage,
    searches: &[Vec<SearchResult>],
    written: &[CodeFile],
) -> Vec<pb::MessageContent> {
    let mut annotations = file_search::citations(&open.text, searches);
    annotations.extend(code::file_paths(&open.text, written));
    annotations.sort_by_key(|a| a.start_index);
    let images = open.images.iter().map(|file_id| pb::MessageContent {
        part: Some(pb::message_content::Part::ImageFile(pb::ImageFileContent {
            file_id: file_id.clone(),
            detail: None,
        })),
    });
    let text = pb::MessageContent {
        part: Some(pb::message_content::Part::Text(pb::TextContent { value: open.text.clone(), annotations })),
    };
    images.chain(std::iter::once(text)).collect()
}

impl<'a> Exec<'a> {
    pub(super) fn new(
        engine: &'a Engine,
        project: Project,
        run: Run,
        emit: &'a mut Emitter,
        cancel: CancellationToken,
    ) -> Self {
        let caller = Caller::engine(project.clone());
        Self {
            engine,
            project,
            caller,
            run,
            emit,
            cancel,
            message: None,
            tools: None,
            searches: vec![],
            searched: vec![],
            code_inputs: None,
            written: vec![],
            images: vec![],
            image_inputs: Default::default(),
        }
    }

    fn has_code_interpreter(&self) -> bool {
        self.run.spec.tools.iter().any(|t| matches!(t, Tool::CodeInterpreter))
    }

    /// Reads the thread's uploaded images the model has not been given in this drive.
    async fn read_images(&mut self, messages: &[pb::Message]) -> ServiceResult<()> {
        let ids: Vec<String> =
            images::file_ids(messages).into_iter().filter(|id| !self.image_inputs.contains_key(id)).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let files = match self.engine.inner.peers.files() {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e.message, "uploaded images are not sent to the model");
                return Ok(());
            }
        };
        for id in ids {
            let image = images::read(&files, &self.caller, &id).await?;
            self.image_inputs.insert(id, image);
        }
        Ok(())
    }

    /// code_interpreter's input files for this run (looked up once per drive).
    async fn code_inputs(&mut self, messages: &[pb::Message]) -> ServiceResult<Vec<code::InputRef>> {
        if let Some(known) = &self.code_inputs {
            return Ok(known.clone());
        }
        let peers = &self.engine.inner.peers;
        // A deleted assistant or thread has no files to give.
        let assistant = peers.assistant(&self.caller, &self.run.assistant_id).await.ok();
        let thread = peers.thread(&self.caller, &self.run.thread_id).await.ok();
        let ids = code::input_file_ids(assistant.as_ref(), thread.as_ref(), &self.run, messages);
        let mut named = Vec::new();
        if !ids.is_empty() {
            let files = match peers.files() {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(error = %e.message, "code_interpreter's files are left out");
                    self.code_inputs = Some(vec![]);
                    return Ok(vec![]);
                }
            };
            for id in ids {
                match files.get(&self.caller, &id).await {
                    Ok(f) => named.push((id, f.filename)),
                    Err(e) if e.kind == ErrorKind::NotFound => {
                        tracing::warn!(file_id = %id, "a code_interpreter file is gone; left out")
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let inputs = code::name_inputs(named);
        self.code_inputs = Some(inputs.clone());
        Ok(inputs)
    }

    /// Drives the run to its next resting state.
    pub(super) async fn run(mut self) {
        let started = std::time::Instant::now();
        let end = match self.go().await {
            Ok(end) => end,
            Err(e) if e.kind == ErrorKind::Unavailable => {
                // The database or a peer service is unavailable (a restart): nothing is
                // wrong with the run. It is left as it is; its lease lapses and the
                // reaper queues it again, closing what this drive left open.
                tracing::warn!(run_id = %self.run.id, error = %e.message, "a dependency is unavailable; leaving the run to be queued again");
                self.emit.error(&e.message).await;
                self.engine.unregister(&self.run.id);
                return;
            }
            Err(e) => {
                tracing::error!(run_id = %self.run.id, error = %e.message, "run failed on an internal error");
                self.emit.error(&e.message).await;
                End::Failed(RunError::server("The server had an error while processing your request."))
            }
        };
        if let Err(e) = self.finish(end).await {
            tracing::error!(run_id = %self.run.id, error = %e.message, "could not record the end of a run");
        }
        let status = self.run.status.as_str();
        metrics::counter!("assistd_runs_total", "status" => status).increment(1);
        metrics::histogram!("assistd_run_duration_seconds", "status" => status).record(started.elapsed().as_secs_f64());
        tracing::info!(
            status,
            prompt_tokens = self.run.usage.prompt_tokens,
            completion_tokens = self.run.usage.completion_tokens,
            "run stopped"
        );
        self.engine.unregister(&self.run.id);
    }

    async fn save(&mut self, expect: &[RunStatus], hold: bool) -> ServiceResult<bool> {
        let lease = if hold { Some(self.engine.hold()) } else { None };
        let store = &self.engine.inner.store;
        let owner = Some(self.engine.inner.owner.as_str());
        let saved = store.save_run(&self.project, &self.run, expect, lease.as_ref(), owner).await?;
        // The save leaves metadata alone; the events that follow show what is stored.
        if saved && let Some(metadata) = store.run_metadata(&self.project, &self.run.id).await? {
            self.run.metadata = metadata;
        }
        Ok(saved)
    }

    async fn go(&mut self) -> ServiceResult<End> {
        // A streamed run is stored `in_progress` when it is created (its client saw
        // it queued); a run from the queue starts here.
        if self.run.status == RunStatus::Queued {
            self.run.status = RunStatus::InProgress;
            self.run.started_at.get_or_insert(time::now_secs());
            if !self.save(&[RunStatus::Queued], true).await? {
                return Ok(End::Cancelled);
            }
        }
        self.emit.run(&self.run).await;
        for _ in 0..self.engine.inner.cfg.max_turns {
            if self.cancel.is_cancelled() {
                return Ok(End::Cancelled);
            }
            if self.engine.shutting_down().is_cancelled() {
                return Ok(shutdown());
            }
            if let Some(end) = self.turn().await? {
                return Ok(end);
            }
        }
        Ok(End::Failed(RunError::server("The run made too many tool calls without an answer.")))
    }

    /// One model call; `None` when the run goes on with another.
    async fn turn(&mut self) -> ServiceResult<Option<End>> {
        let spec = &self.run.spec;
        let remaining = match spec.max_completion_tokens {
            Some(max) if self.run.usage.completion_tokens >= u64::from(max) => {
                return Ok(Some(End::Incomplete("max_completion_tokens")));
            }
            Some(max) => Some(u64::from(max) - self.run.usage.completion_tokens),
            None => None,
        };
        let (backend, name) = match self.engine.inner.models.resolve(&spec.model) {
            Ok(r) => r,
            Err(e) => return Ok(Some(e.into())),
        };
        let (thread, steps) = tokio::try_join!(
            self.engine.inner.peers.messages(&self.caller, &self.run.thread_id, None),
            self.engine.inner.store.all_steps(&self.project, &self.run.id)
        )?;
        let calls_so_far = || {
            steps.iter().flat_map(|s| match &s.details {
                StepDetails::ToolCalls { tool_calls } => tool_calls.clone(),
                StepDetails::MessageCreation { .. } => vec![],
            })
        };
        self.searches = calls_so_far()
            .filter_map(|c| match c {
                StepToolCall::FileSearch { results, .. } => Some(results),
                _ => None,
            })
            .collect();
        self.written = calls_so_far()
            .flat_map(|c| match c {
                StepToolCall::CodeInterpreter { files, .. } => files,
                _ => vec![],
            })
            .collect();
        let code_files: Vec<String> = if self.has_code_interpreter() {
            self.code_inputs(&thread).await?.into_iter().map(|f| f.name).collect()
        } else {
            vec![]
        };
        self.read_images(&thread).await?;
        let inputs = prompt::Inputs { code_files, images: Some(&self.image_inputs) };
        let mut request = match prompt::build(&self.run, &thread, &steps, &name, &inputs) {
            Ok(r) => r,
            Err(prompt::TooLong) => return Ok(Some(End::Incomplete("max_prompt_tokens"))),
        };
        request.max_tokens = remaining.map(|r| r.min(u64::from(u32::MAX)) as u32);
        let prompt_estimate = prompt::prompt_tokens(&request.messages);

        let asked = std::time::Instant::now();
        let mut first = true;
        let mut stream = tokio::select! {
            biased;
            () = self.cancel.cancelled() => return Ok(Some(End::Cancelled)),
            () = self.engine.shutting_down().cancelled() => return Ok(Some(shutdown())),
            r = backend.stream(request) => match r {
                Ok(s) => s,
                Err(e) => return Ok(Some(e.into())),
            },
        };
        let mut usage = None;
        let mut finish = None;
        loop {
            let next = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Ok(Some(End::Cancelled)),
                () = self.engine.shutting_down().cancelled() => return Ok(Some(shutdown())),
                n = stream.next() => n,
            };
            if first && next.is_some() {
                first = false;
                metrics::histogram!("assistd_run_first_token_seconds").record(asked.elapsed().as_secs_f64());
            }
            match next {
                None => break,
                Some(Err(e)) => return Ok(Some(e.into())),
                Some(Ok(ChatEvent::Text(t))) => self.on_text(&t).await?,
                Some(Ok(ChatEvent::ToolCall { index, id, name, arguments })) => {
                    self.on_tool_call(index, id, name, &arguments).await?
                }
                Some(Ok(ChatEvent::Usage { prompt_tokens, completion_tokens })) => {
                    usage = Some(Usage { prompt_tokens, completion_tokens })
                }
                Some(Ok(ChatEvent::Finish(f))) => finish = Some(f),
            }
        }
        let usage = usage.unwrap_or_else(|| Usage {
            prompt_tokens: prompt_estimate,
            completion_tokens: self.message.as_ref().map(|m| prompt::estimate_tokens(&m.text)).unwrap_or(0)
                + self
                    .tools
                    .as_ref()
                    .map(|t| t.calls.iter().map(|(_, c)| prompt::estimate_tokens(&c.arguments)).sum())
                    .unwrap_or(0),
        });
        self.run.usage.add(usage);
        metrics::counter!("assistd_run_tokens_total", "kind" => "prompt").increment(usage.prompt_tokens);
        metrics::counter!("assistd_run_tokens_total", "kind" => "completion").increment(usage.completion_tokens);

        if let Some(tools) = &mut self.tools {
            tools.step.usage = Some(usage);
            let calls: Vec<RequiredCall> = tools
                .calls
                .iter()
                .map(|(_, c)| RequiredCall { id: c.id.clone(), name: c.name.clone(), arguments: c.arguments.clone() })
                .collect();
            let settings = file_search::settings(&self.run.spec.tools);
            let coding = self.has_code_interpreter();
            let (searches, rest): (Vec<RequiredCall>, Vec<RequiredCall>) =
                calls.into_iter().partition(|c| settings.is_some() && c.name == prompt::FILE_SEARCH);
            let (codes, functions): (Vec<RequiredCall>, Vec<RequiredCall>) =
                rest.into_iter().partition(|c| coding && c.name == prompt::CODE_INTERPRETER);
            if let Some(settings) = settings.filter(|_| !searches.is_empty()) {
                let cancel = self.cancel.clone();
                let searched = tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(Some(End::Cancelled)),
                    r = self.run_searches(&searches, &settings) => r,
                };
                match searched {
                    Ok(done) => self.searched = done,
                    Err(e) => return Ok(Some(End::Failed(e))),
                }
            }
            if !codes.is_empty() {
                // Dropping the cell (a cancel, a shutdown) kills it in the sandbox.
                let (cancel, shutdown_token) = (self.cancel.clone(), self.engine.shutting_down().clone());
                let ran = tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(Some(End::Cancelled)),
                    () = shutdown_token.cancelled() => return Ok(Some(shutdown())),
                    r = self.run_codes(&codes, &thread) => r?,
                };
                match ran {
                    Ok(done) => self.searched.extend(done),
                    Err(e) => return Ok(Some(End::Failed(e))),
                }
            }
            if !functions.is_empty() {
                return Ok(Some(End::RequiresAction(functions)));
            }
            // Only built-in tools: the step is done and the model goes on with the results.
            let Some(mut tools) = self.tools.take() else { return Ok(None) };
            tools.step.details = StepDetails::ToolCalls { tool_calls: std::mem::take(&mut self.searched) };
            tools.step.finish(StepStatus::Completed, time::now_secs());
            self.engine.inner.store.save_step(&self.project, &tools.step).await?;
            self.emit.step(&tools.step).await;
            return Ok(None);
        }
        if self.message.is_none() {
            self.open_message().await?;
        }
        if let Some(m) = &mut self.message {
            m.step.usage = Some(usage);
        }
        // A `length` stop with a completion budget is the budget's doing (the request
        // asked for at most what was left of it).
        let cut_by_budget = finish.as_deref() == Some("length") && remaining.is_some();
        let over = self.run.spec.max_completion_tokens.is_some_and(|m| self.run.usage.completion_tokens > u64::from(m));
        if cut_by_budget || over {
            return Ok(Some(End::Incomplete("max_completion_tokens")));
        }
        Ok(Some(End::Completed))
    }

    /// Runs the model's file_search calls; they keep their call ids.
    async fn run_searches(
        &mut self,
        calls: &[RequiredCall],
        settings: &file_search::Settings,
    ) -> Result<Vec<StepToolCall>, RunError> {
        let mut done = Vec::new();
        for c in calls {
            let results = file_search::search(
                &self.engine.inner.peers,
                &self.caller,
                &self.run.assistant_id,
                &self.run.thread_id,
                &c.arguments,
                settings,
            )
            .await?;
            self.searches.push(results.clone());
            done.push(StepToolCall::FileSearch {
                id: c.id.clone(),
                arguments: c.arguments.clone(),
                ranker: settings.ranker.clone(),
                score_threshold: settings.score_threshold,
                results,
            });
        }
        Ok(done)
    }

    /// Runs the model's code_interpreter calls in the thread's session, in order; each
    /// call's outputs stream to the client once it ran. The outer error is the
    /// service's; the inner ends the run.
    async fn run_codes(
        &mut self,
        calls: &[RequiredCall],
        messages: &[pb::Message],
    ) -> ServiceResult<Result<Vec<StepToolCall>, RunError>> {
        let unavailable = |e: assistd_common::ServiceError| RunError::server(e.message);
        let sandbox = match self.engine.inner.peers.sandbox() {
            Ok(s) => s.clone(),
            Err(e) => return Ok(Err(unavailable(e))),
        };
        // Needed only when there are files to send or store.
        let files = self.engine.inner.peers.files().ok();
        let inputs = self.code_inputs(messages).await?;
        let session = code::session(&self.project, &self.run);
        let mut done = Vec::new();
        for c in calls {
            let input = code::code_of(&c.arguments);
            let started = std::time::Instant::now();
            let ran =
                code::execute(sandbox.as_ref(), files.as_ref(), &self.caller, session.clone(), &inputs, input.clone())
                    .await;
            let execution = match ran {
                Ok(e) => e,
                Err(e) => return Ok(Err(e)),
            };
            tracing::info!(
                call_id = %c.id,
                outcome = execution.outcome.as_str(),
                seconds = started.elapsed().as_secs_f64(),
                "code_interpreter call ran"
            );
            let (outputs, written) = match code::store_outputs(files.as_ref(), &self.caller, &c.id, execution).await {
                Ok(o) => o,
                Err(e) => return Ok(Err(e)),
            };
            self.images.extend(outputs.iter().filter_map(|o| match o {
                crate::domain::CodeOutput::Image { file_id } => Some(file_id.clone()),
                crate::domain::CodeOutput::Logs { .. } => None,
            }));
            self.written.extend(written.iter().cloned());
            if let Some(tools) = &self.tools
                && let Some(index) = tools.calls.iter().position(|(_, open)| open.id == c.id)
            {
                let step_id = tools.step.id.clone();
                self.emit.step_delta(&step_id, index as u32, CallDelta::CodeOutputs(outputs.clone())).await;
            }
            done.push(StepToolCall::CodeInterpreter { id: c.id.clone(), input, outputs, files: written });
        }
        Ok(Ok(done))
    }

    fn new_step(&self, details: StepDetails) -> RunStep {
        let r = &self.run;
        RunStep::open(StepId::generate().into_string(), &r.id, &r.thread_id, &r.assistant_id, details, time::now_secs())
    }

    async fn open_message(&mut self) -> ServiceResult<()> {
        let r = &self.run;
        let message = pb::Message {
            id: MessageId::generate().into_string(),
            created_at: time::now_secs(),
            thread_id: r.thread_id.clone(),
            status: pb::MessageStatus::InProgress as i32,
            role: pb::MessageRole::Assistant as i32,
            assistant_id: Some(r.assistant_id.clone()),
            run_id: Some(r.id.clone()),
            metadata: Some(pb::Metadata::default()),
            ..Default::default()
        };
        let step = self.new_step(StepDetails::MessageCreation { message_id: message.id.clone() });
        let (peers, store, caller, project) = (
            self.engine.inner.peers.clone(),
            self.engine.inner.store.clone(),
            self.caller.clone(),
            self.project.clone(),
        );
        let (m, s) = (message.clone(), step.clone());
        let written = tokio::spawn(async move {
            peers.create_run_message(&caller, &m).await?;
            store.insert_step(&project, &s).await
        });
        self.emit.step_created(&step).await;
        self.emit.step(&step).await;
        self.emit.message(MessageEvent::Created, &message).await;
        self.emit.message(MessageEvent::InProgress, &message).await;
        let images = std::mem::take(&mut self.images);
        for (i, file_id) in images.iter().enumerate() {
            self.emit.image_delta(&message.id, i as u32, file_id).await;
        }
        self.message = Some(OpenMessage { step, message, images, text: String::new(), written: Some(written) });
        Ok(())
    }

    async fn on_text(&mut self, text: &str) -> ServiceResult<()> {
        if text.is_empty() {
            return Ok(());
        }
        if self.message.is_none() {
            self.open_message().await?;
        }
        if let Some(m) = &mut self.message {
            m.text.push_str(text);
            self.emit.text_delta(&m.message.id, m.images.len() as u32, text).await;
        }
        Ok(())
    }

    async fn on_tool_call(
        &mut self,
        index: u32,
        id: Option<String>,
        name: Option<String>,
        arguments: &str,
    ) -> ServiceResult<()> {
        if self.tools.is_none() {
            let step = self.new_step(StepDetails::ToolCalls { tool_calls: vec![] });
            // Stored before the text before the calls is closed: a completed message
            // with no later step is then always the end of an answer (the reaper
            // relies on it when the worker dies here).
            self.engine.inner.store.insert_step(&self.project, &step).await?;
            if self.message.is_some() {
                // The text before the calls is a message of its own, finished now.
                self.close_message(pb::MessageStatus::Completed, None, StepStatus::Completed, None).await?;
            }
            self.emit.step_created(&step).await;
            self.emit.step(&step).await;
            self.tools = Some(OpenTools { step, calls: vec![] });
        }
        if self.message.is_some() {
            // Text between calls of one answer: a message of its own, finished now.
            self.close_message(pb::MessageStatus::Completed, None, StepStatus::Completed, None).await?;
        }
        let Some(tools) = &mut self.tools else { return Ok(()) };
        let pos = match tools.calls.iter().position(|(i, _)| *i == index) {
            Some(p) => p,
            None => {
                let coding = self.run.spec.tools.iter().any(|t| matches!(t, Tool::CodeInterpreter));
                let mut call = OpenCall {
                    id: id.filter(|s| !s.is_empty()).unwrap_or_else(|| CallId::generate().into_string()),
                    name: name.clone().unwrap_or_default(),
                    arguments: String::new(),
                    code: None,
                };
                let at = tools.calls.len() as u32;
                let delta = if call.name == prompt::FILE_SEARCH && file_search::settings(&self.run.spec.tools).is_some()
                {
                    CallDelta::FileSearchOpened { id: call.id.clone() }
                } else if call.name == prompt::CODE_INTERPRETER && coding {
                    call.code = Some(code::CodeStream::default());
                    CallDelta::CodeOpened { id: call.id.clone() }
                } else {
                    CallDelta::FunctionOpened { id: call.id.clone(), name: call.name.clone() }
                };
                self.emit.step_delta(&tools.step.id, at, delta).await;
                tools.calls.push((index, call));
                tools.calls.len() - 1
            }
        };
        let call = &mut tools.calls[pos].1;
        if call.name.is_empty()
            && let Some(n) = name
        {
            call.name = n;
        }
        if !arguments.is_empty() {
            call.arguments.push_str(arguments);
            if let Some(stream) = &mut call.code {
                let code = stream.feed(arguments);
                if !code.is_empty() {
                    self.emit.step_delta(&tools.step.id, pos as u32, CallDelta::CodeInput(code)).await;
                }
            } else if call.name != prompt::FILE_SEARCH || file_search::settings(&self.run.spec.tools).is_none() {
                let fragment = CallDelta::FunctionArguments(arguments.to_owned());
                self.emit.step_delta(&tools.step.id, pos as u32, fragment).await;
            }
        }
        Ok(())
    }

    /// Writes the open message with `status`, and ends its step with `step_status`.
    async fn close_message(
        &mut self,
        status: pb::MessageStatus,
        incomplete_reason: Option<&str>,
        step_status: StepStatus,
        error: Option<&RunError>,
    ) -> ServiceResult<()> {
        let Some(mut open) = self.message.take() else { return Ok(()) };
        if let Some(w) = open.written.take() {
            w.await.map_err(|e| assistd_common::ServiceError::internal("writing a run message", e))??;
        }
        let written = self
            .engine
            .inner
            .peers
            .update_run_message(
                &self.caller,
                pb::UpdateRunMessageRequest {
                    thread_id: self.run.thread_id.clone(),
                    message_id: open.message.id.clone(),
                    status: status as i32,
                    content: message_content(&open, &self.searches, &self.written),
                    incomplete_reason: incomplete_reason.map(str::to_owned),
                },
            )
            .await?;
        let event =
            if status == pb::MessageStatus::Completed { MessageEvent::Completed } else { MessageEvent::Incomplete };
        self.emit.message(event, &written).await;
        open.step.finish(step_status, time::now_secs());
        open.step.last_error = error.cloned();
        self.engine.inner.store.save_step(&self.project, &open.step).await?;
        self.emit.step(&open.step).await;
        Ok(())
    }

    /// Closes what is open as `end` says and records the run's new state.
    async fn finish(&mut self, end: End) -> ServiceResult<()> {
        let now = time::now_secs();
        let (msg_status, reason, step_status, error) = match &end {
            End::Completed | End::RequiresAction(_) => {
                (pb::MessageStatus::Completed, None, StepStatus::Completed, None)
            }
            End::Incomplete(_) => (pb::MessageStatus::Incomplete, Some("max_tokens"), StepStatus::Completed, None),
            End::Failed(e) => (pb::MessageStatus::Incomplete, Some("run_failed"), StepStatus::Failed, Some(e.clone())),
            End::Cancelled => (pb::MessageStatus::Incomplete, Some("run_cancelled"), StepStatus::Cancelled, None),
        };
        self.close_message(msg_status, reason, step_status, error.as_ref()).await?;

        if let End::RequiresAction(calls) = end {
            let Some(mut tools) = self.tools.take() else { return Ok(()) };
            let mut tool_calls = std::mem::take(&mut self.searched);
            tool_calls.extend(calls.iter().map(|c| StepToolCall::Function {
                id: c.id.clone(),
                name: c.name.clone(),
                arguments: c.arguments.clone(),
                output: None,
            }));
            tools.step.details = StepDetails::ToolCalls { tool_calls };
            self.engine.inner.store.save_step(&self.project, &tools.step).await?;
            self.run.status = RunStatus::RequiresAction;
            self.run.required_action = Some(calls);
            self.run.expires_at = Some(now + REQUIRES_ACTION_TTL_SECS);
            if self.save(&[RunStatus::InProgress], false).await? {
                self.emit.run(&self.run).await;
                return Ok(());
            }
            // Cancelled while the calls streamed in.
            return self.cancelled_meanwhile(Some(tools.step)).await;
        }

        if let Some(mut tools) = self.tools.take() {
            tools.step.finish(step_status, now);
            tools.step.last_error = error.clone();
            self.engine.inner.store.save_step(&self.project, &tools.step).await?;
            self.emit.step(&tools.step).await;
        }
        let run = &mut self.run;
        run.expires_at = None;
        run.required_action = None;
        match end {
            End::Completed => {
                run.status = RunStatus::Completed;
                run.completed_at = Some(now);
            }
            End::Incomplete(reason) => {
                run.status = RunStatus::Incomplete;
                run.incomplete_reason = Some(reason.to_owned());
            }
            End::Failed(e) => {
                run.status = RunStatus::Failed;
                run.failed_at = Some(now);
                run.last_error = Some(e);
            }
            End::Cancelled => {
                run.status = RunStatus::Cancelled;
                run.cancelled_at = Some(now);
            }
            End::RequiresAction(_) => unreachable!("handled above"),
        }
        let expect = [RunStatus::Queued, RunStatus::InProgress, RunStatus::Cancelling];
        if self.save(&expect, false).await? {
            self.emit.run(&self.run).await;
        } else if let Some(stored) =
            self.engine.inner.store.get_run(&self.project, &self.run.thread_id, &self.run.id).await?
        {
            // Someone else ended it first (cancelled while queued, or reaped).
            self.emit.run(&stored).await;
        }
        Ok(())
    }

    /// The run was set `cancelling` while this drive went on: end it cancelled.
    async fn cancelled_meanwhile(&mut self, step: Option<RunStep>) -> ServiceResult<()> {
        let now = time::now_secs();
        if let Some(mut step) = step {
            step.finish(StepStatus::Cancelled, now);
            self.engine.inner.store.save_step(&self.project, &step).await?;
            self.emit.step(&step).await;
        }
        self.run.status = RunStatus::Cancelled;
        self.run.cancelled_at = Some(now);
        self.run.required_action = None;
        self.run.expires_at = None;
        if self.save(&[RunStatus::Cancelling, RunStatus::InProgress], false).await? {
            self.emit.run(&self.run).await;
        }
        Ok(())
    }
}

//! The operations of the Responses API: what the gRPC adapter calls. A create checks
//! the request and gathers the context (the chain of previous responses, or the
//! conversation's items). A foreground response is kept (unless `store: false`) and its
//! model turns run in a task of its own in this process, so that a client that goes
//! away does not stop it. A background one is queued in the database, where any
//! replica's workers claim it under a lease (the replica that streams it claims it
//! itself); its events are kept so that any replica can replay and follow them, and a
//! cancel reaches it from any replica through its row.

use std::sync::Arc;
use std::time::Duration;

use assistd_common::caller::Caller;
use assistd_common::error::ErrorKind;
use assistd_common::ids::ResponseId;
use assistd_common::items::{INCLUDABLE, Item, validate_include};
use assistd_common::page::{Order, Page, PageRequest};
use assistd_common::{Lease, Project, ServiceError, ServiceResult, time};
use assistd_proto::pb;
use assistd_runs::Models;
use assistd_runs::model::{ChatModel, ChatRequest, ModelError};
use prost::Message as _;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::domain::{MAX_CHAIN, NewResponse, Response, ResponseError, ResponseTool, status};
use crate::engine::{self, BuiltIns, Emitter, Event, EventSink, Sequenced};
use crate::peers::{ConversationPeer, VectorStorePeer};
use crate::prompt;
use crate::store::{CancelAsked, Store};
use crate::tools::{CodeInterpreter, FileSearch};

/// Events a stream may hold before the turn waits for its reader.
const EVENT_BUFFER: usize = 256;
/// How often a follower of a background response looks for new events.
const FOLLOW_POLL: Duration = Duration::from_millis(100);
/// How long a cancel waits for the worker to stop the response.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

/// How background responses are queued and executed.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// How long a worker's claim lasts without renewal; it renews every third of it.
    pub lease: Duration,
    /// How often idle workers look for queued responses and the reaper for lapsed ones.
    pub poll: Duration,
    /// Most background responses one process executes at once.
    pub concurrency: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self { lease: Duration::from_secs(30), poll: Duration::from_secs(1), concurrency: 16 }
    }
}

/// The responses of every project, the model backends, and the peers.
#[derive(Clone)]
pub struct Responses {
    store: Store,
    models: Models,
    conversations: Option<ConversationPeer>,
    vector_stores: Option<VectorStorePeer>,
    sandbox: Option<Arc<dyn assistd_sandbox::Sandbox>>,
    files: Option<assistd_common::files_client::Files>,
    queue: QueueConfig,
    /// This process's name as a lease holder.
    owner: String,
    wake: Arc<Notify>,
    /// The background responses this process executes, to cancel them at once.
    running: Arc<std::sync::Mutex<std::collections::HashMap<String, CancellationToken>>>,
}

/// A response that has started: its events as they come, and the task that ends it.
pub struct Started {
    pub events: mpsc::Receiver<Sequenced>,
    pub done: JoinHandle<Response>,
}

/// What a response's model turns need, once its request is checked.
struct Prepared {
    backend: Result<Arc<dyn ChatModel>, ModelError>,
    request: Option<ChatRequest>,
    builtins: BuiltIns,
}

/// Keeps a background response's events in the store, as proto.
struct StoreSink {
    store: Store,
    project: Project,
    id: String,
}

#[async_trait::async_trait]
impl EventSink for StoreSink {
    async fn record(&self, e: &Sequenced) {
        let all: Vec<String> = INCLUDABLE.iter().map(|s| (*s).to_owned()).collect();
        let body = crate::grpc::convert::event_to_pb(e.clone(), &all).encode_to_vec();
        if let Err(err) = self.store.add_event(&self.project, &self.id, e.sequence_number, body).await {
            tracing::warn!(response_id = %self.id, error = %err.message, "an event of a background response was not kept");
        }
    }
}

fn final_event(r: &Response) -> Option<&'static str> {
    match r.status.as_str() {
        status::COMPLETED => Some("response.completed"),
        status::INCOMPLETE => Some("response.incomplete"),
        status::FAILED => Some("response.failed"),
        _ => None,
    }
}

impl Responses {
    /// Responses in `store`, answered by `models`; without a conversations peer a
    /// request naming a conversation is refused.
    pub fn new(store: Store, models: Models, conversations: Option<ConversationPeer>) -> Self {
        Self {
            store,
            models,
            conversations,
            vector_stores: None,
            sandbox: None,
            files: None,
            queue: QueueConfig::default(),
            owner: format!("responses-{}", assistd_common::ids::new_ulid()),
            wake: Arc::new(Notify::new()),
            running: Default::default(),
        }
    }

    /// Searches for the file_search tool through the vector stores service.
    pub fn with_vector_stores(mut self, peer: VectorStorePeer) -> Self {
        self.vector_stores = Some(peer);
        self
    }

    /// Runs the code_interpreter tool in `sandbox`.
    pub fn with_sandbox(mut self, sandbox: Arc<dyn assistd_sandbox::Sandbox>) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// Reads code_interpreter's input files and stores what it made through the files service.
    pub fn with_files(mut self, files: assistd_common::files_client::Files) -> Self {
        self.files = Some(files);
        self
    }

    /// Queues background responses with `queue`.
    pub fn with_queue(mut self, queue: QueueConfig) -> Self {
        self.queue = queue;
        self
    }

    fn lease(&self) -> Lease {
        Lease::for_next(&self.owner, self.queue.lease)
    }

    /// Starts response `new` for `caller`; `streaming` when the caller reads its events.
    pub async fn start(&self, caller: &Caller, new: NewResponse, streaming: bool) -> ServiceResult<Started> {
        new.validate()?;
        validate_include(&new.include)?;
        let NewResponse { response: mut r, mut input, include: _, context } = new;
        if r.background && !r.store {
            return Err(ServiceError::invalid(
                "background",
                "Background responses need store=true: they are kept to be polled.",
            ));
        }
        for item in &mut input {
            item.assign_id();
        }
        // checks the references and the input now, so a bad request is a 4xx
        let prepared = self.prepare(caller, &r, &input, context).await?;
        r.id = ResponseId::generate().into_string();
        r.created_at = time::now_secs();
        r.output.clear();
        let (tx, events) = mpsc::channel(EVENT_BUFFER);
        if r.background {
            r.status = status::QUEUED.into();
            if streaming {
                // held by this replica from the start: no worker takes it from the stream
                self.store.insert(&caller.project, &r, &input, Some(&self.lease())).await?;
                let this = self.clone();
                let project = caller.project.clone();
                let done = tokio::spawn(async move { this.drive_background(project, r, input, Some(tx)).await });
                return Ok(Started { events, done });
            }
            self.store.insert(&caller.project, &r, &input, None).await?;
            self.wake.notify_one();
            return Ok(Started { events, done: tokio::spawn(async move { r }) });
        }
        r.status = status::IN_PROGRESS.into();
        if r.store {
            self.store.insert(&caller.project, &r, &input, Some(&self.lease())).await?;
        }
        let this = self.clone();
        let caller = caller.clone();
        let done = tokio::spawn(async move {
            let cancel = CancellationToken::new();
            // a kept response is held like a background one: if this replica dies, the
            // reaper ends it `failed` instead of leaving it in progress
            let holding = r.store.then(|| this.hold(&r.id, &cancel));
            let mut emit = Emitter::new(Some(tx));
            emit.emit(Event::Response("response.created", Box::new(r.clone()))).await;
            emit.emit(Event::Response("response.in_progress", Box::new(r.clone()))).await;
            this.turns(&caller, &mut r, prepared, input, &mut emit, &cancel).await;
            if let Some(h) = holding {
                h.abort();
            }
            r
        });
        Ok(Started { events, done })
    }

    /// Renews this process's lease on response `id` every poll while it runs; a cancel
    /// asked on any replica, or a lease lost, cancels `cancel`.
    fn hold(&self, id: &str, cancel: &CancellationToken) -> JoinHandle<()> {
        let (store, id, lease, owner) = (self.store.clone(), id.to_owned(), self.queue.lease, self.owner.clone());
        let every = self.queue.poll.min(lease / 3);
        let cancel = cancel.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.renew(&id, &Lease::for_next(&owner, lease)).await {
                    Ok(Some(false)) => {}
                    Ok(Some(true)) | Ok(None) => {
                        cancel.cancel();
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(response_id = %id, error = %e.message, "renewing a response's lease failed")
                    }
                }
            }
        })
    }

    /// The backend, the chat request and the built-in tools of `r` over its context
    /// and `input`: the checks a request must pass before it starts.
    async fn prepare(
        &self,
        caller: &Caller,
        r: &Response,
        input: &[Item],
        given: Option<Vec<Item>>,
    ) -> ServiceResult<Prepared> {
        let context = match given {
            Some(items) => items,
            None => self.context(caller, r).await?,
        };
        let builtins = self.builtins(caller, r, &context).await?;
        let context = self.read_inputs(caller, context).await?;
        let input = self.read_inputs(caller, input.to_vec()).await?;
        // a model no backend serves fails the response, as it fails a run
        let backend = self.models.resolve(&r.model);
        let request = match &backend {
            Ok((b, model)) => Some(fit(r, model, &context, &input, b.context_window())?),
            Err(_) => None,
        };
        Ok(Prepared { backend: backend.map(|(b, _)| b), request, builtins })
    }

    /// The items as the model gets them: each `input_image` given by `file_id` read from
    /// the files service and put in as a `data:` URL (as runs send uploaded images), so a
    /// backend that cannot reach this server still sees it (an image that cannot be read
    /// becomes a line saying why); each `input_file` (by `file_id` or `file_data`) read and
    /// parsed as the vector stores parse files, and put in as its text.
    async fn read_inputs(&self, caller: &Caller, mut items: Vec<Item>) -> ServiceResult<Vec<Item>> {
        use assistd_common::items::ContentPart;
        use assistd_runs::engine::images::{ImageInput, read};
        let mut read_so_far: std::collections::HashMap<String, ImageInput> = Default::default();
        let files = || {
            self.files.as_ref().ok_or_else(|| {
                ServiceError::unimplemented(
                    "Input files and images by file_id (no files service is reachable from this process)",
                )
            })
        };
        for item in &mut items {
            let Item::Message(m) = item else { continue };
            for part in &mut m.content {
                match part {
                    ContentPart::InputImage { image_url: None, file_id: Some(id), detail } => {
                        if !read_so_far.contains_key(id.as_str()) {
                            let image = read(files()?, caller, id).await?;
                            read_so_far.insert(id.clone(), image);
                        }
                        *part = match &read_so_far[id.as_str()] {
                            ImageInput::Data(url) => ContentPart::InputImage {
                                image_url: Some(url.clone()),
                                file_id: None,
                                detail: detail.clone(),
                            },
                            ImageInput::Unreadable(why) => {
                                ContentPart::InputText { text: format!("[image {id}: {why}]") }
                            }
                        };
                    }
                    ContentPart::InputFile { file_id, filename, file_data, file_url } => {
                        let (name, bytes) = match (file_id.as_ref(), file_data.as_ref()) {
                            (Some(id), _) => {
                                let (info, bytes) =
                                    files()?.download(caller, id, MAX_INPUT_FILE_BYTES).await.map_err(|e| {
                                        match e.kind {
                                            ErrorKind::NotFound => ServiceError::invalid(
                                                "input",
                                                format!("File with id '{id}' not found."),
                                            ),
                                            _ => e,
                                        }
                                    })?;
                                (info.filename, bytes)
                            }
                            (None, Some(data)) => {
                                (filename.clone().unwrap_or_else(|| "file.txt".into()), data_url_bytes(data)?)
                            }
                            (None, None) => {
                                let _ = file_url;
                                return Err(ServiceError::unimplemented(
                                    "An input_file by file_url (assistd fetches no URLs)",
                                ));
                            }
                        };
                        let text = parse_file(name.clone(), bytes).await?;
                        *part = ContentPart::InputText { text: format!("[file {name}]\n{text}") };
                    }
                    _ => {}
                }
            }
        }
        Ok(items)
    }

    /// Runs the model turns of `r`, keeps the result, and announces its end.
    async fn turns(
        &self,
        caller: &Caller,
        r: &mut Response,
        prepared: Prepared,
        input: Vec<Item>,
        emit: &mut Emitter,
        cancel: &CancellationToken,
    ) {
        match (prepared.backend, prepared.request) {
            (Ok(backend), Some(request)) => {
                engine::execute(r, backend, request, &prepared.builtins, emit, cancel).await
            }
            (Err(e), _) => {
                r.status = status::FAILED.into();
                r.error = Some(ResponseError { code: e.run_error_code().into(), message: e.to_string() });
            }
            (Ok(_), None) => {}
        }
        self.finish(caller, r, input).await;
        if let Some(name) = final_event(r) {
            emit.emit(Event::Response(name, Box::new(r.clone()))).await;
        }
    }

    /// Executes background response `r` (leased to this process): its events are kept,
    /// its lease renewed while it works, and a cancel asked on any replica stops it.
    async fn drive_background(
        &self,
        project: Project,
        mut r: Response,
        input: Vec<Item>,
        tx: Option<mpsc::Sender<Sequenced>>,
    ) -> Response {
        let caller = Caller::engine(project.clone());
        let sink = StoreSink { store: self.store.clone(), project: project.clone(), id: r.id.clone() };
        let mut emit = Emitter::new(tx).with_sink(Arc::new(sink));
        let cancel = CancellationToken::new();
        self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(r.id.clone(), cancel.clone());
        // the lease is renewed, and a cancel asked on another replica seen, every poll
        let renewing = self.hold(&r.id, &cancel);
        emit.emit(Event::Response("response.created", Box::new(r.clone()))).await;
        emit.emit(Event::Response("response.queued", Box::new(r.clone()))).await;
        r.status = status::IN_PROGRESS.into();
        if let Err(e) = self.store.update(&project, &r).await {
            tracing::warn!(response_id = %r.id, error = %e.message, "a background response's start was not written");
        }
        emit.emit(Event::Response("response.in_progress", Box::new(r.clone()))).await;
        match self.prepare(&caller, &r, &input, None).await {
            Ok(prepared) => self.turns(&caller, &mut r, prepared, input, &mut emit, &cancel).await,
            Err(e) => {
                r.status = status::FAILED.into();
                r.error = Some(ResponseError { code: "server_error".into(), message: e.message });
                self.finish(&caller, &mut r, input).await;
                emit.emit(Event::Response("response.failed", Box::new(r.clone()))).await;
            }
        }
        renewing.abort();
        self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&r.id);
        r
    }

    /// Keeps the ended response and adds its input and output to its conversation.
    async fn finish(&self, caller: &Caller, r: &mut Response, input: Vec<Item>) {
        metrics::counter!("assistd_responses_total", "status" => r.status.clone()).increment(1);
        if let Some(u) = r.usage {
            metrics::counter!("assistd_response_tokens_total", "kind" => "input").increment(u.input_tokens);
            metrics::counter!("assistd_response_tokens_total", "kind" => "output").increment(u.output_tokens);
        }
        if let (Some(conv), Some(peer)) = (r.conversation_id.clone(), &self.conversations)
            && matches!(r.status.as_str(), status::COMPLETED | status::INCOMPLETE)
        {
            let mut items = input;
            items.extend(r.output.iter().cloned());
            if let Err(e) = peer.append(caller, &conv, items).await {
                tracing::warn!(response_id = %r.id, conversation_id = %conv, error = %e.message, "the response's items were not added to its conversation");
            }
        }
        if r.store
            && let Err(e) = self.store.update(&caller.project, r).await
        {
            tracing::error!(response_id = %r.id, error = %e.message, "the ended response was not written");
        }
    }

    /// Starts the queue workers (when `claim`) and the reaper of lapsed leases.
    pub fn spawn_workers(&self, claim: bool) {
        if claim {
            let this = self.clone();
            tokio::spawn(async move { this.work().await });
        }
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(this.queue.poll).await;
                if let Err(e) = this.reap().await {
                    tracing::warn!(error = %e.message, "reaping background responses failed");
                }
            }
        });
    }

    async fn work(&self) {
        let slots = Arc::new(tokio::sync::Semaphore::new(self.queue.concurrency.max(1)));
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            match self.store.claim(&self.lease()).await {
                Ok(Some((project, kept))) => {
                    let this = self.clone();
                    tokio::spawn(async move {
                        this.drive_background(project, kept.response, kept.input, None).await;
                        drop(permit);
                    });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(self.queue.poll) => {}
                    }
                }
                Err(e) => {
                    drop(permit);
                    tracing::warn!(error = %e.message, "claiming a queued response failed");
                    tokio::time::sleep(self.queue.poll).await;
                }
            }
        }
    }

    /// Ends the background responses whose worker stopped renewing its lease:
    /// `failed`, with `server_error`, never `in_progress` forever.
    pub async fn reap(&self) -> ServiceResult<usize> {
        let now = time::now_ms();
        let mut ended = 0;
        for (project, kept) in self.store.lapsed(now).await? {
            let mut r = kept.response;
            r.status = status::FAILED.into();
            r.error = Some(ResponseError {
                code: "server_error".into(),
                message: "The worker executing this response stopped before it ended.".into(),
            });
            if self.store.end_lapsed(&r, now).await? {
                ended += 1;
                tracing::warn!(response_id = %r.id, "a background response's worker stopped; it failed");
                let next = self.store.events_after(&project, &r.id, None).await?.last().map_or(0, |(n, _)| n + 1);
                let sink = StoreSink { store: self.store.clone(), project, id: r.id.clone() };
                sink.record(&Sequenced {
                    sequence_number: next,
                    event: Event::Response("response.failed", Box::new(r)),
                })
                .await;
            }
        }
        Ok(ended)
    }

    /// The built-in tools of `r` for `caller`, their references checked; `context`
    /// (the items before the input) names the container an `auto` one continues.
    async fn builtins(&self, caller: &Caller, r: &Response, context: &[Item]) -> ServiceResult<BuiltIns> {
        let mut builtins = BuiltIns { file_search: None, code_interpreter: None, max_calls: r.max_tool_calls };
        for (i, t) in r.tools.iter().enumerate() {
            match t {
                ResponseTool::Function(_) => {}
                ResponseTool::FileSearch { vector_store_ids, filters, .. } => {
                    let Some(peer) = &self.vector_stores else {
                        return Err(ServiceError::unimplemented(
                            "The file_search tool (no vector stores service is reachable from this process)",
                        )
                        .with_param(format!("tools[{i}]")));
                    };
                    if builtins.file_search.is_some() {
                        return Err(ServiceError::invalid(
                            format!("tools[{i}]"),
                            "Only one file_search tool may be given.",
                        ));
                    }
                    for (j, vs) in vector_store_ids.iter().enumerate() {
                        if let Err(e) = peer.store(caller, vs).await {
                            return Err(match e.kind {
                                ErrorKind::NotFound => ServiceError::invalid(
                                    format!("tools[{i}].vector_store_ids[{j}]"),
                                    format!("Vector store with id '{vs}' not found."),
                                ),
                                _ => e,
                            });
                        }
                    }
                    let filters = filters
                        .clone()
                        .map(|f| {
                            assistd_common::filters::from_json(
                                &format!("tools[{i}].filters"),
                                serde_json::Value::Object(f),
                            )
                        })
                        .transpose()
                        .map_err(ServiceError::from)?;
                    builtins.file_search = FileSearch::of(t, peer.clone(), caller.clone(), filters);
                }
                ResponseTool::CodeInterpreter { container_id, file_ids } => {
                    let Some(sandbox) = &self.sandbox else {
                        return Err(ServiceError::unimplemented(
                            "The code_interpreter tool (no sandbox in this deployment: ASSISTD_SANDBOX=off)",
                        )
                        .with_param(format!("tools[{i}]")));
                    };
                    if builtins.code_interpreter.is_some() {
                        return Err(ServiceError::invalid(
                            format!("tools[{i}]"),
                            "Only one code_interpreter tool may be given.",
                        ));
                    }
                    let mut named = Vec::new();
                    if !file_ids.is_empty() {
                        let Some(files) = &self.files else {
                            return Err(ServiceError::unimplemented(
                                "code_interpreter files (no files service is reachable from this process)",
                            ));
                        };
                        for (j, id) in file_ids.iter().enumerate() {
                            match files.get(caller, id).await {
                                Ok(f) => named.push((id.clone(), f.filename)),
                                Err(e) if e.kind == ErrorKind::NotFound => {
                                    return Err(ServiceError::invalid(
                                        format!("tools[{i}].container.file_ids[{j}]"),
                                        format!("File with id '{id}' not found."),
                                    ));
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    // an `auto` container continues the one the context used, or is new
                    let container_id = if container_id.is_empty() {
                        context
                            .iter()
                            .rev()
                            .find_map(|it| match it {
                                Item::CodeInterpreterCall(c) if !c.container_id.is_empty() => {
                                    Some(c.container_id.clone())
                                }
                                _ => None,
                            })
                            .unwrap_or_else(|| format!("cntr_{}", assistd_common::ids::new_ulid()))
                    } else {
                        container_id.clone()
                    };
                    builtins.code_interpreter = Some(CodeInterpreter {
                        sandbox: sandbox.clone(),
                        files: self.files.clone(),
                        caller: caller.clone(),
                        container_id,
                        inputs: assistd_runs::engine::code::name_inputs(named),
                    });
                }
            }
        }
        Ok(builtins)
    }

    /// The items before this response's input: the chain of previous responses (each
    /// one's input and output, oldest first), or the conversation's items.
    async fn context(&self, caller: &Caller, r: &Response) -> ServiceResult<Vec<Item>> {
        if let Some(conv) = &r.conversation_id {
            let Some(peer) = &self.conversations else {
                return Err(ServiceError::unimplemented("Conversations (no conversations service is reachable)")
                    .with_param("conversation"));
            };
            return peer.items(caller, conv).await;
        }
        let mut chain = Vec::new();
        let mut next = r.previous_response_id.clone();
        while let Some(id) = next {
            if chain.len() >= MAX_CHAIN {
                return Err(ServiceError::invalid(
                    "previous_response_id",
                    format!("The chain of previous responses is longer than {MAX_CHAIN}."),
                ));
            }
            let Some(kept) = self.store.get(&caller.project, &id).await? else {
                return Err(ServiceError::new(
                    ErrorKind::NotFound,
                    format!("Previous response with id '{id}' not found."),
                )
                .with_param("previous_response_id")
                .with_code("previous_response_not_found"));
            };
            next = kept.response.previous_response_id.clone();
            chain.push(kept);
        }
        Ok(chain.into_iter().rev().flat_map(|k| k.input.into_iter().chain(k.response.output)).collect())
    }

    /// The response `id`, shown with `include`.
    pub async fn get(&self, project: &Project, id: &str, include: &[String]) -> ServiceResult<Response> {
        validate_include(include)?;
        Ok(self.kept(project, id).await?.response.shown(include))
    }

    async fn kept(&self, project: &Project, id: &str) -> ServiceResult<crate::store::Kept> {
        self.store.get(project, id).await?.ok_or_else(|| not_found(id))
    }

    /// Deletes response `id`.
    pub async fn delete(&self, project: &Project, id: &str) -> ServiceResult<()> {
        if self.store.delete(project, id).await? { Ok(()) } else { Err(not_found(id)) }
    }

    /// Cancels background response `id`: a queued one at once, a running one once its
    /// worker (on any replica) sees the request, within a few seconds.
    pub async fn cancel(&self, project: &Project, id: &str) -> ServiceResult<Response> {
        let kept = self.kept(project, id).await?;
        if !kept.response.background {
            return Err(ServiceError::invalid("response_id", "Cannot cancel a synchronous response."));
        }
        let mut cancelled = kept.response.clone();
        cancelled.status = status::CANCELLED.into();
        match self.store.request_cancel(project, id, &cancelled).await? {
            CancelAsked::WasQueued => Ok(cancelled),
            CancelAsked::Missing => Err(not_found(id)),
            CancelAsked::Ended => Ok(kept.response),
            CancelAsked::Running => {
                // executed here: stop it now; elsewhere its worker sees the flag
                if let Some(token) = self.running.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
                    token.cancel();
                }
                let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
                loop {
                    let now = self.kept(project, id).await?.response;
                    if now.is_terminal() || tokio::time::Instant::now() >= deadline {
                        return Ok(now);
                    }
                    tokio::time::sleep(FOLLOW_POLL).await;
                }
            }
        }
    }

    /// The kept events of background response `id` after `starting_after`, then the
    /// new ones as they come, until it ends.
    pub async fn follow(
        &self,
        project: &Project,
        id: &str,
        starting_after: Option<u64>,
        include: Vec<String>,
    ) -> ServiceResult<mpsc::Receiver<pb::ResponseEvent>> {
        validate_include(&include)?;
        let kept = self.kept(project, id).await?;
        if !kept.response.background {
            return Err(ServiceError::invalid(
                "stream",
                "Only background responses can be streamed after they were created (create it with background=true).",
            ));
        }
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        let (store, project, id) = (self.store.clone(), project.clone(), id.to_owned());
        tokio::spawn(async move {
            let mut cursor = starting_after;
            loop {
                let events = match store.events_after(&project, &id, cursor).await {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(response_id = %id, error = %e.message, "following a response failed");
                        return;
                    }
                };
                let mut ended = false;
                let mut read_any = false;
                for (n, body) in events {
                    read_any = true;
                    cursor = Some(n);
                    let Ok(mut ev) = pb::ResponseEvent::decode(body.as_slice()) else { continue };
                    ended |=
                        matches!(ev.r#type.as_str(), "response.completed" | "response.failed" | "response.incomplete");
                    crate::grpc::convert::hide_unless_included(&mut ev, &include);
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
                if ended {
                    return;
                }
                if !read_any {
                    match store.get(&project, &id).await {
                        Ok(Some(k)) if !k.response.is_terminal() => {}
                        // ended without a final event (cancelled) or deleted: no more to come
                        _ => {
                            if store.events_after(&project, &id, cursor).await.map(|e| e.is_empty()).unwrap_or(true) {
                                return;
                            }
                            continue;
                        }
                    }
                    tokio::time::sleep(FOLLOW_POLL).await;
                }
            }
        });
        Ok(rx)
    }

    /// A page of response `id`'s input items, shown with `include`.
    pub async fn input_items(
        &self,
        project: &Project,
        id: &str,
        page: &PageRequest,
        include: &[String],
    ) -> ServiceResult<Page<Item>> {
        validate_include(include)?;
        let mut items = self.kept(project, id).await?.input;
        if page.order == Order::Desc {
            items.reverse();
        }
        let position = |cursor: &Option<String>, param: &str| -> ServiceResult<Option<usize>> {
            match cursor {
                None => Ok(None),
                Some(c) => items.iter().position(|it| it.id() == c).map(Some).ok_or_else(|| {
                    ServiceError::invalid(
                        param,
                        format!("Invalid '{param}': no input item with id '{c}' in response '{id}'."),
                    )
                }),
            }
        };
        let start = position(&page.after, "after")?.map_or(0, |p| p + 1);
        let end = position(&page.before, "before")?.unwrap_or(items.len()).max(start);
        let window = &items[start..end];
        let (data, has_more) = if page.before.is_some() && page.after.is_none() {
            let from = window.len().saturating_sub(page.limit as usize);
            (window[from..].to_vec(), from > 0)
        } else {
            let n = window.len().min(page.limit as usize);
            (window[..n].to_vec(), window.len() > n)
        };
        Ok(Page { data: data.into_iter().map(|it| it.shown(include)).collect(), has_more })
    }
}

/// The chat request of `r` over `context` and `input`, within the model's context
/// `window` (when known) less `max_output_tokens`: with `truncation: "auto"` the oldest
/// context items are left out until it fits; otherwise (`disabled`, or the input alone
/// too long) a 400 `context_length_exceeded`.
fn fit(r: &Response, model: &str, context: &[Item], input: &[Item], window: Option<u64>) -> ServiceResult<ChatRequest> {
    let build = |from: usize| {
        let items: Vec<Item> = context[from..].iter().chain(input).cloned().collect();
        prompt::chat_request(r, model.to_owned(), &items)
    };
    let Some(window) = window else { return build(0) };
    let budget = window.saturating_sub(u64::from(r.max_output_tokens.unwrap_or(0)));
    let mut from = 0;
    loop {
        let request = build(from)?;
        let tokens = engine::prompt_tokens(&request);
        if tokens <= budget {
            return Ok(request);
        }
        if r.truncation == "auto" && from < context.len() {
            from += 1;
            continue;
        }
        let hint = if r.truncation == "auto" {
            "the input alone does not fit; shorten it"
        } else {
            "use truncation=\"auto\" to leave the oldest items out, or shorten the input"
        };
        return Err(ServiceError::invalid(
            "input",
            format!(
                "The input and its context take about {tokens} tokens, more than the {budget} the model's context window of {window} tokens leaves (less max_output_tokens): {hint}."
            ),
        )
        .with_code("context_length_exceeded"));
    }
}

/// The largest file an `input_file` part may name.
const MAX_INPUT_FILE_BYTES: u64 = 32 << 20;

/// The bytes of a `data:` URL (base64).
fn data_url_bytes(data: &str) -> ServiceResult<Vec<u8>> {
    use base64::Engine as _;
    let body = data.split_once(";base64,").map_or(data, |(_, b)| b);
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| ServiceError::invalid("input", format!("Invalid input_file 'file_data': not base64 ({e}).")))
}

/// The text of file `name`, parsed off the async runtime as ingestion parses files.
async fn parse_file(name: String, bytes: Vec<u8>) -> ServiceResult<String> {
    use assistd_vector_stores::ingest::parse::{ParseError, parse};
    let shown = name.clone();
    tokio::task::spawn_blocking(move || parse(&name, &bytes))
        .await
        .map_err(|e| ServiceError::internal("parsing an input file", e))?
        .map_err(|e| match e {
            ParseError::Unsupported(m) | ParseError::Invalid(m) => {
                ServiceError::invalid("input", format!("The input_file {shown} cannot be read: {m}"))
                    .with_code("invalid_file")
            }
        })
}

/// What the model is asked for to compact a context.
const COMPACT_PROMPT: &str = "Summarize the conversation so far so that it can be continued from the summary alone: \
    keep every fact, name, number, decision, tool result and open question that may matter later; \
    write it as plain notes, without greeting or commentary.";

/// A model error before any response exists, as the service's error.
fn model_failure(e: ModelError) -> ServiceError {
    match e {
        ModelError::RateLimited(m) => ServiceError::new(ErrorKind::Unavailable, m).with_code("rate_limit_exceeded"),
        ModelError::Rejected(m) => ServiceError::invalid("input", m).with_code("invalid_prompt"),
        ModelError::Backend(m) => ServiceError::new(ErrorKind::Unavailable, m).with_code("server_error"),
    }
}

impl Responses {
    /// The input tokens `new` would send to the model (estimated as usage is when a
    /// backend reports none: 4 characters a token, with each message's overhead).
    pub async fn count_input_tokens(&self, caller: &Caller, new: NewResponse) -> ServiceResult<u64> {
        let NewResponse { response: r, input, include: _, context: _ } = new;
        r.check_one_context()?;
        let mut items = self.context(caller, &r).await?;
        items.extend(input);
        let request = prompt::chat_request(&r, r.model.clone(), &items)?;
        let tools: u64 = request
            .tools
            .iter()
            .map(|t| {
                let spec =
                    serde_json::json!({"name": t.name, "description": t.description, "parameters": t.parameters});
                assistd_runs::engine::prompt::estimate_tokens(&spec.to_string())
            })
            .sum();
        Ok(engine::prompt_tokens(&request) + tools)
    }

    /// Compacts the chain of `previous_response_id` and `input` into one `compaction`
    /// item, written by `model`; it can start a new chain.
    pub async fn compact(
        &self,
        caller: &Caller,
        model: String,
        mut input: Vec<Item>,
        instructions: Option<String>,
        previous_response_id: Option<String>,
    ) -> ServiceResult<(String, i64, Vec<Item>, crate::domain::Usage)> {
        if model.trim().is_empty() {
            return Err(ServiceError::invalid("model", "Missing required parameter: 'model'.")
                .with_code("missing_required_parameter"));
        }
        let r = Response { model: model.clone(), previous_response_id, ..Default::default() };
        let mut items = self.context(caller, &r).await?;
        for it in &mut input {
            it.assign_id();
        }
        items.extend(input);
        if items.is_empty() {
            return Err(ServiceError::invalid(
                "input",
                "There is nothing to compact: give 'input' or 'previous_response_id'.",
            ));
        }
        let (backend, name) = self.models.resolve(&model).map_err(model_failure)?;
        let prompt_text = match instructions.filter(|i| !i.trim().is_empty()) {
            Some(i) => format!("{COMPACT_PROMPT}\n\n{i}"),
            None => COMPACT_PROMPT.to_owned(),
        };
        let summarize = Response { instructions: Some(prompt_text), parallel_tool_calls: true, ..Default::default() };
        let mut request = prompt::chat_request(&summarize, name, &items)?;
        // the instructions last, so the model answers them rather than the conversation
        if let Some(system) = request.messages.first().cloned() {
            request.messages.remove(0);
            request.messages.push(system);
        }
        let estimated_input = engine::prompt_tokens(&request);
        let (summary, usage) = engine::complete(backend, request).await.map_err(model_failure)?;
        let usage = usage.unwrap_or(crate::domain::Usage {
            input_tokens: estimated_input,
            output_tokens: assistd_runs::engine::prompt::estimate_tokens(&summary),
        });
        let item = Item::Compaction(assistd_common::items::Compaction::of_summary(
            assistd_common::ids::CompactionId::generate().into_string(),
            &summary,
        ));
        Ok((ResponseId::generate().into_string(), time::now_secs(), vec![item], usage))
    }
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("response", id)
}

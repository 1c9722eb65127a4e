//! The model turn of a response: the backend's streamed answer becomes output items
//! (a message with its output_text, function calls with their arguments), each step
//! announced as the Responses API's events, in OpenAI's order. The turn never stops
//! early because nobody listens: events to a client that went away are dropped and
//! the response still ends.

use assistd_common::ids::{CallId, FunctionCallItemId, MessageId};
use assistd_common::ids::{CodeInterpreterCallId, FileSearchCallId};
use assistd_common::items::{
    Annotation, CodeInterpreterCall, CodeOutput, ContentPart, FileSearchCall, FileSearchResult, FunctionCall, Item,
    Message,
};
use assistd_runs::domain::SearchResult;
use assistd_runs::domain::{CodeFile, CodeOutput as RunCodeOutput};
use assistd_runs::engine::code;
use assistd_runs::engine::file_search;
use assistd_runs::engine::prompt::FILE_SEARCH;
use assistd_runs::engine::prompt::estimate_tokens;
use assistd_runs::engine::prompt::{CODE_INTERPRETER, code_result};
use assistd_runs::model::{ChatEvent, ChatModel, ChatRequest, ModelError};
use assistd_runs::model::{ChatMessage, ToolCall};
use futures::StreamExt;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::domain::{Response, ResponseError, Usage, status};
use crate::tools::{CodeInterpreter, FileSearch};

/// One event of a response's stream, before its proto form.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `response.created`, `.queued`, `.in_progress`, `.completed`, `.incomplete`, `.failed`.
    Response(&'static str, Box<Response>),
    /// `response.output_item.added` / `.done`.
    OutputItem { done: bool, output_index: u32, item: Item },
    /// `response.content_part.added` / `.done`.
    ContentPart { done: bool, item_id: String, output_index: u32, content_index: u32, part: ContentPart },
    /// `response.output_text.delta`.
    TextDelta { item_id: String, output_index: u32, content_index: u32, delta: String },
    /// `response.output_text.done`.
    TextDone { item_id: String, output_index: u32, content_index: u32, text: String },
    /// `response.function_call_arguments.delta`.
    ArgumentsDelta { item_id: String, output_index: u32, delta: String },
    /// `response.function_call_arguments.done`.
    ArgumentsDone { item_id: String, output_index: u32, name: String, arguments: String },
    /// `response.output_text.annotation.added`.
    Annotation { item_id: String, output_index: u32, content_index: u32, annotation_index: u32, annotation: Annotation },
    /// `response.file_search_call.in_progress` and the like: `name` is the event's.
    ToolCall { name: &'static str, item_id: String, output_index: u32 },
    /// `response.code_interpreter_call_code.delta`.
    CodeDelta { item_id: String, output_index: u32, delta: String },
    /// `response.code_interpreter_call_code.done`.
    CodeDone { item_id: String, output_index: u32, code: String },
    /// `error`.
    Error(ResponseError),
}

/// An event and its place in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequenced {
    pub sequence_number: u64,
    pub event: Event,
}

/// Where the events of a background response are kept, for clients that follow it.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    /// Keeps `event`.
    async fn record(&self, event: &Sequenced);
}

/// Numbers events, keeps them (background responses) and hands them to the listener,
/// if there is one (and it is still there).
pub struct Emitter {
    tx: Option<mpsc::Sender<Sequenced>>,
    sink: Option<Arc<dyn EventSink>>,
    next: u64,
}

impl Emitter {
    /// Events go to `tx` (none: nobody listens).
    pub fn new(tx: Option<mpsc::Sender<Sequenced>>) -> Self {
        Self { tx, sink: None, next: 0 }
    }

    /// Also keeps every event in `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Sends `event`; a listener that went away is forgotten.
    pub async fn emit(&mut self, event: Event) {
        let ev = Sequenced { sequence_number: self.next, event };
        self.next += 1;
        if let Some(sink) = &self.sink {
            sink.record(&ev).await;
        }
        if let Some(tx) = &self.tx
            && tx.send(ev).await.is_err()
        {
            self.tx = None;
        }
    }
}

struct OpenText {
    output_index: usize,
    text: String,
}

struct OpenCall {
    /// The model's index of the call.
    index: u32,
    output_index: usize,
}

/// A call of a built-in tool the response runs itself (file_search).
#[derive(Debug, Clone)]
struct BuiltinCall {
    index: u32,
    call_id: String,
    /// `file_search` or `code_interpreter`.
    name: String,
    arguments: String,
}

/// One model call in progress.
struct Turn<'a> {
    r: &'a mut Response,
    emit: &'a mut Emitter,
    text: Option<OpenText>,
    calls: Vec<OpenCall>,
    builtin: Vec<BuiltinCall>,
    /// The functions that stand for the response's own tools (`file_search`, `code_interpreter`).
    builtin_names: &'a [&'static str],
    /// Every file_search call's results so far (markers cite them).
    searches: &'a [Vec<SearchResult>],
    /// Files the response's code wrote so far, and its container.
    files: &'a [CodeFile],
    container_id: &'a str,
    /// The text of this call's message, once closed.
    said: Option<String>,
    written: String,
}

impl Turn<'_> {
    async fn text(&mut self, delta: String) {
        if delta.is_empty() {
            return;
        }
        if self.text.is_none() {
            let output_index = self.r.output.len();
            let item = Item::Message(Message {
                id: MessageId::generate().into_string(),
                status: status::IN_PROGRESS.into(),
                role: "assistant".into(),
                content: vec![],
                phase: None,
            });
            self.r.output.push(item.clone());
            self.emit.emit(Event::OutputItem { done: false, output_index: output_index as u32, item }).await;
            let part = ContentPart::OutputText { text: String::new(), annotations: vec![], logprobs: vec![] };
            let item_id = self.r.output[output_index].id().to_owned();
            self.emit
                .emit(Event::ContentPart {
                    done: false,
                    item_id,
                    output_index: output_index as u32,
                    content_index: 0,
                    part,
                })
                .await;
            self.text = Some(OpenText { output_index, text: String::new() });
        }
        let Some(open) = self.text.as_mut() else { return };
        open.text.push_str(&delta);
        self.written.push_str(&delta);
        let item_id = self.r.output[open.output_index].id().to_owned();
        let output_index = open.output_index as u32;
        self.emit.emit(Event::TextDelta { item_id, output_index, content_index: 0, delta }).await;
    }

    async fn close_text(&mut self, item_status: &str) {
        let Some(open) = self.text.take() else { return };
        let item_id = self.r.output[open.output_index].id().to_owned();
        let output_index = open.output_index as u32;
        let text = open.text;
        let mut annotations = citations(&text, self.searches);
        annotations.extend(container_citations(&text, self.files, self.container_id));
        for (i, annotation) in annotations.iter().enumerate() {
            self.emit
                .emit(Event::Annotation {
                    item_id: item_id.clone(),
                    output_index,
                    content_index: 0,
                    annotation_index: i as u32,
                    annotation: annotation.clone(),
                })
                .await;
        }
        self.said = Some(text.clone());
        self.emit
            .emit(Event::TextDone { item_id: item_id.clone(), output_index, content_index: 0, text: text.clone() })
            .await;
        let part = ContentPart::OutputText { text, annotations, logprobs: vec![] };
        self.emit
            .emit(Event::ContentPart { done: true, item_id, output_index, content_index: 0, part: part.clone() })
            .await;
        if let Item::Message(m) = &mut self.r.output[open.output_index] {
            m.content = vec![part];
            m.status = item_status.into();
        }
        let item = self.r.output[open.output_index].clone();
        self.emit.emit(Event::OutputItem { done: true, output_index, item }).await;
    }

    async fn call(&mut self, index: u32, id: Option<String>, name: Option<String>, arguments: String) {
        if let Some(b) = self.builtin.iter_mut().find(|b| b.index == index) {
            b.arguments.push_str(&arguments);
            return;
        }
        if let Some(builtin) = name.as_deref().and_then(|n| self.builtin_names.iter().find(|b| **b == n))
            && !self.calls.iter().any(|c| c.index == index)
        {
            self.close_text(status::COMPLETED).await;
            let call_id = id.unwrap_or_else(|| CallId::generate().into_string());
            self.builtin.push(BuiltinCall { index, call_id, name: (*builtin).to_owned(), arguments });
            return;
        }
        let at = match self.calls.iter().find(|c| c.index == index) {
            Some(c) => c.output_index,
            None => {
                // an answer's text ends where its calls begin
                self.close_text(status::COMPLETED).await;
                let output_index = self.r.output.len();
                let item = Item::FunctionCall(FunctionCall {
                    id: FunctionCallItemId::generate().into_string(),
                    call_id: id.unwrap_or_else(|| CallId::generate().into_string()),
                    name: name.unwrap_or_default(),
                    arguments: String::new(),
                    status: status::IN_PROGRESS.into(),
                });
                self.r.output.push(item.clone());
                self.emit.emit(Event::OutputItem { done: false, output_index: output_index as u32, item }).await;
                self.calls.push(OpenCall { index, output_index });
                output_index
            }
        };
        if arguments.is_empty() {
            return;
        }
        self.written.push_str(&arguments);
        if let Item::FunctionCall(c) = &mut self.r.output[at] {
            c.arguments.push_str(&arguments);
        }
        let item_id = self.r.output[at].id().to_owned();
        self.emit.emit(Event::ArgumentsDelta { item_id, output_index: at as u32, delta: arguments }).await;
    }

    async fn close_calls(&mut self, item_status: &str) {
        for open in std::mem::take(&mut self.calls) {
            let Item::FunctionCall(c) = &mut self.r.output[open.output_index] else { continue };
            c.status = item_status.into();
            let (item_id, name, arguments) = (c.id.clone(), c.name.clone(), c.arguments.clone());
            let output_index = open.output_index as u32;
            self.emit.emit(Event::ArgumentsDone { item_id, output_index, name, arguments }).await;
            let item = self.r.output[open.output_index].clone();
            self.emit.emit(Event::OutputItem { done: true, output_index, item }).await;
        }
    }
}

/// The tokens of `request`'s messages, estimated as runs estimate theirs (4 characters
/// a token, with each message's overhead), as when a backend reports no usage.
pub fn prompt_tokens(request: &ChatRequest) -> u64 {
    assistd_runs::engine::prompt::prompt_tokens(&request.messages)
}

/// One model call answered in full: its text and usage (when the backend reports it).
pub async fn complete(
    backend: Arc<dyn ChatModel>,
    request: ChatRequest,
) -> Result<(String, Option<Usage>), ModelError> {
    let mut stream = backend.stream(request).await?;
    let mut text = String::new();
    let mut usage = None;
    while let Some(ev) = stream.next().await {
        match ev? {
            ChatEvent::Text(t) => text.push_str(&t),
            ChatEvent::Usage { prompt_tokens, completion_tokens } => {
                usage = Some(Usage { input_tokens: prompt_tokens, output_tokens: completion_tokens })
            }
            ChatEvent::ToolCall { .. } | ChatEvent::Finish(_) => {}
        }
    }
    Ok((text, usage))
}

/// The built-in tools of a response.
#[derive(Clone, Default)]
pub struct BuiltIns {
    pub file_search: Option<FileSearch>,
    pub code_interpreter: Option<CodeInterpreter>,
    /// Most built-in tool calls (`max_tool_calls`).
    pub max_calls: Option<u32>,
}

/// Most model calls one response makes (each built-in tool round is one more).
const MAX_ROUNDS: usize = 16;

/// The `file_citation` annotations of `text`: each marker `【c:n†…】` naming a result
/// of call `c`, at the marker's first character.
fn citations(text: &str, searches: &[Vec<SearchResult>]) -> Vec<Annotation> {
    file_search::citations(text, searches)
        .into_iter()
        .filter_map(|a| {
            let Some(assistd_proto::pb::annotation::Kind::FileCitation(f)) = a.kind else { return None };
            let filename = searches.iter().flatten().find(|r| r.file_id == f.file_id)?.file_name.clone();
            Some(Annotation::FileCitation { file_id: f.file_id, filename, index: a.start_index })
        })
        .collect()
}

/// The `container_file_citation` annotations of `text`: each `sandbox:/mnt/data/NAME`
/// link to a file the response's code wrote.
fn container_citations(text: &str, written: &[CodeFile], container_id: &str) -> Vec<Annotation> {
    code::file_paths(text, written)
        .into_iter()
        .filter_map(|a| {
            let Some(assistd_proto::pb::annotation::Kind::FilePath(f)) = a.kind else { return None };
            let path = written.iter().find(|w| w.file_id == f.file_id)?.path.clone();
            Some(Annotation::ContainerFileCitation {
                container_id: container_id.to_owned(),
                file_id: f.file_id,
                filename: path.rsplit('/').next().unwrap_or(&path).to_owned(),
                start_index: a.start_index,
                end_index: a.end_index,
            })
        })
        .collect()
}

/// How one model call ended.
struct Outcome {
    failure: Option<ModelError>,
    cancelled: bool,
    finish: Option<String>,
    usage: Option<Usage>,
    builtin: Vec<BuiltinCall>,
    client_calls: bool,
    said: Option<String>,
    written: String,
}

async fn model_call(
    r: &mut Response,
    backend: &Arc<dyn ChatModel>,
    request: ChatRequest,
    emit: &mut Emitter,
    known: &Known<'_>,
    builtin_names: &[&'static str],
    cancel: &CancellationToken,
) -> Outcome {
    let mut turn = Turn {
        r,
        emit,
        text: None,
        calls: vec![],
        builtin: vec![],
        builtin_names,
        searches: known.searches,
        files: known.files,
        container_id: known.container_id,
        said: None,
        written: String::new(),
    };
    let mut usage = None;
    let mut finish = None;
    let mut failure = None;
    let mut cancelled = false;
    match backend.stream(request).await {
        Err(e) => failure = Some(e),
        Ok(mut stream) => loop {
            let ev = tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    cancelled = true;
                    break;
                }
                ev = stream.next() => ev,
            };
            let Some(ev) = ev else { break };
            match ev {
                Err(e) => {
                    failure = Some(e);
                    break;
                }
                Ok(ChatEvent::Text(t)) => turn.text(t).await,
                Ok(ChatEvent::ToolCall { index, id, name, arguments }) => turn.call(index, id, name, arguments).await,
                Ok(ChatEvent::Usage { prompt_tokens, completion_tokens }) => {
                    usage = Some(Usage { input_tokens: prompt_tokens, output_tokens: completion_tokens })
                }
                Ok(ChatEvent::Finish(f)) => finish = Some(f),
            }
        },
    }
    let cut = finish.as_deref() == Some("length");
    let item_status = if failure.is_some() || cut || cancelled { status::INCOMPLETE } else { status::COMPLETED };
    turn.close_text(item_status).await;
    let client_calls = !turn.calls.is_empty();
    turn.close_calls(item_status).await;
    Outcome {
        failure,
        cancelled,
        finish,
        usage,
        builtin: std::mem::take(&mut turn.builtin),
        client_calls,
        said: turn.said.take(),
        written: std::mem::take(&mut turn.written),
    }
}

/// What the response's built-in tools found so far, for citations.
struct Known<'a> {
    searches: &'a [Vec<SearchResult>],
    files: &'a [CodeFile],
    container_id: &'a str,
}

/// Runs one file_search call as an output item, with its events; what the model reads.
async fn search(
    r: &mut Response,
    emit: &mut Emitter,
    tool: &FileSearch,
    call: &BuiltinCall,
    number: usize,
) -> (String, Vec<SearchResult>) {
    let output_index = r.output.len();
    let id = FileSearchCallId::generate().into_string();
    let queries = file_search::queries(&call.arguments);
    let mut item = FileSearchCall { id: id.clone(), status: status::IN_PROGRESS.into(), queries, results: None };
    r.output.push(Item::FileSearchCall(item.clone()));
    let at = output_index as u32;
    emit.emit(Event::OutputItem { done: false, output_index: at, item: Item::FileSearchCall(item.clone()) }).await;
    emit.emit(Event::ToolCall { name: "response.file_search_call.in_progress", item_id: id.clone(), output_index: at })
        .await;
    emit.emit(Event::ToolCall { name: "response.file_search_call.searching", item_id: id.clone(), output_index: at })
        .await;
    let (said, results) = match tool.run(&call.arguments).await {
        Ok(found) => {
            item.status = status::COMPLETED.into();
            item.queries = found.queries;
            item.results = Some(
                found
                    .results
                    .iter()
                    .map(|s| FileSearchResult {
                        file_id: s.file_id.clone(),
                        filename: s.file_name.clone(),
                        score: s.score,
                        text: s.text.clone(),
                        attributes: Default::default(),
                    })
                    .collect(),
            );
            (file_search::output(number, &found.results), found.results)
        }
        Err(message) => {
            tracing::warn!(response_id = %r.id, error = %message, "file_search failed");
            item.status = status::FAILED.into();
            (format!("The search failed: {message}"), vec![])
        }
    };
    emit.emit(Event::ToolCall { name: "response.file_search_call.completed", item_id: id, output_index: at }).await;
    r.output[output_index] = Item::FileSearchCall(item.clone());
    emit.emit(Event::OutputItem { done: true, output_index: at, item: Item::FileSearchCall(item) }).await;
    (said, results)
}

/// Runs one code_interpreter call as an output item, with its events; what the model
/// reads, and the files the code wrote.
async fn interpret(
    r: &mut Response,
    emit: &mut Emitter,
    tool: &CodeInterpreter,
    call: &BuiltinCall,
) -> (String, Vec<CodeFile>) {
    let output_index = r.output.len();
    let at = output_index as u32;
    let id = CodeInterpreterCallId::generate().into_string();
    let source = code::code_of(&call.arguments);
    let mut item = CodeInterpreterCall {
        id: id.clone(),
        status: status::IN_PROGRESS.into(),
        container_id: tool.container_id.clone(),
        code: Some(String::new()),
        outputs: None,
    };
    r.output.push(Item::CodeInterpreterCall(item.clone()));
    emit.emit(Event::OutputItem { done: false, output_index: at, item: Item::CodeInterpreterCall(item.clone()) }).await;
    emit.emit(Event::ToolCall {
        name: "response.code_interpreter_call.in_progress",
        item_id: id.clone(),
        output_index: at,
    })
    .await;
    emit.emit(Event::CodeDelta { item_id: id.clone(), output_index: at, delta: source.clone() }).await;
    emit.emit(Event::CodeDone { item_id: id.clone(), output_index: at, code: source.clone() }).await;
    item.code = Some(source.clone());
    item.status = "interpreting".into();
    r.output[output_index] = Item::CodeInterpreterCall(item.clone());
    emit.emit(Event::ToolCall {
        name: "response.code_interpreter_call.interpreting",
        item_id: id.clone(),
        output_index: at,
    })
    .await;
    let (said, written) = match tool.run(&call.call_id, source).await {
        Ok(ran) => {
            item.status = status::COMPLETED.into();
            item.outputs = Some(
                ran.outputs
                    .iter()
                    .map(|o| match o {
                        RunCodeOutput::Logs { logs } => CodeOutput::Logs { logs: logs.clone() },
                        RunCodeOutput::Image { file_id } => {
                            CodeOutput::Image { url: format!("/v1/files/{file_id}/content") }
                        }
                    })
                    .collect(),
            );
            let mut said = code_result(&ran.outputs);
            for f in &ran.written {
                said.push_str(&format!("\n[the code wrote /mnt/data/{}]", f.path));
            }
            (said, ran.written)
        }
        Err(message) => {
            tracing::warn!(response_id = %r.id, error = %message, "code_interpreter failed");
            item.status = status::FAILED.into();
            (format!("The code could not run: {message}"), vec![])
        }
    };
    emit.emit(Event::ToolCall { name: "response.code_interpreter_call.completed", item_id: id, output_index: at })
        .await;
    r.output[output_index] = Item::CodeInterpreterCall(item.clone());
    emit.emit(Event::OutputItem { done: true, output_index: at, item: Item::CodeInterpreterCall(item) }).await;
    (said, written)
}

/// Runs the model turns of `r` (status `in_progress`) with `request` on `backend`:
/// each call of a built-in tool is run and answered, and the model called again,
/// until it answers, calls a client's function, or fails. The output, usage and end
/// state are written into `r` and each step announced.
pub async fn execute(
    r: &mut Response,
    backend: Arc<dyn ChatModel>,
    mut request: ChatRequest,
    builtins: &BuiltIns,
    emit: &mut Emitter,
    cancel: &CancellationToken,
) {
    let mut searches: Vec<Vec<SearchResult>> = vec![];
    let mut files: Vec<CodeFile> = vec![];
    let container_id = builtins.code_interpreter.as_ref().map(|c| c.container_id.clone()).unwrap_or_default();
    let mut total = Usage::default();
    let mut calls_made = 0u32;
    let mut last = None;
    for _ in 0..MAX_ROUNDS {
        let estimated_input = prompt_tokens(&request);
        let mut names: Vec<&'static str> = Vec::new();
        if builtins.file_search.is_some() && request.tools.iter().any(|t| t.name == FILE_SEARCH) {
            names.push(FILE_SEARCH);
        }
        if builtins.code_interpreter.is_some() && request.tools.iter().any(|t| t.name == CODE_INTERPRETER) {
            names.push(CODE_INTERPRETER);
        }
        let known = Known { searches: &searches, files: &files, container_id: &container_id };
        let outcome = model_call(r, &backend, request.clone(), emit, &known, &names, cancel).await;
        let usage = outcome
            .usage
            .unwrap_or(Usage { input_tokens: estimated_input, output_tokens: estimate_tokens(&outcome.written) });
        total.input_tokens += usage.input_tokens;
        total.output_tokens += usage.output_tokens;
        let stop = outcome.failure.is_some() || outcome.cancelled || cancel.is_cancelled();
        if stop || outcome.builtin.is_empty() {
            last = Some(outcome);
            break;
        }
        let mut tool_calls = Vec::new();
        let mut answers = Vec::new();
        for call in &outcome.builtin {
            let said = match (call.name.as_str(), &builtins.file_search, &builtins.code_interpreter) {
                (FILE_SEARCH, Some(tool), _) => {
                    let (said, results) = search(r, emit, tool, call, searches.len()).await;
                    searches.push(results);
                    said
                }
                (CODE_INTERPRETER, _, Some(tool)) => {
                    let (said, written) = interpret(r, emit, tool, call).await;
                    files.extend(written);
                    said
                }
                _ => continue,
            };
            calls_made += 1;
            tool_calls.push(ToolCall {
                id: call.call_id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            });
            answers.push(ChatMessage::Tool { tool_call_id: call.call_id.clone(), content: said });
        }
        request.messages.push(ChatMessage::Assistant { content: outcome.said.clone(), tool_calls });
        request.messages.extend(answers);
        // a forced choice is for the first call only
        request.tool_choice = None;
        if builtins.max_calls.is_some_and(|max| calls_made >= max) {
            request.tools.retain(|t| t.name != FILE_SEARCH && t.name != CODE_INTERPRETER);
        }
        if outcome.client_calls {
            last = Some(Outcome { builtin: vec![], ..outcome });
            break;
        }
    }
    r.usage = Some(total);
    let Some(outcome) = last else {
        r.status = status::INCOMPLETE.into();
        r.incomplete_reason = Some("max_output_tokens".into());
        return;
    };
    if outcome.cancelled || cancel.is_cancelled() {
        r.status = status::CANCELLED.into();
    } else if let Some(e) = outcome.failure {
        tracing::warn!(response_id = %r.id, error = %e, "model call failed");
        r.status = status::FAILED.into();
        r.error = Some(ResponseError { code: e.run_error_code().into(), message: e.to_string() });
    } else if outcome.finish.as_deref() == Some("length") {
        r.status = status::INCOMPLETE.into();
        r.incomplete_reason = Some("max_output_tokens".into());
    } else if outcome.finish.as_deref() == Some("content_filter") {
        r.status = status::INCOMPLETE.into();
        r.incomplete_reason = Some("content_filter".into());
    } else {
        r.status = status::COMPLETED.into();
        r.completed_at = Some(assistd_common::time::now_secs());
    }
}

#[cfg(test)]
mod tests;

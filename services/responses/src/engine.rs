//! The model turn of a response: the backend's streamed answer becomes output items
//! (a message with its output_text, function calls with their arguments), each step
//! announced as the Responses API's events, in OpenAI's order. The turn never stops
//! early because nobody listens: events to a client that went away are dropped and
//! the response still ends.

use assistd_common::ids::{CallId, FunctionCallItemId, MessageId};
use assistd_common::items::{ContentPart, FunctionCall, Item, Message};
use assistd_runs::engine::prompt::estimate_tokens;
use assistd_runs::model::{ChatEvent, ChatModel, ChatRequest, ModelError};
use futures::StreamExt;
use std::sync::Arc;
use tokio::sync::mpsc;

use crate::domain::{Response, ResponseError, Usage, status};

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
    /// `error`.
    Error(ResponseError),
}

/// An event and its place in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequenced {
    pub sequence_number: u64,
    pub event: Event,
}

/// Numbers events and hands them to the listener, if there is one (and it is still
/// there).
pub struct Emitter {
    tx: Option<mpsc::Sender<Sequenced>>,
    next: u64,
}

impl Emitter {
    /// Events go to `tx` (none: nobody listens).
    pub fn new(tx: Option<mpsc::Sender<Sequenced>>) -> Self {
        Self { tx, next: 0 }
    }

    /// Sends `event`; a listener that went away is forgotten.
    pub async fn emit(&mut self, event: Event) {
        let ev = Sequenced { sequence_number: self.next, event };
        self.next += 1;
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

/// The turn in progress.
struct Turn<'a> {
    r: &'a mut Response,
    emit: &'a mut Emitter,
    text: Option<OpenText>,
    calls: Vec<OpenCall>,
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
        self.emit
            .emit(Event::TextDone { item_id: item_id.clone(), output_index, content_index: 0, text: text.clone() })
            .await;
        let part = ContentPart::OutputText { text, annotations: vec![], logprobs: vec![] };
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

fn prompt_tokens(request: &ChatRequest) -> u64 {
    use assistd_runs::model::{ChatMessage, UserPart};
    request
        .messages
        .iter()
        .map(|m| {
            4 + match m {
                ChatMessage::System(s) => estimate_tokens(s),
                ChatMessage::User(parts) => parts
                    .iter()
                    .map(|p| match p {
                        UserPart::Text(t) => estimate_tokens(t),
                        UserPart::ImageUrl { .. } => 85,
                    })
                    .sum(),
                ChatMessage::Assistant { content, tool_calls } => {
                    content.as_deref().map_or(0, estimate_tokens)
                        + tool_calls.iter().map(|c| estimate_tokens(&c.arguments) + 4).sum::<u64>()
                }
                ChatMessage::Tool { content, .. } => estimate_tokens(content),
            }
        })
        .sum()
}

/// Runs the model turn of `r` (status `in_progress`) with `request` on `backend`,
/// writing its output, usage and end state into `r` and announcing each step.
pub async fn execute(r: &mut Response, backend: Arc<dyn ChatModel>, request: ChatRequest, emit: &mut Emitter) {
    let estimated_input = prompt_tokens(&request);
    let mut turn = Turn { r, emit, text: None, calls: vec![], written: String::new() };
    let mut usage: Option<Usage> = None;
    let mut finish: Option<String> = None;
    let mut failure: Option<ModelError> = None;
    match backend.stream(request).await {
        Err(e) => failure = Some(e),
        Ok(mut stream) => {
            while let Some(ev) = stream.next().await {
                match ev {
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                    Ok(ChatEvent::Text(t)) => turn.text(t).await,
                    Ok(ChatEvent::ToolCall { index, id, name, arguments }) => {
                        turn.call(index, id, name, arguments).await
                    }
                    Ok(ChatEvent::Usage { prompt_tokens, completion_tokens }) => {
                        usage = Some(Usage { input_tokens: prompt_tokens, output_tokens: completion_tokens })
                    }
                    Ok(ChatEvent::Finish(f)) => finish = Some(f),
                }
            }
        }
    }
    let cut = finish.as_deref() == Some("length");
    let item_status = if failure.is_some() || cut { status::INCOMPLETE } else { status::COMPLETED };
    turn.close_text(item_status).await;
    turn.close_calls(item_status).await;
    let written = std::mem::take(&mut turn.written);
    let r = turn.r;
    r.usage = Some(usage.unwrap_or(Usage { input_tokens: estimated_input, output_tokens: estimate_tokens(&written) }));
    if let Some(e) = failure {
        tracing::warn!(response_id = %r.id, error = %e, "model call failed");
        r.status = status::FAILED.into();
        r.error = Some(ResponseError { code: e.run_error_code().into(), message: e.to_string() });
    } else if cut {
        r.status = status::INCOMPLETE.into();
        r.incomplete_reason = Some("max_output_tokens".into());
    } else if finish.as_deref() == Some("content_filter") {
        r.status = status::INCOMPLETE.into();
        r.incomplete_reason = Some("content_filter".into());
    } else {
        r.status = status::COMPLETED.into();
        r.completed_at = Some(assistd_common::time::now_secs());
    }
}

#[cfg(test)]
mod tests;

//! What a streamed run tells its client ([`RunEvent`]: the run, its steps and the
//! deltas of their tool calls as domain values; the messages and the thread as the
//! threads service's records), and the sink they go to ([`Emitter`]). A client that
//! goes away closes the sink; the run goes on without it. The transports turn the
//! events into their wire form (`grpc::convert::event_to_pb`).

use assistd_proto::pb;
use tokio::sync::mpsc;

use crate::domain::{CodeOutput, Run, RunStep};

/// The events of a run executing in this process, as a streaming client reads them;
/// the last is [`RunEvent::Done`].
pub type EventStream = futures::stream::BoxStream<'static, RunEvent>;

/// One event of a streamed run, in the order the client receives them.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// `thread.created`: the thread a create-thread-and-run made for the run.
    ThreadCreated(pb::Thread),
    /// `thread.run.created`: the run as it was created (queued).
    RunCreated(Run),
    /// `thread.run.<status>`: the run as it now is.
    Run(Run),
    /// `thread.run.step.created`: a step the run opened.
    StepCreated(RunStep),
    /// `thread.run.step.<status>`: the step as it now is.
    Step(RunStep),
    /// `thread.run.step.delta`: a tool call of a step streaming in.
    StepDelta(StepDelta),
    /// `thread.message.<event>`: a message the run writes.
    Message(MessageEvent, pb::Message),
    /// `thread.message.delta`: text the run appended to its message's text part (at
    /// `index`, after the images the message shows).
    MessageText {
        /// The message written.
        message_id: String,
        /// The text part's position in the content.
        index: u32,
        /// The text appended.
        text: String,
    },
    /// `thread.message.delta`: an image code_interpreter drew, shown in the message.
    MessageImage {
        /// The message written.
        message_id: String,
        /// The image part's position in the content.
        index: u32,
        /// `file-…`
        file_id: String,
    },
    /// `error`: the run met an error after the stream started (`server_error`).
    Error(String),
    /// `done`: the last event of the stream.
    Done,
}

/// What happened to a message the run writes (`thread.message.<as_str>`). Messages are
/// the threads service's records, so the event is said, not read from their status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageEvent {
    /// The run opened the message.
    Created,
    /// The run started writing it (sent right after `Created`).
    InProgress,
    /// The run finished it.
    Completed,
    /// The run stopped before finishing it.
    Incomplete,
}

impl MessageEvent {
    /// The event's name after `thread.message.`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Incomplete => "incomplete",
        }
    }
}

/// A piece of one tool call of a step, as the model streams it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDelta {
    /// The step the call belongs to.
    pub step_id: String,
    /// The call's position in the step's tool calls.
    pub index: u32,
    /// What this piece adds.
    pub call: CallDelta,
}

/// What a [`StepDelta`] adds to its tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallDelta {
    /// A function call begins: its id and name (its arguments empty so far, no output).
    FunctionOpened {
        /// `call_…`
        id: String,
        /// The function called.
        name: String,
    },
    /// A file_search call begins (its results come with the completed step).
    FileSearchOpened {
        /// `call_…`
        id: String,
    },
    /// A fragment of a function call's arguments.
    FunctionArguments(String),
    /// A code_interpreter call begins (its input empty so far, no outputs).
    CodeOpened {
        /// `call_…`
        id: String,
    },
    /// A fragment of a code_interpreter call's code.
    CodeInput(String),
    /// What a code_interpreter call produced, once it ran.
    CodeOutputs(Vec<CodeOutput>),
}

/// Where a run's events go: a streaming client, or nowhere (a queued run). Events
/// are boxed in the channel: a slot then costs a pointer, not the largest event.
#[derive(Default)]
pub struct Emitter {
    tx: Option<mpsc::Sender<Box<RunEvent>>>,
    /// Counted in `assistd_run_streams_open`.
    counted: bool,
}

impl Drop for Emitter {
    fn drop(&mut self) {
        if self.counted {
            metrics::gauge!("assistd_run_streams_open").decrement(1.0);
        }
    }
}

impl Emitter {
    /// Events for nobody.
    pub fn none() -> Self {
        Self::default()
    }

    /// Events into `tx`.
    pub fn to(tx: mpsc::Sender<Box<RunEvent>>) -> Self {
        metrics::gauge!("assistd_run_streams_open").increment(1.0);
        Self { tx: Some(tx), counted: true }
    }

    /// Whether a client is listening (events are only made when one is).
    pub fn is_open(&self) -> bool {
        self.tx.is_some()
    }

    /// Sends `event`; a client that went away stops the events, not the run.
    pub(super) async fn send(&mut self, event: RunEvent) {
        if let Some(tx) = &self.tx
            && tx.send(Box::new(event)).await.is_err()
        {
            tracing::debug!("stream client went away; the run goes on");
            self.tx = None;
        }
    }

    /// `thread.run.<status>` for the run as it is.
    pub async fn run(&mut self, r: &Run) {
        if self.is_open() {
            self.send(RunEvent::Run(r.clone())).await;
        }
    }

    /// `thread.run.step.created`.
    pub async fn step_created(&mut self, s: &RunStep) {
        if self.is_open() {
            self.send(RunEvent::StepCreated(s.clone())).await;
        }
    }

    /// `thread.run.step.<status>` for the step as it is.
    pub async fn step(&mut self, s: &RunStep) {
        if self.is_open() {
            self.send(RunEvent::Step(s.clone())).await;
        }
    }

    /// `thread.run.step.delta`: `call` adds to call `index` of step `step_id`.
    pub async fn step_delta(&mut self, step_id: &str, index: u32, call: CallDelta) {
        if self.is_open() {
            self.send(RunEvent::StepDelta(StepDelta { step_id: step_id.to_owned(), index, call })).await;
        }
    }

    /// `thread.message.<event>`.
    pub async fn message(&mut self, event: MessageEvent, m: &pb::Message) {
        if self.is_open() {
            self.send(RunEvent::Message(event, m.clone())).await;
        }
    }

    /// `thread.message.delta` with a text fragment of content part `index`.
    pub async fn text_delta(&mut self, message_id: &str, index: u32, text: &str) {
        if self.is_open() {
            let (message_id, text) = (message_id.to_owned(), text.to_owned());
            self.send(RunEvent::MessageText { message_id, index, text }).await;
        }
    }

    /// `thread.message.delta` with image `file_id` as content part `index`.
    pub async fn image_delta(&mut self, message_id: &str, index: u32, file_id: &str) {
        if self.is_open() {
            let (message_id, file_id) = (message_id.to_owned(), file_id.to_owned());
            self.send(RunEvent::MessageImage { message_id, index, file_id }).await;
        }
    }

    /// `error`, after the stream started.
    pub async fn error(&mut self, message: &str) {
        if self.is_open() {
            self.send(RunEvent::Error(message.to_owned())).await;
        }
    }

    /// `done`, the last event.
    pub async fn done(&mut self) {
        self.send(RunEvent::Done).await;
        self.tx = None;
    }
}

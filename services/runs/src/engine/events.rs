//! The events a streamed run sends (`RunEvent`), and the sink they go to. A client
//! that goes away closes the sink; the run goes on without it.

use assistd_proto::pb;
use tokio::sync::mpsc;

use crate::domain::{Run, RunStep};
use crate::grpc::convert::step_to_pb;

/// Where a run's events go: a streaming client, or nowhere (a queued run). Events
/// are boxed in the channel: a slot then costs a pointer, not the largest event.
#[derive(Default)]
pub struct Emitter {
    tx: Option<mpsc::Sender<Box<pb::RunEvent>>>,
    include: Vec<String>,
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

    /// Events into `tx`; steps carry what `include` asks for.
    pub fn to(tx: mpsc::Sender<Box<pb::RunEvent>>, include: Vec<String>) -> Self {
        metrics::gauge!("assistd_run_streams_open").increment(1.0);
        Self { tx: Some(tx), include, counted: true }
    }

    /// Whether a client is listening.
    pub fn is_open(&self) -> bool {
        self.tx.is_some()
    }

    async fn send(&mut self, event: &str, payload: pb::run_event::Payload) {
        if let Some(tx) = &self.tx {
            let ev = pb::RunEvent { event: event.to_owned(), payload: Some(payload) };
            if tx.send(Box::new(ev)).await.is_err() {
                tracing::debug!("stream client went away; the run goes on");
                self.tx = None;
            }
        }
    }

    /// `thread.created`.
    pub async fn thread(&mut self, t: pb::Thread) {
        self.send("thread.created", pb::run_event::Payload::Thread(t)).await;
    }

    /// `thread.run.<status>` for the run as it is.
    pub async fn run(&mut self, r: &Run) {
        self.run_as(&r.status.event_name(), r).await;
    }

    /// `event` with the run (e.g. `thread.run.created`).
    pub async fn run_as(&mut self, event: &str, r: &Run) {
        if self.is_open() {
            self.send(event, pb::run_event::Payload::Run(r.clone().into())).await;
        }
    }

    /// `thread.run.step.<what>`.
    pub async fn step(&mut self, what: &str, s: &RunStep) {
        if self.is_open() {
            let step = step_to_pb(s.clone(), &self.include);
            self.send(&format!("thread.run.step.{what}"), pb::run_event::Payload::RunStep(step)).await;
        }
    }

    /// `thread.run.step.delta`.
    pub async fn step_delta(&mut self, d: pb::RunStepDelta) {
        self.send("thread.run.step.delta", pb::run_event::Payload::RunStepDelta(d)).await;
    }

    /// `thread.message.<what>`.
    pub async fn message(&mut self, what: &str, m: &pb::Message) {
        if self.is_open() {
            self.send(&format!("thread.message.{what}"), pb::run_event::Payload::Message(m.clone())).await;
        }
    }

    /// `thread.message.delta` with a text fragment of content part 0.
    pub async fn text_delta(&mut self, message_id: &str, text: &str) {
        let delta = pb::MessageDelta {
            id: message_id.to_owned(),
            role: None,
            content: vec![pb::MessageContentDelta {
                index: 0,
                part: Some(pb::message_content_delta::Part::Text(pb::TextDelta {
                    value: Some(text.to_owned()),
                    annotations: vec![],
                })),
            }],
        };
        self.send("thread.message.delta", pb::run_event::Payload::MessageDelta(delta)).await;
    }

    /// `error`, after the stream started.
    pub async fn error(&mut self, message: &str) {
        let e = pb::ErrorEvent {
            message: message.to_owned(),
            r#type: "server_error".into(),
            param: None,
            code: Some("server_error".into()),
        };
        self.send("error", pb::run_event::Payload::Error(e)).await;
    }

    /// `done`, the last event.
    pub async fn done(&mut self) {
        self.send("done", pb::run_event::Payload::Done(pb::Done {})).await;
        self.tx = None;
    }
}

/// The first delta of function call `index`: id, name, `arguments: ""`, `output: null`.
pub fn function_call_opened(step_id: &str, index: u32, call_id: &str, name: &str) -> pb::RunStepDelta {
    tool_delta(
        step_id,
        index,
        Some(call_id.to_owned()),
        pb::FunctionToolCallDelta { name: Some(name.to_owned()), arguments: Some(String::new()), output: None },
    )
}

/// The first delta of file_search call `index` (its results come with the step).
pub fn file_search_opened(step_id: &str, index: u32, call_id: &str) -> pb::RunStepDelta {
    pb::RunStepDelta {
        id: step_id.to_owned(),
        step_details: Some(pb::RunStepDeltaDetails {
            details: Some(pb::run_step_delta_details::Details::ToolCalls(pb::ToolCallsDelta {
                tool_calls: vec![pb::ToolCallDelta {
                    index,
                    id: Some(call_id.to_owned()),
                    call: Some(pb::tool_call_delta::Call::FileSearch(pb::FileSearchCallDelta::default())),
                }],
            })),
        }),
    }
}

/// A fragment of function call `index`'s arguments.
pub fn function_arguments(step_id: &str, index: u32, fragment: &str) -> pb::RunStepDelta {
    tool_delta(
        step_id,
        index,
        None,
        pb::FunctionToolCallDelta { name: None, arguments: Some(fragment.to_owned()), output: None },
    )
}

fn tool_delta(step_id: &str, index: u32, id: Option<String>, f: pb::FunctionToolCallDelta) -> pb::RunStepDelta {
    pb::RunStepDelta {
        id: step_id.to_owned(),
        step_details: Some(pb::RunStepDeltaDetails {
            details: Some(pb::run_step_delta_details::Details::ToolCalls(pb::ToolCallsDelta {
                tool_calls: vec![pb::ToolCallDelta { index, id, call: Some(pb::tool_call_delta::Call::Function(f)) }],
            })),
        }),
    }
}

//! The turn against a scripted backend (the model is outside assistd): which events
//! come, in which order, and what the response holds at the end.

use std::sync::Arc;

use assistd_runs::model::{ChatEvent, ChatModel, ChatRequest, ChatStream, ModelError};
use tokio::sync::mpsc;

use super::*;

struct Scripted(Vec<Result<ChatEvent, ModelError>>);

#[async_trait::async_trait]
impl ChatModel for Scripted {
    async fn stream(&self, _request: ChatRequest) -> Result<ChatStream, ModelError> {
        Ok(futures::stream::iter(self.0.clone()).boxed())
    }
}

async fn run(script: Vec<Result<ChatEvent, ModelError>>) -> (Response, Vec<Sequenced>) {
    let (tx, mut rx) = mpsc::channel(1024);
    let mut emit = Emitter::new(Some(tx));
    let mut r = Response { id: "resp_1".into(), status: status::IN_PROGRESS.into(), ..Default::default() };
    execute(
        &mut r,
        Arc::new(Scripted(script)),
        ChatRequest::default(),
        &BuiltIns::default(),
        &mut emit,
        &Default::default(),
    )
    .await;
    drop(emit);
    let mut events = vec![];
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (r, events)
}

fn names(events: &[Sequenced]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match &e.event {
            Event::OutputItem { done: false, .. } => "output_item.added",
            Event::OutputItem { done: true, .. } => "output_item.done",
            Event::ContentPart { done: false, .. } => "content_part.added",
            Event::ContentPart { done: true, .. } => "content_part.done",
            Event::TextDelta { .. } => "output_text.delta",
            Event::TextDone { .. } => "output_text.done",
            Event::ArgumentsDelta { .. } => "function_call_arguments.delta",
            Event::ArgumentsDone { .. } => "function_call_arguments.done",
            Event::Response(name, _) => name,
            Event::Annotation { .. } => "output_text.annotation.added",
            Event::ToolCall { name, .. } => name,
            Event::CodeDelta { .. } => "code_interpreter_call_code.delta",
            Event::CodeDone { .. } => "code_interpreter_call_code.done",
            Event::Error(_) => "error",
        })
        .collect()
}

#[tokio::test]
async fn text_then_a_call_in_openais_order() {
    let (r, events) = run(vec![
        Ok(ChatEvent::Text("Let me ".into())),
        Ok(ChatEvent::Text("check.".into())),
        Ok(ChatEvent::ToolCall {
            index: 0,
            id: Some("call_9".into()),
            name: Some("w".into()),
            arguments: "{\"c\":".into(),
        }),
        Ok(ChatEvent::ToolCall { index: 0, id: None, name: None, arguments: "1}".into() }),
        Ok(ChatEvent::Usage { prompt_tokens: 11, completion_tokens: 7 }),
        Ok(ChatEvent::Finish("tool_calls".into())),
    ])
    .await;
    assert_eq!(
        names(&events),
        [
            "output_item.added",
            "content_part.added",
            "output_text.delta",
            "output_text.delta",
            "output_text.done",
            "content_part.done",
            "output_item.done",
            "output_item.added",
            "function_call_arguments.delta",
            "function_call_arguments.delta",
            "function_call_arguments.done",
            "output_item.done",
        ]
    );
    assert!(events.iter().enumerate().all(|(i, e)| e.sequence_number == i as u64));
    assert_eq!(r.status, status::COMPLETED);
    assert_eq!(r.usage, Some(Usage { input_tokens: 11, output_tokens: 7 }));
    let Item::Message(m) = &r.output[0] else { panic!("{:?}", r.output) };
    assert_eq!(
        (m.status.as_str(), &m.content[0]),
        ("completed", &ContentPart::OutputText { text: "Let me check.".into(), annotations: vec![], logprobs: vec![] })
    );
    let Item::FunctionCall(c) = &r.output[1] else { panic!() };
    assert_eq!((c.call_id.as_str(), c.name.as_str(), c.arguments.as_str()), ("call_9", "w", "{\"c\":1}"));
    assert!(c.id.starts_with("fc_"));
}

#[tokio::test]
async fn a_cut_answer_is_incomplete_and_a_failed_backend_fails() {
    let (r, _) = run(vec![Ok(ChatEvent::Text("partial".into())), Ok(ChatEvent::Finish("length".into()))]).await;
    assert_eq!((r.status.as_str(), r.incomplete_reason.as_deref()), ("incomplete", Some("max_output_tokens")));
    let Item::Message(m) = &r.output[0] else { panic!() };
    assert_eq!(m.status, "incomplete");
    assert!(r.usage.unwrap().output_tokens > 0, "estimated when the backend reports none");

    let (r, events) =
        run(vec![Ok(ChatEvent::Text("x".into())), Err(ModelError::RateLimited("slow down".into()))]).await;
    assert_eq!(r.status, "failed");
    assert_eq!(r.error.unwrap().code, "rate_limit_exceeded");
    assert_eq!(names(&events).last(), Some(&"output_item.done"), "the open message is closed");
}

#[tokio::test]
async fn nobody_listening_does_not_stop_the_turn() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let mut emit = Emitter::new(Some(tx));
    let mut r = Response { status: status::IN_PROGRESS.into(), ..Default::default() };
    let script = (0..50).map(|i| Ok(ChatEvent::Text(format!("{i} ")))).collect();
    execute(
        &mut r,
        Arc::new(Scripted(script)),
        ChatRequest::default(),
        &BuiltIns::default(),
        &mut emit,
        &Default::default(),
    )
    .await;
    assert_eq!(r.status, "completed");
    let Item::Message(m) = &r.output[0] else { panic!() };
    assert!(
        matches!(&m.content[0], ContentPart::OutputText { text, .. } if text.starts_with("0 1 2") && text.ends_with("49 "))
    );
}

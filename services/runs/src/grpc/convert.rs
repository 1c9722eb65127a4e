//! Domain → proto conversions of the runs service: runs, steps (with the file_search
//! result content only when `include[]` asks for it), and the events of a streamed run
//! (`event_to_pb`, their names and payloads as the gateway sends them on). Requests
//! are parsed in `request.rs`.

use assistd_common::tools::INCLUDE_FILE_SEARCH_CONTENT;
use assistd_proto::pb;

use crate::domain::{
    CodeOutput, RequiredCall, Run, RunError, RunStatus, RunStep, StepDetails, StepStatus, StepToolCall, ToolChoiceSpec,
    Usage,
};
use crate::engine::{CallDelta, RunEvent, StepDelta};

fn status_to_pb(s: RunStatus) -> pb::RunStatus {
    match s {
        RunStatus::Queued => pb::RunStatus::Queued,
        RunStatus::InProgress => pb::RunStatus::InProgress,
        RunStatus::RequiresAction => pb::RunStatus::RequiresAction,
        RunStatus::Cancelling => pb::RunStatus::Cancelling,
        RunStatus::Cancelled => pb::RunStatus::Cancelled,
        RunStatus::Failed => pb::RunStatus::Failed,
        RunStatus::Completed => pb::RunStatus::Completed,
        RunStatus::Incomplete => pb::RunStatus::Incomplete,
        RunStatus::Expired => pb::RunStatus::Expired,
    }
}

fn usage_to_pb(u: Usage) -> pb::Usage {
    pb::Usage {
        prompt_tokens: u.prompt_tokens as i64,
        completion_tokens: u.completion_tokens as i64,
        total_tokens: (u.prompt_tokens + u.completion_tokens) as i64,
    }
}

fn error_to_pb(e: RunError) -> pb::RunError {
    pb::RunError { code: e.code, message: e.message }
}

/// The proto form of a run's `tool_choice`.
pub fn tool_choice_to_pb(c: ToolChoiceSpec) -> pb::ToolChoice {
    use pb::tool_choice::Choice;
    pb::ToolChoice {
        choice: Some(match c {
            ToolChoiceSpec::None => Choice::None(pb::ToolChoiceNone {}),
            ToolChoiceSpec::Auto => Choice::Auto(pb::ToolChoiceAuto {}),
            ToolChoiceSpec::Required => Choice::Required(pb::ToolChoiceRequired {}),
            ToolChoiceSpec::Function { name } => Choice::Function(pb::FunctionToolChoice { name }),
            ToolChoiceSpec::FileSearch => Choice::FileSearch(pb::ToolChoiceFileSearch {}),
            ToolChoiceSpec::CodeInterpreter => Choice::CodeInterpreter(pb::ToolChoiceCodeInterpreter {}),
        }),
    }
}

impl From<Run> for pb::Run {
    fn from(r: Run) -> Self {
        let Run {
            id,
            created_at,
            thread_id,
            assistant_id,
            status,
            spec,
            metadata,
            started_at,
            expires_at,
            cancelled_at,
            failed_at,
            completed_at,
            usage,
            required_action,
            last_error,
            incomplete_reason,
        } = r;
        pb::Run {
            id,
            created_at,
            thread_id,
            assistant_id,
            status: status_to_pb(status) as i32,
            required_action: required_action.filter(|_| status == RunStatus::RequiresAction).map(|calls| {
                pb::RequiredAction {
                    action: Some(pb::required_action::Action::SubmitToolOutputs(pb::SubmitToolOutputsAction {
                        tool_calls: calls
                            .into_iter()
                            .map(|RequiredCall { id, name, arguments }| pb::RequiredToolCall {
                                id,
                                function: Some(pb::FunctionCall { name, arguments }),
                            })
                            .collect(),
                    })),
                }
            }),
            last_error: last_error.map(error_to_pb),
            expires_at,
            started_at,
            cancelled_at,
            failed_at,
            completed_at,
            incomplete_details: incomplete_reason.map(|reason| pb::RunIncompleteDetails { reason }),
            instructions: spec.instructions_used(),
            model: spec.model,
            tools: spec.tools.into_iter().map(Into::into).collect(),
            metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }),
            usage: status.is_terminal().then(|| usage_to_pb(usage)),
            temperature: spec.temperature,
            top_p: spec.top_p,
            max_prompt_tokens: spec.max_prompt_tokens.map(i64::from),
            max_completion_tokens: spec.max_completion_tokens.map(i64::from),
            truncation_strategy: Some(match spec.truncation.last_messages {
                Some(n) => pb::TruncationStrategy {
                    r#type: pb::TruncationType::LastMessages as i32,
                    last_messages: Some(n.min(i32::MAX as u32) as i32),
                },
                None => pb::TruncationStrategy { r#type: pb::TruncationType::Auto as i32, last_messages: None },
            }),
            tool_choice: Some(tool_choice_to_pb(spec.tool_choice.unwrap_or_default())),
            parallel_tool_calls: spec.parallel_tool_calls,
            response_format: spec.response_format.map(Into::into),
            reasoning_effort: spec.reasoning_effort,
        }
    }
}

fn step_status_to_pb(s: StepStatus) -> pb::RunStepStatus {
    match s {
        StepStatus::InProgress => pb::RunStepStatus::InProgress,
        StepStatus::Cancelled => pb::RunStepStatus::Cancelled,
        StepStatus::Failed => pb::RunStepStatus::Failed,
        StepStatus::Completed => pb::RunStepStatus::Completed,
        StepStatus::Expired => pb::RunStepStatus::Expired,
    }
}

/// A proto tool call of a step; search result content only when `with_content`.
pub fn tool_call_to_pb(c: StepToolCall, with_content: bool) -> pb::ToolCall {
    match c {
        StepToolCall::Function { id, name, arguments, output } => pb::ToolCall {
            id,
            call: Some(pb::tool_call::Call::Function(pb::FunctionToolCall { name, arguments, output })),
        },
        StepToolCall::FileSearch { id, arguments: _, ranker, score_threshold, results } => pb::ToolCall {
            id,
            call: Some(pb::tool_call::Call::FileSearch(pb::FileSearchCall {
                ranking_options: Some(pb::FileSearchRankingOptions { ranker: Some(ranker), score_threshold }),
                results: results
                    .into_iter()
                    .map(|r| pb::FileSearchResult {
                        file_id: r.file_id,
                        file_name: r.file_name,
                        score: r.score,
                        content: if with_content { vec![pb::FileSearchResultContent { text: r.text }] } else { vec![] },
                    })
                    .collect(),
            })),
        },
        StepToolCall::CodeInterpreter { id, input, outputs, files: _ } => pb::ToolCall {
            id,
            call: Some(pb::tool_call::Call::CodeInterpreter(pb::CodeInterpreterCall {
                input,
                outputs: outputs.into_iter().map(code_output_to_pb).collect(),
            })),
        },
    }
}

fn code_output_to_pb(o: CodeOutput) -> pb::CodeInterpreterOutput {
    use pb::code_interpreter_output::Output;
    pb::CodeInterpreterOutput {
        output: Some(match o {
            CodeOutput::Logs { logs } => Output::Logs(logs),
            CodeOutput::Image { file_id } => Output::Image(pb::FileRef { file_id }),
        }),
    }
}

/// A proto step; `include` as the request gave it (search result content only when it
/// names [`INCLUDE_FILE_SEARCH_CONTENT`]).
pub fn step_to_pb(s: RunStep, include: &[String]) -> pb::RunStep {
    let with_content = include.iter().any(|i| i == INCLUDE_FILE_SEARCH_CONTENT);
    let RunStep {
        id,
        created_at,
        run_id,
        thread_id,
        assistant_id,
        status,
        details,
        last_error,
        expired_at,
        cancelled_at,
        failed_at,
        completed_at,
        usage,
        metadata,
    } = s;
    pb::RunStep {
        id,
        created_at,
        assistant_id,
        thread_id,
        run_id,
        status: step_status_to_pb(status) as i32,
        step_details: Some(pb::RunStepDetails {
            details: Some(match details {
                StepDetails::MessageCreation { message_id } => {
                    pb::run_step_details::Details::MessageCreation(pb::MessageCreationDetails { message_id })
                }
                StepDetails::ToolCalls { tool_calls } => {
                    pb::run_step_details::Details::ToolCalls(pb::ToolCallsDetails {
                        tool_calls: tool_calls.into_iter().map(|c| tool_call_to_pb(c, with_content)).collect(),
                    })
                }
            }),
        }),
        last_error: last_error.map(error_to_pb),
        expired_at,
        cancelled_at,
        failed_at,
        completed_at,
        metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }),
        usage: usage.map(usage_to_pb),
    }
}

/// The wire event of a streamed run; steps carry what `include` asks for.
pub fn event_to_pb(e: RunEvent, include: &[String]) -> pb::RunEvent {
    use pb::run_event::Payload;
    let (event, payload) = match e {
        RunEvent::ThreadCreated(t) => ("thread.created".to_owned(), Payload::Thread(t)),
        RunEvent::RunCreated(r) => ("thread.run.created".to_owned(), Payload::Run(r.into())),
        RunEvent::Run(r) => (r.status.event_name(), Payload::Run(r.into())),
        RunEvent::StepCreated(s) => ("thread.run.step.created".to_owned(), Payload::RunStep(step_to_pb(s, include))),
        RunEvent::Step(s) => {
            (format!("thread.run.step.{}", s.status.as_str()), Payload::RunStep(step_to_pb(s, include)))
        }
        RunEvent::StepDelta(d) => ("thread.run.step.delta".to_owned(), Payload::RunStepDelta(step_delta_to_pb(d))),
        RunEvent::Message(what, m) => (format!("thread.message.{}", what.as_str()), Payload::Message(m)),
        RunEvent::MessageText { message_id, index, text } => (
            "thread.message.delta".to_owned(),
            Payload::MessageDelta(pb::MessageDelta {
                id: message_id,
                role: None,
                content: vec![pb::MessageContentDelta {
                    index,
                    part: Some(pb::message_content_delta::Part::Text(pb::TextDelta {
                        value: Some(text),
                        annotations: vec![],
                    })),
                }],
            }),
        ),
        RunEvent::MessageImage { message_id, index, file_id } => (
            "thread.message.delta".to_owned(),
            Payload::MessageDelta(pb::MessageDelta {
                id: message_id,
                role: None,
                content: vec![pb::MessageContentDelta {
                    index,
                    part: Some(pb::message_content_delta::Part::ImageFile(pb::ImageFileDelta {
                        file_id: Some(file_id),
                        detail: None,
                    })),
                }],
            }),
        ),
        RunEvent::Error(message) => (
            "error".to_owned(),
            Payload::Error(pb::ErrorEvent {
                message,
                r#type: "server_error".into(),
                param: None,
                code: Some("server_error".into()),
            }),
        ),
        RunEvent::Done => ("done".to_owned(), Payload::Done(pb::Done {})),
    };
    pb::RunEvent { event, payload: Some(payload) }
}

/// A step delta: one tool call's piece. An opened function call has `arguments: ""`
/// and `output: null`; a fragment of arguments carries no id.
fn step_delta_to_pb(d: StepDelta) -> pb::RunStepDelta {
    use pb::tool_call_delta::Call;
    let StepDelta { step_id, index, call } = d;
    let (id, call) = match call {
        CallDelta::FunctionOpened { id, name } => (
            Some(id),
            Call::Function(pb::FunctionToolCallDelta {
                name: Some(name),
                arguments: Some(String::new()),
                output: None,
            }),
        ),
        CallDelta::FileSearchOpened { id } => (Some(id), Call::FileSearch(pb::FileSearchCallDelta::default())),
        CallDelta::FunctionArguments(fragment) => {
            (None, Call::Function(pb::FunctionToolCallDelta { name: None, arguments: Some(fragment), output: None }))
        }
        CallDelta::CodeOpened { id } => (
            Some(id),
            Call::CodeInterpreter(pb::CodeInterpreterCallDelta { input: Some(String::new()), outputs: vec![] }),
        ),
        CallDelta::CodeInput(fragment) => {
            (None, Call::CodeInterpreter(pb::CodeInterpreterCallDelta { input: Some(fragment), outputs: vec![] }))
        }
        CallDelta::CodeOutputs(outputs) => (
            None,
            Call::CodeInterpreter(pb::CodeInterpreterCallDelta {
                input: None,
                outputs: outputs
                    .into_iter()
                    .enumerate()
                    .map(|(i, o)| {
                        use pb::code_interpreter_output_delta::Output;
                        pb::CodeInterpreterOutputDelta {
                            index: i as u32,
                            output: Some(match o {
                                CodeOutput::Logs { logs } => Output::Logs(logs),
                                CodeOutput::Image { file_id } => Output::Image(pb::FileRef { file_id }),
                            }),
                        }
                    })
                    .collect(),
            }),
        ),
    };
    pb::RunStepDelta {
        id: step_id,
        step_details: Some(pb::RunStepDeltaDetails {
            details: Some(pb::run_step_delta_details::Details::ToolCalls(pb::ToolCallsDelta {
                tool_calls: vec![pb::ToolCallDelta { index, id, call: Some(call) }],
            })),
        }),
    }
}

impl From<crate::model::ModelInfo> for pb::Model {
    fn from(m: crate::model::ModelInfo) -> Self {
        pb::Model { id: m.id, created: m.created, owned_by: m.owned_by }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SearchResult;
    use crate::engine::MessageEvent;

    fn delta(call: pb::ToolCallDelta) -> Option<pb::run_event::Payload> {
        Some(pb::run_event::Payload::RunStepDelta(pb::RunStepDelta {
            id: "step_1".into(),
            step_details: Some(pb::RunStepDeltaDetails {
                details: Some(pb::run_step_delta_details::Details::ToolCalls(pb::ToolCallsDelta {
                    tool_calls: vec![call],
                })),
            }),
        }))
    }

    fn step_delta(index: u32, call: CallDelta) -> pb::RunEvent {
        event_to_pb(RunEvent::StepDelta(StepDelta { step_id: "step_1".into(), index, call }), &[])
    }

    #[test]
    fn tool_call_deltas_on_the_wire() {
        use pb::tool_call_delta::Call;
        let opened = step_delta(0, CallDelta::FunctionOpened { id: "call_1".into(), name: "f".into() });
        assert_eq!(opened.event, "thread.run.step.delta");
        let f = pb::FunctionToolCallDelta { name: Some("f".into()), arguments: Some(String::new()), output: None };
        let want = pb::ToolCallDelta { index: 0, id: Some("call_1".into()), call: Some(Call::Function(f)) };
        assert_eq!(opened.payload, delta(want));

        let fragment = step_delta(1, CallDelta::FunctionArguments("{\"a\":".into()));
        let f = pb::FunctionToolCallDelta { name: None, arguments: Some("{\"a\":".into()), output: None };
        assert_eq!(fragment.payload, delta(pb::ToolCallDelta { index: 1, id: None, call: Some(Call::Function(f)) }));

        let search = step_delta(2, CallDelta::FileSearchOpened { id: "call_2".into() });
        let fs = Call::FileSearch(pb::FileSearchCallDelta::default());
        assert_eq!(search.payload, delta(pb::ToolCallDelta { index: 2, id: Some("call_2".into()), call: Some(fs) }));
    }

    #[test]
    fn text_error_and_done_on_the_wire() {
        let text = event_to_pb(RunEvent::MessageText { message_id: "msg_1".into(), index: 0, text: "Hel".into() }, &[]);
        assert_eq!(text.event, "thread.message.delta");
        let part =
            pb::message_content_delta::Part::Text(pb::TextDelta { value: Some("Hel".into()), annotations: vec![] });
        let want = pb::MessageDelta {
            id: "msg_1".into(),
            role: None,
            content: vec![pb::MessageContentDelta { index: 0, part: Some(part) }],
        };
        assert_eq!(text.payload, Some(pb::run_event::Payload::MessageDelta(want)));

        let error = event_to_pb(RunEvent::Error("boom".into()), &[]);
        assert_eq!(error.event, "error");
        let want = pb::ErrorEvent {
            message: "boom".into(),
            r#type: "server_error".into(),
            param: None,
            code: Some("server_error".into()),
        };
        assert_eq!(error.payload, Some(pb::run_event::Payload::Error(want)));

        let done = event_to_pb(RunEvent::Done, &[]);
        assert_eq!((done.event.as_str(), done.payload), ("done", Some(pb::run_event::Payload::Done(pb::Done {}))));

        let m = pb::Message { id: "msg_1".into(), ..Default::default() };
        assert_eq!(event_to_pb(RunEvent::Message(MessageEvent::Incomplete, m), &[]).event, "thread.message.incomplete");
    }

    #[test]
    fn step_events_are_named_by_status_and_carry_what_include_asks() {
        let result =
            SearchResult { file_id: "file_1".into(), file_name: "a.txt".into(), score: 0.5, text: "hi".into() };
        let call = StepToolCall::FileSearch {
            id: "call_1".into(),
            arguments: "{}".into(),
            ranker: "auto".into(),
            score_threshold: 0.0,
            results: vec![result],
        };
        let mut step = RunStep::open(
            "step_1".into(),
            "run_1",
            "thread_1",
            "asst_1",
            StepDetails::ToolCalls { tool_calls: vec![call] },
            1,
        );
        assert_eq!(event_to_pb(RunEvent::StepCreated(step.clone()), &[]).event, "thread.run.step.created");
        assert_eq!(event_to_pb(RunEvent::Step(step.clone()), &[]).event, "thread.run.step.in_progress");
        step.finish(StepStatus::Completed, 2);
        let content = |e: pb::RunEvent| {
            let Some(pb::run_event::Payload::RunStep(s)) = e.payload else { panic!("a step") };
            let Some(pb::run_step_details::Details::ToolCalls(t)) = s.step_details.unwrap().details else { panic!() };
            let Some(pb::tool_call::Call::FileSearch(f)) = t.tool_calls[0].call.clone() else { panic!() };
            f.results[0].content.clone()
        };
        let plain = event_to_pb(RunEvent::Step(step.clone()), &[]);
        assert_eq!(plain.event, "thread.run.step.completed");
        assert!(content(plain).is_empty());
        let with = event_to_pb(RunEvent::Step(step), &[INCLUDE_FILE_SEARCH_CONTENT.to_owned()]);
        assert_eq!(content(with), [pb::FileSearchResultContent { text: "hi".into() }]);
    }
}

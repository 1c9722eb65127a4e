//! Domain → proto conversions of the runs service, and the parsing of run requests
//! into a [`RunSpec`].

use assistd_common::tools::{response_format_to_pb, tool_to_pb};
use assistd_proto::pb;

use crate::domain::{
    RequiredCall, Run, RunError, RunStatus, RunStep, StepDetails, StepStatus, StepToolCall, ToolChoiceSpec, Usage,
};

/// `include[]` value that adds file_search result content to steps.
pub const INCLUDE_SEARCH_CONTENT: &str = "step_details.tool_calls[*].file_search.results[*].content";

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

/// The proto tool choice.
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
            tools: spec.tools.into_iter().map(tool_to_pb).collect(),
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
            response_format: spec.response_format.map(response_format_to_pb),
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
    }
}

/// A proto step; `include` as the request gave it.
pub fn step_to_pb(s: RunStep, include: &[String]) -> pb::RunStep {
    let with_content = include.iter().any(|i| i == INCLUDE_SEARCH_CONTENT);
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

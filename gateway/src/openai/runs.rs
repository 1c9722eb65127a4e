//! Run, run step and run event JSON: the requests of the run operations, `RunObject`,
//! `RunStepObject`, and the SSE events of a streamed run (`RunStepDeltaObject`,
//! `MessageDeltaObject`, `Error`, `[DONE]`).

use std::collections::BTreeMap;

use assistd_common::tools::{ResponseFormat, Tool, ToolResources};
use assistd_proto::pb;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{
    FileIdOut, MetadataIn, RankingOptionsOut, ResponseFormatOut, ToolOut, double_option, metadata_from_pb,
    metadata_to_pb,
};
use super::threads::{CreateThreadIn, IncompleteDetailsOut, MessageIn, MessageOut, ThreadOut};
use super::vector_stores::TextContentOut;
use crate::errors::{ApiError, ErrorOut};

/// The `include[]` value that asks for file search result content.
pub const INCLUDE_FILE_SEARCH_CONTENT: &str = "step_details.tool_calls[*].file_search.results[*].content";

/// `CreateRunRequest`. Absent and null read the same (unset).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRunIn {
    pub assistant_id: String,
    /// Model override.
    #[serde(default)]
    pub model: Option<String>,
    /// Reasoning effort override.
    #[serde(default)]
    pub reasoning_effort: Option<String>,
    /// Instructions override.
    #[serde(default)]
    pub instructions: Option<String>,
    /// Appended instructions.
    #[serde(default)]
    pub additional_instructions: Option<String>,
    /// Messages added before the run.
    #[serde(default)]
    pub additional_messages: Option<Vec<MessageIn>>,
    /// Tools override (`[]` means no tools; absent or null means the assistant's).
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
    #[serde(default)]
    pub metadata: MetadataIn,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Answer with server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Prompt token budget.
    #[serde(default)]
    pub max_prompt_tokens: Option<i64>,
    /// Completion token budget.
    #[serde(default)]
    pub max_completion_tokens: Option<i64>,
    #[serde(default)]
    pub truncation_strategy: Option<TruncationIn>,
    /// Tool choice: a keyword or an object (checked in conversion).
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// Parallel function calls.
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
}

impl CreateRunIn {
    /// The proto request for a run on `thread_id`, and whether to stream.
    pub fn into_pb(self, thread_id: String, include: Vec<String>) -> Result<(pb::CreateRunRequest, bool), ApiError> {
        let CreateRunIn {
            assistant_id,
            model,
            reasoning_effort,
            instructions,
            additional_instructions,
            additional_messages,
            tools,
            metadata,
            temperature,
            top_p,
            stream,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy,
            tool_choice,
            parallel_tool_calls,
            response_format,
        } = self;
        let req = pb::CreateRunRequest {
            thread_id,
            assistant_id,
            model,
            reasoning_effort,
            instructions,
            additional_instructions,
            additional_messages: additional_messages
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, m)| m.into_pb(&format!("additional_messages[{i}].")))
                .collect::<Result<_, _>>()?,
            tools: tools_to_pb(tools),
            metadata: metadata.map(|m| metadata_to_pb(Some(m))),
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy: truncation_strategy.map(TruncationIn::into_pb).transpose()?,
            tool_choice: tool_choice.map(tool_choice_to_pb).transpose()?,
            parallel_tool_calls,
            response_format: response_format.map(pb::ResponseFormat::from),
            include,
        };
        Ok((req, stream.unwrap_or(false)))
    }
}

/// `CreateThreadAndRunRequest`. Absent and null read the same (unset).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateThreadAndRunIn {
    pub assistant_id: String,
    /// The thread to create.
    #[serde(default)]
    pub thread: Option<CreateThreadIn>,
    /// Model override.
    #[serde(default)]
    pub model: Option<String>,
    /// Instructions override.
    #[serde(default)]
    pub instructions: Option<String>,
    /// Tools override (`[]` means no tools; absent or null means the assistant's).
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
    /// Tool resources override.
    #[serde(default)]
    pub tool_resources: Option<ToolResources>,
    #[serde(default)]
    pub metadata: MetadataIn,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    /// Answer with server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Prompt token budget.
    #[serde(default)]
    pub max_prompt_tokens: Option<i64>,
    /// Completion token budget.
    #[serde(default)]
    pub max_completion_tokens: Option<i64>,
    #[serde(default)]
    pub truncation_strategy: Option<TruncationIn>,
    /// Tool choice: a keyword or an object (checked in conversion).
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// Parallel function calls.
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
}

impl CreateThreadAndRunIn {
    /// The proto request, and whether to stream.
    pub fn into_pb(self) -> Result<(pb::CreateThreadAndRunRequest, bool), ApiError> {
        let CreateThreadAndRunIn {
            assistant_id,
            thread,
            model,
            instructions,
            tools,
            tool_resources,
            metadata,
            temperature,
            top_p,
            stream,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy,
            tool_choice,
            parallel_tool_calls,
            response_format,
        } = self;
        let req = pb::CreateThreadAndRunRequest {
            assistant_id,
            thread: thread.map(|t| t.into_pb_at("thread.")).transpose()?,
            model,
            instructions,
            tools: tools_to_pb(tools),
            tool_resources: tool_resources.map(pb::ToolResources::from),
            metadata: metadata.map(|m| metadata_to_pb(Some(m))),
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy: truncation_strategy.map(TruncationIn::into_pb).transpose()?,
            tool_choice: tool_choice.map(tool_choice_to_pb).transpose()?,
            parallel_tool_calls,
            response_format: response_format.map(pb::ResponseFormat::from),
        };
        Ok((req, stream.unwrap_or(false)))
    }
}

/// `SubmitToolOutputsRunRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitToolOutputsIn {
    pub tool_outputs: Vec<ToolOutputIn>,
    /// Answer with server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
}

/// One tool output as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolOutputIn {
    /// The call answered.
    pub tool_call_id: String,
    /// The output (absent or null reads as "").
    #[serde(default)]
    pub output: Option<String>,
}

impl SubmitToolOutputsIn {
    /// The proto request, and whether to stream.
    pub fn into_pb(self, thread_id: String, run_id: String) -> (pb::SubmitToolOutputsRequest, bool) {
        let req = pb::SubmitToolOutputsRequest {
            thread_id,
            run_id,
            tool_outputs: self
                .tool_outputs
                .into_iter()
                .map(|o| pb::ToolOutput { tool_call_id: o.tool_call_id, output: o.output.unwrap_or_default() })
                .collect(),
        };
        (req, self.stream.unwrap_or(false))
    }
}

/// `ModifyRunRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyRunIn {
    /// Metadata (absent: unchanged; null: cleared).
    #[serde(default, deserialize_with = "double_option")]
    pub metadata: Option<MetadataIn>,
}

/// `TruncationObject` as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruncationIn {
    /// `auto` or `last_messages`.
    #[serde(rename = "type")]
    pub kind: String,
    /// With `last_messages`: how many.
    #[serde(default)]
    pub last_messages: Option<i32>,
}

impl TruncationIn {
    /// To proto, refusing unknown types.
    pub fn into_pb(self) -> Result<pb::TruncationStrategy, ApiError> {
        let kind = match self.kind.as_str() {
            "auto" => pb::TruncationType::Auto,
            "last_messages" => pb::TruncationType::LastMessages,
            other => {
                return Err(ApiError::invalid_value(
                    "truncation_strategy.type",
                    other,
                    "Supported values are: 'auto' and 'last_messages'.",
                ));
            }
        };
        Ok(pb::TruncationStrategy { r#type: kind as i32, last_messages: self.last_messages })
    }
}

/// Tools to proto: `None` (absent or null) keeps the assistant's, `Some([])` means none.
pub fn tools_to_pb(tools: Option<Vec<Tool>>) -> Option<pb::ToolList> {
    tools.map(|t| pb::ToolList { tools: t.into_iter().map(pb::Tool::from).collect() })
}

/// `AssistantsApiToolChoiceOption` to proto: `"none"`, `"auto"`, `"required"`, or
/// `{"type": "function", "function": {"name": …}}`, `{"type": "file_search"}`,
/// `{"type": "code_interpreter"}`.
pub fn tool_choice_to_pb(v: Value) -> Result<pb::ToolChoice, ApiError> {
    use pb::tool_choice::Choice;
    const KEYWORDS: &str = "Supported values are: 'none', 'auto', 'required' or an object with a 'type'.";
    let choice = match v {
        Value::String(s) => match s.as_str() {
            "none" => Choice::None(pb::ToolChoiceNone {}),
            "auto" => Choice::Auto(pb::ToolChoiceAuto {}),
            "required" => Choice::Required(pb::ToolChoiceRequired {}),
            other => return Err(ApiError::invalid_value("tool_choice", other, KEYWORDS)),
        },
        Value::Object(mut o) => {
            if let Some(k) = o.keys().find(|k| *k != "type" && *k != "function") {
                let param = format!("tool_choice.{k}");
                return Err(ApiError::unknown(param));
            }
            let kind = match o.remove("type") {
                Some(Value::String(s)) => s,
                None => {
                    return Err(ApiError::missing("tool_choice.type"));
                }
                Some(other) => return Err(ApiError::invalid_type("tool_choice.type", "a string", &other)),
            };
            let function = o.remove("function").filter(|f| !f.is_null());
            match kind.as_str() {
                "function" => {
                    let Some(function) = function else {
                        return Err(ApiError::missing("tool_choice.function"));
                    };
                    let Value::Object(mut f) = function else {
                        return Err(ApiError::invalid_type("tool_choice.function", "an object", &function));
                    };
                    if let Some(k) = f.keys().find(|k| *k != "name") {
                        let param = format!("tool_choice.function.{k}");
                        return Err(ApiError::unknown(param));
                    }
                    match f.remove("name") {
                        Some(Value::String(name)) => Choice::Function(pb::FunctionToolChoice { name }),
                        None => {
                            return Err(ApiError::missing("tool_choice.function.name"));
                        }
                        Some(other) => {
                            return Err(ApiError::invalid_type("tool_choice.function.name", "a string", &other));
                        }
                    }
                }
                "file_search" => Choice::FileSearch(pb::ToolChoiceFileSearch {}),
                "code_interpreter" => Choice::CodeInterpreter(pb::ToolChoiceCodeInterpreter {}),
                other => {
                    return Err(ApiError::invalid_value(
                        "tool_choice.type",
                        other,
                        "Supported values are: 'function', 'code_interpreter' and 'file_search'.",
                    ));
                }
            }
        }
        other => return Err(ApiError::invalid_type("tool_choice", "a string or an object", &other)),
    };
    Ok(pb::ToolChoice { choice: Some(choice) })
}

/// A tool choice as answered: `"none"`, `"auto"` (also when unset) or `"required"`,
/// or an object with a `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ToolChoiceOut {
    /// `none`, `auto` or `required`.
    Keyword(&'static str),
    Object(ToolChoiceObjectOut),
}

/// The object forms of [`ToolChoiceOut`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoiceObjectOut {
    Function { function: FunctionNameOut },
    FileSearch,
    CodeInterpreter,
}

/// The function a tool choice names: `{"name": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionNameOut {
    pub name: String,
}

impl From<Option<pb::ToolChoice>> for ToolChoiceOut {
    fn from(t: Option<pb::ToolChoice>) -> Self {
        use pb::tool_choice::Choice;
        let object = match t.and_then(|t| t.choice) {
            Some(Choice::None(pb::ToolChoiceNone {})) => return ToolChoiceOut::Keyword("none"),
            Some(Choice::Auto(pb::ToolChoiceAuto {})) | None => return ToolChoiceOut::Keyword("auto"),
            Some(Choice::Required(pb::ToolChoiceRequired {})) => return ToolChoiceOut::Keyword("required"),
            Some(Choice::Function(pb::FunctionToolChoice { name })) => {
                ToolChoiceObjectOut::Function { function: FunctionNameOut { name } }
            }
            Some(Choice::FileSearch(pb::ToolChoiceFileSearch {})) => ToolChoiceObjectOut::FileSearch,
            Some(Choice::CodeInterpreter(pb::ToolChoiceCodeInterpreter {})) => ToolChoiceObjectOut::CodeInterpreter,
        };
        ToolChoiceOut::Object(object)
    }
}

/// `TruncationObject` as answered (`{"type": "auto", "last_messages": null}` when
/// unset).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruncationOut {
    /// `auto` or `last_messages` (unknown values read as `auto`).
    pub r#type: &'static str,
    /// With `last_messages`: how many; null otherwise.
    pub last_messages: Option<i32>,
}

impl From<Option<pb::TruncationStrategy>> for TruncationOut {
    fn from(t: Option<pb::TruncationStrategy>) -> Self {
        let pb::TruncationStrategy { r#type, last_messages } = t.unwrap_or_default();
        let r#type = match pb::TruncationType::try_from(r#type) {
            Ok(pb::TruncationType::LastMessages) => "last_messages",
            _ => "auto",
        };
        TruncationOut { r#type, last_messages }
    }
}

/// The status string of a run.
pub fn run_status_str(status: i32) -> &'static str {
    match pb::RunStatus::try_from(status) {
        Ok(pb::RunStatus::InProgress) => "in_progress",
        Ok(pb::RunStatus::RequiresAction) => "requires_action",
        Ok(pb::RunStatus::Cancelling) => "cancelling",
        Ok(pb::RunStatus::Cancelled) => "cancelled",
        Ok(pb::RunStatus::Failed) => "failed",
        Ok(pb::RunStatus::Completed) => "completed",
        Ok(pb::RunStatus::Incomplete) => "incomplete",
        Ok(pb::RunStatus::Expired) => "expired",
        Ok(pb::RunStatus::Queued | pb::RunStatus::Unspecified) | Err(_) => "queued",
    }
}

/// The status string of a run step.
pub fn step_status_str(status: i32) -> &'static str {
    match pb::RunStepStatus::try_from(status) {
        Ok(pb::RunStepStatus::Cancelled) => "cancelled",
        Ok(pb::RunStepStatus::Failed) => "failed",
        Ok(pb::RunStepStatus::Completed) => "completed",
        Ok(pb::RunStepStatus::Expired) => "expired",
        Ok(pb::RunStepStatus::InProgress | pb::RunStepStatus::Unspecified) | Err(_) => "in_progress",
    }
}

/// The `last_error` of a run or a run step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunErrorOut {
    /// `server_error`, `rate_limit_exceeded`, `invalid_prompt`, …
    pub code: String,
    pub message: String,
}

impl From<pb::RunError> for RunErrorOut {
    fn from(e: pb::RunError) -> Self {
        let pb::RunError { code, message } = e;
        RunErrorOut { code, message }
    }
}

/// Token usage of a run or a run step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageOut {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

impl From<pb::Usage> for UsageOut {
    fn from(u: pb::Usage) -> Self {
        let pb::Usage { prompt_tokens, completion_tokens, total_tokens } = u;
        UsageOut { prompt_tokens, completion_tokens, total_tokens }
    }
}

/// A run's `required_action`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequiredActionOut {
    SubmitToolOutputs { submit_tool_outputs: SubmitToolOutputsOut },
}

/// The function calls a run waits on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmitToolOutputsOut {
    pub tool_calls: Vec<RequiredToolCallOut>,
}

/// `RunToolCallObject`: a function call the client runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequiredToolCallOut {
    /// `call_…`, the id the output is submitted with.
    pub id: String,
    /// Always `function`.
    pub r#type: &'static str,
    pub function: FunctionCallArgsOut,
}

/// The function and arguments (JSON text, as the model wrote them) of a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionCallArgsOut {
    pub name: String,
    pub arguments: String,
}

impl RequiredActionOut {
    /// The action of a run; `None` (answered as null) when there is none.
    fn from_pb(a: Option<pb::RequiredAction>) -> Option<Self> {
        match a?.action? {
            pb::required_action::Action::SubmitToolOutputs(pb::SubmitToolOutputsAction { tool_calls }) => {
                let tool_calls = tool_calls
                    .into_iter()
                    .map(|pb::RequiredToolCall { id, function }| {
                        let pb::FunctionCall { name, arguments } = function.unwrap_or_default();
                        RequiredToolCallOut {
                            id,
                            r#type: "function",
                            function: FunctionCallArgsOut { name, arguments },
                        }
                    })
                    .collect();
                Some(RequiredActionOut::SubmitToolOutputs { submit_tool_outputs: SubmitToolOutputsOut { tool_calls } })
            }
        }
    }
}

/// `RunObject`. The proto's `reasoning_effort` is not part of it and is left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOut {
    /// `run_…`.
    pub id: String,
    /// Always `thread.run`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub thread_id: String,
    pub assistant_id: String,
    /// See [`run_status_str`].
    pub status: &'static str,
    /// Null unless the run is `requires_action`.
    pub required_action: Option<RequiredActionOut>,
    /// Null unless the run failed.
    pub last_error: Option<RunErrorOut>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    /// Unix seconds.
    pub started_at: Option<i64>,
    /// Unix seconds.
    pub cancelled_at: Option<i64>,
    /// Unix seconds.
    pub failed_at: Option<i64>,
    /// Unix seconds.
    pub completed_at: Option<i64>,
    /// Null unless the run is incomplete.
    pub incomplete_details: Option<IncompleteDetailsOut>,
    pub model: String,
    pub instructions: String,
    pub tools: Vec<ToolOut>,
    /// `{}` when none.
    pub metadata: BTreeMap<String, String>,
    /// Null until the run ends.
    pub usage: Option<UsageOut>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_prompt_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    pub truncation_strategy: TruncationOut,
    pub tool_choice: ToolChoiceOut,
    pub parallel_tool_calls: bool,
    /// `"auto"` when unset.
    pub response_format: ResponseFormatOut,
}

impl From<pb::Run> for RunOut {
    fn from(r: pb::Run) -> Self {
        let pb::Run {
            id,
            created_at,
            thread_id,
            assistant_id,
            status,
            required_action,
            last_error,
            expires_at,
            started_at,
            cancelled_at,
            failed_at,
            completed_at,
            incomplete_details,
            model,
            instructions,
            tools,
            metadata,
            usage,
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy,
            tool_choice,
            parallel_tool_calls,
            response_format,
            reasoning_effort: _,
        } = r;
        RunOut {
            id,
            object: "thread.run",
            created_at,
            thread_id,
            assistant_id,
            status: run_status_str(status),
            required_action: RequiredActionOut::from_pb(required_action),
            last_error: last_error.map(Into::into),
            expires_at,
            started_at,
            cancelled_at,
            failed_at,
            completed_at,
            incomplete_details: incomplete_details
                .map(|pb::RunIncompleteDetails { reason }| IncompleteDetailsOut { reason }),
            model,
            instructions,
            tools: tools.into_iter().map(ToolOut::from).collect(),
            metadata: metadata_from_pb(metadata),
            usage: usage.map(Into::into),
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy: truncation_strategy.into(),
            tool_choice: tool_choice.into(),
            parallel_tool_calls,
            response_format: response_format.into(),
        }
    }
}

/// A file_search result of a run step. `content` is left out when empty (it is
/// only given when `include[]` asks for it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSearchResultOut {
    pub file_id: String,
    pub file_name: String,
    /// Relevance, 0-1.
    pub score: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<TextContentOut>,
}

impl From<pb::FileSearchResult> for FileSearchResultOut {
    fn from(r: pb::FileSearchResult) -> Self {
        let pb::FileSearchResult { file_id, file_name, score, content } = r;
        let content = content
            .into_iter()
            .map(|pb::FileSearchResultContent { text }| TextContentOut { r#type: "text", text })
            .collect();
        FileSearchResultOut { file_id, file_name, score, content }
    }
}

/// A code_interpreter output: `{"type": "logs", "logs": …}` or
/// `{"type": "image", "image": {"file_id": …}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CodeOutputOut {
    Logs { logs: String },
    Image { image: FileIdOut },
}

impl CodeOutputOut {
    /// `None` for an unset output (left out of the list).
    fn from_pb(o: pb::CodeInterpreterOutput) -> Option<Self> {
        use pb::code_interpreter_output::Output;
        Some(match o.output? {
            Output::Logs(logs) => CodeOutputOut::Logs { logs },
            Output::Image(f) => CodeOutputOut::Image { image: f.into() },
        })
    }
}

/// A tool call of a run step (`RunStepDetailsToolCalls…Object`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallOut {
    /// `call_…`.
    pub id: String,
    #[serde(flatten)]
    pub call: ToolCallKindOut,
}

/// The `type` of a tool call and what it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolCallKindOut {
    Function { function: FunctionCallOut },
    FileSearch { file_search: FileSearchCallOut },
    CodeInterpreter { code_interpreter: CodeInterpreterCallOut },
}

/// A function call: `output` is null until submitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionCallOut {
    pub name: String,
    /// JSON text, as the model wrote it.
    pub arguments: String,
    pub output: Option<String>,
}

/// A file_search call: the ranking options used (see [`RankingOptionsOut`]) and
/// the results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSearchCallOut {
    pub ranking_options: RankingOptionsOut,
    pub results: Vec<FileSearchResultOut>,
}

/// A code_interpreter call: the code run and what it printed or drew.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeInterpreterCallOut {
    pub input: String,
    pub outputs: Vec<CodeOutputOut>,
}

impl ToolCallOut {
    /// `None` for a call of unknown kind (left out of the list).
    fn from_pb(c: pb::ToolCall) -> Option<Self> {
        use pb::tool_call::Call;
        let pb::ToolCall { id, call } = c;
        let call = match call? {
            Call::Function(pb::FunctionToolCall { name, arguments, output }) => {
                ToolCallKindOut::Function { function: FunctionCallOut { name, arguments, output } }
            }
            Call::FileSearch(pb::FileSearchCall { ranking_options, results }) => ToolCallKindOut::FileSearch {
                file_search: FileSearchCallOut {
                    ranking_options: ranking_options.into(),
                    results: results.into_iter().map(Into::into).collect(),
                },
            },
            Call::CodeInterpreter(pb::CodeInterpreterCall { input, outputs }) => ToolCallKindOut::CodeInterpreter {
                code_interpreter: CodeInterpreterCallOut {
                    input,
                    outputs: outputs.into_iter().filter_map(CodeOutputOut::from_pb).collect(),
                },
            },
        };
        Some(ToolCallOut { id, call })
    }
}

/// A run step's `step_details`; unset details read as no tool calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepDetailsOut {
    MessageCreation { message_creation: MessageCreationOut },
    ToolCalls { tool_calls: Vec<ToolCallOut> },
}

/// The message a step wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageCreationOut {
    pub message_id: String,
}

impl StepDetailsOut {
    /// The step's `type`, which repeats the details' `type`.
    fn kind(&self) -> &'static str {
        match self {
            StepDetailsOut::MessageCreation { .. } => "message_creation",
            StepDetailsOut::ToolCalls { .. } => "tool_calls",
        }
    }
}

impl From<Option<pb::RunStepDetails>> for StepDetailsOut {
    fn from(d: Option<pb::RunStepDetails>) -> Self {
        use pb::run_step_details::Details;
        match d.and_then(|d| d.details) {
            Some(Details::MessageCreation(pb::MessageCreationDetails { message_id })) => {
                StepDetailsOut::MessageCreation { message_creation: MessageCreationOut { message_id } }
            }
            Some(Details::ToolCalls(pb::ToolCallsDetails { tool_calls })) => StepDetailsOut::ToolCalls {
                tool_calls: tool_calls.into_iter().filter_map(ToolCallOut::from_pb).collect(),
            },
            None => StepDetailsOut::ToolCalls { tool_calls: vec![] },
        }
    }
}

/// `RunStepObject`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStepOut {
    /// `step_…`.
    pub id: String,
    /// Always `thread.run.step`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub assistant_id: String,
    pub thread_id: String,
    pub run_id: String,
    /// `message_creation` or `tool_calls`, as `step_details`.
    pub r#type: &'static str,
    /// See [`step_status_str`].
    pub status: &'static str,
    pub step_details: StepDetailsOut,
    /// Null unless the step failed.
    pub last_error: Option<RunErrorOut>,
    /// Unix seconds.
    pub expired_at: Option<i64>,
    /// Unix seconds.
    pub cancelled_at: Option<i64>,
    /// Unix seconds.
    pub failed_at: Option<i64>,
    /// Unix seconds.
    pub completed_at: Option<i64>,
    /// `{}` when none.
    pub metadata: BTreeMap<String, String>,
    /// Null until the step ends.
    pub usage: Option<UsageOut>,
}

impl From<pb::RunStep> for RunStepOut {
    fn from(s: pb::RunStep) -> Self {
        let pb::RunStep {
            id,
            created_at,
            assistant_id,
            thread_id,
            run_id,
            status,
            step_details,
            last_error,
            expired_at,
            cancelled_at,
            failed_at,
            completed_at,
            metadata,
            usage,
        } = s;
        let step_details = StepDetailsOut::from(step_details);
        RunStepOut {
            id,
            object: "thread.run.step",
            created_at,
            assistant_id,
            thread_id,
            run_id,
            r#type: step_details.kind(),
            status: step_status_str(status),
            step_details,
            last_error: last_error.map(Into::into),
            expired_at,
            cancelled_at,
            failed_at,
            completed_at,
            metadata: metadata_from_pb(metadata),
            usage: usage.map(Into::into),
        }
    }
}

// ---------------------------------------------------------------------------------
// Stream deltas: only what changed; unset fields are left out.
// ---------------------------------------------------------------------------------

/// `RunStepDeltaObject`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStepDeltaOut {
    /// The step's `step_…` id.
    pub id: String,
    /// Always `thread.run.step.delta`.
    pub object: &'static str,
    pub delta: StepDeltaOut,
}

/// What changed in a step: `{}` when nothing did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_details: Option<StepDetailsDeltaOut>,
}

/// The changed `step_details` of a step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepDetailsDeltaOut {
    MessageCreation { message_creation: MessageCreationDeltaOut },
    ToolCalls { tool_calls: Vec<ToolCallDeltaOut> },
}

/// The message a step writes, once known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageCreationDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// A fragment of a tool call; `id` only in the call's first fragment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallDeltaOut {
    /// The call's position in the step.
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub call: ToolCallDeltaKindOut,
}

/// The `type` of a tool call fragment and what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolCallDeltaKindOut {
    Function { function: FunctionCallDeltaOut },
    CodeInterpreter { code_interpreter: CodeInterpreterCallDeltaOut },
    FileSearch { file_search: FileSearchCallDeltaOut },
}

/// A fragment of a function call. The first fragment (the one naming the function)
/// carries `output: null`, as OpenAI's do; later ones only what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionCallDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// More JSON text of the arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// Absent: unchanged; `Some(None)`: null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Option<String>>,
}

/// A fragment of a code_interpreter call; `outputs` is present in the first
/// fragment and whenever outputs were added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeInterpreterCallDeltaOut {
    /// More of the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<CodeOutputDeltaOut>>,
}

/// A code_interpreter output added, with its position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeOutputDeltaOut {
    pub index: u32,
    #[serde(flatten)]
    pub output: CodeOutputOut,
}

/// A fragment of a file_search call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileSearchCallDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking_options: Option<RankingOptionsOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<FileSearchResultOut>,
}

impl ToolCallDeltaOut {
    /// `None` for a fragment of unknown kind (left out of the list).
    fn from_pb(c: pb::ToolCallDelta) -> Option<Self> {
        use pb::tool_call_delta::Call;
        let pb::ToolCallDelta { index, id, call } = c;
        let first = id.is_some();
        let call = match call? {
            Call::Function(pb::FunctionToolCallDelta { name, arguments, output }) => {
                let output = match output {
                    Some(out) => Some(Some(out)),
                    None if name.is_some() => Some(None),
                    None => None,
                };
                ToolCallDeltaKindOut::Function { function: FunctionCallDeltaOut { name, arguments, output } }
            }
            Call::CodeInterpreter(pb::CodeInterpreterCallDelta { input, outputs }) => {
                use pb::code_interpreter_output_delta::Output;
                let outputs = (first || !outputs.is_empty()).then(|| {
                    outputs
                        .into_iter()
                        .filter_map(|pb::CodeInterpreterOutputDelta { index, output }| {
                            let output = match output? {
                                Output::Logs(logs) => CodeOutputOut::Logs { logs },
                                Output::Image(f) => CodeOutputOut::Image { image: f.into() },
                            };
                            Some(CodeOutputDeltaOut { index, output })
                        })
                        .collect()
                });
                ToolCallDeltaKindOut::CodeInterpreter {
                    code_interpreter: CodeInterpreterCallDeltaOut { input, outputs },
                }
            }
            Call::FileSearch(pb::FileSearchCallDelta { ranking_options, results }) => {
                ToolCallDeltaKindOut::FileSearch {
                    file_search: FileSearchCallDeltaOut {
                        ranking_options: ranking_options.map(|r| Some(r).into()),
                        results: results.into_iter().map(Into::into).collect(),
                    },
                }
            }
        };
        Some(ToolCallDeltaOut { index, id, call })
    }
}

impl From<pb::RunStepDelta> for RunStepDeltaOut {
    fn from(d: pb::RunStepDelta) -> Self {
        use pb::run_step_delta_details::Details;
        let pb::RunStepDelta { id, step_details } = d;
        let step_details = match step_details.and_then(|s| s.details) {
            Some(Details::MessageCreation(pb::MessageCreationDelta { message_id })) => {
                Some(StepDetailsDeltaOut::MessageCreation { message_creation: MessageCreationDeltaOut { message_id } })
            }
            Some(Details::ToolCalls(pb::ToolCallsDelta { tool_calls })) => Some(StepDetailsDeltaOut::ToolCalls {
                tool_calls: tool_calls.into_iter().filter_map(ToolCallDeltaOut::from_pb).collect(),
            }),
            None => None,
        };
        RunStepDeltaOut { id, object: "thread.run.step.delta", delta: StepDeltaOut { step_details } }
    }
}

/// `MessageDeltaObject`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageDeltaOut {
    /// The message's `msg_…` id.
    pub id: String,
    /// Always `thread.message.delta`.
    pub object: &'static str,
    pub delta: MessageDeltaBodyOut,
}

/// What changed in a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageDeltaBodyOut {
    /// `user` or `assistant`; absent when unchanged (or unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    pub content: Vec<ContentDeltaOut>,
}

/// A fragment of a content part, with the part's position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentDeltaOut {
    pub index: u32,
    #[serde(flatten)]
    pub part: ContentPartDeltaOut,
}

/// The `type` of a content part fragment and what changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPartDeltaOut {
    Text {
        text: TextDeltaOut,
    },
    ImageFile {
        image_file: ImageFileDeltaOut,
    },
    ImageUrl {
        image_url: ImageUrlDeltaOut,
    },
    Refusal {
        #[serde(skip_serializing_if = "Option::is_none")]
        refusal: Option<String>,
    },
}

/// More text, and the annotations added (always present, maybe empty).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub annotations: Vec<AnnotationDeltaOut>,
}

/// A fragment of an uploaded image part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageFileDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A fragment of an image URL part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageUrlDeltaOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An annotation added to a text part, with its position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnnotationDeltaOut {
    pub index: u32,
    #[serde(flatten)]
    pub kind: AnnotationDeltaKindOut,
    /// The annotated span's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_index: Option<u32>,
}

/// The `type` of an annotation fragment and its file; one of unknown kind reads as
/// a citation without a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnnotationDeltaKindOut {
    FilePath {
        file_path: FileIdOut,
    },
    FileCitation {
        #[serde(skip_serializing_if = "Option::is_none")]
        file_citation: Option<FileIdOut>,
    },
}

impl From<pb::AnnotationDelta> for AnnotationDeltaOut {
    fn from(a: pb::AnnotationDelta) -> Self {
        use pb::annotation_delta::Kind;
        let pb::AnnotationDelta { index, text, start_index, end_index, kind } = a;
        let kind = match kind {
            Some(Kind::FilePath(f)) => AnnotationDeltaKindOut::FilePath { file_path: f.into() },
            Some(Kind::FileCitation(f)) => AnnotationDeltaKindOut::FileCitation { file_citation: Some(f.into()) },
            None => AnnotationDeltaKindOut::FileCitation { file_citation: None },
        };
        AnnotationDeltaOut { index, kind, text, start_index, end_index }
    }
}

impl ContentDeltaOut {
    /// `None` for an unset part (left out of the list).
    fn from_pb(c: pb::MessageContentDelta) -> Option<Self> {
        use pb::message_content_delta::Part;
        let pb::MessageContentDelta { index, part } = c;
        let part = match part? {
            Part::Text(pb::TextDelta { value, annotations }) => ContentPartDeltaOut::Text {
                text: TextDeltaOut { value, annotations: annotations.into_iter().map(Into::into).collect() },
            },
            Part::ImageFile(pb::ImageFileDelta { file_id, detail }) => {
                ContentPartDeltaOut::ImageFile { image_file: ImageFileDeltaOut { file_id, detail } }
            }
            Part::ImageUrl(pb::ImageUrlDelta { url, detail }) => {
                ContentPartDeltaOut::ImageUrl { image_url: ImageUrlDeltaOut { url, detail } }
            }
            Part::Refusal(pb::RefusalDelta { refusal }) => ContentPartDeltaOut::Refusal { refusal },
        };
        Some(ContentDeltaOut { index, part })
    }
}

impl From<pb::MessageDelta> for MessageDeltaOut {
    fn from(d: pb::MessageDelta) -> Self {
        let pb::MessageDelta { id, role, content } = d;
        let role = role.and_then(|r| match pb::MessageRole::try_from(r) {
            Ok(pb::MessageRole::User) => Some("user"),
            Ok(pb::MessageRole::Assistant) => Some("assistant"),
            _ => None,
        });
        MessageDeltaOut {
            id,
            object: "thread.message.delta",
            delta: MessageDeltaBodyOut {
                role,
                content: content.into_iter().filter_map(ContentDeltaOut::from_pb).collect(),
            },
        }
    }
}

/// The bare `Error` object of an `error` event (`type` `server_error` when the
/// service gave none).
impl From<pb::ErrorEvent> for ErrorOut {
    fn from(e: pb::ErrorEvent) -> Self {
        let pb::ErrorEvent { message, r#type, param, code } = e;
        let r#type = if r#type.is_empty() { "server_error".to_owned() } else { r#type };
        ErrorOut { message, r#type, param, code }
    }
}

/// The data of the `done` event: the literal `[DONE]`, not JSON.
pub const DONE_DATA: &str = "[DONE]";

/// Compact JSON text of an event's data. The event types serialize infallibly (no
/// maps with non-string keys, no custom serializers that fail); should one ever
/// fail, the error is logged and the data is `{}`.
pub fn event_data<T: Serialize>(data: &T) -> String {
    serde_json::to_string(data).unwrap_or_else(|e| {
        tracing::error!(error = %e, "event data did not serialize");
        "{}".to_owned()
    })
}

/// A run event as an SSE `event:` name and `data:` text (compact JSON, or `[DONE]`).
/// `None` for an event without a payload.
pub fn event_out(ev: pb::RunEvent) -> Option<(String, String)> {
    use pb::run_event::Payload;
    let pb::RunEvent { event, payload } = ev;
    let (default_name, data) = match payload? {
        Payload::Thread(t) => ("thread.created", event_data(&ThreadOut::from(t))),
        Payload::Run(r) => ("thread.run.created", event_data(&RunOut::from(r))),
        Payload::RunStep(s) => ("thread.run.step.created", event_data(&RunStepOut::from(s))),
        Payload::RunStepDelta(d) => ("thread.run.step.delta", event_data(&RunStepDeltaOut::from(d))),
        Payload::Message(m) => ("thread.message.created", event_data(&MessageOut::from(m))),
        Payload::MessageDelta(d) => ("thread.message.delta", event_data(&MessageDeltaOut::from(d))),
        Payload::Error(e) => ("error", event_data(&ErrorOut::from(e))),
        Payload::Done(pb::Done {}) => {
            let name = if event.is_empty() { "done".to_owned() } else { event };
            return Some((name, DONE_DATA.to_owned()));
        }
    };
    let name = if event.is_empty() { default_name.to_owned() } else { event };
    Some((name, data))
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;
    use crate::extract::parse_json;

    // The answers as a client reads them: JSON values.

    fn json_of<T: Serialize>(v: T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    fn run_out(r: pb::Run) -> Value {
        json_of(RunOut::from(r))
    }

    fn run_step_out(s: pb::RunStep) -> Value {
        json_of(RunStepOut::from(s))
    }

    fn tool_choice_out(t: Option<pb::ToolChoice>) -> Value {
        json_of(ToolChoiceOut::from(t))
    }

    fn truncation_out(t: Option<pb::TruncationStrategy>) -> Value {
        json_of(TruncationOut::from(t))
    }

    /// The top-level `required` keys of a schema in the OpenAI spec, read from
    /// `shared/openai-spec/assistants-openapi.yaml` (found from the crate upwards, or
    /// `$ASSISTD_OPENAPI_SPEC`); `fallback` when the spec is not on this machine.
    pub(crate) fn spec_required(schema: &str, fallback: &[&str]) -> Vec<String> {
        let path = std::env::var_os("ASSISTD_OPENAPI_SPEC").map(std::path::PathBuf::from).or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|d| d.join("shared/openai-spec/assistants-openapi.yaml"))
                .find(|p| p.is_file())
        });
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
            eprintln!("spec not found; using the built-in required keys of {schema}");
            return fallback.iter().map(|s| (*s).to_owned()).collect();
        };
        let header = format!("    {schema}:");
        let mut lines = text.lines().skip_while(|l| *l != header).skip(1);
        let mut out = Vec::new();
        let mut in_required = false;
        for line in lines.by_ref() {
            let indent = line.len() - line.trim_start().len();
            if !line.trim().is_empty() && indent <= 4 {
                break;
            }
            if line == "      required:" {
                in_required = true;
            } else if in_required {
                match line.strip_prefix("      - ") {
                    Some(k) => out.push(k.trim().to_owned()),
                    None => in_required = false,
                }
            }
        }
        assert!(!out.is_empty(), "no required keys found for {schema} in the spec");
        let mut a: Vec<&str> = out.iter().map(String::as_str).collect();
        let mut b = fallback.to_vec();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "built-in required keys of {schema} differ from the spec");
        out
    }

    pub(crate) fn assert_required(v: &Value, schema: &str, fallback: &[&str]) {
        let o = v.as_object().unwrap_or_else(|| panic!("{schema}: not an object: {v}"));
        for k in spec_required(schema, fallback) {
            assert!(o.contains_key(&k), "{schema}: missing required key {k} in {v}");
        }
    }

    const RUN_REQUIRED: &[&str] = &[
        "id",
        "object",
        "created_at",
        "thread_id",
        "assistant_id",
        "status",
        "required_action",
        "last_error",
        "expires_at",
        "started_at",
        "cancelled_at",
        "failed_at",
        "completed_at",
        "model",
        "instructions",
        "tools",
        "metadata",
        "usage",
        "incomplete_details",
        "max_prompt_tokens",
        "max_completion_tokens",
        "truncation_strategy",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
    ];
    const STEP_REQUIRED: &[&str] = &[
        "id",
        "object",
        "created_at",
        "assistant_id",
        "thread_id",
        "run_id",
        "type",
        "status",
        "step_details",
        "last_error",
        "expired_at",
        "cancelled_at",
        "failed_at",
        "completed_at",
        "metadata",
        "usage",
    ];

    fn run_req(body: &str) -> Result<pb::CreateRunRequest, ApiError> {
        parse_json::<CreateRunIn>(body.as_bytes())?.into_pb("thread_1".into(), vec![]).map(|(r, _)| r)
    }

    #[test]
    fn create_run_tools_absent_null_empty() {
        let r = run_req(r#"{"assistant_id":"asst_1"}"#).unwrap();
        assert_eq!(r.tools, None);
        assert_eq!(r.thread_id, "thread_1");
        let r = run_req(r#"{"assistant_id":"asst_1","tools":null}"#).unwrap();
        assert_eq!(r.tools, None);
        let r = run_req(r#"{"assistant_id":"asst_1","tools":[]}"#).unwrap();
        assert_eq!(r.tools, Some(pb::ToolList { tools: vec![] }));
        let r = run_req(r#"{"assistant_id":"asst_1","tools":[{"type":"code_interpreter"}]}"#).unwrap();
        assert_eq!(r.tools.unwrap().tools.len(), 1);
    }

    #[test]
    fn create_run_fields() {
        let (r, stream) = parse_json::<CreateRunIn>(
            br#"{"assistant_id":"a","model":"gpt-4o","reasoning_effort":"low","instructions":"i",
                "additional_instructions":"ai","additional_messages":[{"role":"user","content":"hi"}],
                "metadata":{"k":"v"},"temperature":0.7,"top_p":0.9,"stream":true,"max_prompt_tokens":200,
                "max_completion_tokens":300,"truncation_strategy":{"type":"last_messages","last_messages":3},
                "tool_choice":"required","parallel_tool_calls":false,"response_format":{"type":"json_object"}}"#,
        )
        .unwrap()
        .into_pb("t".into(), vec![INCLUDE_FILE_SEARCH_CONTENT.into()])
        .unwrap();
        assert!(stream);
        assert_eq!(r.model.as_deref(), Some("gpt-4o"));
        assert_eq!(r.reasoning_effort.as_deref(), Some("low"));
        assert_eq!(r.additional_instructions.as_deref(), Some("ai"));
        assert_eq!(r.additional_messages.len(), 1);
        assert_eq!(r.metadata.unwrap().entries.get("k").map(String::as_str), Some("v"));
        assert_eq!(r.temperature, Some(0.7));
        assert_eq!(r.top_p, Some(0.9));
        assert_eq!(r.max_prompt_tokens, Some(200));
        assert_eq!(r.max_completion_tokens, Some(300));
        assert_eq!(
            r.truncation_strategy,
            Some(pb::TruncationStrategy { r#type: pb::TruncationType::LastMessages as i32, last_messages: Some(3) })
        );
        assert_eq!(
            r.tool_choice,
            Some(pb::ToolChoice { choice: Some(pb::tool_choice::Choice::Required(pb::ToolChoiceRequired {})) })
        );
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert!(r.response_format.is_some());
        assert_eq!(r.include, vec![INCLUDE_FILE_SEARCH_CONTENT.to_owned()]);

        // Nulls everywhere read as unset.
        let (r, stream) = parse_json::<CreateRunIn>(
            br#"{"assistant_id":"a","model":null,"instructions":null,"additional_messages":null,"metadata":null,
                "temperature":null,"top_p":null,"stream":null,"max_prompt_tokens":null,"truncation_strategy":null,
                "tool_choice":null,"parallel_tool_calls":null,"response_format":null,"reasoning_effort":null}"#,
        )
        .unwrap()
        .into_pb("t".into(), vec![])
        .unwrap();
        assert!(!stream);
        assert_eq!(r.model, None);
        assert_eq!(r.metadata, None);
        assert_eq!(r.temperature, None);
        assert_eq!(r.tool_choice, None);
        assert_eq!(r.truncation_strategy, None);
        assert_eq!(r.parallel_tool_calls, None);
    }

    #[test]
    fn create_run_errors_name_the_param() {
        let e = run_req(r#"{"assistant_id":"a","bogus":1}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("bogus"));
        assert_eq!(e.code.as_deref(), Some("unknown_parameter"));
        let e = run_req(r#"{}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("assistant_id"));
        let e = run_req(r#"{"assistant_id":"a","truncation_strategy":{"type":"foo"}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("truncation_strategy.type"));
        assert_eq!(e.code.as_deref(), Some("invalid_value"));
        let e = run_req(r#"{"assistant_id":"a","truncation_strategy":{"type":"auto","x":1}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("truncation_strategy.x"));
        let e = run_req(r#"{"assistant_id":"a","tool_choice":"sometimes"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
        assert_eq!(e.code.as_deref(), Some("invalid_value"));
        let e = run_req(r#"{"assistant_id":"a","tool_choice":{"type":"web"}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice.type"));
        let e = run_req(r#"{"assistant_id":"a","tool_choice":{"type":"function"}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice.function"));
        let e = run_req(r#"{"assistant_id":"a","tool_choice":{"type":"function","function":{}}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice.function.name"));
        let e = run_req(r#"{"assistant_id":"a","tool_choice":{"type":"file_search","x":1}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice.x"));
        let e = run_req(r#"{"assistant_id":"a","tool_choice":3}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_choice"));
        let e = run_req(r#"{"assistant_id":"a","additional_messages":[{"role":"system","content":"x"}]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("additional_messages[0].role"));
        let e =
            run_req(r#"{"assistant_id":"a","tools":[{"type":"function","function":{"name":"f","x":1}}]}"#).unwrap_err();
        // (Internally tagged tools lose the inner path, as on the assistants routes.)
        assert!(e.param.as_deref().is_some_and(|p| p.starts_with("tools[0].")), "{:?}", e.param);
        let e = run_req(r#"{"assistant_id":"a","max_prompt_tokens":"many"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_prompt_tokens"));
        let e = run_req(r#"{"assistant_id":"a","response_format":"yaml"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("response_format"));
    }

    #[test]
    fn tool_choice_forms_round_trip() {
        for v in [
            json!("none"),
            json!("auto"),
            json!("required"),
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"type": "file_search"}),
            json!({"type": "code_interpreter"}),
        ] {
            let pb = tool_choice_to_pb(v.clone()).unwrap();
            assert_eq!(tool_choice_out(Some(pb)), v);
        }
        // A null `function` next to a non-function type is tolerated.
        assert!(tool_choice_to_pb(json!({"type": "file_search", "function": null})).is_ok());
        assert_eq!(tool_choice_out(None), json!("auto"));
    }

    #[test]
    fn truncation_round_trip() {
        let t = parse_json::<TruncationIn>(br#"{"type":"auto"}"#).unwrap().into_pb().unwrap();
        assert_eq!(truncation_out(Some(t)), json!({"type": "auto", "last_messages": null}));
        let t =
            parse_json::<TruncationIn>(br#"{"type":"last_messages","last_messages":2}"#).unwrap().into_pb().unwrap();
        assert_eq!(truncation_out(Some(t)), json!({"type": "last_messages", "last_messages": 2}));
        assert_eq!(truncation_out(None), json!({"type": "auto", "last_messages": null}));
    }

    #[test]
    fn create_thread_and_run_request() {
        let (r, stream) = parse_json::<CreateThreadAndRunIn>(
            br#"{"assistant_id":"a","thread":{"messages":[{"role":"user","content":"hi"}],"metadata":{"a":"b"}},
                "tools":[],"tool_resources":{"code_interpreter":{"file_ids":["f"]}},"stream":true,
                "tool_choice":{"type":"function","function":{"name":"f"}},"temperature":0.7}"#,
        )
        .unwrap()
        .into_pb()
        .unwrap();
        assert!(stream);
        assert_eq!(r.thread.as_ref().map(|t| t.messages.len()), Some(1));
        assert_eq!(r.tools, Some(pb::ToolList { tools: vec![] }));
        assert!(r.tool_resources.is_some());
        assert_eq!(r.temperature, Some(0.7));
        let (r, _) = parse_json::<CreateThreadAndRunIn>(br#"{"assistant_id":"a","thread":null,"tools":null}"#)
            .unwrap()
            .into_pb()
            .unwrap();
        assert_eq!(r.thread, None);
        assert_eq!(r.tools, None);
        let e = parse_json::<CreateThreadAndRunIn>(br#"{"assistant_id":"a","additional_messages":[]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("additional_messages"));
        let e = parse_json::<CreateThreadAndRunIn>(br#"{"assistant_id":"a","thread":{"bogus":1}}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("thread.bogus"));
        let e = parse_json::<CreateThreadAndRunIn>(
            br#"{"assistant_id":"a","thread":{"messages":[{"role":"x","content":"c"}]}}"#,
        )
        .unwrap()
        .into_pb()
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("thread.messages[0].role"));
    }

    #[test]
    fn submit_and_modify_requests() {
        let (r, stream) = parse_json::<SubmitToolOutputsIn>(
            br#"{"tool_outputs":[{"tool_call_id":"call_1","output":"42"},{"tool_call_id":"call_2"}],"stream":null}"#,
        )
        .unwrap()
        .into_pb("t".into(), "r".into());
        assert!(!stream);
        assert_eq!(r.tool_outputs.len(), 2);
        assert_eq!(r.tool_outputs[0].output, "42");
        assert_eq!(r.tool_outputs[1].output, "");
        let e = parse_json::<SubmitToolOutputsIn>(br#"{}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_outputs"));
        let e = parse_json::<SubmitToolOutputsIn>(br#"{"tool_outputs":[{"tool_call_id":"c","x":1}]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tool_outputs[0].x"));
        let m = parse_json::<ModifyRunIn>(b"").unwrap();
        assert!(m.metadata.is_none());
        let m = parse_json::<ModifyRunIn>(br#"{"metadata":null}"#).unwrap();
        assert_eq!(m.metadata, Some(None));
        let e = parse_json::<ModifyRunIn>(br#"{"metadata":{},"status":"x"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("status"));
    }

    fn full_run() -> pb::Run {
        pb::Run {
            id: "run_1".into(),
            created_at: 1,
            thread_id: "thread_1".into(),
            assistant_id: "asst_1".into(),
            status: pb::RunStatus::RequiresAction as i32,
            required_action: Some(pb::RequiredAction {
                action: Some(pb::required_action::Action::SubmitToolOutputs(pb::SubmitToolOutputsAction {
                    tool_calls: vec![pb::RequiredToolCall {
                        id: "call_1".into(),
                        function: Some(pb::FunctionCall { name: "f".into(), arguments: "{}".into() }),
                    }],
                })),
            }),
            expires_at: Some(601),
            started_at: Some(2),
            model: "gpt-4o".into(),
            instructions: "be nice".into(),
            tools: vec![pb::Tool { tool: Some(pb::tool::Tool::CodeInterpreter(pb::CodeInterpreterTool {})) }],
            temperature: Some(0.7),
            top_p: Some(1.0),
            max_prompt_tokens: Some(200),
            parallel_tool_calls: true,
            reasoning_effort: Some("high".into()),
            ..Default::default()
        }
    }

    #[test]
    fn run_json_shape() {
        let v = run_out(full_run());
        assert_required(&v, "RunObject", RUN_REQUIRED);
        assert_eq!(v["object"], "thread.run");
        assert_eq!(v["status"], "requires_action");
        assert_eq!(
            v["required_action"],
            json!({"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ]}})
        );
        assert_eq!(v["temperature"], json!(0.7));
        assert_eq!(v["max_prompt_tokens"], json!(200));
        assert_eq!(v["max_completion_tokens"], Value::Null);
        assert_eq!(v["truncation_strategy"], json!({"type": "auto", "last_messages": null}));
        assert_eq!(v["tool_choice"], json!("auto"));
        assert_eq!(v["response_format"], json!("auto"));
        assert_eq!(v["metadata"], json!({}));
        assert_eq!(v["usage"], Value::Null);
        assert_eq!(v["last_error"], Value::Null);
        assert_eq!(v["incomplete_details"], Value::Null);
        assert_eq!(v["tools"], json!([{"type": "code_interpreter"}]));
        assert!(v.get("reasoning_effort").is_none());

        let v = run_out(pb::Run {
            status: pb::RunStatus::Incomplete as i32,
            last_error: Some(pb::RunError { code: "server_error".into(), message: "m".into() }),
            incomplete_details: Some(pb::RunIncompleteDetails { reason: "max_prompt_tokens".into() }),
            usage: Some(pb::Usage { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }),
            ..Default::default()
        });
        assert_required(&v, "RunObject", RUN_REQUIRED);
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["required_action"], Value::Null);
        assert_eq!(v["last_error"], json!({"code": "server_error", "message": "m"}));
        assert_eq!(v["incomplete_details"], json!({"reason": "max_prompt_tokens"}));
        assert_eq!(v["usage"], json!({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}));
    }

    fn tool_calls_step() -> pb::RunStep {
        use pb::tool_call::Call;
        pb::RunStep {
            id: "step_1".into(),
            created_at: 5,
            assistant_id: "asst_1".into(),
            thread_id: "thread_1".into(),
            run_id: "run_1".into(),
            status: pb::RunStepStatus::Completed as i32,
            step_details: Some(pb::RunStepDetails {
                details: Some(pb::run_step_details::Details::ToolCalls(pb::ToolCallsDetails {
                    tool_calls: vec![
                        pb::ToolCall {
                            id: "call_f".into(),
                            call: Some(Call::Function(pb::FunctionToolCall {
                                name: "f".into(),
                                arguments: "{}".into(),
                                output: None,
                            })),
                        },
                        pb::ToolCall {
                            id: "call_s".into(),
                            call: Some(Call::FileSearch(pb::FileSearchCall {
                                ranking_options: Some(pb::FileSearchRankingOptions {
                                    ranker: Some("default_2024_08_21".into()),
                                    score_threshold: 0.5,
                                }),
                                results: vec![
                                    pb::FileSearchResult {
                                        file_id: "file_1".into(),
                                        file_name: "a.txt".into(),
                                        score: 0.9,
                                        content: vec![pb::FileSearchResultContent { text: "hello".into() }],
                                    },
                                    pb::FileSearchResult {
                                        file_id: "file_2".into(),
                                        file_name: "b.txt".into(),
                                        score: 0.6,
                                        content: vec![],
                                    },
                                ],
                            })),
                        },
                        pb::ToolCall {
                            id: "call_c".into(),
                            call: Some(Call::CodeInterpreter(pb::CodeInterpreterCall {
                                input: "print(1)".into(),
                                outputs: vec![
                                    pb::CodeInterpreterOutput {
                                        output: Some(pb::code_interpreter_output::Output::Logs("1".into())),
                                    },
                                    pb::CodeInterpreterOutput {
                                        output: Some(pb::code_interpreter_output::Output::Image(pb::FileRef {
                                            file_id: "file_img".into(),
                                        })),
                                    },
                                ],
                            })),
                        },
                    ],
                })),
            }),
            completed_at: Some(6),
            usage: Some(pb::Usage { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }),
            ..Default::default()
        }
    }

    #[test]
    fn run_step_json_shape() {
        let v = run_step_out(tool_calls_step());
        assert_required(&v, "RunStepObject", STEP_REQUIRED);
        assert_eq!(v["object"], "thread.run.step");
        assert_eq!(v["type"], "tool_calls");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["expired_at"], Value::Null);
        assert_eq!(v["completed_at"], json!(6));
        let d = &v["step_details"];
        assert_required(d, "RunStepDetailsToolCallsObject", &["type", "tool_calls"]);
        let calls = d["tool_calls"].as_array().unwrap();
        assert_required(&calls[0], "RunStepDetailsToolCallsFunctionObject", &["id", "type", "function"]);
        assert_eq!(calls[0]["function"], json!({"name": "f", "arguments": "{}", "output": null}));
        assert_required(&calls[1], "RunStepDetailsToolCallsFileSearchObject", &["id", "type", "file_search"]);
        assert_eq!(
            calls[1]["file_search"],
            json!({
                "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.5},
                "results": [
                    {"file_id": "file_1", "file_name": "a.txt", "score": 0.9, "content": [{"type": "text", "text": "hello"}]},
                    {"file_id": "file_2", "file_name": "b.txt", "score": 0.6},
                ],
            })
        );
        assert_required(&calls[2], "RunStepDetailsToolCallsCodeObject", &["id", "type", "code_interpreter"]);
        assert_eq!(
            calls[2]["code_interpreter"],
            json!({"input": "print(1)", "outputs": [
                {"type": "logs", "logs": "1"},
                {"type": "image", "image": {"file_id": "file_img"}},
            ]})
        );

        let v = run_step_out(pb::RunStep {
            status: pb::RunStepStatus::InProgress as i32,
            step_details: Some(pb::RunStepDetails {
                details: Some(pb::run_step_details::Details::MessageCreation(pb::MessageCreationDetails {
                    message_id: "msg_1".into(),
                })),
            }),
            ..Default::default()
        });
        assert_required(&v, "RunStepObject", STEP_REQUIRED);
        assert_eq!(v["type"], "message_creation");
        assert_eq!(v["status"], "in_progress");
        assert_required(&v["step_details"], "RunStepDetailsMessageCreationObject", &["type", "message_creation"]);
        assert_eq!(v["step_details"]["message_creation"], json!({"message_id": "msg_1"}));
        assert_eq!(v["usage"], Value::Null);
    }

    fn ev(event: &str, payload: pb::run_event::Payload) -> pb::RunEvent {
        pb::RunEvent { event: event.into(), payload: Some(payload) }
    }

    fn data(e: pb::RunEvent) -> (String, Value) {
        let (name, text) = event_out(e).unwrap();
        assert!(!text.contains('\n'), "data must be one line: {text}");
        (name, serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn sse_objects() {
        use pb::run_event::Payload;
        let (n, v) =
            data(ev("thread.created", Payload::Thread(pb::Thread { id: "thread_1".into(), ..Default::default() })));
        assert_eq!(n, "thread.created");
        assert_eq!(v["object"], "thread");
        let (n, v) = data(ev("thread.run.queued", Payload::Run(full_run())));
        assert_eq!(n, "thread.run.queued");
        assert_required(&v, "RunObject", RUN_REQUIRED);
        let (n, v) = data(ev("thread.run.step.completed", Payload::RunStep(tool_calls_step())));
        assert_eq!(n, "thread.run.step.completed");
        assert_required(&v, "RunStepObject", STEP_REQUIRED);
        let (n, v) = data(ev(
            "thread.message.created",
            Payload::Message(pb::Message {
                id: "msg_1".into(),
                role: pb::MessageRole::Assistant as i32,
                ..Default::default()
            }),
        ));
        assert_eq!(n, "thread.message.created");
        assert_eq!(v["object"], "thread.message");
        assert_eq!(v["content"], json!([]));
        let (n, v) = data(ev(
            "error",
            Payload::Error(pb::ErrorEvent {
                message: "boom".into(),
                r#type: "server_error".into(),
                param: None,
                code: None,
            }),
        ));
        assert_eq!(n, "error");
        assert_required(&v, "Error", &["type", "message", "param", "code"]);
        assert_eq!(v, json!({"message": "boom", "type": "server_error", "param": null, "code": null}));
        assert!(v.get("error").is_none(), "the error event carries the bare Error");
        let (n, text) = event_out(ev("done", Payload::Done(pb::Done {}))).unwrap();
        assert_eq!((n.as_str(), text.as_str()), ("done", "[DONE]"));
        let (n, text) = event_out(ev("", Payload::Done(pb::Done {}))).unwrap();
        assert_eq!((n.as_str(), text.as_str()), ("done", "[DONE]"));
        assert!(event_out(pb::RunEvent { event: "thread.run.created".into(), payload: None }).is_none());
    }

    #[test]
    fn sse_run_step_deltas_omit_unset_fields() {
        use pb::run_event::Payload;
        use pb::tool_call_delta::Call;
        let delta = |calls: Vec<pb::ToolCallDelta>| {
            ev(
                "thread.run.step.delta",
                Payload::RunStepDelta(pb::RunStepDelta {
                    id: "step_1".into(),
                    step_details: Some(pb::RunStepDeltaDetails {
                        details: Some(pb::run_step_delta_details::Details::ToolCalls(pb::ToolCallsDelta {
                            tool_calls: calls,
                        })),
                    }),
                }),
            )
        };
        // First fragment: id, name, arguments "" and output null, as OpenAI's example.
        let (n, v) = data(delta(vec![pb::ToolCallDelta {
            index: 0,
            id: Some("call_1".into()),
            call: Some(Call::Function(pb::FunctionToolCallDelta {
                name: Some("get_weather".into()),
                arguments: Some(String::new()),
                output: None,
            })),
        }]));
        assert_eq!(n, "thread.run.step.delta");
        assert_required(&v, "RunStepDeltaObject", &["id", "object", "delta"]);
        assert_eq!(
            v,
            json!({"id": "step_1", "object": "thread.run.step.delta", "delta": {"step_details": {"type": "tool_calls", "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "", "output": null}}
            ]}}})
        );
        // Later fragments: only the arguments.
        let (_, v) = data(delta(vec![pb::ToolCallDelta {
            index: 0,
            id: None,
            call: Some(Call::Function(pb::FunctionToolCallDelta {
                name: None,
                arguments: Some("{\"loc".into()),
                output: None,
            })),
        }]));
        assert_eq!(
            v["delta"]["step_details"]["tool_calls"],
            json!([{"index": 0, "type": "function", "function": {"arguments": "{\"loc"}}])
        );
        // The output, once submitted.
        let (_, v) = data(delta(vec![pb::ToolCallDelta {
            index: 1,
            id: None,
            call: Some(Call::Function(pb::FunctionToolCallDelta {
                name: None,
                arguments: None,
                output: Some("42".into()),
            })),
        }]));
        assert_eq!(
            v["delta"]["step_details"]["tool_calls"],
            json!([{"index": 1, "type": "function", "function": {"output": "42"}}])
        );
        // Code interpreter and file search.
        let (_, v) = data(delta(vec![
            pb::ToolCallDelta {
                index: 0,
                id: Some("call_c".into()),
                call: Some(Call::CodeInterpreter(pb::CodeInterpreterCallDelta {
                    input: Some(String::new()),
                    outputs: vec![],
                })),
            },
            pb::ToolCallDelta {
                index: 1,
                id: None,
                call: Some(Call::CodeInterpreter(pb::CodeInterpreterCallDelta {
                    input: None,
                    outputs: vec![pb::CodeInterpreterOutputDelta {
                        index: 0,
                        output: Some(pb::code_interpreter_output_delta::Output::Logs("hi".into())),
                    }],
                })),
            },
            pb::ToolCallDelta {
                index: 2,
                id: Some("call_s".into()),
                call: Some(Call::FileSearch(pb::FileSearchCallDelta { ranking_options: None, results: vec![] })),
            },
        ]));
        assert_eq!(
            v["delta"]["step_details"]["tool_calls"],
            json!([
                {"index": 0, "id": "call_c", "type": "code_interpreter", "code_interpreter": {"input": "", "outputs": []}},
                {"index": 1, "type": "code_interpreter", "code_interpreter": {"outputs": [{"index": 0, "type": "logs", "logs": "hi"}]}},
                {"index": 2, "id": "call_s", "type": "file_search", "file_search": {}},
            ])
        );
        // Message creation.
        let (_, v) = data(ev(
            "thread.run.step.delta",
            Payload::RunStepDelta(pb::RunStepDelta {
                id: "step_2".into(),
                step_details: Some(pb::RunStepDeltaDetails {
                    details: Some(pb::run_step_delta_details::Details::MessageCreation(pb::MessageCreationDelta {
                        message_id: Some("msg_1".into()),
                    })),
                }),
            }),
        ));
        assert_eq!(
            v["delta"],
            json!({"step_details": {"type": "message_creation", "message_creation": {"message_id": "msg_1"}}})
        );
        let (_, v) = data(ev(
            "thread.run.step.delta",
            Payload::RunStepDelta(pb::RunStepDelta { id: "s".into(), step_details: None }),
        ));
        assert_eq!(v["delta"], json!({}));
    }

    #[test]
    fn sse_message_deltas_omit_unset_fields() {
        use pb::message_content_delta::Part;
        use pb::run_event::Payload;
        let (n, v) = data(ev(
            "thread.message.delta",
            Payload::MessageDelta(pb::MessageDelta {
                id: "msg_001".into(),
                role: None,
                content: vec![pb::MessageContentDelta {
                    index: 0,
                    part: Some(Part::Text(pb::TextDelta { value: Some("Hello".into()), annotations: vec![] })),
                }],
            }),
        ));
        assert_eq!(n, "thread.message.delta");
        assert_required(&v, "MessageDeltaObject", &["id", "object", "delta"]);
        // Exactly the spec's example.
        assert_eq!(
            v,
            json!({"id": "msg_001", "object": "thread.message.delta", "delta": {"content": [
                {"index": 0, "type": "text", "text": {"value": "Hello", "annotations": []}}
            ]}})
        );
        let (_, v) = data(ev(
            "thread.message.delta",
            Payload::MessageDelta(pb::MessageDelta {
                id: "msg_001".into(),
                role: Some(pb::MessageRole::Assistant as i32),
                content: vec![
                    pb::MessageContentDelta {
                        index: 0,
                        part: Some(Part::Text(pb::TextDelta {
                            value: None,
                            annotations: vec![pb::AnnotationDelta {
                                index: 0,
                                text: Some("【0†a.txt】".into()),
                                start_index: Some(3),
                                end_index: Some(13),
                                kind: Some(pb::annotation_delta::Kind::FileCitation(pb::FileRef {
                                    file_id: "file_1".into(),
                                })),
                            }],
                        })),
                    },
                    pb::MessageContentDelta {
                        index: 1,
                        part: Some(Part::ImageFile(pb::ImageFileDelta {
                            file_id: Some("file_i".into()),
                            detail: None,
                        })),
                    },
                    pb::MessageContentDelta {
                        index: 2,
                        part: Some(Part::ImageUrl(pb::ImageUrlDelta { url: None, detail: Some("low".into()) })),
                    },
                    pb::MessageContentDelta { index: 3, part: Some(Part::Refusal(pb::RefusalDelta { refusal: None })) },
                ],
            }),
        ));
        assert_eq!(
            v["delta"],
            json!({"role": "assistant", "content": [
                {"index": 0, "type": "text", "text": {"annotations": [
                    {"index": 0, "type": "file_citation", "text": "【0†a.txt】", "file_citation": {"file_id": "file_1"}, "start_index": 3, "end_index": 13}
                ]}},
                {"index": 1, "type": "image_file", "image_file": {"file_id": "file_i"}},
                {"index": 2, "type": "image_url", "image_url": {"detail": "low"}},
                {"index": 3, "type": "refusal"},
            ]})
        );
    }
}

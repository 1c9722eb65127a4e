//! Run, run step and run event JSON: the requests of the run operations, `RunObject`,
//! `RunStepObject`, and the SSE events of a streamed run (`RunStepDeltaObject`,
//! `MessageDeltaObject`, `Error`, `[DONE]`).

use assistd_proto::pb;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::common::{
    MetadataIn, ResponseFormatIn, ToolIn, ToolResourcesIn, double_option, metadata_from_pb, metadata_to_pb,
    response_format_out, tool_out,
};
use super::threads::{CreateThreadIn, MessageIn, message_out, thread_out};
use crate::errors::ApiError;

/// The `include[]` value that asks for file search result content.
pub const INCLUDE_FILE_SEARCH_CONTENT: &str = "step_details.tool_calls[*].file_search.results[*].content";

/// `CreateRunRequest`. Absent and null read the same (unset).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRunIn {
    /// The assistant.
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
    pub tools: Option<Vec<ToolIn>>,
    /// Metadata.
    #[serde(default)]
    pub metadata: MetadataIn,
    /// Temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Top p.
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
    /// Truncation.
    #[serde(default)]
    pub truncation_strategy: Option<TruncationIn>,
    /// Tool choice: a keyword or an object (checked in conversion).
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// Parallel function calls.
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    /// Response format.
    #[serde(default)]
    pub response_format: Option<ResponseFormatIn>,
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
            response_format: response_format.map(|r| r.into_pb("response_format")).transpose()?,
            include,
        };
        Ok((req, stream.unwrap_or(false)))
    }
}

/// `CreateThreadAndRunRequest`. Absent and null read the same (unset).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateThreadAndRunIn {
    /// The assistant.
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
    pub tools: Option<Vec<ToolIn>>,
    /// Tool resources override.
    #[serde(default)]
    pub tool_resources: Option<ToolResourcesIn>,
    /// Metadata.
    #[serde(default)]
    pub metadata: MetadataIn,
    /// Temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Top p.
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
    /// Truncation.
    #[serde(default)]
    pub truncation_strategy: Option<TruncationIn>,
    /// Tool choice: a keyword or an object (checked in conversion).
    #[serde(default)]
    pub tool_choice: Option<Value>,
    /// Parallel function calls.
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    /// Response format.
    #[serde(default)]
    pub response_format: Option<ResponseFormatIn>,
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
            tool_resources: tool_resources.map(Into::into),
            metadata: metadata.map(|m| metadata_to_pb(Some(m))),
            temperature,
            top_p,
            max_prompt_tokens,
            max_completion_tokens,
            truncation_strategy: truncation_strategy.map(TruncationIn::into_pb).transpose()?,
            tool_choice: tool_choice.map(tool_choice_to_pb).transpose()?,
            parallel_tool_calls,
            response_format: response_format.map(|r| r.into_pb("response_format")).transpose()?,
        };
        Ok((req, stream.unwrap_or(false)))
    }
}

/// `SubmitToolOutputsRunRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitToolOutputsIn {
    /// The outputs.
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
pub fn tools_to_pb(tools: Option<Vec<ToolIn>>) -> Option<pb::ToolList> {
    tools.map(|t| pb::ToolList { tools: t.into_iter().map(Into::into).collect() })
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

/// A tool choice as answered (`"auto"` when unset).
pub fn tool_choice_out(t: Option<pb::ToolChoice>) -> Value {
    use pb::tool_choice::Choice;
    match t.and_then(|t| t.choice) {
        Some(Choice::None(_)) => Value::String("none".into()),
        Some(Choice::Auto(_)) | None => Value::String("auto".into()),
        Some(Choice::Required(_)) => Value::String("required".into()),
        Some(Choice::Function(pb::FunctionToolChoice { name })) => {
            json!({"type": "function", "function": {"name": name}})
        }
        Some(Choice::FileSearch(_)) => json!({"type": "file_search"}),
        Some(Choice::CodeInterpreter(_)) => json!({"type": "code_interpreter"}),
    }
}

/// A truncation strategy as answered (`{"type": "auto", "last_messages": null}` when unset).
pub fn truncation_out(t: Option<pb::TruncationStrategy>) -> Value {
    let (kind, last_messages) = t.map(|t| (t.r#type, t.last_messages)).unwrap_or_default();
    let kind = match pb::TruncationType::try_from(kind) {
        Ok(pb::TruncationType::LastMessages) => "last_messages",
        _ => "auto",
    };
    json!({"type": kind, "last_messages": last_messages})
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

fn error_out(e: Option<pb::RunError>) -> Value {
    e.map_or(Value::Null, |e| json!({"code": e.code, "message": e.message}))
}

fn usage_out(u: Option<pb::Usage>) -> Value {
    u.map_or(Value::Null, |u| {
        json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens})
    })
}

fn required_action_out(a: Option<pb::RequiredAction>) -> Value {
    match a.and_then(|a| a.action) {
        Some(pb::required_action::Action::SubmitToolOutputs(s)) => json!({
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": s.tool_calls.into_iter().map(|c| {
                    let f = c.function.unwrap_or_default();
                    json!({"id": c.id, "type": "function", "function": {"name": f.name, "arguments": f.arguments}})
                }).collect::<Vec<_>>(),
            },
        }),
        None => Value::Null,
    }
}

/// `RunObject`. The proto's `reasoning_effort` is not part of it and is left out.
pub fn run_out(r: pb::Run) -> Value {
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
    json!({
        "id": id,
        "object": "thread.run",
        "created_at": created_at,
        "thread_id": thread_id,
        "assistant_id": assistant_id,
        "status": run_status_str(status),
        "required_action": required_action_out(required_action),
        "last_error": error_out(last_error),
        "expires_at": expires_at,
        "started_at": started_at,
        "cancelled_at": cancelled_at,
        "failed_at": failed_at,
        "completed_at": completed_at,
        "incomplete_details": incomplete_details.map(|d| json!({"reason": d.reason})),
        "model": model,
        "instructions": instructions,
        "tools": tools.into_iter().map(tool_out).collect::<Vec<_>>(),
        "metadata": metadata_from_pb(metadata),
        "usage": usage_out(usage),
        "temperature": temperature,
        "top_p": top_p,
        "max_prompt_tokens": max_prompt_tokens,
        "max_completion_tokens": max_completion_tokens,
        "truncation_strategy": truncation_out(truncation_strategy),
        "tool_choice": tool_choice_out(tool_choice),
        "parallel_tool_calls": parallel_tool_calls,
        "response_format": response_format_out(response_format),
    })
}

fn ranking_out(r: Option<pb::FileSearchRankingOptions>) -> Value {
    r.map(|r| json!({"ranker": r.ranker.unwrap_or_else(|| "auto".into()), "score_threshold": r.score_threshold}))
        .unwrap_or_else(|| json!({"ranker": "default_2024_08_21", "score_threshold": 0.0}))
}

fn file_search_result_out(r: pb::FileSearchResult) -> Value {
    let pb::FileSearchResult { file_id, file_name, score, content } = r;
    let mut o = Map::new();
    o.insert("file_id".into(), file_id.into());
    o.insert("file_name".into(), file_name.into());
    o.insert("score".into(), score.into());
    if !content.is_empty() {
        o.insert(
            "content".into(),
            content.into_iter().map(|c| json!({"type": "text", "text": c.text})).collect::<Vec<_>>().into(),
        );
    }
    Value::Object(o)
}

fn code_output_out(o: pb::CodeInterpreterOutput) -> Option<Value> {
    use pb::code_interpreter_output::Output;
    Some(match o.output? {
        Output::Logs(logs) => json!({"type": "logs", "logs": logs}),
        Output::Image(f) => json!({"type": "image", "image": {"file_id": f.file_id}}),
    })
}

fn tool_call_out(c: pb::ToolCall) -> Option<Value> {
    use pb::tool_call::Call;
    let id = c.id;
    Some(match c.call? {
        Call::Function(pb::FunctionToolCall { name, arguments, output }) => json!({
            "id": id, "type": "function", "function": {"name": name, "arguments": arguments, "output": output},
        }),
        Call::FileSearch(pb::FileSearchCall { ranking_options, results }) => json!({
            "id": id,
            "type": "file_search",
            "file_search": {
                "ranking_options": ranking_out(ranking_options),
                "results": results.into_iter().map(file_search_result_out).collect::<Vec<_>>(),
            },
        }),
        Call::CodeInterpreter(pb::CodeInterpreterCall { input, outputs }) => json!({
            "id": id,
            "type": "code_interpreter",
            "code_interpreter": {"input": input, "outputs": outputs.into_iter().filter_map(code_output_out).collect::<Vec<_>>()},
        }),
    })
}

/// A run step's `type` and `step_details` (an unset oneof reads as no tool calls).
fn step_details_out(d: Option<pb::RunStepDetails>) -> (&'static str, Value) {
    use pb::run_step_details::Details;
    match d.and_then(|d| d.details) {
        Some(Details::MessageCreation(m)) => {
            ("message_creation", json!({"type": "message_creation", "message_creation": {"message_id": m.message_id}}))
        }
        Some(Details::ToolCalls(t)) => (
            "tool_calls",
            json!({"type": "tool_calls", "tool_calls": t.tool_calls.into_iter().filter_map(tool_call_out).collect::<Vec<_>>()}),
        ),
        None => ("tool_calls", json!({"type": "tool_calls", "tool_calls": []})),
    }
}

/// `RunStepObject`.
pub fn run_step_out(s: pb::RunStep) -> Value {
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
    let (kind, details) = step_details_out(step_details);
    json!({
        "id": id,
        "object": "thread.run.step",
        "created_at": created_at,
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "run_id": run_id,
        "type": kind,
        "status": step_status_str(status),
        "step_details": details,
        "last_error": error_out(last_error),
        "expired_at": expired_at,
        "cancelled_at": cancelled_at,
        "failed_at": failed_at,
        "completed_at": completed_at,
        "metadata": metadata_from_pb(metadata),
        "usage": usage_out(usage),
    })
}

/// Inserts `key: value` when `value` is set.
fn put<T: Into<Value>>(o: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        o.insert(key.into(), v.into());
    }
}

fn tool_call_delta_out(c: pb::ToolCallDelta) -> Option<Value> {
    use pb::tool_call_delta::Call;
    let pb::ToolCallDelta { index, id, call } = c;
    let first = id.is_some();
    let mut o = Map::new();
    o.insert("index".into(), index.into());
    put(&mut o, "id", id);
    match call? {
        Call::Function(pb::FunctionToolCallDelta { name, arguments, output }) => {
            let mut f = Map::new();
            // The first fragment of a call (the one naming the function) carries
            // `output: null`, as OpenAI's do; later ones only what changed.
            let output = match output {
                Some(out) => Some(Value::String(out)),
                None if name.is_some() => Some(Value::Null),
                None => None,
            };
            put(&mut f, "name", name);
            put(&mut f, "arguments", arguments);
            put(&mut f, "output", output);
            o.insert("type".into(), "function".into());
            o.insert("function".into(), Value::Object(f));
        }
        Call::CodeInterpreter(pb::CodeInterpreterCallDelta { input, outputs }) => {
            use pb::code_interpreter_output_delta::Output;
            let mut ci = Map::new();
            put(&mut ci, "input", input);
            if first || !outputs.is_empty() {
                let outputs: Vec<Value> = outputs
                    .into_iter()
                    .filter_map(|out| {
                        Some(match out.output? {
                            Output::Logs(logs) => json!({"index": out.index, "type": "logs", "logs": logs}),
                            Output::Image(f) => {
                                json!({"index": out.index, "type": "image", "image": {"file_id": f.file_id}})
                            }
                        })
                    })
                    .collect();
                ci.insert("outputs".into(), outputs.into());
            }
            o.insert("type".into(), "code_interpreter".into());
            o.insert("code_interpreter".into(), Value::Object(ci));
        }
        Call::FileSearch(pb::FileSearchCallDelta { ranking_options, results }) => {
            let mut fs = Map::new();
            if let Some(r) = ranking_options {
                fs.insert("ranking_options".into(), ranking_out(Some(r)));
            }
            if !results.is_empty() {
                fs.insert("results".into(), results.into_iter().map(file_search_result_out).collect::<Vec<_>>().into());
            }
            o.insert("type".into(), "file_search".into());
            o.insert("file_search".into(), Value::Object(fs));
        }
    }
    Some(Value::Object(o))
}

/// `RunStepDeltaObject`: only what changed; unset fields are left out.
pub fn run_step_delta_out(d: pb::RunStepDelta) -> Value {
    use pb::run_step_delta_details::Details;
    let mut delta = Map::new();
    match d.step_details.and_then(|s| s.details) {
        Some(Details::MessageCreation(m)) => {
            let mut mc = Map::new();
            put(&mut mc, "message_id", m.message_id);
            delta.insert("step_details".into(), json!({"type": "message_creation", "message_creation": mc}));
        }
        Some(Details::ToolCalls(t)) => {
            let calls: Vec<Value> = t.tool_calls.into_iter().filter_map(tool_call_delta_out).collect();
            delta.insert("step_details".into(), json!({"type": "tool_calls", "tool_calls": calls}));
        }
        None => {}
    }
    json!({"id": d.id, "object": "thread.run.step.delta", "delta": delta})
}

fn annotation_delta_out(a: pb::AnnotationDelta) -> Value {
    use pb::annotation_delta::Kind;
    let pb::AnnotationDelta { index, text, start_index, end_index, kind } = a;
    let mut o = Map::new();
    o.insert("index".into(), index.into());
    match kind {
        Some(Kind::FilePath(f)) => {
            o.insert("type".into(), "file_path".into());
            o.insert("file_path".into(), json!({"file_id": f.file_id}));
        }
        Some(Kind::FileCitation(f)) => {
            o.insert("type".into(), "file_citation".into());
            o.insert("file_citation".into(), json!({"file_id": f.file_id}));
        }
        None => {
            o.insert("type".into(), "file_citation".into());
        }
    }
    put(&mut o, "text", text);
    put(&mut o, "start_index", start_index);
    put(&mut o, "end_index", end_index);
    Value::Object(o)
}

fn content_delta_out(c: pb::MessageContentDelta) -> Option<Value> {
    use pb::message_content_delta::Part;
    let index = c.index;
    Some(match c.part? {
        Part::Text(pb::TextDelta { value, annotations }) => {
            let mut t = Map::new();
            put(&mut t, "value", value);
            t.insert(
                "annotations".into(),
                annotations.into_iter().map(annotation_delta_out).collect::<Vec<_>>().into(),
            );
            json!({"index": index, "type": "text", "text": t})
        }
        Part::ImageFile(pb::ImageFileDelta { file_id, detail }) => {
            let mut f = Map::new();
            put(&mut f, "file_id", file_id);
            put(&mut f, "detail", detail);
            json!({"index": index, "type": "image_file", "image_file": f})
        }
        Part::ImageUrl(pb::ImageUrlDelta { url, detail }) => {
            let mut u = Map::new();
            put(&mut u, "url", url);
            put(&mut u, "detail", detail);
            json!({"index": index, "type": "image_url", "image_url": u})
        }
        Part::Refusal(pb::RefusalDelta { refusal }) => {
            let mut o = Map::new();
            o.insert("index".into(), index.into());
            o.insert("type".into(), "refusal".into());
            put(&mut o, "refusal", refusal);
            Value::Object(o)
        }
    })
}

/// `MessageDeltaObject`: only what changed; unset fields are left out.
pub fn message_delta_out(d: pb::MessageDelta) -> Value {
    let pb::MessageDelta { id, role, content } = d;
    let mut delta = Map::new();
    let role = role.and_then(|r| match pb::MessageRole::try_from(r) {
        Ok(pb::MessageRole::User) => Some("user"),
        Ok(pb::MessageRole::Assistant) => Some("assistant"),
        _ => None,
    });
    put(&mut delta, "role", role);
    delta.insert("content".into(), content.into_iter().filter_map(content_delta_out).collect::<Vec<_>>().into());
    json!({"id": id, "object": "thread.message.delta", "delta": delta})
}

/// The bare `Error` object of an `error` event.
pub fn error_event_out(e: pb::ErrorEvent) -> Value {
    let pb::ErrorEvent { message, r#type, param, code } = e;
    let r#type = if r#type.is_empty() { "server_error".to_owned() } else { r#type };
    json!({"message": message, "type": r#type, "param": param, "code": code})
}

/// The data of the `done` event: the literal `[DONE]`, not JSON.
pub const DONE_DATA: &str = "[DONE]";

/// A run event as an SSE `event:` name and `data:` text (compact JSON, or `[DONE]`).
/// `None` for an event without a payload.
pub fn event_out(ev: pb::RunEvent) -> Option<(String, String)> {
    use pb::run_event::Payload;
    let pb::RunEvent { event, payload } = ev;
    let (default_name, data) = match payload? {
        Payload::Thread(t) => ("thread.created", thread_out(t)),
        Payload::Run(r) => ("thread.run.created", run_out(r)),
        Payload::RunStep(s) => ("thread.run.step.created", run_step_out(s)),
        Payload::RunStepDelta(d) => ("thread.run.step.delta", run_step_delta_out(d)),
        Payload::Message(m) => ("thread.message.created", message_out(m)),
        Payload::MessageDelta(d) => ("thread.message.delta", message_delta_out(d)),
        Payload::Error(e) => ("error", error_event_out(e)),
        Payload::Done(_) => {
            let name = if event.is_empty() { "done".to_owned() } else { event };
            return Some((name, DONE_DATA.to_owned()));
        }
    };
    let name = if event.is_empty() { default_name.to_owned() } else { event };
    Some((name, data.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::extract::parse_json;

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

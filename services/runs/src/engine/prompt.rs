//! The prompt sent to the model for one turn of a run (DESIGN.md §6): one system
//! message (the run's instructions, then `additional_instructions`), the thread's
//! messages after the truncation strategy, then what this run did so far (its
//! messages, its tool calls and their outputs, in order).

use assistd_common::tools::{ResponseFormat, Tool};
use assistd_proto::pb;
use serde_json::json;

use crate::domain::{CodeOutput, Run, RunStep, StepDetails, StepToolCall, ToolChoiceSpec, Truncation};
use crate::engine::images::{ImageInput, ImageInputs};
use crate::model::{ChatMessage, ChatRequest, FunctionSpec, ToolCall, ToolChoice, UserPart};

/// The prompt does not fit `max_prompt_tokens` even with every droppable message gone.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLong;

/// A rough token count (4 characters a token), used where the backend reports none.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn message_tokens(m: &ChatMessage) -> u64 {
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
            content.as_deref().map(estimate_tokens).unwrap_or(0)
                + tool_calls.iter().map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments)).sum::<u64>()
        }
        ChatMessage::Tool { content, .. } => estimate_tokens(content),
    }
}

/// The prompt's estimated token count.
pub fn prompt_tokens(messages: &[ChatMessage]) -> u64 {
    messages.iter().map(message_tokens).sum()
}

fn text_of(m: &pb::Message) -> String {
    m.content
        .iter()
        .filter_map(|c| match &c.part {
            Some(pb::message_content::Part::Text(t)) => Some(t.value.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the prompt needs besides the run, the thread and the steps.
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    /// The names of the files code_interpreter finds in `/mnt/data`.
    pub code_files: Vec<String>,
    /// The uploaded images of the thread's user messages.
    pub images: Option<&'a ImageInputs>,
}

fn thread_message(m: &pb::Message, images: Option<&ImageInputs>) -> Option<ChatMessage> {
    if m.role == pb::MessageRole::Assistant as i32 {
        let text = text_of(m);
        return (!text.is_empty()).then_some(ChatMessage::Assistant { content: Some(text), tool_calls: vec![] });
    }
    let parts: Vec<UserPart> = m
        .content
        .iter()
        .filter_map(|c| match &c.part {
            Some(pb::message_content::Part::Text(t)) => Some(UserPart::Text(t.value.clone())),
            Some(pb::message_content::Part::ImageUrl(u)) => {
                Some(UserPart::ImageUrl { url: u.url.clone(), detail: u.detail.clone() })
            }
            Some(pb::message_content::Part::ImageFile(f)) => match images.and_then(|i| i.get(&f.file_id)) {
                Some(ImageInput::Data(url)) => Some(UserPart::ImageUrl { url: url.clone(), detail: f.detail.clone() }),
                Some(ImageInput::Unreadable(why)) => {
                    Some(UserPart::Text(format!("[image {} could not be shown: {why}]", f.file_id)))
                }
                None => None,
            },
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then_some(ChatMessage::User(parts))
}

/// The functions offered to the model.
pub fn functions(tools: &[Tool]) -> Vec<FunctionSpec> {
    tools
        .iter()
        .map(|t| match t {
            Tool::Function { function } => FunctionSpec {
                name: function.name.clone(),
                description: function.description.clone(),
                parameters: function.parameters.clone().map(serde_json::Value::Object),
                strict: function.strict,
            },
            Tool::FileSearch { .. } => file_search_function(),
            Tool::CodeInterpreter => code_interpreter_function(),
        })
        .collect()
}

/// Name of the function that stands for the file_search tool.
pub const FILE_SEARCH: &str = "file_search";

/// The file_search tool as the function the model sees: it asks for queries, the
/// engine searches the run's vector stores and answers with the results, each under a
/// marker `【{turn}:{n}†{filename}】` the model quotes to cite it.
pub fn file_search_function() -> FunctionSpec {
    FunctionSpec {
        name: FILE_SEARCH.into(),
        description: Some(
            "Search the files the user gave you (in the assistant's and the thread's vector stores). \
             Give one or more search queries; quote the source marker of any result you use, \
             like 【0:1†report.pdf】."
                .into(),
        ),
        parameters: Some(json!({
            "type": "object",
            "properties": {
                "queries": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "The search queries."
                }
            },
            "required": ["queries"]
        })),
        strict: None,
    }
}

/// Name of the function that stands for the code_interpreter tool.
pub const CODE_INTERPRETER: &str = "code_interpreter";

/// The code_interpreter tool as the function the model sees: it writes Python, the
/// engine runs it in the thread's sandbox session and answers with what it printed.
pub fn code_interpreter_function() -> FunctionSpec {
    FunctionSpec {
        name: CODE_INTERPRETER.into(),
        description: Some(
            "Run Python 3 code in a stateful session (variables persist between calls) with numpy, pandas, \
             matplotlib and sympy, and no internet access. The value of the last expression and \
             everything printed come back; matplotlib figures are shown to the user. The user's \
             files are in /mnt/data; save files you make there and link them as \
             sandbox:/mnt/data/NAME."
                .into(),
        ),
        parameters: Some(json!({
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "The Python code to run."}
            },
            "required": ["code"]
        })),
        strict: None,
    }
}

/// The arguments of a code_interpreter call the model made, from its code.
pub fn code_arguments(code: &str) -> String {
    json!({ "code": code }).to_string()
}

/// What the model reads back from a code_interpreter call.
pub fn code_result(outputs: &[CodeOutput]) -> String {
    let mut text = String::new();
    for o in outputs {
        match o {
            CodeOutput::Logs { logs } => text.push_str(logs),
            CodeOutput::Image { file_id } => {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&format!("[a figure was drawn and shown to the user as image {file_id}]\n"));
            }
        }
    }
    if text.trim().is_empty() { "(no output)".to_owned() } else { text }
}

fn response_format(rf: &Option<ResponseFormat>) -> Option<serde_json::Value> {
    match rf {
        Some(ResponseFormat::JsonObject) => Some(json!({"type": "json_object"})),
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(json!({
            "type": "json_schema",
            "json_schema": {
                "name": json_schema.name,
                "description": json_schema.description,
                "schema": json_schema.schema,
                "strict": json_schema.strict,
            }
        })),
        _ => None,
    }
}

/// Builds the request for the next model call of `run`. `thread` is every message of
/// the thread, oldest first; `steps` the run's steps so far, oldest first.
pub fn build(
    run: &Run,
    thread: &[pb::Message],
    steps: &[RunStep],
    backend_model: &str,
    inputs: &Inputs,
) -> Result<ChatRequest, TooLong> {
    let spec = &run.spec;
    let mut used = spec.instructions_used();
    let code_files = &inputs.code_files;
    if !code_files.is_empty() && spec.tools.iter().any(|t| matches!(t, Tool::CodeInterpreter)) {
        let listed = code_files.iter().map(|n| format!("/mnt/data/{n}")).collect::<Vec<_>>().join(", ");
        used = format!("{}\n\nFiles you can read with code_interpreter: {listed}", used.trim_end());
    }
    let system = used.trim();
    let history: Vec<ChatMessage> = thread
        .iter()
        .filter(|m| m.run_id.as_deref() != Some(run.id.as_str()))
        .filter_map(|m| thread_message(m, inputs.images))
        .collect();
    let mut history = match spec.truncation.strategy() {
        Truncation::LastMessages(_) => spec.truncation.strategy().apply(&history).to_vec(),
        Truncation::Auto => history,
    };

    let mut segment = Vec::new();
    // file_search calls are numbered in order; their results' markers carry the number.
    let mut searches = 0;
    for step in steps {
        match &step.details {
            StepDetails::MessageCreation { message_id } => {
                if let Some(text) = thread.iter().find(|m| &m.id == message_id).map(text_of).filter(|t| !t.is_empty()) {
                    segment.push(ChatMessage::Assistant { content: Some(text), tool_calls: vec![] });
                }
            }
            StepDetails::ToolCalls { tool_calls } => {
                let answered = tool_calls.iter().all(|c| match c {
                    StepToolCall::Function { output, .. } => output.is_some(),
                    StepToolCall::FileSearch { .. } | StepToolCall::CodeInterpreter { .. } => true,
                });
                if !answered {
                    continue;
                }
                let calls = tool_calls
                    .iter()
                    .map(|c| match c {
                        StepToolCall::Function { id, name, arguments, .. } => {
                            ToolCall { id: id.clone(), name: name.clone(), arguments: arguments.clone() }
                        }
                        StepToolCall::FileSearch { id, arguments, .. } => {
                            ToolCall { id: id.clone(), name: FILE_SEARCH.into(), arguments: arguments.clone() }
                        }
                        StepToolCall::CodeInterpreter { id, input, .. } => {
                            ToolCall { id: id.clone(), name: CODE_INTERPRETER.into(), arguments: code_arguments(input) }
                        }
                    })
                    .collect();
                segment.push(ChatMessage::Assistant { content: None, tool_calls: calls });
                for c in tool_calls {
                    let content = match c {
                        StepToolCall::Function { output, .. } => output.clone().unwrap_or_default(),
                        StepToolCall::FileSearch { results, .. } => {
                            searches += 1;
                            crate::engine::file_search::output(searches - 1, results)
                        }
                        StepToolCall::CodeInterpreter { outputs, .. } => code_result(outputs),
                    };
                    segment.push(ChatMessage::Tool { tool_call_id: c.id().to_owned(), content });
                }
            }
        }
    }

    let head: Vec<ChatMessage> = if system.is_empty() { vec![] } else { vec![ChatMessage::System(system.to_owned())] };
    if let Some(max) = spec.max_prompt_tokens {
        let fixed = prompt_tokens(&head) + prompt_tokens(&segment);
        // `auto` drops the oldest messages first, keeping the latest one.
        while fixed + prompt_tokens(&history) > u64::from(max) && history.len() > 1 {
            history.remove(0);
        }
        if fixed + prompt_tokens(&history) > u64::from(max) {
            return Err(TooLong);
        }
    }
    let mut messages = head;
    messages.extend(history);
    messages.extend(segment);

    let tools = functions(&spec.tools);
    let tool_choice = if tools.is_empty() {
        None
    } else {
        spec.tool_choice.as_ref().map(|c| match c {
            ToolChoiceSpec::None => ToolChoice::None,
            ToolChoiceSpec::Auto => ToolChoice::Auto,
            ToolChoiceSpec::CodeInterpreter => ToolChoice::Function(CODE_INTERPRETER.into()),
            ToolChoiceSpec::FileSearch => ToolChoice::Function(FILE_SEARCH.into()),
            ToolChoiceSpec::Required => ToolChoice::Required,
            ToolChoiceSpec::Function { name } => ToolChoice::Function(name.clone()),
        })
    };
    Ok(ChatRequest {
        model: backend_model.to_owned(),
        messages,
        parallel_tool_calls: (!tools.is_empty()).then_some(spec.parallel_tool_calls),
        tools,
        tool_choice,
        temperature: spec.temperature,
        top_p: spec.top_p,
        max_tokens: None,
        response_format: response_format(&spec.response_format),
    })
}

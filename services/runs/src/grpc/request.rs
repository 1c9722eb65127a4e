//! Run requests → domain values: the parameters of a new run checked on their own
//! ([`Checked`]), then merged over the assistant's by the engine through
//! [`RunRequest`] (the run's model, instructions, tools, sampling and response format
//! default to the assistant's); tool outputs.

use assistd_common::ids::RunId;
use assistd_common::metadata::{self, Metadata};
use assistd_common::tools::{
    INCLUDE_FILE_SEARCH_CONTENT, ResponseFormat, Tool, ToolResources, tools_from_pb, validate_len, validate_range,
    validate_reasoning_effort,
};
use assistd_common::{FieldViolationExt, ServiceError, ServiceResult, time};
use assistd_proto::pb;

use crate::domain::{
    MAX_RUN_TOOLS, REQUIRES_ACTION_TTL_SECS, Run, RunSpec, RunStatus, ToolChoiceSpec, Truncation, TruncationSpec,
    Usage, validate_token_limit,
};
use crate::engine::{RunRequest, ToolOutput};

/// Longest instructions, in characters.
const MAX_INSTRUCTIONS: usize = 256_000;

/// The parameters common to create-run and create-thread-and-run, as the request
/// gave them; unset ones default to the assistant's.
pub struct RunParams {
    /// The assistant that runs (required).
    pub assistant_id: String,
    /// Replaces the assistant's model.
    pub model: Option<String>,
    /// Replaces the assistant's reasoning effort.
    pub reasoning_effort: Option<String>,
    /// Replaces the assistant's instructions.
    pub instructions: Option<String>,
    /// Appended to the instructions for this run only.
    pub additional_instructions: Option<String>,
    /// Replaces the assistant's tools.
    pub tools: Option<pb::ToolList>,
    /// Resources of the tools (create-thread-and-run only).
    pub tool_resources: Option<pb::ToolResources>,
    /// The run's own metadata.
    pub metadata: Option<pb::Metadata>,
    /// Sampling temperature, 0 to 2.
    pub temperature: Option<f64>,
    /// Nucleus sampling mass, 0 to 1.
    pub top_p: Option<f64>,
    /// Most prompt tokens one model call of the run may use.
    pub max_prompt_tokens: Option<i64>,
    /// Most completion tokens over the whole run.
    pub max_completion_tokens: Option<i64>,
    /// Which thread messages the prompt keeps.
    pub truncation_strategy: Option<pb::TruncationStrategy>,
    /// Whether and which tool the model must call.
    pub tool_choice: Option<pb::ToolChoice>,
    /// Whether the model may call several functions at once (default true).
    pub parallel_tool_calls: Option<bool>,
    /// Replaces the assistant's response format.
    pub response_format: Option<pb::ResponseFormat>,
    /// `include[]`: what steps carry beyond the defaults.
    pub include: Vec<String>,
}

/// A create-run request as its thread, its parameters and the messages to add first.
pub fn create_run(r: pb::CreateRunRequest) -> (String, RunParams, Vec<pb::NewMessage>) {
    let pb::CreateRunRequest {
        thread_id,
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
        max_prompt_tokens,
        max_completion_tokens,
        truncation_strategy,
        tool_choice,
        parallel_tool_calls,
        response_format,
        include,
    } = r;
    let params = RunParams {
        assistant_id,
        model,
        reasoning_effort,
        instructions,
        additional_instructions,
        tools,
        tool_resources: None,
        metadata,
        temperature,
        top_p,
        max_prompt_tokens,
        max_completion_tokens,
        truncation_strategy,
        tool_choice,
        parallel_tool_calls,
        response_format,
        include,
    };
    (thread_id, params, additional_messages)
}

/// A create-thread-and-run request as its parameters and the thread to create.
pub fn create_thread_and_run(r: pb::CreateThreadAndRunRequest) -> (RunParams, pb::CreateThreadRequest) {
    let pb::CreateThreadAndRunRequest {
        assistant_id,
        thread,
        model,
        instructions,
        tools,
        tool_resources,
        metadata,
        temperature,
        top_p,
        max_prompt_tokens,
        max_completion_tokens,
        truncation_strategy,
        tool_choice,
        parallel_tool_calls,
        response_format,
    } = r;
    let params = RunParams {
        assistant_id,
        model,
        reasoning_effort: None,
        instructions,
        additional_instructions: None,
        tools,
        tool_resources,
        metadata,
        temperature,
        top_p,
        max_prompt_tokens,
        max_completion_tokens,
        truncation_strategy,
        tool_choice,
        parallel_tool_calls,
        response_format,
        include: vec![],
    };
    (params, thread.unwrap_or_default())
}

/// The request's own rules, checked before anything is read or written.
pub struct Checked {
    params: RunParams,
    tools: Option<Vec<Tool>>,
    metadata: Metadata,
    truncation: TruncationSpec,
    max_prompt_tokens: Option<u32>,
    max_completion_tokens: Option<u32>,
}

fn truncation_from_pb(t: Option<pb::TruncationStrategy>) -> ServiceResult<TruncationSpec> {
    let Some(t) = t else { return Ok(TruncationSpec::default()) };
    match pb::TruncationType::try_from(t.r#type) {
        Ok(pb::TruncationType::LastMessages) => {
            match Truncation::from_parts("last_messages", t.last_messages.map(i64::from))? {
                Truncation::LastMessages(n) => Ok(TruncationSpec { last_messages: Some(n) }),
                Truncation::Auto => Ok(TruncationSpec::default()),
            }
        }
        _ => Ok(TruncationSpec::default()),
    }
}

fn tool_choice_from_pb(c: Option<pb::ToolChoice>, tools: &[Tool]) -> ServiceResult<Option<ToolChoiceSpec>> {
    use pb::tool_choice::Choice;
    let Some(choice) = c.and_then(|c| c.choice) else { return Ok(None) };
    Ok(Some(match choice {
        Choice::None(_) => ToolChoiceSpec::None,
        Choice::Auto(_) => ToolChoiceSpec::Auto,
        Choice::Required(_) => ToolChoiceSpec::Required,
        Choice::FileSearch(_) => ToolChoiceSpec::FileSearch,
        Choice::CodeInterpreter(_) => ToolChoiceSpec::CodeInterpreter,
        Choice::Function(pb::FunctionToolChoice { name }) => {
            let known = tools.iter().any(|t| matches!(t, Tool::Function { function } if function.name == name));
            if !known {
                return Err(ServiceError::invalid(
                    "tool_choice",
                    format!("Invalid 'tool_choice': function '{name}' is not one of the run's tools."),
                ));
            }
            ToolChoiceSpec::Function { name }
        }
    }))
}

/// Checks what can be checked without the assistant.
pub fn check(params: RunParams) -> ServiceResult<Checked> {
    if params.assistant_id.is_empty() {
        return Err(ServiceError::invalid("assistant_id", "Missing required parameter: 'assistant_id'."));
    }
    if let Some(i) = &params.instructions {
        validate_len(i, MAX_INSTRUCTIONS, "instructions")?;
    }
    if let Some(i) = &params.additional_instructions {
        validate_len(i, MAX_INSTRUCTIONS, "additional_instructions")?;
    }
    if let Some(t) = params.temperature {
        validate_range(t, 0.0, 2.0, "temperature")?;
    }
    if let Some(p) = params.top_p {
        validate_range(p, 0.0, 1.0, "top_p")?;
    }
    if let Some(r) = &params.reasoning_effort {
        validate_reasoning_effort(r, "reasoning_effort")?;
    }
    if let Some(m) = &params.model
        && m.trim().is_empty()
    {
        return Err(ServiceError::invalid("model", "Invalid 'model': empty string."));
    }
    let tools = params.tools.clone().map(|l| tools_from_pb(l.tools, MAX_RUN_TOOLS)).transpose().scope("tools")?;
    let metadata: Metadata = params.metadata.clone().map(|m| m.entries.into_iter().collect()).unwrap_or_default();
    metadata::validate("metadata", &metadata)?;
    for inc in &params.include {
        if inc != INCLUDE_FILE_SEARCH_CONTENT {
            return Err(ServiceError::invalid(
                "include",
                format!("Invalid value: '{inc}'. Supported values are: '{}'.", INCLUDE_FILE_SEARCH_CONTENT),
            ));
        }
    }
    Ok(Checked {
        truncation: truncation_from_pb(params.truncation_strategy)?,
        max_prompt_tokens: validate_token_limit("max_prompt_tokens", params.max_prompt_tokens)?,
        max_completion_tokens: validate_token_limit("max_completion_tokens", params.max_completion_tokens)?,
        tools,
        metadata,
        params,
    })
}

impl RunRequest for Checked {
    fn assistant_id(&self) -> &str {
        &self.params.assistant_id
    }

    fn vector_store_refs(&self) -> ServiceResult<Vec<(String, String)>> {
        let resources = run_tool_resources(self.params.tool_resources.clone())?;
        Ok(resources.map(|r| r.vector_store_refs("tool_resources")).unwrap_or_default())
    }

    fn into_run(self, assistant: pb::Assistant, thread_id: String) -> ServiceResult<Run> {
        let Checked { params, tools, metadata, truncation, max_prompt_tokens, max_completion_tokens } = self;
        let tools = match tools {
            Some(t) => t,
            None => tools_from_pb(assistant.tools, usize::MAX).scope("tools")?,
        };
        let tool_choice = tool_choice_from_pb(params.tool_choice, &tools)?;
        let response_format = params
            .response_format
            .or(assistant.response_format)
            .map(ResponseFormat::try_from)
            .transpose()
            .scope("response_format")?;
        let tool_resources = run_tool_resources(params.tool_resources)?;
        let now = time::now_secs();
        Ok(Run {
            id: RunId::generate().into_string(),
            created_at: now,
            thread_id,
            assistant_id: assistant.id,
            status: RunStatus::Queued,
            spec: RunSpec {
                model: params.model.unwrap_or(assistant.model),
                instructions: params.instructions.or(assistant.instructions).unwrap_or_default(),
                additional_instructions: params.additional_instructions,
                tools,
                tool_resources,
                temperature: params.temperature.or(assistant.temperature),
                top_p: params.top_p.or(assistant.top_p),
                max_prompt_tokens,
                max_completion_tokens,
                truncation,
                tool_choice,
                parallel_tool_calls: params.parallel_tool_calls.unwrap_or(true),
                response_format,
                reasoning_effort: params.reasoning_effort.or(assistant.reasoning_effort),
                include: params.include,
            },
            metadata,
            started_at: None,
            expires_at: Some(now + REQUIRES_ACTION_TTL_SECS),
            cancelled_at: None,
            failed_at: None,
            completed_at: None,
            usage: Usage::default(),
            required_action: None,
            last_error: None,
            incomplete_reason: None,
        })
    }
}

/// A run's own tool resources. The `vector_stores` helper (make a store on the fly)
/// is for assistants and threads; a run refuses it.
fn run_tool_resources(res: Option<pb::ToolResources>) -> ServiceResult<Option<ToolResources>> {
    let res = res.map(ToolResources::try_from).transpose().scope("tool_resources")?;
    if res.as_ref().and_then(|r| r.file_search.as_ref()).is_some_and(|f| !f.vector_stores.is_empty()) {
        return Err(ServiceError::unimplemented(
            "Creating vector stores through 'tool_resources.file_search.vector_stores'",
        )
        .with_param("tool_resources.file_search.vector_stores"));
    }
    Ok(res)
}

/// A tool output of a submit request.
pub fn tool_output(o: pb::ToolOutput) -> ToolOutput {
    let pb::ToolOutput { tool_call_id, output } = o;
    ToolOutput { tool_call_id, output }
}

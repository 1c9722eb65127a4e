//! Runs and run steps as plain Rust values (what the store keeps between steps).

use assistd_common::metadata::Metadata;
use assistd_common::tools::{ResponseFormat, Tool, ToolResources};
use serde::{Deserialize, Serialize};

use super::{RunStatus, Truncation};

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoiceSpec {
    /// No tools.
    None,
    /// The model picks (default).
    #[default]
    Auto,
    /// At least one call.
    Required,
    /// This function.
    Function {
        /// Its name.
        name: String,
    },
    FileSearch,
    CodeInterpreter,
}

/// `truncation_strategy`, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TruncationSpec {
    /// `last_messages` count, or none for auto.
    pub last_messages: Option<u32>,
}

impl TruncationSpec {
    /// The strategy.
    pub fn strategy(self) -> Truncation {
        match self.last_messages {
            Some(n) => Truncation::LastMessages(n),
            None => Truncation::Auto,
        }
    }
}

/// What a run was asked to do; fixed when it is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The model name (as the assistant or the run gave it).
    pub model: String,
    /// Instructions (the run's, or the assistant's).
    pub instructions: String,
    /// Appended to the instructions.
    pub additional_instructions: Option<String>,
    pub tools: Vec<Tool>,
    /// Tool resources of create-thread-and-run.
    pub tool_resources: Option<ToolResources>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Prompt token budget.
    pub max_prompt_tokens: Option<u32>,
    /// Completion token budget over the whole run.
    pub max_completion_tokens: Option<u32>,
    pub truncation: TruncationSpec,
    /// Tool choice; none given means auto.
    pub tool_choice: Option<ToolChoiceSpec>,
    /// Parallel function calls.
    pub parallel_tool_calls: bool,
    pub response_format: Option<ResponseFormat>,
    pub reasoning_effort: Option<String>,
    /// `include[]`.
    #[serde(default)]
    pub include: Vec<String>,
}

impl RunSpec {
    /// The instructions the run uses, as the model receives them and the run object
    /// shows them: the run's (or the assistant's) instructions, then
    /// `additional_instructions` after a blank line.
    pub fn instructions_used(&self) -> String {
        match self.additional_instructions.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(extra) if self.instructions.trim().is_empty() => extra.to_owned(),
            Some(extra) => format!("{}\n\n{extra}", self.instructions.trim_end()),
            None => self.instructions.clone(),
        }
    }
}

/// Tokens used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    /// Adds `other`.
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

/// A function call a run waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredCall {
    /// `call_…`
    pub id: String,
    /// Function.
    pub name: String,
    /// JSON arguments.
    pub arguments: String,
}

/// `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// server_error, rate_limit_exceeded, invalid_prompt.
    pub code: String,
    /// For people.
    pub message: String,
}

impl RunError {
    /// A `server_error`.
    pub fn server(message: impl Into<String>) -> Self {
        Self { code: "server_error".into(), message: message.into() }
    }
}

/// A run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// `run_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Thread.
    pub thread_id: String,
    /// Assistant.
    pub assistant_id: String,
    pub status: RunStatus,
    /// Parameters.
    pub spec: RunSpec,
    pub metadata: Metadata,
    /// Unix seconds.
    pub started_at: Option<i64>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    /// Unix seconds.
    pub cancelled_at: Option<i64>,
    /// Unix seconds.
    pub failed_at: Option<i64>,
    /// Unix seconds.
    pub completed_at: Option<i64>,
    /// Tokens so far.
    pub usage: Usage,
    /// Calls waiting for outputs (requires_action).
    pub required_action: Option<Vec<RequiredCall>>,
    /// Why it failed.
    pub last_error: Option<RunError>,
    /// Why it is incomplete.
    pub incomplete_reason: Option<String>,
}

/// A run step's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// Running.
    InProgress,
    /// Its run was cancelled.
    Cancelled,
    Failed,
    /// Done.
    Completed,
    /// Its run expired.
    Expired,
}

impl StepStatus {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Completed => "completed",
            Self::Expired => "expired",
        }
    }

    /// From the API name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::InProgress, Self::Cancelled, Self::Failed, Self::Completed, Self::Expired]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One result of a file_search call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// File.
    pub file_id: String,
    /// Its name.
    pub file_name: String,
    /// Score 0-1.
    pub score: f64,
    /// The text found.
    pub text: String,
}

/// One output of a code_interpreter call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CodeOutput {
    /// What the code printed (stdout and stderr, a traceback, or why it stopped).
    Logs {
        /// The text.
        logs: String,
    },
    /// A figure it drew, stored as a file.
    Image {
        /// `file-…` (purpose `assistants_output`).
        file_id: String,
    },
}

/// A tool call of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepToolCall {
    /// A function call.
    Function {
        /// `call_…`
        id: String,
        /// Function.
        name: String,
        /// JSON arguments.
        arguments: String,
        /// Submitted output.
        output: Option<String>,
    },
    /// A file_search call.
    FileSearch {
        /// `call_…`
        id: String,
        /// The model's arguments.
        arguments: String,
        ranker: String,
        score_threshold: f64,
        results: Vec<SearchResult>,
    },
    /// A code_interpreter call.
    CodeInterpreter {
        /// `call_…`
        id: String,
        /// The code run.
        input: String,
        /// What it produced.
        outputs: Vec<CodeOutput>,
        /// The files it wrote under `/mnt/data`, stored (for `sandbox:` links; not
        /// shown in the API's step).
        #[serde(default)]
        files: Vec<CodeFile>,
    },
}

/// A file a code_interpreter call wrote, stored as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFile {
    /// Its path under `/mnt/data`.
    pub path: String,
    /// `file-…` (purpose `assistants_output`).
    pub file_id: String,
}

impl StepToolCall {
    /// The call id.
    pub fn id(&self) -> &str {
        match self {
            Self::Function { id, .. } | Self::FileSearch { id, .. } | Self::CodeInterpreter { id, .. } => id,
        }
    }
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StepDetails {
    /// Wrote a message.
    MessageCreation {
        /// The message.
        message_id: String,
    },
    /// Called tools.
    ToolCalls {
        /// The calls.
        tool_calls: Vec<StepToolCall>,
    },
}

/// A run step.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStep {
    /// `step_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Run.
    pub run_id: String,
    /// Thread.
    pub thread_id: String,
    /// Assistant.
    pub assistant_id: String,
    pub status: StepStatus,
    pub details: StepDetails,
    /// Why it failed.
    pub last_error: Option<RunError>,
    /// Unix seconds.
    pub expired_at: Option<i64>,
    /// Unix seconds.
    pub cancelled_at: Option<i64>,
    /// Unix seconds.
    pub failed_at: Option<i64>,
    /// Unix seconds.
    pub completed_at: Option<i64>,
    /// Tokens, once done.
    pub usage: Option<Usage>,
    pub metadata: Metadata,
}

impl RunStep {
    /// A new step of the run `run_id` (on `thread_id`, for `assistant_id`), in
    /// progress since `now`.
    pub fn open(id: String, run_id: &str, thread_id: &str, assistant_id: &str, details: StepDetails, now: i64) -> Self {
        RunStep {
            id,
            created_at: now,
            run_id: run_id.to_owned(),
            thread_id: thread_id.to_owned(),
            assistant_id: assistant_id.to_owned(),
            status: StepStatus::InProgress,
            details,
            last_error: None,
            expired_at: None,
            cancelled_at: None,
            failed_at: None,
            completed_at: None,
            usage: None,
            metadata: Metadata::new(),
        }
    }

    /// Ends the step with `status` at `now`.
    pub fn finish(&mut self, status: StepStatus, now: i64) {
        self.status = status;
        match status {
            StepStatus::Completed => self.completed_at = Some(now),
            StepStatus::Cancelled => self.cancelled_at = Some(now),
            StepStatus::Failed => self.failed_at = Some(now),
            StepStatus::Expired => self.expired_at = Some(now),
            StepStatus::InProgress => {}
        }
    }
}

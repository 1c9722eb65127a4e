//! Model backends (DESIGN.md §5): the `ChatModel` trait the run engine calls, its
//! OpenAI-compatible implementation and the embedded (in-process) model. The engine
//! itself (runs, steps, streaming to clients) is the Runs issue's.

pub mod embedded;
pub mod openai;
pub mod sse;

#[cfg(any(test, feature = "testing"))]
pub mod fake;

#[cfg(test)]
mod tests;

use futures::stream::BoxStream;
use serde_json::Value;

/// One message of the prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatMessage {
    /// Instructions.
    System(String),
    /// A user turn: text parts and image URLs.
    User(Vec<UserPart>),
    /// An assistant turn, with the tool calls it made.
    Assistant {
        /// Text, if any.
        content: Option<String>,
        /// Calls, in order.
        tool_calls: Vec<ToolCall>,
    },
    /// A tool's result for the call `tool_call_id`.
    Tool {
        /// The call answered.
        tool_call_id: String,
        /// The output.
        content: String,
    },
}

/// A part of a user message.
#[derive(Debug, Clone, PartialEq)]
pub enum UserPart {
    Text(String),
    /// An image by URL (or data URL), with its detail.
    ImageUrl {
        url: String,
        /// auto, low, high.
        detail: Option<String>,
    },
}

/// A complete tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// `call_…`
    pub id: String,
    /// Function name.
    pub name: String,
    /// JSON arguments, as the model wrote them.
    pub arguments: String,
}

/// A function offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    pub parameters: Option<Value>,
    /// Strict schema adherence.
    pub strict: Option<bool>,
}

/// How the model may use tools.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// Not at all.
    None,
    /// As it likes.
    Auto,
    /// At least one call.
    Required,
    /// This function.
    Function(String),
}

/// A chat completion request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// The backend's model name.
    pub model: String,
    /// The prompt.
    pub messages: Vec<ChatMessage>,
    /// Functions offered.
    pub tools: Vec<FunctionSpec>,
    /// Tool choice (backend default when unset).
    pub tool_choice: Option<ToolChoice>,
    /// Whether several calls may come at once.
    pub parallel_tool_calls: Option<bool>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    pub top_p: Option<f64>,
    /// Most completion tokens.
    pub max_tokens: Option<u32>,
    /// `response_format` as the chat completions API takes it.
    pub response_format: Option<Value>,
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// More answer text.
    Text(String),
    /// A fragment of the tool call at `index`; `id` and `name` come with its first fragment.
    ToolCall {
        /// Position of the call.
        index: u32,
        /// Call id (first fragment).
        id: Option<String>,
        /// Function name (first fragment).
        name: Option<String>,
        /// More JSON arguments.
        arguments: String,
    },
    /// Token counts (usually last).
    Usage { prompt_tokens: u64, completion_tokens: u64 },
    /// Why the model stopped: `stop`, `length`, `tool_calls`, `content_filter`.
    Finish(String),
}

/// What went wrong talking to a model; maps to a run's `last_error.code`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// 429 after retries: `rate_limit_exceeded`.
    #[error("the model backend is rate limiting: {0}")]
    RateLimited(String),
    /// The backend refused the request (4xx): `invalid_prompt`.
    #[error("the model backend rejected the request: {0}")]
    Rejected(String),
    /// 5xx after retries, a timeout, a broken connection or stream: `server_error`.
    #[error("the model backend failed: {0}")]
    Backend(String),
}

impl ModelError {
    /// The run `last_error.code` this error becomes.
    pub fn run_error_code(&self) -> &'static str {
        match self {
            Self::RateLimited(_) => "rate_limit_exceeded",
            Self::Rejected(_) => "invalid_prompt",
            Self::Backend(_) => "server_error",
        }
    }
}

/// A streamed answer.
pub type ChatStream = BoxStream<'static, Result<ChatEvent, ModelError>>;

/// A model a backend serves, as `GET /v1/models` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    /// Its name.
    pub id: String,
    /// Unix seconds, or 0 when unknown.
    pub created: i64,
    /// Who serves it.
    pub owned_by: String,
}

/// A chat model backend.
#[async_trait::async_trait]
pub trait ChatModel: Send + Sync {
    /// Starts a completion and streams its answer.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError>;

    /// The models the backend says it serves (none by default).
    async fn list_models(&self) -> Result<Vec<ModelInfo>, ModelError> {
        Ok(Vec::new())
    }

    /// What the backend is, in a few words (`embedded`, `OpenAI-compatible backend`).
    fn kind(&self) -> &'static str {
        "backend"
    }

    /// How many tokens the model reads at most, prompt and answer together, when known
    /// (the embedded model's GGUF says; a URL backend's is configured).
    fn context_window(&self) -> Option<u64> {
        None
    }
}

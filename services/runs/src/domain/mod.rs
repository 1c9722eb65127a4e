//! Runs as plain Rust values: the status machine OpenAI defines, the rules of a
//! run's parameters, and the run and step records.

mod run;

pub use run::*;

use assistd_common::{ServiceError, ServiceResult};

/// Most tools a run may override the assistant's with.
pub const MAX_RUN_TOOLS: usize = 20;
/// How long a run waits in `requires_action` for tool outputs.
pub const REQUIRES_ACTION_TTL_SECS: i64 = 600;

/// Where a run is (`RunObject.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Waiting for a worker.
    Queued,
    /// Being executed.
    InProgress,
    /// Waiting for function outputs.
    RequiresAction,
    /// Cancel requested.
    Cancelling,
    /// Stopped by a cancel.
    Cancelled,
    /// Stopped by an error.
    Failed,
    /// Finished.
    Completed,
    /// Stopped at a token limit.
    Incomplete,
    /// Tool outputs came too late.
    Expired,
}

impl RunStatus {
    /// Every status.
    pub const ALL: [RunStatus; 9] = [
        Self::Queued,
        Self::InProgress,
        Self::RequiresAction,
        Self::Cancelling,
        Self::Cancelled,
        Self::Failed,
        Self::Completed,
        Self::Incomplete,
        Self::Expired,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::RequiresAction => "requires_action",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Completed => "completed",
            Self::Incomplete => "incomplete",
            Self::Expired => "expired",
        }
    }

    /// From the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A status no run leaves.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Cancelled | Self::Failed | Self::Completed | Self::Incomplete | Self::Expired)
    }

    /// Whether the run holds its thread (one active run per thread, as OpenAI).
    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }

    /// The stream event announcing this status (`thread.run.<status>`).
    pub fn event_name(self) -> String {
        format!("thread.run.{}", self.as_str())
    }

    /// Whether a run may move from `self` to `to`:
    /// queued → in_progress → requires_action → queued …, any active state →
    /// cancelling → cancelled, in_progress → completed | incomplete | failed,
    /// requires_action → expired; a queued run may also be cancelled at once or fail
    /// (a lost worker lease), and one that is cancelling may still end failed.
    pub fn can_become(self, to: RunStatus) -> bool {
        use RunStatus::*;
        matches!(
            (self, to),
            (Queued, InProgress | Cancelling | Cancelled | Failed | Expired)
                | (InProgress, RequiresAction | Completed | Incomplete | Failed | Cancelling | Expired)
                | (RequiresAction, Queued | Cancelling | Expired | Failed)
                | (Cancelling, Cancelled | Failed | Completed | Incomplete)
        )
    }

    /// Checks a transition, as a 400 in OpenAI's words when it is not allowed
    /// (e.g. cancelling a completed run).
    pub fn check_transition(self, to: RunStatus) -> ServiceResult<()> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(ServiceError::precondition(format!("Cannot {} run with status '{}'.", verb(to), self.as_str())))
        }
    }
}

fn verb(to: RunStatus) -> &'static str {
    match to {
        RunStatus::Cancelling | RunStatus::Cancelled => "cancel",
        RunStatus::Queued => "submit tool outputs to",
        _ => "update",
    }
}

/// `truncation_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Truncation {
    /// Drop messages from the middle to fit the context (the default).
    #[default]
    Auto,
    /// Keep only the last `n` messages.
    LastMessages(u32),
}

impl Truncation {
    /// From the request: `type` and `last_messages`.
    pub fn from_parts(kind: &str, last_messages: Option<i64>) -> ServiceResult<Self> {
        match (kind, last_messages) {
            ("auto", _) => Ok(Self::Auto),
            ("last_messages", Some(n)) if n >= 1 && n <= i64::from(u32::MAX) => Ok(Self::LastMessages(n as u32)),
            ("last_messages", Some(n)) => Err(ServiceError::invalid(
                "truncation_strategy.last_messages",
                format!(
                    "Invalid 'truncation_strategy.last_messages': expected a value of at least 1, but got {n} instead."
                ),
            )),
            ("last_messages", None) => Err(ServiceError::invalid(
                "truncation_strategy.last_messages",
                "Missing required parameter: 'truncation_strategy.last_messages'.",
            )),
            (other, _) => Err(ServiceError::invalid(
                "truncation_strategy.type",
                format!("Invalid value: '{other}'. Supported values are: 'auto' and 'last_messages'."),
            )),
        }
    }

    /// The messages kept (oldest first) by `last_messages`; `auto` keeps all here and
    /// is applied later against the model's context by token count.
    pub fn apply<T>(self, messages: &[T]) -> &[T] {
        match self {
            Self::Auto => messages,
            Self::LastMessages(n) => &messages[messages.len().saturating_sub(n as usize)..],
        }
    }
}

/// Checks `max_prompt_tokens` / `max_completion_tokens`. The spec says at least 256,
/// but shipped clients send less and OpenAI accepted it (DESIGN.md §7): any positive
/// value is taken.
pub fn validate_token_limit(param: &str, value: Option<i64>) -> ServiceResult<Option<u32>> {
    match value {
        None => Ok(None),
        Some(v) if v >= 1 && v <= i64::from(u32::MAX) => Ok(Some(v as u32)),
        Some(v) => Err(ServiceError::invalid(
            param,
            format!("Invalid '{param}': expected a positive integer, but got {v} instead."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RunStatus::RequiresAction.event_name(), "thread.run.requires_action");
        assert_eq!(RunStatus::parse("running"), None);
    }

    #[test]
    fn terminal_states_are_final() {
        for from in RunStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in RunStatus::ALL {
                assert!(!from.can_become(to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn the_openai_paths() {
        use RunStatus::*;
        for (a, b) in [
            (Queued, InProgress),
            (InProgress, RequiresAction),
            (RequiresAction, Queued),
            (InProgress, Completed),
            (InProgress, Incomplete),
            (InProgress, Failed),
            (InProgress, Cancelling),
            (Cancelling, Cancelled),
            (RequiresAction, Expired),
            (RequiresAction, Cancelling),
            (Queued, Cancelling),
        ] {
            assert!(a.can_become(b), "{a:?} -> {b:?}");
        }
        assert!(!Queued.can_become(Completed));
        assert!(!RequiresAction.can_become(Completed));
        let err = Completed.check_transition(Cancelling).unwrap_err();
        assert_eq!(err.message, "Cannot cancel run with status 'completed'.");
        assert_eq!(err.kind.http_status(), 400);
        assert!(Queued.is_active() && RequiresAction.is_active() && !Expired.is_active());
    }

    #[test]
    fn truncation() {
        let msgs = [1, 2, 3, 4, 5];
        assert_eq!(Truncation::from_parts("last_messages", Some(2)).unwrap().apply(&msgs), &[4, 5]);
        assert_eq!(Truncation::from_parts("last_messages", Some(10)).unwrap().apply(&msgs), &msgs);
        assert_eq!(Truncation::from_parts("auto", None).unwrap().apply(&msgs), &msgs);
        assert_eq!(
            Truncation::from_parts("last_messages", Some(0)).unwrap_err().param.as_deref(),
            Some("truncation_strategy.last_messages")
        );
        assert!(Truncation::from_parts("last_messages", None).is_err());
        assert_eq!(
            Truncation::from_parts("middle", None).unwrap_err().param.as_deref(),
            Some("truncation_strategy.type")
        );
    }

    #[test]
    fn token_limits_are_liberal() {
        assert_eq!(validate_token_limit("max_prompt_tokens", Some(200)).unwrap(), Some(200));
        assert_eq!(validate_token_limit("max_prompt_tokens", None).unwrap(), None);
        assert!(validate_token_limit("max_completion_tokens", Some(0)).is_err());
    }
}

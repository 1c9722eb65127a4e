//! OpenAI-style prefixed, time-sortable ids.
//!
//! An id is its prefix followed by a lowercase ULID from a monotonic generator, so
//! sorting ids as strings sorts objects by creation and `after`/`before` pagination
//! is a range scan on the primary key.

use std::sync::Mutex;

static GENERATOR: Mutex<Option<ulid::Generator>> = Mutex::new(None);

/// A new lowercase ULID, strictly greater than any this process made before.
pub fn new_ulid() -> String {
    let mut guard = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    let id = generator.generate().unwrap_or_else(|_| ulid::Ulid::new());
    id.to_string().to_ascii_lowercase()
}

/// A kind of id: its prefix and what a well-formed one looks like.
pub trait IdKind {
    /// The prefix every id of this kind starts with.
    const PREFIX: &'static str;
    /// Whether `s` is a well-formed id of this kind.
    fn valid(s: &str) -> bool;
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, new_ulid()))
            }

            /// Accepts a string that has this kind's prefix and a plausible body.
            pub fn parse(s: &str) -> Option<Self> {
                let body = s.strip_prefix($prefix)?;
                let ok = !body.is_empty()
                    && body.len() <= 64
                    && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                ok.then(|| Self(s.to_owned()))
            }

            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl IdKind for $name {
            const PREFIX: &'static str = $prefix;

            fn valid(s: &str) -> bool {
                Self::parse(s).is_some()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

define_id!(/// `asst_…`
    AssistantId, "asst_");
define_id!(/// `thread_…`
    ThreadId, "thread_");
define_id!(/// `msg_…`
    MessageId, "msg_");
define_id!(/// `run_…`
    RunId, "run_");
define_id!(/// `step_…`
    StepId, "step_");
define_id!(/// `file-…`
    FileId, "file-");
define_id!(/// `vs_…`
    VectorStoreId, "vs_");
define_id!(/// `vsfb_…`
    FileBatchId, "vsfb_");
define_id!(/// `upload_…`
    UploadId, "upload_");
define_id!(/// `part_…`
    PartId, "part_");
define_id!(/// `call_…`
    CallId, "call_");
define_id!(/// `key_…` (API key records)
    KeyId, "key_");
define_id!(/// `conv_…`
    ConversationId, "conv_");
define_id!(/// `resp_…`
    ResponseId, "resp_");
define_id!(/// `fc_…` (a function call item)
    FunctionCallItemId, "fc_");
define_id!(/// `fco_…` (a function call output item)
    FunctionCallOutputId, "fco_");
define_id!(/// `fs_…` (a file_search call item)
    FileSearchCallId, "fs_");
define_id!(/// `ci_…` (a code_interpreter call item)
    CodeInterpreterCallId, "ci_");
define_id!(/// `cmp_…` (a compaction item)
    CompactionId, "cmp_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation() {
        let ids: Vec<_> = (0..1000).map(|_| MessageId::generate()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids[0].as_str().starts_with("msg_"));
    }

    #[test]
    fn parse_checks_prefix() {
        let id = AssistantId::generate();
        assert!(AssistantId::parse(id.as_str()).is_some());
        assert!(ThreadId::parse(id.as_str()).is_none());
        assert!(AssistantId::parse("asst_").is_none());
        assert!(AssistantId::parse("asst_a b").is_none());
    }
}

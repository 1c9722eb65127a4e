//! Threads and messages as plain Rust values, and their rules.

use assistd_common::metadata::{self, Metadata};
use assistd_common::tools::ToolResources;
use assistd_common::{ServiceError, ServiceResult};
use serde::{Deserialize, Serialize};

/// Most messages a create-thread request may carry.
pub const MAX_INITIAL_MESSAGES: usize = 32;
/// Longest text part, in characters.
pub const MAX_TEXT_CHARS: usize = 256_000;
/// Most attachments a message may have.
pub const MAX_ATTACHMENTS: usize = 10;

/// A thread.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    /// `thread_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    pub tool_resources: Option<ToolResources>,
    pub metadata: Metadata,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The user.
    User,
    /// The assistant.
    Assistant,
}

impl Role {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    /// From the API name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// A message's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    /// Being written.
    InProgress,
    /// Stopped early.
    Incomplete,
    /// Done.
    Completed,
}

impl MessageStatus {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Incomplete => "incomplete",
            Self::Completed => "completed",
        }
    }

    /// From the API name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in_progress" => Some(Self::InProgress),
            "incomplete" => Some(Self::Incomplete),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// A content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// An uploaded image.
    ImageFile {
        /// The image.
        image_file: ImageFile,
    },
    /// An image by URL.
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
    Text {
        /// The text.
        text: Text,
    },
    /// A refusal.
    Refusal {
        /// The refusal.
        refusal: String,
    },
}

/// An uploaded image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageFile {
    pub file_id: String,
    /// auto, low, high.
    pub detail: Option<String>,
}

/// An image by URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    /// auto, low, high.
    pub detail: Option<String>,
}

/// Text with annotations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    /// The text.
    pub value: String,
    pub annotations: Vec<Annotation>,
}

/// An annotation of a span of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// The span's text.
    pub text: String,
    /// Start.
    pub start_index: u32,
    /// End.
    pub end_index: u32,
    /// `file_citation` or `file_path`.
    pub kind: String,
    /// The file.
    pub file_id: String,
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub file_id: String,
    /// `code_interpreter`, `file_search`.
    pub tools: Vec<String>,
}

/// A message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `msg_…`
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Thread.
    pub thread_id: String,
    pub status: MessageStatus,
    /// Why incomplete.
    pub incomplete_reason: Option<String>,
    /// Unix seconds.
    pub completed_at: Option<i64>,
    /// Unix seconds.
    pub incomplete_at: Option<i64>,
    pub role: Role,
    pub content: Vec<Content>,
    /// Assistant.
    pub assistant_id: Option<String>,
    /// Run.
    pub run_id: Option<String>,
    pub attachments: Vec<Attachment>,
    pub metadata: Metadata,
}

/// A message to add, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub role: Role,
    pub content: Vec<Content>,
    pub attachments: Vec<Attachment>,
    pub metadata: Metadata,
}

const DETAILS: &[&str] = &["auto", "low", "high"];

impl NewMessage {
    /// Checks the rules; `param` is the message's position (`""` or `messages[0].`).
    pub fn validate(&self, param: &str) -> ServiceResult<()> {
        if self.content.is_empty() {
            return Err(ServiceError::invalid(
                format!("{param}content"),
                format!(
                    "Invalid '{param}content': empty array. Expected an array with minimum length 1, but got an empty array instead."
                ),
            ));
        }
        for (i, part) in self.content.iter().enumerate() {
            let p = format!("{param}content[{i}]");
            match part {
                Content::Text { text } => {
                    assistd_common::tools::validate_len(&text.value, MAX_TEXT_CHARS, &format!("{p}.text"))?
                }
                Content::ImageFile { image_file } => {
                    if image_file.file_id.is_empty() {
                        return Err(ServiceError::invalid(
                            format!("{p}.image_file.file_id"),
                            "Missing required parameter: 'image_file.file_id'.",
                        ));
                    }
                    check_detail(image_file.detail.as_deref(), &format!("{p}.image_file.detail"))?;
                }
                Content::ImageUrl { image_url } => {
                    let url = image_url.url.as_str();
                    if !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with("data:image/")) {
                        return Err(ServiceError::invalid(
                            format!("{p}.image_url.url"),
                            "Invalid 'image_url.url': expected an http(s) URL or a data:image URL.",
                        ));
                    }
                    check_detail(image_url.detail.as_deref(), &format!("{p}.image_url.detail"))?;
                }
                Content::Refusal { .. } => {
                    return Err(ServiceError::invalid(
                        format!("{p}.type"),
                        "Invalid content part type 'refusal' in a request.",
                    ));
                }
            }
        }
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(ServiceError::invalid(
                format!("{param}attachments"),
                format!("Invalid '{param}attachments': at most {MAX_ATTACHMENTS} attachments."),
            ));
        }
        for (i, a) in self.attachments.iter().enumerate() {
            if a.file_id.is_empty() {
                return Err(ServiceError::invalid(
                    format!("{param}attachments[{i}].file_id"),
                    "Missing required parameter: 'file_id'.",
                ));
            }
            for (j, t) in a.tools.iter().enumerate() {
                if t != "code_interpreter" && t != "file_search" {
                    return Err(ServiceError::invalid(
                        format!("{param}attachments[{i}].tools[{j}].type"),
                        format!("Invalid value: '{t}'. Supported values are: 'code_interpreter' and 'file_search'."),
                    ));
                }
            }
        }
        metadata::validate(&format!("{param}metadata"), &self.metadata)
    }

    /// The files this message refers to, as `(param, file_id)`.
    pub fn file_refs(&self, param: &str) -> Vec<(String, String)> {
        let attached = self
            .attachments
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("{param}attachments[{i}].file_id"), a.file_id.clone()));
        self.image_refs(param).into_iter().chain(attached).collect()
    }

    /// The uploaded images this message shows, as `(param, file_id)`.
    pub fn image_refs(&self, param: &str) -> Vec<(String, String)> {
        self.content
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                Content::ImageFile { image_file } => {
                    Some((format!("{param}content[{i}].image_file.file_id"), image_file.file_id.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The stored message.
    pub fn into_message(self, id: String, thread_id: String, created_at: i64) -> Message {
        let NewMessage { role, content, attachments, metadata } = self;
        Message {
            id,
            created_at,
            thread_id,
            status: MessageStatus::Completed,
            incomplete_reason: None,
            completed_at: Some(created_at),
            incomplete_at: None,
            role,
            content,
            assistant_id: None,
            run_id: None,
            attachments,
            metadata,
        }
    }
}

fn check_detail(detail: Option<&str>, param: &str) -> ServiceResult<()> {
    match detail {
        Some(d) if !DETAILS.contains(&d) => Err(ServiceError::invalid(
            param,
            format!("Invalid value: '{d}'. Supported values are: 'auto', 'low', and 'high'."),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Content {
        Content::Text { text: Text { value: s.into(), annotations: vec![] } }
    }

    #[test]
    fn rules() {
        let m =
            NewMessage { role: Role::User, content: vec![text("hi")], attachments: vec![], metadata: Metadata::new() };
        assert!(m.validate("").is_ok());
        let empty = NewMessage { content: vec![], ..m.clone() };
        assert_eq!(empty.validate("messages[1].").unwrap_err().param.as_deref(), Some("messages[1].content"));
        let bad = NewMessage {
            attachments: vec![Attachment { file_id: "file-1".into(), tools: vec!["web".into()] }],
            ..m.clone()
        };
        assert_eq!(bad.validate("").unwrap_err().param.as_deref(), Some("attachments[0].tools[0].type"));
        let url = NewMessage {
            content: vec![Content::ImageUrl { image_url: ImageUrl { url: "ftp://x".into(), detail: None } }],
            ..m
        };
        assert!(url.validate("").is_err());
    }
}

//! Thread and message JSON.

use assistd_proto::pb;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{MetadataIn, ToolResourcesIn, double_option, metadata_from_pb, metadata_to_pb, tool_resources_out};
use crate::errors::ApiError;

/// `CreateThreadRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateThreadIn {
    /// Initial messages.
    #[serde(default)]
    pub messages: Option<Vec<MessageIn>>,
    /// Tool resources.
    #[serde(default)]
    pub tool_resources: Option<ToolResourcesIn>,
    /// Metadata.
    #[serde(default)]
    pub metadata: MetadataIn,
}

impl CreateThreadIn {
    /// To proto.
    pub fn into_pb(self) -> Result<pb::CreateThreadRequest, ApiError> {
        self.into_pb_at("")
    }

    /// To proto; `param` prefixes error params (`thread.` inside a create-thread-and-run body).
    pub fn into_pb_at(self, param: &str) -> Result<pb::CreateThreadRequest, ApiError> {
        let CreateThreadIn { messages, tool_resources, metadata } = self;
        Ok(pb::CreateThreadRequest {
            messages: messages
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, m)| m.into_pb(&format!("{param}messages[{i}].")))
                .collect::<Result<_, _>>()?,
            tool_resources: tool_resources.map(Into::into),
            metadata: Some(metadata_to_pb(metadata)),
        })
    }
}

/// `ModifyThreadRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyThreadIn {
    /// Tool resources.
    #[serde(default, deserialize_with = "double_option")]
    pub tool_resources: Option<Option<ToolResourcesIn>>,
    /// Metadata.
    #[serde(default, deserialize_with = "double_option")]
    pub metadata: Option<MetadataIn>,
}

/// `ModifyMessageRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyMessageIn {
    /// Metadata.
    #[serde(default, deserialize_with = "double_option")]
    pub metadata: Option<MetadataIn>,
}

/// `CreateMessageRequest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    /// user or assistant.
    pub role: String,
    /// A string or parts.
    pub content: ContentIn,
    /// Attachments.
    #[serde(default)]
    pub attachments: Option<Vec<AttachmentIn>>,
    /// Metadata.
    #[serde(default)]
    pub metadata: MetadataIn,
}

/// Message content as sent.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ContentIn {
    /// Plain text.
    Text(String),
    /// Parts.
    Parts(Vec<ContentPartIn>),
}

/// A content part as sent.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentPartIn {
    /// An uploaded image.
    ImageFile {
        /// The image.
        image_file: ImageIn,
    },
    /// An image URL.
    ImageUrl {
        /// The image.
        image_url: ImageUrlIn,
    },
    /// Text.
    Text {
        /// The text.
        text: String,
    },
}

/// An uploaded image as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageIn {
    /// File.
    pub file_id: String,
    /// Detail.
    pub detail: Option<String>,
}

/// An image URL as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageUrlIn {
    /// URL.
    pub url: String,
    /// Detail.
    pub detail: Option<String>,
}

/// An attachment as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    /// File.
    pub file_id: String,
    /// Tools.
    pub tools: Vec<AttachmentToolIn>,
}

/// An attachment tool as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentToolIn {
    /// code_interpreter or file_search.
    #[serde(rename = "type")]
    pub kind: String,
}

impl MessageIn {
    /// To proto; `param` prefixes error params (`messages[0].`).
    pub fn into_pb(self, param: &str) -> Result<pb::NewMessage, ApiError> {
        let MessageIn { role, content, attachments, metadata } = self;
        let role = match role.as_str() {
            "user" => pb::MessageRole::User,
            "assistant" => pb::MessageRole::Assistant,
            other => {
                return Err(ApiError::invalid(
                    format!("{param}role"),
                    format!("Invalid value: '{other}'. Supported values are: 'user' and 'assistant'."),
                )
                .with_code("invalid_value"));
            }
        };
        use pb::message_content::Part;
        let content = match content {
            ContentIn::Text(t) => {
                vec![pb::MessageContent { part: Some(Part::Text(pb::TextContent { value: t, annotations: vec![] })) }]
            }
            ContentIn::Parts(parts) => parts
                .into_iter()
                .map(|p| pb::MessageContent {
                    part: Some(match p {
                        ContentPartIn::ImageFile { image_file: ImageIn { file_id, detail } } => {
                            Part::ImageFile(pb::ImageFileContent { file_id, detail })
                        }
                        ContentPartIn::ImageUrl { image_url: ImageUrlIn { url, detail } } => {
                            Part::ImageUrl(pb::ImageUrlContent { url, detail })
                        }
                        ContentPartIn::Text { text } => {
                            Part::Text(pb::TextContent { value: text, annotations: vec![] })
                        }
                    }),
                })
                .collect(),
        };
        Ok(pb::NewMessage {
            role: role as i32,
            content,
            attachments: attachments
                .unwrap_or_default()
                .into_iter()
                .map(|a| pb::Attachment { file_id: a.file_id, tools: a.tools.into_iter().map(|t| t.kind).collect() })
                .collect(),
            metadata: Some(metadata_to_pb(metadata)),
        })
    }
}

/// `ThreadObject`.
pub fn thread_out(t: pb::Thread) -> Value {
    let pb::Thread { id, created_at, tool_resources, metadata } = t;
    json!({
        "id": id,
        "object": "thread",
        "created_at": created_at,
        "tool_resources": tool_resources_out(tool_resources),
        "metadata": metadata_from_pb(metadata),
    })
}

/// A content part as answered.
pub fn content_out(c: pb::MessageContent) -> Value {
    use pb::message_content::Part;
    match c.part {
        Some(Part::ImageFile(pb::ImageFileContent { file_id, detail })) => {
            json!({"type": "image_file", "image_file": {"file_id": file_id, "detail": detail.unwrap_or_else(|| "auto".into())}})
        }
        Some(Part::ImageUrl(pb::ImageUrlContent { url, detail })) => {
            json!({"type": "image_url", "image_url": {"url": url, "detail": detail.unwrap_or_else(|| "auto".into())}})
        }
        Some(Part::Text(pb::TextContent { value, annotations })) => json!({
            "type": "text",
            "text": {"value": value, "annotations": annotations.into_iter().map(annotation_out).collect::<Vec<_>>()},
        }),
        Some(Part::Refusal(pb::RefusalContent { refusal })) => {
            json!({"type": "refusal", "refusal": refusal})
        }
        None => json!({"type": "text", "text": {"value": "", "annotations": []}}),
    }
}

/// An annotation as answered.
pub fn annotation_out(a: pb::Annotation) -> Value {
    let pb::Annotation { text, start_index, end_index, kind } = a;
    match kind {
        Some(pb::annotation::Kind::FilePath(f)) => json!({
            "type": "file_path", "text": text, "file_path": {"file_id": f.file_id}, "start_index": start_index, "end_index": end_index,
        }),
        Some(pb::annotation::Kind::FileCitation(f)) => json!({
            "type": "file_citation", "text": text, "file_citation": {"file_id": f.file_id}, "start_index": start_index, "end_index": end_index,
        }),
        None => json!({
            "type": "file_citation", "text": text, "file_citation": {"file_id": ""}, "start_index": start_index, "end_index": end_index,
        }),
    }
}

/// `MessageObject`.
pub fn message_out(m: pb::Message) -> Value {
    let pb::Message {
        id,
        created_at,
        thread_id,
        status,
        incomplete_reason,
        completed_at,
        incomplete_at,
        role,
        content,
        assistant_id,
        run_id,
        attachments,
        metadata,
    } = m;
    let status = match pb::MessageStatus::try_from(status) {
        Ok(pb::MessageStatus::InProgress) => "in_progress",
        Ok(pb::MessageStatus::Incomplete) => "incomplete",
        _ => "completed",
    };
    let role = match pb::MessageRole::try_from(role) {
        Ok(pb::MessageRole::Assistant) => "assistant",
        _ => "user",
    };
    json!({
        "id": id,
        "object": "thread.message",
        "created_at": created_at,
        "thread_id": thread_id,
        "status": status,
        "incomplete_details": incomplete_reason.map(|r| json!({"reason": r})),
        "completed_at": completed_at,
        "incomplete_at": incomplete_at,
        "role": role,
        "content": content.into_iter().map(content_out).collect::<Vec<_>>(),
        "assistant_id": assistant_id,
        "run_id": run_id,
        "attachments": attachments.into_iter().map(|a| json!({
            "file_id": a.file_id,
            "tools": a.tools.into_iter().map(|t| json!({"type": t})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "metadata": metadata_from_pb(metadata),
    })
}

//! Thread and message JSON.

use std::collections::BTreeMap;

use assistd_common::tools::ToolResources;
use assistd_proto::pb;
use serde::{Deserialize, Serialize};

use super::common::{FileIdOut, MetadataIn, ToolResourcesOut, double_option, metadata_from_pb, metadata_to_pb};
use crate::errors::ApiError;

/// `CreateThreadRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateThreadIn {
    /// The thread's first messages.
    #[serde(default)]
    pub messages: Option<Vec<MessageIn>>,
    #[serde(default)]
    pub tool_resources: Option<ToolResources>,
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
            tool_resources: tool_resources.map(pb::ToolResources::from),
            metadata: Some(metadata_to_pb(metadata)),
        })
    }
}

/// `ModifyThreadRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyThreadIn {
    #[serde(default, deserialize_with = "double_option")]
    pub tool_resources: Option<Option<ToolResources>>,
    #[serde(default, deserialize_with = "double_option")]
    pub metadata: Option<MetadataIn>,
}

/// `ModifyMessageRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyMessageIn {
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
    #[serde(default)]
    pub attachments: Option<Vec<AttachmentIn>>,
    #[serde(default)]
    pub metadata: MetadataIn,
}

/// Message content as sent.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ContentIn {
    /// Plain text: one text part.
    Text(String),
    Parts(Vec<ContentPartIn>),
}

/// A content part as sent.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentPartIn {
    /// An uploaded image.
    ImageFile {
        image_file: ImageIn,
    },
    /// An image by URL.
    ImageUrl {
        image_url: ImageUrlIn,
    },
    Text {
        text: String,
    },
}

/// An uploaded image as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageIn {
    pub file_id: String,
    /// `auto`, `low` or `high`.
    pub detail: Option<String>,
}

/// An image URL as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageUrlIn {
    pub url: String,
    /// `auto`, `low` or `high`.
    pub detail: Option<String>,
}

/// An attachment as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    pub file_id: String,
    /// The tools the file is given to.
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadOut {
    /// `thread_…`.
    pub id: String,
    /// Always `thread`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// `{}` when none.
    pub tool_resources: ToolResourcesOut,
    /// `{}` when none.
    pub metadata: BTreeMap<String, String>,
}

impl From<pb::Thread> for ThreadOut {
    fn from(t: pb::Thread) -> Self {
        let pb::Thread { id, created_at, tool_resources, metadata } = t;
        ThreadOut {
            id,
            object: "thread",
            created_at,
            tool_resources: tool_resources.into(),
            metadata: metadata_from_pb(metadata),
        }
    }
}

/// A content part as answered (`MessageContent…Object`); an unset part reads as
/// empty text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentOut {
    ImageFile { image_file: ImageFileOut },
    ImageUrl { image_url: ImageUrlOut },
    Text { text: TextOut },
    Refusal { refusal: String },
}

/// An uploaded image as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageFileOut {
    pub file_id: String,
    /// `auto` when unset.
    pub detail: String,
}

/// An image by URL as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageUrlOut {
    pub url: String,
    /// `auto` when unset.
    pub detail: String,
}

/// Text and its annotations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextOut {
    pub value: String,
    pub annotations: Vec<AnnotationOut>,
}

impl From<pb::MessageContent> for ContentOut {
    fn from(c: pb::MessageContent) -> Self {
        use pb::message_content::Part;
        let auto = |detail: Option<String>| detail.unwrap_or_else(|| "auto".into());
        match c.part {
            Some(Part::ImageFile(pb::ImageFileContent { file_id, detail })) => {
                ContentOut::ImageFile { image_file: ImageFileOut { file_id, detail: auto(detail) } }
            }
            Some(Part::ImageUrl(pb::ImageUrlContent { url, detail })) => {
                ContentOut::ImageUrl { image_url: ImageUrlOut { url, detail: auto(detail) } }
            }
            Some(Part::Text(pb::TextContent { value, annotations })) => ContentOut::Text {
                text: TextOut { value, annotations: annotations.into_iter().map(AnnotationOut::from).collect() },
            },
            Some(Part::Refusal(pb::RefusalContent { refusal })) => ContentOut::Refusal { refusal },
            None => ContentOut::Text { text: TextOut { value: String::new(), annotations: vec![] } },
        }
    }
}

/// An annotation as answered (`MessageContentTextAnnotationsFile…Object`); one of
/// unknown kind reads as a citation of file `""`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnnotationOut {
    FilePath {
        /// The annotated span's text.
        text: String,
        file_path: FileIdOut,
        start_index: u32,
        end_index: u32,
    },
    FileCitation {
        /// The annotated span's text (the `【…】` marker).
        text: String,
        file_citation: FileIdOut,
        start_index: u32,
        end_index: u32,
    },
}

impl From<pb::Annotation> for AnnotationOut {
    fn from(a: pb::Annotation) -> Self {
        let pb::Annotation { text, start_index, end_index, kind } = a;
        match kind {
            Some(pb::annotation::Kind::FilePath(f)) => {
                AnnotationOut::FilePath { text, file_path: f.into(), start_index, end_index }
            }
            Some(pb::annotation::Kind::FileCitation(f)) => {
                AnnotationOut::FileCitation { text, file_citation: f.into(), start_index, end_index }
            }
            None => AnnotationOut::FileCitation {
                text,
                file_citation: FileIdOut { file_id: String::new() },
                start_index,
                end_index,
            },
        }
    }
}

/// A message attachment as answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachmentOut {
    pub file_id: String,
    pub tools: Vec<AttachmentToolOut>,
}

/// A tool a file is attached for: `{"type": "code_interpreter"}` or
/// `{"type": "file_search"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachmentToolOut {
    pub r#type: String,
}

impl From<pb::Attachment> for AttachmentOut {
    fn from(a: pb::Attachment) -> Self {
        let pb::Attachment { file_id, tools } = a;
        AttachmentOut { file_id, tools: tools.into_iter().map(|r#type| AttachmentToolOut { r#type }).collect() }
    }
}

/// Why a message or a run is incomplete: `{"reason": …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncompleteDetailsOut {
    pub reason: String,
}

/// `MessageObject`. Unknown statuses read as `completed`, unknown roles as `user`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageOut {
    /// `msg_…`.
    pub id: String,
    /// Always `thread.message`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub thread_id: String,
    /// `in_progress`, `incomplete` or `completed`.
    pub status: &'static str,
    /// Null unless the message is incomplete.
    pub incomplete_details: Option<IncompleteDetailsOut>,
    /// Unix seconds.
    pub completed_at: Option<i64>,
    /// Unix seconds.
    pub incomplete_at: Option<i64>,
    /// `user` or `assistant`.
    pub role: &'static str,
    pub content: Vec<ContentOut>,
    /// The assistant that wrote it; null for messages written by clients.
    pub assistant_id: Option<String>,
    /// The run that wrote it; null for messages written by clients.
    pub run_id: Option<String>,
    pub attachments: Vec<AttachmentOut>,
    /// `{}` when none.
    pub metadata: BTreeMap<String, String>,
}

impl From<pb::Message> for MessageOut {
    fn from(m: pb::Message) -> Self {
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
        MessageOut {
            id,
            object: "thread.message",
            created_at,
            thread_id,
            status,
            incomplete_details: incomplete_reason.map(|reason| IncompleteDetailsOut { reason }),
            completed_at,
            incomplete_at,
            role,
            content: content.into_iter().map(ContentOut::from).collect(),
            assistant_id,
            run_id,
            attachments: attachments.into_iter().map(AttachmentOut::from).collect(),
            metadata: metadata_from_pb(metadata),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::openai::runs::tests::assert_required;

    fn json_of<T: Serialize>(v: T) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn thread_json_shape() {
        let v = json_of(ThreadOut::from(pb::Thread { id: "thread_1".into(), created_at: 2, ..Default::default() }));
        assert_required(&v, "ThreadObject", &["id", "object", "created_at", "tool_resources", "metadata"]);
        assert_eq!(
            v,
            json!({"id": "thread_1", "object": "thread", "created_at": 2, "tool_resources": {}, "metadata": {}})
        );
    }

    #[test]
    fn message_json_shape() {
        use pb::message_content::Part;
        let v = json_of(MessageOut::from(pb::Message {
            id: "msg_1".into(),
            thread_id: "thread_1".into(),
            status: pb::MessageStatus::Incomplete as i32,
            incomplete_reason: Some("run_cancelled".into()),
            role: pb::MessageRole::Assistant as i32,
            content: vec![
                pb::MessageContent {
                    part: Some(Part::Text(pb::TextContent {
                        value: "a【0†a.txt】".into(),
                        annotations: vec![
                            pb::Annotation {
                                text: "【0†a.txt】".into(),
                                start_index: 1,
                                end_index: 10,
                                kind: Some(pb::annotation::Kind::FileCitation(pb::FileRef {
                                    file_id: "file-1".into(),
                                })),
                            },
                            pb::Annotation { text: "x".into(), start_index: 0, end_index: 1, kind: None },
                        ],
                    })),
                },
                pb::MessageContent {
                    part: Some(Part::ImageFile(pb::ImageFileContent { file_id: "file-2".into(), detail: None })),
                },
                pb::MessageContent { part: None },
            ],
            attachments: vec![pb::Attachment { file_id: "file-3".into(), tools: vec!["file_search".into()] }],
            ..Default::default()
        }));
        assert_required(
            &v,
            "MessageObject",
            &[
                "id",
                "object",
                "created_at",
                "thread_id",
                "status",
                "incomplete_details",
                "completed_at",
                "incomplete_at",
                "role",
                "content",
                "assistant_id",
                "run_id",
                "attachments",
                "metadata",
            ],
        );
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"], json!({"reason": "run_cancelled"}));
        assert_eq!(v["role"], "assistant");
        assert_eq!((&v["completed_at"], &v["assistant_id"]), (&Value::Null, &Value::Null));
        assert_eq!(
            v["content"],
            json!([
                {"type": "text", "text": {"value": "a【0†a.txt】", "annotations": [
                    {"type": "file_citation", "text": "【0†a.txt】", "file_citation": {"file_id": "file-1"}, "start_index": 1, "end_index": 10},
                    {"type": "file_citation", "text": "x", "file_citation": {"file_id": ""}, "start_index": 0, "end_index": 1},
                ]}},
                {"type": "image_file", "image_file": {"file_id": "file-2", "detail": "auto"}},
                {"type": "text", "text": {"value": "", "annotations": []}},
            ])
        );
        assert_eq!(v["attachments"], json!([{"file_id": "file-3", "tools": [{"type": "file_search"}]}]));
    }
}

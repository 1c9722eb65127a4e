//! Proto ⇄ domain conversions of the threads service.

use assistd_common::{FieldViolationExt, ServiceError, ServiceResult};
use assistd_proto::pb;

use crate::domain::{
    Annotation, Attachment, Content, ImageFile, ImageUrl, Message, MessageStatus, NewMessage, Role, Text, Thread,
};

impl From<Thread> for pb::Thread {
    fn from(t: Thread) -> Self {
        let Thread { id, created_at, tool_resources, metadata } = t;
        pb::Thread {
            id,
            created_at,
            tool_resources: tool_resources.map(Into::into),
            metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }),
        }
    }
}

/// Proto tool resources of a thread.
pub fn thread_tool_resources(
    res: Option<pb::ToolResources>,
) -> ServiceResult<Option<assistd_common::tools::ToolResources>> {
    Ok(res.map(assistd_common::tools::ToolResources::try_from).transpose().scope("tool_resources")?)
}

fn role_from_pb(role: i32, param: &str) -> ServiceResult<Role> {
    match pb::MessageRole::try_from(role) {
        Ok(pb::MessageRole::User) => Ok(Role::User),
        Ok(pb::MessageRole::Assistant) => Ok(Role::Assistant),
        _ => Err(ServiceError::invalid(param, "Invalid value for 'role': expected 'user' or 'assistant'.")),
    }
}

fn content_from_pb(c: pb::MessageContent, param: &str) -> ServiceResult<Content> {
    use pb::message_content::Part;
    let pb::MessageContent { part } = c;
    Ok(match part {
        None => {
            return Err(ServiceError::invalid(
                format!("{param}.type"),
                format!("Missing required parameter: '{param}.type'."),
            ));
        }
        Some(Part::ImageFile(pb::ImageFileContent { file_id, detail })) => {
            Content::ImageFile { image_file: ImageFile { file_id, detail } }
        }
        Some(Part::ImageUrl(pb::ImageUrlContent { url, detail })) => {
            Content::ImageUrl { image_url: ImageUrl { url, detail } }
        }
        // Clients cannot annotate (annotations are written by runs, through
        // `run_content_from_pb`).
        Some(Part::Text(pb::TextContent { value, annotations: _ })) => {
            Content::Text { text: Text { value, annotations: vec![] } }
        }
        Some(Part::Refusal(pb::RefusalContent { refusal })) => Content::Refusal { refusal },
    })
}

/// A proto new message (its rules are checked by the operation that takes it);
/// `param` is its position prefix (`""` or `messages[0].`).
pub fn new_message_from_pb(m: pb::NewMessage, param: &str) -> ServiceResult<NewMessage> {
    let pb::NewMessage { role, content, attachments, metadata } = m;
    Ok(NewMessage {
        role: role_from_pb(role, &format!("{param}role"))?,
        content: content
            .into_iter()
            .enumerate()
            .map(|(i, c)| content_from_pb(c, &format!("{param}content[{i}]")))
            .collect::<ServiceResult<_>>()?,
        attachments: attachments
            .into_iter()
            .map(|pb::Attachment { file_id, tools }| Attachment { file_id, tools })
            .collect(),
        metadata: metadata.map(|m| m.entries.into_iter().collect()).unwrap_or_default(),
    })
}

fn content_to_pb(c: Content) -> pb::MessageContent {
    use pb::message_content::Part;
    let part = match c {
        Content::ImageFile { image_file: ImageFile { file_id, detail } } => {
            Part::ImageFile(pb::ImageFileContent { file_id, detail })
        }
        Content::ImageUrl { image_url: ImageUrl { url, detail } } => {
            Part::ImageUrl(pb::ImageUrlContent { url, detail })
        }
        Content::Text { text: Text { value, annotations } } => Part::Text(pb::TextContent {
            value,
            annotations: annotations
                .into_iter()
                .map(|Annotation { text, start_index, end_index, kind, file_id }| pb::Annotation {
                    text,
                    start_index,
                    end_index,
                    kind: Some(if kind == "file_path" {
                        pb::annotation::Kind::FilePath(pb::FileRef { file_id })
                    } else {
                        pb::annotation::Kind::FileCitation(pb::FileRef { file_id })
                    }),
                })
                .collect(),
        }),
        Content::Refusal { refusal } => Part::Refusal(pb::RefusalContent { refusal }),
    };
    pb::MessageContent { part: Some(part) }
}

impl From<Message> for pb::Message {
    fn from(m: Message) -> Self {
        let Message {
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
        pb::Message {
            id,
            created_at,
            thread_id,
            status: match status {
                MessageStatus::InProgress => pb::MessageStatus::InProgress,
                MessageStatus::Incomplete => pb::MessageStatus::Incomplete,
                MessageStatus::Completed => pb::MessageStatus::Completed,
            } as i32,
            incomplete_reason,
            completed_at,
            incomplete_at,
            role: match role {
                Role::User => pb::MessageRole::User,
                Role::Assistant => pb::MessageRole::Assistant,
            } as i32,
            content: content.into_iter().map(content_to_pb).collect(),
            assistant_id,
            run_id,
            attachments: attachments
                .into_iter()
                .map(|Attachment { file_id, tools }| pb::Attachment { file_id, tools })
                .collect(),
            metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }),
        }
    }
}

/// The content a run wrote, annotations included.
pub fn run_content_from_pb(c: pb::MessageContent) -> ServiceResult<Content> {
    use pb::message_content::Part;
    match c.part {
        Some(Part::Text(pb::TextContent { value, annotations })) => Ok(Content::Text {
            text: Text {
                value,
                annotations: annotations
                    .into_iter()
                    .map(|pb::Annotation { text, start_index, end_index, kind }| {
                        let (kind, file_id) = match kind {
                            Some(pb::annotation::Kind::FilePath(f)) => ("file_path", f.file_id),
                            Some(pb::annotation::Kind::FileCitation(f)) => ("file_citation", f.file_id),
                            None => ("file_citation", String::new()),
                        };
                        Annotation { text, start_index, end_index, kind: kind.to_owned(), file_id }
                    })
                    .collect(),
            },
        }),
        Some(Part::Refusal(pb::RefusalContent { refusal })) => Ok(Content::Refusal { refusal }),
        other => content_from_pb(pb::MessageContent { part: other }, "content"),
    }
}

/// A message status from the proto.
pub fn status_from_pb(status: i32) -> ServiceResult<MessageStatus> {
    match pb::MessageStatus::try_from(status) {
        Ok(pb::MessageStatus::InProgress) => Ok(MessageStatus::InProgress),
        Ok(pb::MessageStatus::Incomplete) => Ok(MessageStatus::Incomplete),
        Ok(pb::MessageStatus::Completed) => Ok(MessageStatus::Completed),
        _ => Err(ServiceError::invalid("status", "Invalid message status.")),
    }
}

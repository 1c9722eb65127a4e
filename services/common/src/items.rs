//! Items: the units of a Responses API input and output and of a conversation, shared
//! by the responses and conversations services (and the gateway, which reads request
//! JSON straight into them). Their serde form is OpenAI's: `Serialize` writes the
//! item as the API answers it; `Deserialize` also takes the shorthand inputs OpenAI
//! accepts (a message without `type`, `content` as a string), so the same type reads
//! a request, a stored row and an item echoed back from an earlier output.

use assistd_proto::pb;
use serde::{Deserialize, Serialize};

use crate::error::{FieldViolation, FieldViolationExt, PARAM};
use crate::json::{map_to_struct, struct_to_map};

/// Longest text of one content part or output, in characters.
pub const MAX_TEXT_CHARS: usize = 10 * 1024 * 1024;
/// Most items a client adds in one request.
pub const MAX_ITEMS_PER_REQUEST: usize = 20;
/// The `include` values assistd knows (OpenAI's `IncludeEnum`).
pub const INCLUDABLE: [&str; 8] = [
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
];

/// One item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    Message(Message),
    FunctionCall(FunctionCall),
    FunctionCallOutput(FunctionCallOutput),
    FileSearchCall(FileSearchCall),
    CodeInterpreterCall(CodeInterpreterCall),
    /// Input only: an item kept earlier, by id.
    ItemReference(ItemReference),
    /// A compacted context (`POST /v1/responses/compact`).
    Compaction(Compaction),
}

/// A compacted context.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compaction {
    /// `cmp_…`; empty in an input that gives none.
    #[serde(default)]
    pub id: String,
    /// Opaque to clients.
    pub encrypted_content: String,
    /// Accepted and dropped.
    #[serde(default, skip_serializing)]
    pub created_by: Option<String>,
}

/// The prefix of a compaction's content as assistd writes it.
const COMPACTION_PREFIX: &str = "assistd-compaction-v1:";

impl Compaction {
    /// A compaction holding `summary`.
    pub fn of_summary(id: String, summary: &str) -> Self {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(summary.as_bytes());
        Self { id, encrypted_content: format!("{COMPACTION_PREFIX}{body}"), created_by: None }
    }

    /// The summary it holds; `None` when assistd did not write it.
    pub fn summary(&self) -> Option<String> {
        use base64::Engine;
        let body = self.encrypted_content.strip_prefix(COMPACTION_PREFIX)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
        String::from_utf8(bytes).ok()
    }
}

/// The wire form `Item` reads through once the shorthands are expanded.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Tagged {
    Message(Message),
    FunctionCall(FunctionCall),
    FunctionCallOutput(FunctionCallOutput),
    FileSearchCall(FileSearchCall),
    CodeInterpreterCall(CodeInterpreterCall),
    ItemReference(ItemReference),
    Compaction(Compaction),
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut v = serde_json::Value::deserialize(d)?;
        let Some(obj) = v.as_object_mut() else {
            return Err(D::Error::custom("expected an object (an item)"));
        };
        match obj.get("type") {
            None | Some(serde_json::Value::Null) => {
                // `{"role", "content"}` is a message; `{"id"}` alone a reference.
                let kind = if obj.contains_key("role") { "message" } else { "item_reference" };
                obj.insert("type".into(), kind.into());
            }
            Some(serde_json::Value::String(_)) => {}
            Some(_) => return Err(D::Error::custom("'type' must be a string")),
        }
        if obj.get("type").and_then(|t| t.as_str()) == Some("message")
            && let Some(serde_json::Value::String(text)) = obj.get("content")
        {
            let part = if obj.get("role").and_then(|r| r.as_str()) == Some("assistant") {
                serde_json::json!({"type": "output_text", "text": text, "annotations": []})
            } else {
                serde_json::json!({"type": "input_text", "text": text})
            };
            obj.insert("content".into(), serde_json::Value::Array(vec![part]));
        }
        Ok(match Tagged::deserialize(v).map_err(D::Error::custom)? {
            Tagged::Message(m) => Item::Message(m),
            Tagged::FunctionCall(c) => Item::FunctionCall(c),
            Tagged::FunctionCallOutput(o) => Item::FunctionCallOutput(o),
            Tagged::FileSearchCall(c) => Item::FileSearchCall(c),
            Tagged::CodeInterpreterCall(c) => Item::CodeInterpreterCall(c),
            Tagged::ItemReference(r) => Item::ItemReference(r),
            Tagged::Compaction(c) => Item::Compaction(c),
        })
    }
}

/// A message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// `msg_…`; empty in an input that gives none.
    #[serde(default)]
    pub id: String,
    /// `in_progress`, `completed`, `incomplete`; empty when not given.
    #[serde(default)]
    pub status: String,
    /// `user`, `system`, `developer`, `assistant`.
    pub role: String,
    pub content: Vec<ContentPart>,
    /// Accepted and dropped (OpenAI's `phase` of assistant messages).
    #[serde(default, skip_serializing)]
    pub phase: Option<serde_json::Value>,
}

/// A part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentPart {
    InputText {
        text: String,
    },
    InputImage {
        #[serde(default)]
        image_url: Option<String>,
        #[serde(default)]
        file_id: Option<String>,
        #[serde(default = "auto")]
        detail: String,
    },
    InputFile {
        #[serde(default)]
        file_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_data: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_url: Option<String>,
    },
    OutputText {
        text: String,
        #[serde(default)]
        annotations: Vec<Annotation>,
        /// Always `[]` (assistd returns no logprobs).
        #[serde(default)]
        logprobs: Vec<serde_json::Value>,
    },
    Refusal {
        refusal: String,
    },
}

fn auto() -> String {
    "auto".into()
}

/// An annotation of output text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Annotation {
    FileCitation { file_id: String, filename: String, index: u32 },
    ContainerFileCitation { container_id: String, file_id: String, filename: String, start_index: u32, end_index: u32 },
    UrlCitation { url: String, title: String, start_index: u32, end_index: u32 },
    FilePath { file_id: String, index: u32 },
}

/// A function call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionCall {
    /// `fc_…`; empty in an input that gives none.
    #[serde(default)]
    pub id: String,
    pub call_id: String,
    pub name: String,
    pub arguments: String,
    #[serde(default)]
    pub status: String,
}

/// A function call's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionCallOutput {
    /// `fco_…`; empty in an input that gives none.
    #[serde(default)]
    pub id: String,
    pub call_id: String,
    pub output: FunctionOutput,
    #[serde(default)]
    pub status: String,
}

/// Text or content parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FunctionOutput {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// A file_search call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSearchCall {
    #[serde(default)]
    pub id: String,
    pub status: String,
    pub queries: Vec<String>,
    /// Null unless asked for with `include=file_search_call.results`.
    #[serde(default)]
    pub results: Option<Vec<FileSearchResult>>,
}

/// One file_search result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSearchResult {
    pub file_id: String,
    pub filename: String,
    pub score: f64,
    pub text: String,
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// A code_interpreter call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeInterpreterCall {
    #[serde(default)]
    pub id: String,
    pub status: String,
    pub container_id: String,
    pub code: Option<String>,
    /// Null unless asked for with `include=code_interpreter_call.outputs`.
    #[serde(default)]
    pub outputs: Option<Vec<CodeOutput>>,
}

/// One output of code_interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CodeOutput {
    Logs { logs: String },
    Image { url: String },
}

/// A reference to an item kept earlier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemReference {
    pub id: String,
}

impl Item {
    /// The item's id (empty when it has none yet).
    pub fn id(&self) -> &str {
        match self {
            Item::Message(m) => &m.id,
            Item::FunctionCall(c) => &c.id,
            Item::FunctionCallOutput(o) => &o.id,
            Item::FileSearchCall(c) => &c.id,
            Item::CodeInterpreterCall(c) => &c.id,
            Item::ItemReference(r) => &r.id,
            Item::Compaction(c) => &c.id,
        }
    }

    /// OpenAI's name of the item's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Message(_) => "message",
            Item::FunctionCall(_) => "function_call",
            Item::FunctionCallOutput(_) => "function_call_output",
            Item::FileSearchCall(_) => "file_search_call",
            Item::CodeInterpreterCall(_) => "code_interpreter_call",
            Item::ItemReference(_) => "item_reference",
            Item::Compaction(_) => "compaction",
        }
    }

    /// Gives the item a new id of its kind and, where none was given, the status
    /// `completed`: how an input item is kept.
    pub fn assign_id(&mut self) {
        self.set_id(false)
    }

    /// As [`assign_id`](Self::assign_id), but keeps an id the item has when it has
    /// the prefix of its kind (an item copied from an earlier output keeps its id).
    pub fn ensure_id(&mut self) {
        self.set_id(true)
    }

    fn set_id(&mut self, keep: bool) {
        use crate::ids;
        let prefix = match self {
            Item::Message(_) => ids::MessageId::PREFIX,
            Item::FunctionCall(_) => ids::FunctionCallItemId::PREFIX,
            Item::FunctionCallOutput(_) => ids::FunctionCallOutputId::PREFIX,
            Item::FileSearchCall(_) => ids::FileSearchCallId::PREFIX,
            Item::CodeInterpreterCall(_) => ids::CodeInterpreterCallId::PREFIX,
            Item::Compaction(_) => ids::CompactionId::PREFIX,
            Item::ItemReference(_) => return,
        };
        let keep = keep && self.id().len() > prefix.len() && self.id().starts_with(prefix) && self.id().len() <= 128;
        let fresh = match self {
            Item::Message(_) => ids::MessageId::generate().into_string(),
            Item::FunctionCall(_) => ids::FunctionCallItemId::generate().into_string(),
            Item::FunctionCallOutput(_) => ids::FunctionCallOutputId::generate().into_string(),
            Item::FileSearchCall(_) => ids::FileSearchCallId::generate().into_string(),
            Item::CodeInterpreterCall(_) => ids::CodeInterpreterCallId::generate().into_string(),
            Item::Compaction(_) => ids::CompactionId::generate().into_string(),
            Item::ItemReference(_) => return,
        };
        if let Item::Compaction(c) = self {
            if !keep {
                c.id = fresh;
            }
            return;
        }
        let (id, status) = match self {
            Item::Message(m) => (&mut m.id, &mut m.status),
            Item::FunctionCall(c) => (&mut c.id, &mut c.status),
            Item::FunctionCallOutput(o) => (&mut o.id, &mut o.status),
            Item::FileSearchCall(c) => (&mut c.id, &mut c.status),
            Item::CodeInterpreterCall(c) => (&mut c.id, &mut c.status),
            Item::ItemReference(_) | Item::Compaction(_) => return,
        };
        if !keep {
            *id = fresh;
        }
        if status.is_empty() {
            *status = "completed".into();
        }
    }

    /// The item as shown to a caller who asked for `include`: tool results and
    /// outputs are null unless asked for.
    pub fn shown(mut self, include: &[String]) -> Self {
        let has = |what: &str| include.iter().any(|i| i == what);
        match &mut self {
            Item::FileSearchCall(c) if !has("file_search_call.results") => c.results = None,
            Item::CodeInterpreterCall(c) if !has("code_interpreter_call.outputs") => c.outputs = None,
            _ => {}
        }
        self
    }
}

/// Checks `include` values: each one OpenAI defines.
pub fn validate_include(include: &[String]) -> Result<(), FieldViolation> {
    for (i, v) in include.iter().enumerate() {
        if !INCLUDABLE.contains(&v.as_str()) {
            return Err(FieldViolation::invalid(
                format!("include[{i}]"),
                format!(
                    "Invalid value: '{v}'. Supported values are: {}.",
                    INCLUDABLE.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
                ),
            )
            .with_code("invalid_value"));
        }
    }
    Ok(())
}

fn check_text(text: &str, field: &str) -> Result<(), FieldViolation> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldViolation::invalid(
            field,
            format!("Invalid '{PARAM}': string too long. Expected a string with maximum length {MAX_TEXT_CHARS}."),
        )
        .with_code("string_above_max_length"));
    }
    Ok(())
}

fn nonempty(v: &str, field: &str) -> Result<(), FieldViolation> {
    if v.is_empty() { Err(FieldViolation::missing(field)) } else { Ok(()) }
}

fn check_status(status: &str, allowed: &[&str]) -> Result<(), FieldViolation> {
    if status.is_empty() || allowed.contains(&status) {
        Ok(())
    } else {
        Err(FieldViolation::invalid(
            "status",
            format!("Invalid value: '{status}'. Supported values are: {}.", allowed.join(", ")),
        ))
    }
}

const STATUSES: [&str; 3] = ["in_progress", "completed", "incomplete"];

impl ContentPart {
    fn validate(&self, role: &str) -> Result<(), FieldViolation> {
        let output = matches!(self, ContentPart::OutputText { .. } | ContentPart::Refusal { .. });
        match (role, output) {
            ("assistant", false) if !matches!(self, ContentPart::InputText { .. }) => {
                return Err(FieldViolation::invalid(
                    "type",
                    "Invalid value: an assistant message holds output_text or refusal parts.",
                ));
            }
            ("user" | "system" | "developer", true) => {
                return Err(FieldViolation::invalid(
                    "type",
                    format!("Invalid value: a {role} message holds input_text, input_image or input_file parts."),
                ));
            }
            _ => {}
        }
        match self {
            ContentPart::InputText { text } => check_text(text, "text"),
            ContentPart::OutputText { text, .. } => check_text(text, "text"),
            ContentPart::Refusal { refusal } => check_text(refusal, "refusal"),
            ContentPart::InputImage { image_url, file_id, detail } => {
                if image_url.is_some() == file_id.is_some() {
                    return Err(FieldViolation::invalid(
                        "image_url",
                        "Invalid input_image: give exactly one of 'image_url' and 'file_id'.",
                    ));
                }
                if !["low", "high", "auto"].contains(&detail.as_str()) {
                    return Err(FieldViolation::invalid(
                        "detail",
                        format!("Invalid value: '{detail}'. Supported values are: 'low', 'high' and 'auto'."),
                    ));
                }
                Ok(())
            }
            ContentPart::InputFile { file_id, file_data, file_url, .. } => {
                if file_id.is_none() && file_data.is_none() && file_url.is_none() {
                    return Err(FieldViolation::invalid(
                        "file_id",
                        "Invalid input_file: give one of 'file_id', 'file_data' and 'file_url'.",
                    ));
                }
                Ok(())
            }
        }
    }
}

impl Item {
    /// Checks the rules of an item a client gives.
    pub fn validate(&self) -> Result<(), FieldViolation> {
        match self {
            Item::Message(m) => {
                if !["user", "system", "developer", "assistant"].contains(&m.role.as_str()) {
                    return Err(FieldViolation::invalid(
                        "role",
                        format!(
                            "Invalid value: '{}'. Supported values are: 'user', 'system', 'developer' and 'assistant'.",
                            m.role
                        ),
                    ));
                }
                check_status(&m.status, &STATUSES)?;
                for (i, p) in m.content.iter().enumerate() {
                    p.validate(&m.role).scope(&format!("content[{i}]"))?;
                }
                Ok(())
            }
            Item::FunctionCall(c) => {
                nonempty(&c.call_id, "call_id")?;
                nonempty(&c.name, "name")?;
                check_text(&c.arguments, "arguments")?;
                check_status(&c.status, &STATUSES)
            }
            Item::FunctionCallOutput(o) => {
                nonempty(&o.call_id, "call_id")?;
                match &o.output {
                    FunctionOutput::Text(t) => check_text(t, "output")?,
                    FunctionOutput::Parts(parts) => {
                        for (i, p) in parts.iter().enumerate() {
                            p.validate("user").scope(&format!("output[{i}]"))?;
                        }
                    }
                }
                check_status(&o.status, &STATUSES)
            }
            Item::FileSearchCall(c) => {
                check_status(&c.status, &["in_progress", "searching", "completed", "incomplete", "failed"])
            }
            Item::CodeInterpreterCall(c) => {
                check_status(&c.status, &["in_progress", "completed", "incomplete", "interpreting", "failed"])
            }
            Item::ItemReference(r) => nonempty(&r.id, "id"),
            Item::Compaction(c) => {
                if c.encrypted_content.len() > 20 * 1024 * 1024 {
                    return Err(FieldViolation::invalid("encrypted_content", "Invalid 'encrypted_content': too long."));
                }
                Ok(())
            }
        }
    }
}

/// Items from the proto, checked; `field` names the list in errors (`items`, `input`).
pub fn items_from_pb(items: Vec<pb::Item>, field: &str) -> Result<Vec<Item>, FieldViolation> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, it)| Item::try_from(it).and_then(|it| it.validate().map(|()| it)).scope(&format!("{field}[{i}]")))
        .collect()
}

// ---- proto conversions ----

impl From<Item> for pb::Item {
    fn from(item: Item) -> Self {
        use pb::item::Item as K;
        match item {
            Item::Message(Message { id, status, role, content, phase: _ }) => pb::Item {
                id,
                item: Some(K::Message(pb::MessageItem {
                    role,
                    status,
                    content: content.into_iter().map(Into::into).collect(),
                })),
            },
            Item::FunctionCall(FunctionCall { id, call_id, name, arguments, status }) => {
                pb::Item { id, item: Some(K::FunctionCall(pb::FunctionCallItem { call_id, name, arguments, status })) }
            }
            Item::FunctionCallOutput(FunctionCallOutput { id, call_id, output, status }) => {
                let output = Some(match output {
                    FunctionOutput::Text(t) => pb::function_call_output_item::Output::Text(t),
                    FunctionOutput::Parts(p) => pb::function_call_output_item::Output::Parts(pb::FunctionOutputParts {
                        parts: p.into_iter().map(Into::into).collect(),
                    }),
                });
                pb::Item {
                    id,
                    item: Some(K::FunctionCallOutput(pb::FunctionCallOutputItem { call_id, output, status })),
                }
            }
            Item::FileSearchCall(FileSearchCall { id, status, queries, results }) => pb::Item {
                id,
                item: Some(K::FileSearchCall(pb::FileSearchCallItem {
                    status,
                    queries,
                    has_results: results.is_some(),
                    results: results.unwrap_or_default().into_iter().map(Into::into).collect(),
                })),
            },
            Item::CodeInterpreterCall(CodeInterpreterCall { id, status, container_id, code, outputs }) => pb::Item {
                id,
                item: Some(K::CodeInterpreterCall(pb::CodeInterpreterCallItem {
                    status,
                    container_id,
                    code,
                    has_outputs: outputs.is_some(),
                    outputs: outputs.unwrap_or_default().into_iter().map(Into::into).collect(),
                })),
            },
            Item::ItemReference(ItemReference { id }) => {
                pb::Item { id, item: Some(K::ItemReference(pb::ItemReference {})) }
            }
            Item::Compaction(Compaction { id, encrypted_content, created_by: _ }) => {
                pb::Item { id, item: Some(K::Compaction(pb::CompactionItem { encrypted_content })) }
            }
        }
    }
}

impl TryFrom<pb::Item> for Item {
    type Error = FieldViolation;

    fn try_from(item: pb::Item) -> Result<Self, FieldViolation> {
        use pb::item::Item as K;
        let pb::Item { id, item } = item;
        Ok(match item.ok_or_else(|| FieldViolation::missing("type"))? {
            K::Message(pb::MessageItem { role, status, content }) => Item::Message(Message {
                id,
                status,
                role,
                content: content
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| ContentPart::try_from(p).scope(&format!("content[{i}]")))
                    .collect::<Result<_, _>>()?,
                phase: None,
            }),
            K::FunctionCall(pb::FunctionCallItem { call_id, name, arguments, status }) => {
                Item::FunctionCall(FunctionCall { id, call_id, name, arguments, status })
            }
            K::FunctionCallOutput(pb::FunctionCallOutputItem { call_id, output, status }) => {
                let output = match output.ok_or_else(|| FieldViolation::missing("output"))? {
                    pb::function_call_output_item::Output::Text(t) => FunctionOutput::Text(t),
                    pb::function_call_output_item::Output::Parts(p) => FunctionOutput::Parts(
                        p.parts
                            .into_iter()
                            .enumerate()
                            .map(|(i, p)| ContentPart::try_from(p).scope(&format!("output[{i}]")))
                            .collect::<Result<_, _>>()?,
                    ),
                };
                Item::FunctionCallOutput(FunctionCallOutput { id, call_id, output, status })
            }
            K::FileSearchCall(pb::FileSearchCallItem { status, queries, results, has_results }) => {
                Item::FileSearchCall(FileSearchCall {
                    id,
                    status,
                    queries,
                    results: has_results.then(|| results.into_iter().map(Into::into).collect()),
                })
            }
            K::CodeInterpreterCall(pb::CodeInterpreterCallItem {
                status,
                container_id,
                code,
                outputs,
                has_outputs,
            }) => Item::CodeInterpreterCall(CodeInterpreterCall {
                id,
                status,
                container_id,
                code,
                outputs: has_outputs
                    .then(|| outputs.into_iter().map(CodeOutput::try_from).collect::<Result<_, _>>())
                    .transpose()
                    .scope("outputs")?,
            }),
            K::ItemReference(pb::ItemReference {}) => Item::ItemReference(ItemReference { id }),
            K::Compaction(pb::CompactionItem { encrypted_content }) => {
                Item::Compaction(Compaction { id, encrypted_content, created_by: None })
            }
        })
    }
}

impl From<ContentPart> for pb::ContentPart {
    fn from(p: ContentPart) -> Self {
        use pb::content_part::Part;
        let part = match p {
            ContentPart::InputText { text } => Part::InputText(pb::InputText { text }),
            ContentPart::InputImage { image_url, file_id, detail } => {
                Part::InputImage(pb::InputImage { image_url, file_id, detail })
            }
            ContentPart::InputFile { file_id, filename, file_data, file_url } => {
                Part::InputFile(pb::InputFile { file_id, filename, file_data, file_url })
            }
            ContentPart::OutputText { text, annotations, logprobs: _ } => Part::OutputText(pb::OutputText {
                text,
                annotations: annotations.into_iter().map(Into::into).collect(),
            }),
            ContentPart::Refusal { refusal } => Part::Refusal(pb::Refusal { refusal }),
        };
        pb::ContentPart { part: Some(part) }
    }
}

impl TryFrom<pb::ContentPart> for ContentPart {
    type Error = FieldViolation;

    fn try_from(p: pb::ContentPart) -> Result<Self, FieldViolation> {
        use pb::content_part::Part;
        Ok(match p.part.ok_or_else(|| FieldViolation::missing("type"))? {
            Part::InputText(pb::InputText { text }) => ContentPart::InputText { text },
            Part::InputImage(pb::InputImage { image_url, file_id, detail }) => {
                ContentPart::InputImage { image_url, file_id, detail: if detail.is_empty() { auto() } else { detail } }
            }
            Part::InputFile(pb::InputFile { file_id, filename, file_data, file_url }) => {
                ContentPart::InputFile { file_id, filename, file_data, file_url }
            }
            Part::OutputText(pb::OutputText { text, annotations }) => ContentPart::OutputText {
                text,
                annotations: annotations
                    .into_iter()
                    .enumerate()
                    .map(|(i, a)| Annotation::try_from(a).scope(&format!("annotations[{i}]")))
                    .collect::<Result<_, _>>()?,
                logprobs: vec![],
            },
            Part::Refusal(pb::Refusal { refusal }) => ContentPart::Refusal { refusal },
        })
    }
}

impl From<Annotation> for pb::ItemAnnotation {
    fn from(a: Annotation) -> Self {
        use pb::item_annotation::Annotation as A;
        let a = match a {
            Annotation::FileCitation { file_id, filename, index } => {
                A::FileCitation(pb::ItemFileCitation { file_id, filename, index })
            }
            Annotation::ContainerFileCitation { container_id, file_id, filename, start_index, end_index } => {
                A::ContainerFileCitation(pb::ContainerFileCitation {
                    container_id,
                    file_id,
                    filename,
                    start_index,
                    end_index,
                })
            }
            Annotation::UrlCitation { url, title, start_index, end_index } => {
                A::UrlCitation(pb::UrlCitation { url, title, start_index, end_index })
            }
            Annotation::FilePath { file_id, index } => A::FilePath(pb::ItemFilePath { file_id, index }),
        };
        pb::ItemAnnotation { annotation: Some(a) }
    }
}

impl TryFrom<pb::ItemAnnotation> for Annotation {
    type Error = FieldViolation;

    fn try_from(a: pb::ItemAnnotation) -> Result<Self, FieldViolation> {
        use pb::item_annotation::Annotation as A;
        Ok(match a.annotation.ok_or_else(|| FieldViolation::missing("type"))? {
            A::FileCitation(pb::ItemFileCitation { file_id, filename, index }) => {
                Annotation::FileCitation { file_id, filename, index }
            }
            A::ContainerFileCitation(pb::ContainerFileCitation {
                container_id,
                file_id,
                filename,
                start_index,
                end_index,
            }) => Annotation::ContainerFileCitation { container_id, file_id, filename, start_index, end_index },
            A::UrlCitation(pb::UrlCitation { url, title, start_index, end_index }) => {
                Annotation::UrlCitation { url, title, start_index, end_index }
            }
            A::FilePath(pb::ItemFilePath { file_id, index }) => Annotation::FilePath { file_id, index },
        })
    }
}

impl From<FileSearchResult> for pb::FileSearchCallResult {
    fn from(r: FileSearchResult) -> Self {
        let FileSearchResult { file_id, filename, score, text, attributes } = r;
        pb::FileSearchCallResult { file_id, filename, score, text, attributes: Some(map_to_struct(&attributes)) }
    }
}

impl From<pb::FileSearchCallResult> for FileSearchResult {
    fn from(r: pb::FileSearchCallResult) -> Self {
        let pb::FileSearchCallResult { file_id, filename, score, text, attributes } = r;
        FileSearchResult {
            file_id,
            filename,
            score,
            text,
            attributes: attributes.as_ref().map(struct_to_map).unwrap_or_default(),
        }
    }
}

impl From<CodeOutput> for pb::CodeInterpreterCallOutput {
    fn from(o: CodeOutput) -> Self {
        use pb::code_interpreter_call_output::Output;
        pb::CodeInterpreterCallOutput {
            output: Some(match o {
                CodeOutput::Logs { logs } => Output::Logs(logs),
                CodeOutput::Image { url } => Output::ImageUrl(url),
            }),
        }
    }
}

impl TryFrom<pb::CodeInterpreterCallOutput> for CodeOutput {
    type Error = FieldViolation;

    fn try_from(o: pb::CodeInterpreterCallOutput) -> Result<Self, FieldViolation> {
        use pb::code_interpreter_call_output::Output;
        Ok(match o.output.ok_or_else(|| FieldViolation::missing("type"))? {
            Output::Logs(logs) => CodeOutput::Logs { logs },
            Output::ImageUrl(url) => CodeOutput::Image { url },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Item {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn shorthands_expand() {
        let m = parse(serde_json::json!({"role": "user", "content": "hi"}));
        let Item::Message(m) = &m else { panic!("{m:?}") };
        assert_eq!(m.content, vec![ContentPart::InputText { text: "hi".into() }]);
        let a = parse(serde_json::json!({"type": "message", "role": "assistant", "content": "ok"}));
        let Item::Message(a) = &a else { panic!() };
        assert!(matches!(&a.content[0], ContentPart::OutputText { text, .. } if text == "ok"));
        assert_eq!(
            parse(serde_json::json!({"id": "msg_1"})),
            Item::ItemReference(ItemReference { id: "msg_1".into() })
        );
        let bad = serde_json::from_value::<Item>(
            serde_json::json!({"type": "message", "role": "user", "content": [], "x": 1}),
        );
        assert!(bad.is_err());
        assert!(serde_json::from_value::<Item>(serde_json::json!({"type": "web_search_call"})).is_err());
    }

    #[test]
    fn round_trips_through_proto_and_json() {
        let items = vec![
            parse(serde_json::json!({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "see 【0:1†a.txt】", "annotations": [
                    {"type": "file_citation", "file_id": "file-1", "filename": "a.txt", "index": 4}], "logprobs": []}]})),
            parse(serde_json::json!({"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"})),
            parse(serde_json::json!({"type": "function_call_output", "call_id": "call_1", "output": "42"})),
            parse(
                serde_json::json!({"type": "file_search_call", "id": "fs_1", "status": "completed", "queries": ["q"],
                "results": [{"file_id": "file-1", "filename": "a.txt", "score": 0.5, "text": "t", "attributes": {"k": 1}}]}),
            ),
            parse(serde_json::json!({"type": "code_interpreter_call", "id": "ci_1", "status": "completed",
                "container_id": "cntr_1", "code": "print(1)", "outputs": [{"type": "logs", "logs": "1\n"}]})),
            parse(serde_json::json!({"role": "user", "content": [{"type": "input_image", "file_id": "file-2"}]})),
        ];
        for it in items {
            it.validate().unwrap();
            let back = Item::try_from(pb::Item::from(it.clone())).unwrap();
            assert_eq!(back, it);
            let json = serde_json::to_value(&it).unwrap();
            assert_eq!(serde_json::from_value::<Item>(json).unwrap(), it);
        }
    }

    #[test]
    fn rules() {
        let bad = [
            (serde_json::json!({"role": "robot", "content": "x"}), "role"),
            (serde_json::json!({"role": "user", "content": [{"type": "output_text", "text": "x"}]}), "content[0].type"),
            (serde_json::json!({"role": "user", "content": [{"type": "input_image"}]}), "content[0].image_url"),
            (serde_json::json!({"type": "function_call_output", "call_id": "", "output": "x"}), "call_id"),
        ];
        for (v, field) in bad {
            assert_eq!(parse(v).validate().unwrap_err().field, field);
        }
        assert_eq!(validate_include(&["nope".into()]).unwrap_err().field, "include[0]");
        validate_include(&["file_search_call.results".into()]).unwrap();
    }

    #[test]
    fn hidden_unless_included() {
        let it = parse(serde_json::json!({"type": "file_search_call", "id": "fs_1", "status": "completed",
            "queries": [], "results": []}));
        assert!(matches!(it.clone().shown(&[]), Item::FileSearchCall(FileSearchCall { results: None, .. })));
        let shown = it.shown(&["file_search_call.results".into()]);
        assert!(matches!(shown, Item::FileSearchCall(FileSearchCall { results: Some(_), .. })));
    }
}

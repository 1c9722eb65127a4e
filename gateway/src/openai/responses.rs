//! Response JSON (`docs/spec/responses-openapi.yaml`): the create request (input as a
//! string or items, tools in the Responses API's flat shape), the `Response` object and
//! the stream's events. Items are `assistd_common::items::Item`.

use std::collections::BTreeMap;

use assistd_common::items::Item;
use assistd_common::json::{json_to_value, map_to_struct, struct_to_json, struct_to_map, value_to_json};
use assistd_proto::pb;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::common::{MetadataIn, metadata_from_pb, metadata_to_pb};
use super::conversations::item_out;
use crate::errors::{ApiError, ApiResult};

/// `CreateResponse`. Fields OpenAI takes that change nothing here
/// (`prompt_cache_key`, `service_tier`, `stream_options`, …) are accepted and ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseIn {
    pub model: Option<String>,
    /// A string (one user message) or a list of items; read by hand for clear errors.
    pub input: Option<Value>,
    pub instructions: Option<String>,
    pub previous_response_id: Option<String>,
    /// A conversation id, or `{"id": …}`.
    pub conversation: Option<Value>,
    /// Read by hand: each tool's `type` decides its shape.
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_output_tokens: Option<u32>,
    pub max_tool_calls: Option<u32>,
    #[serde(default)]
    pub metadata: MetadataIn,
    pub text: Option<Map<String, Value>>,
    pub reasoning: Option<Map<String, Value>>,
    pub store: Option<bool>,
    pub background: Option<bool>,
    pub truncation: Option<String>,
    pub user: Option<String>,
    pub safety_identifier: Option<String>,
    pub include: Option<Vec<String>>,
    pub stream: Option<bool>,
    pub stream_options: Option<Value>,
    pub prompt_cache_key: Option<String>,
    pub prompt_cache_retention: Option<String>,
    pub service_tier: Option<String>,
    pub top_logprobs: Option<u32>,
    /// A stored prompt template: not offered by assistd.
    pub prompt: Option<Value>,
    /// `input_tokens` only; accepted and ignored.
    pub personality: Option<Value>,
}

/// The built-in tools OpenAI offers that assistd does not (a 400 naming the tool).
const UNSUPPORTED_TOOLS: &[&str] = &[
    "web_search",
    "web_search_preview",
    "web_search_2025_08_26",
    "web_search_preview_2025_03_11",
    "image_generation",
    "computer_use",
    "computer_use_preview",
    "computer",
    "mcp",
    "local_shell",
    "shell",
    "apply_patch",
    "custom",
];

/// A parse of `v` into `T`, its errors naming `param`.
fn parse<T: serde::de::DeserializeOwned>(v: Value, param: &str) -> ApiResult<T> {
    serde_path_to_error::deserialize::<_, T>(v).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { param.to_owned() } else { format!("{param}.{path}") };
        let inner = e.inner().to_string();
        if let Some(rest) = inner.strip_prefix("unknown field `") {
            let field = rest.split('`').next().unwrap_or_default();
            let at = if path == "." { format!("{param}.{field}") } else { format!("{at}.{field}") };
            return ApiError::unknown(at);
        }
        ApiError::invalid(at.clone(), format!("Invalid value for '{at}': {inner}")).with_code("invalid_value")
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionToolIn {
    #[serde(rename = "type")]
    _type: String,
    name: String,
    description: Option<String>,
    parameters: Option<Map<String, Value>>,
    strict: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSearchToolIn {
    #[serde(rename = "type")]
    _type: String,
    vector_store_ids: Vec<String>,
    filters: Option<Map<String, Value>>,
    max_num_results: Option<i32>,
    ranking_options: Option<RankingOptionsIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RankingOptionsIn {
    ranker: Option<String>,
    score_threshold: Option<f64>,
    /// Hybrid search weights: accepted, not used (assistd weighs by query).
    hybrid_search: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeInterpreterToolIn {
    #[serde(rename = "type")]
    _type: String,
    container: ContainerIn,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ContainerIn {
    Id(String),
    Auto(AutoContainerIn),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoContainerIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    file_ids: Vec<String>,
    memory_limit: Option<String>,
}

/// One tool of a request.
fn tool_in(v: Value, param: &str) -> ApiResult<pb::ResponseTool> {
    use pb::response_tool::Tool as T;
    let kind = v.get("type").and_then(Value::as_str).unwrap_or_default().to_owned();
    let tool = match kind.as_str() {
        "function" => {
            let f: FunctionToolIn = parse(v, param)?;
            T::Function(pb::FunctionDefinition {
                name: f.name,
                description: f.description,
                parameters: f.parameters.as_ref().map(map_to_struct),
                strict: f.strict,
            })
        }
        "file_search" => {
            let f: FileSearchToolIn = parse(v, param)?;
            if let Some(filters) = &f.filters {
                // checked here, at the edge, as the vector store search checks them
                super::vector_stores::filter_to_pb(&format!("{param}.filters"), Value::Object(filters.clone()))?;
            }
            T::FileSearch(pb::ResponseFileSearchTool {
                vector_store_ids: f.vector_store_ids,
                filters: f.filters.as_ref().map(map_to_struct),
                max_num_results: f.max_num_results,
                ranking_options: f.ranking_options.map(|r| {
                    let _ = r.hybrid_search;
                    pb::FileSearchRankingOptions { ranker: r.ranker, score_threshold: r.score_threshold.unwrap_or(0.0) }
                }),
            })
        }
        "code_interpreter" => {
            let c: CodeInterpreterToolIn = parse(v, param)?;
            match c.container {
                ContainerIn::Id(id) => {
                    T::CodeInterpreter(pb::ResponseCodeInterpreterTool { container_id: id, file_ids: vec![] })
                }
                ContainerIn::Auto(a) => {
                    if a.kind != "auto" {
                        return Err(ApiError::invalid_value(
                            &format!("{param}.container.type"),
                            &a.kind,
                            "Supported values are: 'auto'.",
                        ));
                    }
                    let _ = a.memory_limit;
                    T::CodeInterpreter(pb::ResponseCodeInterpreterTool {
                        container_id: String::new(),
                        file_ids: a.file_ids,
                    })
                }
            }
        }
        t if UNSUPPORTED_TOOLS.contains(&t) => {
            return Err(ApiError::invalid(
                format!("{param}.type"),
                format!("The '{t}' tool is not supported by assistd: it serves function, file_search and code_interpreter tools."),
            )
            .with_code("unsupported_tool"));
        }
        "" => return Err(ApiError::missing(&format!("{param}.type"))),
        t => {
            return Err(ApiError::invalid_value(
                &format!("{param}.type"),
                t,
                "Supported values are: 'function', 'file_search' and 'code_interpreter'.",
            ));
        }
    };
    Ok(pb::ResponseTool { tool: Some(tool) })
}

/// The input: a string is one user message.
pub fn input_in(v: Option<Value>) -> ApiResult<Vec<pb::Item>> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::String(s)) => {
            let item: Item = parse(json!({"role": "user", "content": s}), "input")?;
            Ok(vec![item.into()])
        }
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| parse::<Item>(v, &format!("input[{i}]")).map(Into::into))
            .collect(),
        Some(other) => Err(ApiError::invalid_type("input", "a string or an array of items", &other)),
    }
}

impl ResponseIn {
    /// The proto request, and whether it asks for a stream.
    pub fn into_pb(self) -> ApiResult<(pb::CreateResponseRequest, bool)> {
        let ResponseIn {
            model,
            input,
            instructions,
            previous_response_id,
            conversation,
            tools,
            tool_choice,
            parallel_tool_calls,
            temperature,
            top_p,
            max_output_tokens,
            max_tool_calls,
            metadata,
            text,
            reasoning,
            store,
            background,
            truncation,
            user,
            safety_identifier,
            include,
            stream,
            stream_options: _,
            prompt_cache_key: _,
            prompt_cache_retention: _,
            service_tier: _,
            top_logprobs: _,
            prompt,
            personality: _,
        } = self;
        if prompt.is_some_and(|p| !p.is_null()) {
            return Err(ApiError::invalid(
                "prompt",
                "Stored prompt templates ('prompt') are not supported by assistd.",
            )
            .with_code("unsupported_parameter"));
        }
        let conversation_id = match conversation {
            None | Some(Value::Null) => None,
            Some(Value::String(id)) => Some(id),
            Some(Value::Object(o)) => match o.get("id") {
                Some(Value::String(id)) => Some(id.clone()),
                _ => return Err(ApiError::missing("conversation.id")),
            },
            Some(other) => return Err(ApiError::invalid_type("conversation", "a string or an object", &other)),
        };
        let tools = tools
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, t)| tool_in(t, &format!("tools[{i}]")))
            .collect::<ApiResult<Vec<_>>>()?;
        let req = pb::CreateResponseRequest {
            model: model.unwrap_or_default(),
            input: input_in(input)?,
            instructions,
            previous_response_id,
            conversation_id,
            tools,
            tool_choice: tool_choice.as_ref().filter(|v| !v.is_null()).map(json_to_value),
            parallel_tool_calls,
            temperature,
            top_p,
            max_output_tokens,
            max_tool_calls,
            metadata: Some(metadata_to_pb(metadata)),
            text: text.as_ref().map(map_to_struct),
            reasoning: reasoning.as_ref().map(map_to_struct),
            store,
            background,
            truncation,
            user,
            safety_identifier,
            include: include.unwrap_or_default(),
            context: vec![],
        };
        Ok((req, stream.unwrap_or(false)))
    }
}

/// `ResponseUsage`.
#[derive(Debug, Serialize)]
pub struct UsageOut {
    pub input_tokens: u64,
    pub input_tokens_details: Value,
    pub output_tokens: u64,
    pub output_tokens_details: Value,
    pub total_tokens: u64,
}

/// The `Response` object.
#[derive(Debug, Serialize)]
pub struct ResponseOut {
    pub id: String,
    /// Always `response`.
    pub object: &'static str,
    pub created_at: i64,
    pub status: String,
    pub completed_at: Option<i64>,
    pub error: Option<Value>,
    pub incomplete_details: Option<Value>,
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u32>,
    pub max_tool_calls: Option<u32>,
    pub model: String,
    pub output: Vec<Item>,
    pub parallel_tool_calls: bool,
    pub previous_response_id: Option<String>,
    pub conversation: Option<Value>,
    /// `{"effort": null, "summary": null}` unless given.
    pub reasoning: Value,
    pub store: bool,
    pub background: bool,
    /// 1 unless given.
    pub temperature: f64,
    /// 1 unless given.
    pub top_p: f64,
    /// `{"format": {"type": "text"}, "verbosity": "medium"}` unless given.
    pub text: Value,
    /// `auto` unless given.
    pub tool_choice: Value,
    pub tools: Vec<Value>,
    pub top_logprobs: u32,
    pub truncation: String,
    /// Absent until the response ends (the spec does not let it be null).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageOut>,
    /// Absent unless given (the spec types it a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub safety_identifier: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub service_tier: &'static str,
    pub prompt_cache_key: Option<String>,
}

fn tool_out(t: pb::ResponseTool) -> Value {
    use pb::response_tool::Tool as T;
    match t.tool {
        Some(T::Function(f)) => json!({
            "type": "function",
            "name": f.name,
            "description": f.description,
            "parameters": f.parameters.as_ref().map(struct_to_json),
            "strict": f.strict.unwrap_or(false),
        }),
        Some(T::FileSearch(f)) => {
            let mut v = json!({
                "type": "file_search",
                "vector_store_ids": f.vector_store_ids,
                "filters": f.filters.as_ref().map(struct_to_json),
            });
            if let Some(n) = f.max_num_results {
                v["max_num_results"] = json!(n);
            }
            if let Some(r) = f.ranking_options {
                v["ranking_options"] =
                    json!({"ranker": r.ranker.unwrap_or_else(|| "auto".into()), "score_threshold": r.score_threshold});
            }
            v
        }
        Some(T::CodeInterpreter(c)) => {
            let container = if c.container_id.is_empty() {
                json!({"type": "auto", "file_ids": c.file_ids})
            } else {
                json!(c.container_id)
            };
            json!({"type": "code_interpreter", "container": container})
        }
        None => json!({"type": "function"}),
    }
}

impl TryFrom<pb::ResponseObject> for ResponseOut {
    type Error = ApiError;

    fn try_from(r: pb::ResponseObject) -> ApiResult<Self> {
        let pb::ResponseObject {
            id,
            created_at,
            status,
            completed_at,
            model,
            instructions,
            output,
            previous_response_id,
            conversation_id,
            tools,
            tool_choice,
            parallel_tool_calls,
            temperature,
            top_p,
            max_output_tokens,
            max_tool_calls,
            metadata,
            text,
            reasoning,
            store,
            background,
            truncation,
            user,
            safety_identifier,
            usage,
            error,
            incomplete_reason,
        } = r;
        let mut text = text.as_ref().map(struct_to_map).unwrap_or_default();
        text.entry("format").or_insert_with(|| json!({"type": "text"}));
        text.entry("verbosity").or_insert_with(|| json!("medium"));
        let mut reasoning = reasoning.as_ref().map(struct_to_map).unwrap_or_default();
        reasoning.entry("effort").or_insert(Value::Null);
        reasoning.entry("summary").or_insert(Value::Null);
        Ok(ResponseOut {
            id,
            object: "response",
            created_at,
            status,
            completed_at,
            error: error.map(|e| json!({"code": e.code, "message": e.message})),
            incomplete_details: incomplete_reason.map(|reason| json!({"reason": reason})),
            instructions,
            max_output_tokens,
            max_tool_calls,
            model,
            output: output.into_iter().map(item_out).collect::<ApiResult<_>>()?,
            parallel_tool_calls,
            previous_response_id,
            conversation: conversation_id.map(|id| json!({"id": id})),
            reasoning: Value::Object(reasoning),
            store,
            background,
            temperature: temperature.unwrap_or(1.0),
            top_p: top_p.unwrap_or(1.0),
            text: Value::Object(text),
            tool_choice: tool_choice.as_ref().map(value_to_json).unwrap_or_else(|| json!("auto")),
            tools: tools.into_iter().map(tool_out).collect(),
            top_logprobs: 0,
            truncation,
            usage: usage.map(usage_out),
            user,
            safety_identifier,
            metadata: metadata_from_pb(metadata),
            service_tier: "default",
            prompt_cache_key: None,
        })
    }
}

/// An event's name and JSON data (`ResponseStreamEvent`).
pub fn event_out(e: pb::ResponseEvent) -> ApiResult<(String, Value)> {
    use pb::response_event::Payload;
    let pb::ResponseEvent { r#type: kind, sequence_number, payload } = e;
    let mut v = match payload {
        Some(Payload::Response(r)) => json!({"response": ResponseOut::try_from(r)?}),
        Some(Payload::OutputItem(pb::OutputItemEvent { output_index, item })) => {
            json!({"output_index": output_index, "item": item_out(item.unwrap_or_default())?})
        }
        Some(Payload::ContentPart(pb::ContentPartEvent { item_id, output_index, content_index, part })) => {
            let part = assistd_common::items::ContentPart::try_from(part.unwrap_or_default())
                .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.message))?;
            json!({"item_id": item_id, "output_index": output_index, "content_index": content_index, "part": part})
        }
        Some(Payload::Delta(pb::DeltaEvent { item_id, output_index, content_index, delta })) => {
            if kind == "response.function_call_arguments.delta" || kind == "response.code_interpreter_call_code.delta" {
                json!({"item_id": item_id, "output_index": output_index, "delta": delta})
            } else {
                json!({"item_id": item_id, "output_index": output_index, "content_index": content_index, "delta": delta, "logprobs": []})
            }
        }
        Some(Payload::Done(pb::DoneEvent { item_id, output_index, content_index, text, name })) => {
            if kind == "response.code_interpreter_call_code.done" {
                json!({"item_id": item_id, "output_index": output_index, "code": text})
            } else if kind == "response.function_call_arguments.done" {
                json!({"item_id": item_id, "output_index": output_index, "name": name.unwrap_or_default(), "arguments": text})
            } else if kind == "response.refusal.done" {
                json!({"item_id": item_id, "output_index": output_index, "content_index": content_index, "refusal": text})
            } else {
                json!({"item_id": item_id, "output_index": output_index, "content_index": content_index, "text": text, "logprobs": []})
            }
        }
        Some(Payload::Annotation(pb::AnnotationEvent {
            item_id,
            output_index,
            content_index,
            annotation_index,
            annotation,
        })) => {
            let annotation = assistd_common::items::Annotation::try_from(annotation.unwrap_or_default())
                .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.message))?;
            json!({"item_id": item_id, "output_index": output_index, "content_index": content_index,
                   "annotation_index": annotation_index, "annotation": annotation})
        }
        Some(Payload::ToolCall(pb::ToolCallEvent { item_id, output_index })) => {
            json!({"item_id": item_id, "output_index": output_index})
        }
        Some(Payload::Error(pb::ResponseError { code, message })) => {
            json!({"code": code, "message": message, "param": null})
        }
        None => json!({}),
    };
    v["type"] = json!(kind);
    v["sequence_number"] = json!(sequence_number);
    Ok((kind, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    #[test]
    fn create_body_reads_input_tools_and_conversation() {
        let body: ResponseIn = parse_json(
            br#"{"model": "m", "input": "hi", "conversation": {"id": "conv_1"}, "stream": true,
                 "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": true},
                           {"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file-1"]}}]}"#,
        )
        .unwrap();
        let (req, stream) = body.into_pb().unwrap();
        assert!(stream);
        assert_eq!(req.input.len(), 1);
        assert_eq!(req.conversation_id.as_deref(), Some("conv_1"));
        assert_eq!(req.tools.len(), 2);

        let err = parse_json::<ResponseIn>(br#"{"model": "m", "input": "x", "tools": [{"type": "web_search"}]}"#)
            .unwrap()
            .into_pb()
            .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("tools[0].type"));
        assert!(err.message.contains("web_search"), "{}", err.message);
        let err =
            parse_json::<ResponseIn>(br#"{"model": "m", "input": [{"role": "user", "content": "x", "bogus": 1}]}"#)
                .unwrap()
                .into_pb()
                .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("input[0].bogus"), "{err:?}");
        assert_eq!(parse_json::<ResponseIn>(br#"{"modle": "m"}"#).unwrap_err().param.as_deref(), Some("modle"));
    }
}

/// `CompactResponseMethodPublicBody`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactIn {
    pub model: Option<String>,
    pub input: Option<Value>,
    pub previous_response_id: Option<String>,
    pub instructions: Option<String>,
    pub prompt_cache_key: Option<String>,
    pub prompt_cache_retention: Option<Value>,
    pub prompt_cache_options: Option<Value>,
    pub service_tier: Option<String>,
}

impl CompactIn {
    /// The proto request.
    pub fn into_pb(self) -> ApiResult<pb::CompactRequest> {
        Ok(pb::CompactRequest {
            model: self.model.unwrap_or_default(),
            input: input_in(self.input)?,
            instructions: self.instructions,
            previous_response_id: self.previous_response_id,
        })
    }
}

/// `CompactResource`.
#[derive(Debug, Serialize)]
pub struct CompactOut {
    pub id: String,
    /// Always `response.compaction`.
    pub object: &'static str,
    pub created_at: i64,
    pub output: Vec<Item>,
    pub usage: UsageOut,
}

fn usage_out(u: pb::ResponseUsage) -> UsageOut {
    UsageOut {
        input_tokens: u.input_tokens,
        input_tokens_details: json!({"cached_tokens": 0, "cache_write_tokens": 0}),
        output_tokens: u.output_tokens,
        output_tokens_details: json!({"reasoning_tokens": 0}),
        total_tokens: u.input_tokens + u.output_tokens,
    }
}

impl TryFrom<pb::Compaction> for CompactOut {
    type Error = ApiError;

    fn try_from(c: pb::Compaction) -> ApiResult<Self> {
        let pb::Compaction { id, created_at, output, usage } = c;
        Ok(CompactOut {
            id,
            object: "response.compaction",
            created_at,
            output: output.into_iter().map(item_out).collect::<ApiResult<_>>()?,
            usage: usage_out(usage.unwrap_or_default()),
        })
    }
}

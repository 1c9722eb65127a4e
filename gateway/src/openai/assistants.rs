//! Assistant JSON.

use std::collections::BTreeMap;

use assistd_common::tools::{ResponseFormat, Tool, ToolResources};
use assistd_proto::pb;
use serde::{Deserialize, Serialize};

use super::common::{
    MetadataIn, ResponseFormatOut, ToolOut, ToolResourcesOut, double_option, metadata_from_pb, metadata_to_pb,
};

/// `CreateAssistantRequest` and `ModifyAssistantRequest` (same fields; `model`
/// required on create). Each field is absent, null or set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantIn {
    #[serde(default, deserialize_with = "double_option")]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub instructions: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub reasoning_effort: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub tools: Option<Option<Vec<Tool>>>,
    #[serde(default, deserialize_with = "double_option")]
    pub tool_resources: Option<Option<ToolResources>>,
    #[serde(default, deserialize_with = "double_option")]
    pub metadata: Option<MetadataIn>,
    #[serde(default, deserialize_with = "double_option")]
    pub temperature: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub top_p: Option<Option<f64>>,
    #[serde(default, deserialize_with = "double_option")]
    pub response_format: Option<Option<ResponseFormat>>,
}

impl AssistantIn {
    /// The proto fields and the names of the fields given.
    pub fn into_pb(self) -> (pb::AssistantFields, Vec<String>) {
        let AssistantIn {
            model,
            name,
            description,
            instructions,
            reasoning_effort,
            tools,
            tool_resources,
            metadata,
            temperature,
            top_p,
            response_format,
        } = self;
        let mut given = Vec::new();
        let mut mark = |name: &str, present: bool| {
            if present {
                given.push(name.to_owned());
            }
        };
        mark("model", model.is_some());
        mark("name", name.is_some());
        mark("description", description.is_some());
        mark("instructions", instructions.is_some());
        mark("reasoning_effort", reasoning_effort.is_some());
        mark("tools", tools.is_some());
        mark("tool_resources", tool_resources.is_some());
        mark("metadata", metadata.is_some());
        mark("temperature", temperature.is_some());
        mark("top_p", top_p.is_some());
        mark("response_format", response_format.is_some());
        let fields = pb::AssistantFields {
            model: model.flatten(),
            name: name.flatten(),
            description: description.flatten(),
            instructions: instructions.flatten(),
            tools: tools.flatten().unwrap_or_default().into_iter().map(pb::Tool::from).collect(),
            tool_resources: tool_resources.flatten().map(pb::ToolResources::from),
            metadata: metadata.map(metadata_to_pb),
            temperature: temperature.flatten(),
            top_p: top_p.flatten(),
            response_format: response_format.flatten().map(pb::ResponseFormat::from),
            reasoning_effort: reasoning_effort.flatten(),
        };
        (fields, given)
    }
}

/// `AssistantObject`. `temperature` and `top_p` read 1 when unset; `name`,
/// `description`, `instructions` and `reasoning_effort` are null then.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssistantOut {
    /// `asst_…`.
    pub id: String,
    /// Always `assistant`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub model: String,
    pub instructions: Option<String>,
    pub tools: Vec<ToolOut>,
    /// `{}` when none.
    pub tool_resources: ToolResourcesOut,
    /// `{}` when none.
    pub metadata: BTreeMap<String, String>,
    pub temperature: f64,
    pub top_p: f64,
    /// `"auto"` when unset.
    pub response_format: ResponseFormatOut,
    pub reasoning_effort: Option<String>,
}

impl From<pb::Assistant> for AssistantOut {
    fn from(a: pb::Assistant) -> Self {
        let pb::Assistant {
            id,
            created_at,
            name,
            description,
            model,
            instructions,
            tools,
            tool_resources,
            metadata,
            temperature,
            top_p,
            response_format,
            reasoning_effort,
        } = a;
        AssistantOut {
            id,
            object: "assistant",
            created_at,
            name,
            description,
            model,
            instructions,
            tools: tools.into_iter().map(ToolOut::from).collect(),
            tool_resources: tool_resources.into(),
            metadata: metadata_from_pb(metadata),
            temperature: temperature.unwrap_or(1.0),
            top_p: top_p.unwrap_or(1.0),
            response_format: response_format.into(),
            reasoning_effort,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::extract::parse_json;
    use crate::openai::runs::tests::assert_required;

    const ASSISTANT_REQUIRED: &[&str] =
        &["id", "object", "created_at", "name", "description", "model", "instructions", "tools", "metadata"];

    fn assistant_out(a: pb::Assistant) -> Value {
        serde_json::to_value(AssistantOut::from(a)).unwrap()
    }

    #[test]
    fn assistant_json_defaults() {
        let v = assistant_out(pb::Assistant { id: "asst_1".into(), model: "m".into(), ..Default::default() });
        assert_required(&v, "AssistantObject", ASSISTANT_REQUIRED);
        assert_eq!(
            v,
            json!({
                "id": "asst_1", "object": "assistant", "created_at": 0, "name": null, "description": null,
                "model": "m", "instructions": null, "tools": [], "tool_resources": {}, "metadata": {},
                "temperature": 1.0, "top_p": 1.0, "response_format": "auto", "reasoning_effort": null,
            })
        );
    }

    #[test]
    fn assistant_json_tools_and_formats() {
        // A request read straight into the shared domain types, sent to the service
        // and answered: the answer's defaults fill what the request left out.
        let (fields, given) = parse_json::<AssistantIn>(
            br#"{"model":"m","tools":[{"type":"code_interpreter"},{"type":"file_search"},
                {"type":"file_search","file_search":{"max_num_results":3,"ranking_options":{"score_threshold":0.5}}},
                {"type":"function","function":{"name":"f"}},
                {"type":"function","function":{"name":"g","description":"d","parameters":{"type":"object"},"strict":true}}],
                "tool_resources":{"code_interpreter":{"file_ids":["file-1"]},"file_search":{"vector_stores":[{}]}},
                "response_format":{"type":"json_schema","json_schema":{"name":"s"}}}"#,
        )
        .unwrap()
        .into_pb();
        assert_eq!(given, ["model", "tools", "tool_resources", "response_format"]);
        let v = assistant_out(pb::Assistant {
            tools: fields.tools,
            tool_resources: fields.tool_resources,
            response_format: fields.response_format,
            ..Default::default()
        });
        assert_eq!(
            v["tools"],
            json!([
                {"type": "code_interpreter"},
                {"type": "file_search", "file_search": {"ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0}}},
                {"type": "file_search", "file_search": {"max_num_results": 3, "ranking_options": {"ranker": "auto", "score_threshold": 0.5}}},
                {"type": "function", "function": {"name": "f", "parameters": {}, "strict": false}},
                {"type": "function", "function": {"name": "g", "description": "d", "parameters": {"type": "object"}, "strict": true}},
            ])
        );
        assert_eq!(
            v["tool_resources"],
            json!({"code_interpreter": {"file_ids": ["file-1"]}, "file_search": {"vector_store_ids": []}})
        );
        assert_eq!(v["response_format"], json!({"type": "json_schema", "json_schema": {"name": "s", "strict": false}}));
        for (format, answered) in [
            (r#""auto""#, json!("auto")),
            (r#"{"type":"text"}"#, json!({"type": "text"})),
            (r#"{"type":"json_object"}"#, json!({"type": "json_object"})),
        ] {
            let body = format!(r#"{{"response_format":{format}}}"#);
            let (fields, _) = parse_json::<AssistantIn>(body.as_bytes()).unwrap().into_pb();
            let v = assistant_out(pb::Assistant { response_format: fields.response_format, ..Default::default() });
            assert_eq!(v["response_format"], answered);
        }
        let e = parse_json::<AssistantIn>(br#"{"response_format":"json"}"#).unwrap_err();
        assert_eq!((e.param.as_deref(), e.code.as_deref()), (Some("response_format"), Some("invalid_type")));
    }
}

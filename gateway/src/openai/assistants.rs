//! Assistant JSON.

use assistd_proto::pb;
use serde::Deserialize;
use serde_json::{Value, json};

use super::common::{
    MetadataIn, ResponseFormatIn, ToolIn, ToolResourcesIn, double_option, metadata_from_pb, metadata_to_pb,
    response_format_out, tool_out, tool_resources_out,
};
use crate::errors::ApiError;

/// `CreateAssistantRequest` and `ModifyAssistantRequest` (same fields; `model`
/// required on create). Each field is absent, null or set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantIn {
    /// Model.
    #[serde(default, deserialize_with = "double_option")]
    pub model: Option<Option<String>>,
    /// Name.
    #[serde(default, deserialize_with = "double_option")]
    pub name: Option<Option<String>>,
    /// Description.
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    /// Instructions.
    #[serde(default, deserialize_with = "double_option")]
    pub instructions: Option<Option<String>>,
    /// Reasoning effort.
    #[serde(default, deserialize_with = "double_option")]
    pub reasoning_effort: Option<Option<String>>,
    /// Tools.
    #[serde(default, deserialize_with = "double_option")]
    pub tools: Option<Option<Vec<ToolIn>>>,
    /// Tool resources.
    #[serde(default, deserialize_with = "double_option")]
    pub tool_resources: Option<Option<ToolResourcesIn>>,
    /// Metadata.
    #[serde(default, deserialize_with = "double_option")]
    pub metadata: Option<MetadataIn>,
    /// Temperature.
    #[serde(default, deserialize_with = "double_option")]
    pub temperature: Option<Option<f64>>,
    /// Top p.
    #[serde(default, deserialize_with = "double_option")]
    pub top_p: Option<Option<f64>>,
    /// Response format.
    #[serde(default, deserialize_with = "double_option")]
    pub response_format: Option<Option<ResponseFormatIn>>,
}

impl AssistantIn {
    /// The proto fields and the names of the fields given.
    pub fn into_pb(self) -> Result<(pb::AssistantFields, Vec<String>), ApiError> {
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
            tools: tools.flatten().unwrap_or_default().into_iter().map(Into::into).collect(),
            tool_resources: tool_resources.flatten().map(Into::into),
            metadata: metadata.map(metadata_to_pb),
            temperature: temperature.flatten(),
            top_p: top_p.flatten(),
            response_format: response_format.flatten().map(|r| r.into_pb("response_format")).transpose()?,
            reasoning_effort: reasoning_effort.flatten(),
        };
        Ok((fields, given))
    }
}

/// `AssistantObject`.
pub fn assistant_out(a: pb::Assistant) -> Value {
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
    json!({
        "id": id,
        "object": "assistant",
        "created_at": created_at,
        "name": name,
        "description": description,
        "model": model,
        "instructions": instructions,
        "tools": tools.into_iter().map(tool_out).collect::<Vec<_>>(),
        "tool_resources": tool_resources_out(tool_resources),
        "metadata": metadata_from_pb(metadata),
        "temperature": temperature.unwrap_or(1.0),
        "top_p": top_p.unwrap_or(1.0),
        "response_format": response_format_out(response_format),
        "reasoning_effort": reasoning_effort,
    })
}

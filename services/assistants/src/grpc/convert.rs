//! Proto ⇄ domain conversions of the assistants service.

use assistd_common::FieldViolation;
use assistd_common::FieldViolationExt;
use assistd_common::tools::{MAX_ASSISTANT_TOOLS, ResponseFormat, ToolResources, tools_from_pb};
use assistd_proto::pb;

use crate::domain::{Assistant, AssistantPatch};

/// The fields of a request as a patch. `mask` names the fields given; `None` means
/// "every set field" (create).
pub fn patch_from_pb(fields: pb::AssistantFields, mask: Option<&[String]>) -> Result<AssistantPatch, FieldViolation> {
    let pb::AssistantFields {
        model,
        name,
        description,
        instructions,
        tools,
        tool_resources,
        metadata,
        temperature,
        top_p,
        response_format,
        reasoning_effort,
    } = fields;
    let given = |field: &str, is_set: bool| match mask {
        Some(paths) => paths.iter().any(|p| p == field),
        None => is_set,
    };
    if mask.is_some() && given("model", false) && model.is_none() {
        return Err(FieldViolation::invalid("model", "Invalid 'model': expected a string, but got null instead."));
    }
    let tools_given = given("tools", !tools.is_empty());
    Ok(AssistantPatch {
        model: model.filter(|_| given("model", true)),
        name: given("name", name.is_some()).then_some(name),
        description: given("description", description.is_some()).then_some(description),
        instructions: given("instructions", instructions.is_some()).then_some(instructions),
        tools: tools_given.then(|| tools_from_pb(tools, MAX_ASSISTANT_TOOLS)).transpose().scope("tools")?,
        tool_resources: given("tool_resources", tool_resources.is_some())
            .then(|| tool_resources.map(ToolResources::try_from).transpose())
            .transpose()
            .scope("tool_resources")?,
        metadata: given("metadata", metadata.is_some())
            .then(|| metadata.map(|m| m.entries.into_iter().collect()).unwrap_or_default()),
        temperature: given("temperature", temperature.is_some()).then_some(temperature),
        top_p: given("top_p", top_p.is_some()).then_some(top_p),
        response_format: given("response_format", response_format.is_some())
            .then(|| response_format.map(ResponseFormat::try_from).transpose())
            .transpose()
            .scope("response_format")?,
        reasoning_effort: given("reasoning_effort", reasoning_effort.is_some()).then_some(reasoning_effort),
    })
}

impl From<Assistant> for pb::Assistant {
    fn from(a: Assistant) -> Self {
        let Assistant {
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
        pb::Assistant {
            id,
            created_at,
            name,
            description,
            model,
            instructions,
            tools: tools.into_iter().map(Into::into).collect(),
            tool_resources: tool_resources.map(Into::into),
            metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }),
            temperature,
            top_p,
            response_format: response_format.map(Into::into),
            reasoning_effort,
        }
    }
}

//! Proto ⇄ domain conversions of the assistants service.

use assistd_common::ServiceResult;
use assistd_common::tools::{
    MAX_ASSISTANT_TOOLS, response_format_from_pb, response_format_to_pb, tool_resources_from_pb, tool_resources_to_pb,
    tool_to_pb, tools_from_pb,
};
use assistd_proto::pb;

use crate::domain::{Assistant, AssistantPatch};

/// The fields of a request as a patch. `mask` names the fields given; `None` means
/// "every set field" (create).
pub fn patch_from_pb(fields: pb::AssistantFields, mask: Option<&[String]>) -> ServiceResult<AssistantPatch> {
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
    let mut patch = AssistantPatch::default();
    if given("model", model.is_some()) {
        patch.model = model;
    }
    if given("name", name.is_some()) {
        patch.name = Some(name);
    }
    if given("description", description.is_some()) {
        patch.description = Some(description);
    }
    if given("instructions", instructions.is_some()) {
        patch.instructions = Some(instructions);
    }
    if given("tools", !tools.is_empty()) {
        patch.tools = Some(tools_from_pb(tools, "tools", MAX_ASSISTANT_TOOLS)?);
    }
    if given("tool_resources", tool_resources.is_some()) {
        patch.tool_resources = Some(tool_resources.map(|r| tool_resources_from_pb(r, "tool_resources")).transpose()?);
    }
    if given("metadata", metadata.is_some()) {
        patch.metadata = Some(metadata.map(|m| m.entries.into_iter().collect()).unwrap_or_default());
    }
    if given("temperature", temperature.is_some()) {
        patch.temperature = Some(temperature);
    }
    if given("top_p", top_p.is_some()) {
        patch.top_p = Some(top_p);
    }
    if given("response_format", response_format.is_some()) {
        patch.response_format =
            Some(response_format.map(|r| response_format_from_pb(r, "response_format")).transpose()?);
    }
    if given("reasoning_effort", reasoning_effort.is_some()) {
        patch.reasoning_effort = Some(reasoning_effort);
    }
    Ok(patch)
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
            tools: tools.into_iter().map(tool_to_pb).collect(),
            tool_resources: tool_resources.map(tool_resources_to_pb),
            metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }),
            temperature,
            top_p,
            response_format: response_format.map(response_format_to_pb),
            reasoning_effort,
        }
    }
}

//! Proto ⇄ domain conversions of the responses service.

use assistd_common::error::{FieldViolation, FieldViolationExt};
use assistd_common::items::items_from_pb;
use assistd_common::json::{json_to_value, map_to_struct, struct_to_map, value_to_json};
use assistd_common::tools::{FunctionDef, RankingOptions};
use assistd_proto::pb;

use crate::domain::{NewResponse, Response, ResponseError, ResponseTool, Usage};
use crate::engine::{Event, Sequenced};

impl TryFrom<pb::CreateResponseRequest> for NewResponse {
    type Error = FieldViolation;

    fn try_from(req: pb::CreateResponseRequest) -> Result<Self, FieldViolation> {
        let pb::CreateResponseRequest {
            model,
            input,
            instructions,
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
            include,
            context,
        } = req;
        let context = if context.is_empty() { None } else { Some(items_from_pb(context, "context")?) };
        let tools = tools
            .into_iter()
            .enumerate()
            .map(|(i, t)| ResponseTool::try_from(t).scope(&format!("tools[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let response = Response {
            model,
            instructions,
            previous_response_id,
            conversation_id,
            tools,
            tool_choice: tool_choice.as_ref().map(value_to_json),
            parallel_tool_calls: parallel_tool_calls.unwrap_or(true),
            temperature,
            top_p,
            max_output_tokens,
            max_tool_calls,
            metadata: metadata.map(|m| m.entries.into_iter().collect()).unwrap_or_default(),
            text: text.as_ref().map(struct_to_map),
            reasoning: reasoning.as_ref().map(struct_to_map),
            store: store.unwrap_or(true),
            background: background.unwrap_or(false),
            truncation: truncation.unwrap_or_else(|| "disabled".into()),
            user,
            safety_identifier,
            ..Default::default()
        };
        Ok(NewResponse { response, input: items_from_pb(input, "input")?, include, context })
    }
}

impl TryFrom<pb::ResponseTool> for ResponseTool {
    type Error = FieldViolation;

    fn try_from(t: pb::ResponseTool) -> Result<Self, FieldViolation> {
        use pb::response_tool::Tool as T;
        Ok(match t.tool.ok_or_else(|| FieldViolation::missing("type"))? {
            T::Function(f) => ResponseTool::Function(FunctionDef::try_from(f)?),
            T::FileSearch(pb::ResponseFileSearchTool {
                vector_store_ids,
                filters,
                max_num_results,
                ranking_options,
            }) => ResponseTool::FileSearch {
                vector_store_ids,
                filters: filters.as_ref().map(struct_to_map),
                max_num_results,
                ranking_options: ranking_options.map(RankingOptions::try_from).transpose().scope("ranking_options")?,
            },
            T::CodeInterpreter(pb::ResponseCodeInterpreterTool { container_id, file_ids }) => {
                ResponseTool::CodeInterpreter { container_id, file_ids }
            }
        })
    }
}

impl From<ResponseTool> for pb::ResponseTool {
    fn from(t: ResponseTool) -> Self {
        use pb::response_tool::Tool as T;
        let tool = match t {
            ResponseTool::Function(f) => {
                let FunctionDef { name, description, parameters, strict } = f;
                T::Function(pb::FunctionDefinition {
                    name,
                    description,
                    parameters: parameters.as_ref().map(map_to_struct),
                    strict,
                })
            }
            ResponseTool::FileSearch { vector_store_ids, filters, max_num_results, ranking_options } => {
                T::FileSearch(pb::ResponseFileSearchTool {
                    vector_store_ids,
                    filters: filters.as_ref().map(map_to_struct),
                    max_num_results,
                    ranking_options: ranking_options.map(Into::into),
                })
            }
            ResponseTool::CodeInterpreter { container_id, file_ids } => {
                T::CodeInterpreter(pb::ResponseCodeInterpreterTool { container_id, file_ids })
            }
        };
        pb::ResponseTool { tool: Some(tool) }
    }
}

impl From<Response> for pb::ResponseObject {
    fn from(r: Response) -> Self {
        let Response {
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
        pb::ResponseObject {
            id,
            created_at,
            status,
            completed_at,
            model,
            instructions,
            output: output.into_iter().map(Into::into).collect(),
            previous_response_id,
            conversation_id,
            tools: tools.into_iter().map(Into::into).collect(),
            tool_choice: tool_choice.as_ref().map(json_to_value),
            parallel_tool_calls,
            temperature,
            top_p,
            max_output_tokens,
            max_tool_calls,
            metadata: Some(pb::Metadata { entries: metadata.into_iter().collect() }),
            text: text.as_ref().map(map_to_struct),
            reasoning: reasoning.as_ref().map(map_to_struct),
            store,
            background,
            truncation,
            user,
            safety_identifier,
            usage: usage.map(|Usage { input_tokens, output_tokens }| pb::ResponseUsage { input_tokens, output_tokens }),
            error: error.map(|ResponseError { code, message }| pb::ResponseError { code, message }),
            incomplete_reason,
        }
    }
}

/// An event as proto, its payload shown with `include`.
pub fn event_to_pb(e: Sequenced, include: &[String]) -> pb::ResponseEvent {
    use pb::response_event::Payload;
    let Sequenced { sequence_number, event } = e;
    let (kind, payload): (&str, Payload) = match event {
        Event::Response(name, r) => (name, Payload::Response((*r).shown(include).into())),
        Event::OutputItem { done, output_index, item } => (
            if done { "response.output_item.done" } else { "response.output_item.added" },
            Payload::OutputItem(pb::OutputItemEvent { output_index, item: Some(item.shown(include).into()) }),
        ),
        Event::ContentPart { done, item_id, output_index, content_index, part } => (
            if done { "response.content_part.done" } else { "response.content_part.added" },
            Payload::ContentPart(pb::ContentPartEvent {
                item_id,
                output_index,
                content_index,
                part: Some(part.into()),
            }),
        ),
        Event::TextDelta { item_id, output_index, content_index, delta } => (
            "response.output_text.delta",
            Payload::Delta(pb::DeltaEvent { item_id, output_index, content_index, delta }),
        ),
        Event::TextDone { item_id, output_index, content_index, text } => (
            "response.output_text.done",
            Payload::Done(pb::DoneEvent { item_id, output_index, content_index, text, name: None }),
        ),
        Event::ArgumentsDelta { item_id, output_index, delta } => (
            "response.function_call_arguments.delta",
            Payload::Delta(pb::DeltaEvent { item_id, output_index, content_index: 0, delta }),
        ),
        Event::ArgumentsDone { item_id, output_index, name, arguments } => (
            "response.function_call_arguments.done",
            Payload::Done(pb::DoneEvent { item_id, output_index, content_index: 0, text: arguments, name: Some(name) }),
        ),
        Event::Annotation { item_id, output_index, content_index, annotation_index, annotation } => (
            "response.output_text.annotation.added",
            Payload::Annotation(pb::AnnotationEvent {
                item_id,
                output_index,
                content_index,
                annotation_index,
                annotation: Some(annotation.into()),
            }),
        ),
        Event::CodeDelta { item_id, output_index, delta } => (
            "response.code_interpreter_call_code.delta",
            Payload::Delta(pb::DeltaEvent { item_id, output_index, content_index: 0, delta }),
        ),
        Event::CodeDone { item_id, output_index, code } => (
            "response.code_interpreter_call_code.done",
            Payload::Done(pb::DoneEvent { item_id, output_index, content_index: 0, text: code, name: None }),
        ),
        Event::ToolCall { name, item_id, output_index } => {
            (name, Payload::ToolCall(pb::ToolCallEvent { item_id, output_index }))
        }
        Event::Error(ResponseError { code, message }) => ("error", Payload::Error(pb::ResponseError { code, message })),
    };
    pb::ResponseEvent { r#type: kind.to_owned(), sequence_number, payload: Some(payload) }
}

/// Hides, in an event kept with every output included, what `include` does not ask for.
pub fn hide_unless_included(e: &mut pb::ResponseEvent, include: &[String]) {
    use pb::response_event::Payload;
    let hide = |item: &mut pb::Item| {
        let shown = assistd_common::items::Item::try_from(std::mem::take(item)).map(|it| it.shown(include));
        if let Ok(it) = shown {
            *item = it.into();
        }
    };
    match &mut e.payload {
        Some(Payload::Response(r)) => r.output.iter_mut().for_each(hide),
        Some(Payload::OutputItem(o)) => {
            if let Some(item) = o.item.as_mut() {
                hide(item)
            }
        }
        _ => {}
    }
}

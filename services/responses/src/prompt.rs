//! What the model is sent for a response: the instructions as a system message, then
//! the context items (a previous chain's inputs and outputs, or a conversation's
//! items) and the new input, as chat messages; tools as functions.

use assistd_common::items::{ContentPart, FunctionOutput, Item};
use assistd_common::{ServiceError, ServiceResult};
use assistd_runs::engine::prompt::{code_interpreter_function, file_search_function};
use assistd_runs::model::{ChatMessage, ChatRequest, FunctionSpec, ToolCall, ToolChoice, UserPart};
use serde_json::Value;

use crate::domain::{Response, ResponseTool};

/// The chat request for `r` over `items` (context then input, in order).
pub fn chat_request(r: &Response, model: String, items: &[Item]) -> ServiceResult<ChatRequest> {
    let mut messages = Vec::new();
    if let Some(i) = r.instructions.as_deref().filter(|i| !i.is_empty()) {
        messages.push(ChatMessage::System(i.to_owned()));
    }
    for item in items {
        add_item(&mut messages, item)?;
    }
    let tools = r
        .tools
        .iter()
        .map(|t| match t {
            ResponseTool::Function(f) => FunctionSpec {
                name: f.name.clone(),
                description: f.description.clone(),
                parameters: f.parameters.clone().map(Value::Object),
                strict: f.strict,
            },
            ResponseTool::FileSearch { .. } => file_search_function(),
            ResponseTool::CodeInterpreter { .. } => code_interpreter_function(),
        })
        .collect::<Vec<_>>();
    let tool_choice = match &r.tool_choice {
        None => None,
        Some(Value::String(s)) => match s.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Required),
            _ => Some(ToolChoice::Auto),
        },
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("file_search") => Some(ToolChoice::Function(assistd_runs::engine::prompt::FILE_SEARCH.into())),
            Some("code_interpreter") => {
                Some(ToolChoice::Function(assistd_runs::engine::prompt::CODE_INTERPRETER.into()))
            }
            _ => o.get("name").and_then(Value::as_str).map(|n| ToolChoice::Function(n.to_owned())),
        },
        Some(_) => None,
    };
    Ok(ChatRequest {
        model,
        messages,
        tool_choice: if tools.is_empty() { None } else { tool_choice },
        parallel_tool_calls: if tools.is_empty() { None } else { Some(r.parallel_tool_calls) },
        tools,
        temperature: r.temperature,
        top_p: r.top_p,
        max_tokens: r.max_output_tokens,
        response_format: response_format(r),
    })
}

/// `text.format` as the chat completions API's `response_format`.
fn response_format(r: &Response) -> Option<Value> {
    let format = r.text.as_ref()?.get("format")?;
    match format.get("type")?.as_str()? {
        "json_object" => Some(serde_json::json!({"type": "json_object"})),
        "json_schema" => {
            let mut schema = serde_json::Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key) {
                    schema.insert(key.into(), v.clone());
                }
            }
            Some(serde_json::json!({"type": "json_schema", "json_schema": schema}))
        }
        _ => None,
    }
}

fn unsupported(what: &str) -> ServiceError {
    ServiceError::unimplemented(what)
}

fn user_parts(parts: &[ContentPart]) -> ServiceResult<Vec<UserPart>> {
    parts
        .iter()
        .map(|p| match p {
            ContentPart::InputText { text } | ContentPart::OutputText { text, .. } => Ok(UserPart::Text(text.clone())),
            ContentPart::Refusal { refusal } => Ok(UserPart::Text(refusal.clone())),
            ContentPart::InputImage { image_url: Some(url), detail, .. } => {
                Ok(UserPart::ImageUrl { url: url.clone(), detail: Some(detail.clone()) })
            }
            ContentPart::InputImage { .. } => Err(unsupported("An input_image without image_url")),
            ContentPart::InputFile { .. } => Err(unsupported("An input_file part that was not read")),
        })
        .collect()
}

fn text_of(parts: &[ContentPart]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            ContentPart::InputText { text } | ContentPart::OutputText { text, .. } => Some(text.as_str()),
            ContentPart::Refusal { refusal } => Some(refusal.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("")
}

fn add_item(messages: &mut Vec<ChatMessage>, item: &Item) -> ServiceResult<()> {
    match item {
        Item::Message(m) => match m.role.as_str() {
            "system" | "developer" => messages.push(ChatMessage::System(text_of(&m.content))),
            "assistant" => {
                messages.push(ChatMessage::Assistant { content: Some(text_of(&m.content)), tool_calls: vec![] })
            }
            _ => messages.push(ChatMessage::User(user_parts(&m.content)?)),
        },
        Item::FunctionCall(c) => {
            let call = ToolCall { id: c.call_id.clone(), name: c.name.clone(), arguments: c.arguments.clone() };
            // consecutive calls are one assistant turn
            match messages.last_mut() {
                Some(ChatMessage::Assistant { tool_calls, .. }) if !tool_calls.is_empty() => tool_calls.push(call),
                _ => messages.push(ChatMessage::Assistant { content: None, tool_calls: vec![call] }),
            }
        }
        Item::FunctionCallOutput(o) => {
            let content = match &o.output {
                FunctionOutput::Text(t) => t.clone(),
                FunctionOutput::Parts(parts) => text_of(parts),
            };
            messages.push(ChatMessage::Tool { tool_call_id: o.call_id.clone(), content });
        }
        // What a built-in tool found is in the answer that followed it.
        Item::FileSearchCall(_) | Item::CodeInterpreterCall(_) => {}
        Item::ItemReference(_) => return Err(unsupported("An item_reference input item")),
        Item::Compaction(c) => match c.summary() {
            Some(summary) => {
                messages.push(ChatMessage::System(format!("Summary of the conversation so far:\n{summary}")))
            }
            None => {
                return Err(ServiceError::invalid(
                    "input",
                    "A compaction item that assistd did not write cannot be read (its encrypted_content is another server's).",
                ));
            }
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(v: serde_json::Value) -> Vec<Item> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn items_become_chat_messages() {
        let r = Response { instructions: Some("Be brief.".into()), parallel_tool_calls: true, ..Default::default() };
        let context = items(serde_json::json!([
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "call_1", "name": "w", "arguments": "{}"},
            {"type": "function_call", "call_id": "call_2", "name": "w", "arguments": "{\"x\":1}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            {"type": "function_call_output", "call_id": "call_2", "output": "rain"},
            {"role": "assistant", "content": "Mixed."},
            {"role": "developer", "content": "Now in French."},
        ]));
        let req = chat_request(&r, "m".into(), &context).unwrap();
        assert_eq!(req.messages[0], ChatMessage::System("Be brief.".into()));
        assert_eq!(req.messages[1], ChatMessage::User(vec![UserPart::Text("weather?".into())]));
        let ChatMessage::Assistant { tool_calls, .. } = &req.messages[2] else { panic!("{:?}", req.messages) };
        assert_eq!(tool_calls.len(), 2);
        assert_eq!(req.messages[3], ChatMessage::Tool { tool_call_id: "call_1".into(), content: "sunny".into() });
        assert_eq!(req.messages[5], ChatMessage::Assistant { content: Some("Mixed.".into()), tool_calls: vec![] });
        assert_eq!(req.messages[6], ChatMessage::System("Now in French.".into()));
        assert!(req.tools.is_empty() && req.tool_choice.is_none());
    }

    #[test]
    fn json_schema_format_goes_as_response_format() {
        let text = serde_json::json!({"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}, "strict": true}});
        let r = Response { text: text.as_object().cloned(), ..Default::default() };
        let req = chat_request(&r, "m".into(), &[]).unwrap();
        assert_eq!(
            req.response_format,
            Some(
                serde_json::json!({"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}, "strict": true}})
            )
        );
    }
}

//! WebSocket mode of the Responses API (`GET /v1/responses`, upgraded): the client
//! sends `response.create` messages (the create body's fields, without `stream` and
//! `background`) one after another; each response's events come back as text frames,
//! the same JSON as the SSE stream's. The connection keeps the chain of every response
//! it made (the last [`KEPT`]), so `previous_response_id` continues one of them even
//! when it was made with `store: false`; an id neither the connection nor the store
//! knows is an `error` with code `previous_response_not_found`.

use std::collections::VecDeque;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};

use super::grpc_request;
use crate::Upstreams;
use crate::errors::ApiError;
use crate::extract::parse_json;
use crate::openai::responses::{ResponseIn, event_out};
use assistd_proto::pb;

/// How many responses' chains a connection keeps.
const KEPT: usize = 16;
/// The largest message a client may send.
const MAX_MESSAGE: usize = crate::routes::MAX_JSON_BODY;

const WHAT: &str = "response.create";

/// GET /v1/responses: the WebSocket upgrade; without one, a 405 as before.
pub async fn connect(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => ws.max_message_size(MAX_MESSAGE).on_upgrade(move |socket| serve(socket, up, headers)).into_response(),
        Err(_) => ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "Invalid method for URL (GET /v1/responses): send POST, or open a WebSocket (WebSocket mode).",
        )
        .with_code("method_not_allowed")
        .into_response(),
    }
}

/// An `error` event of WebSocket mode.
fn error_event(e: &ApiError) -> Value {
    json!({
        "type": "error",
        "status": e.status.as_u16(),
        "error": {"type": e.error_type(), "code": e.code, "message": e.message, "param": e.param},
    })
}

/// The chains this connection made: response id → every item up to its output.
#[derive(Default)]
struct Chains(VecDeque<(String, Vec<pb::Item>)>);

impl Chains {
    fn get(&self, id: &str) -> Option<&Vec<pb::Item>> {
        self.0.iter().find(|(k, _)| k == id).map(|(_, v)| v)
    }

    fn keep(&mut self, id: String, items: Vec<pb::Item>) {
        if self.0.len() >= KEPT {
            self.0.pop_front();
        }
        self.0.push_back((id, items));
    }
}

async fn send(socket: &mut WebSocket, v: &Value) -> bool {
    socket.send(Message::Text(v.to_string().into())).await.is_ok()
}

async fn serve(mut socket: WebSocket, up: Upstreams, headers: HeaderMap) {
    let mut chains = Chains::default();
    while let Some(Ok(message)) = socket.recv().await {
        let text = match message {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if let Err(e) = create(&mut socket, &up, &headers, &mut chains, &text).await
            && !send(&mut socket, &error_event(&e)).await
        {
            return;
        }
    }
}

/// Runs one `response.create` message; its events are sent as they come.
async fn create(
    socket: &mut WebSocket,
    up: &Upstreams,
    headers: &HeaderMap,
    chains: &mut Chains,
    text: &str,
) -> Result<(), ApiError> {
    let mut v: Value = parse_json::<Value>(text.as_bytes())?;
    let obj = v.as_object_mut().ok_or_else(|| ApiError::invalid("type", "A message must be a JSON object."))?;
    match obj.remove("type") {
        Some(Value::String(t)) if t == "response.create" => {}
        Some(Value::String(t)) => {
            return Err(ApiError::invalid_value("type", &t, "Supported values are: 'response.create'."));
        }
        _ => return Err(ApiError::missing("type")),
    }
    for transport_only in ["stream", "background"] {
        if obj.get(transport_only).is_some_and(|v| v != &Value::Bool(false) && !v.is_null()) {
            return Err(ApiError::invalid(
                transport_only,
                format!("'{transport_only}' is not used in WebSocket mode: every response is streamed on the socket."),
            )
            .with_code("unsupported_parameter"));
        }
        obj.remove(transport_only);
    }
    let body: ResponseIn = parse_json(v.to_string().as_bytes())?;
    let (mut req, _) = body.into_pb()?;
    let input = req.input.clone();
    if let Some(prev) = &req.previous_response_id
        && let Some(chain) = chains.get(prev)
    {
        req.context = chain.clone();
    }
    let context = req.context.clone();
    let res = up.responses()?.stream_response(grpc_request(headers, req)).await;
    let mut events = res.map_err(|s| ApiError::from_status(&s, WHAT))?.into_inner();
    while let Some(item) = events.next().await {
        let ev = item.map_err(|s| ApiError::from_status(&s, WHAT))?;
        // the final event's response is this connection's new chain end
        if let Some(pb::response_event::Payload::Response(r)) = &ev.payload
            && matches!(ev.r#type.as_str(), "response.completed" | "response.incomplete")
        {
            let mut items = context.clone();
            items.extend(input.iter().cloned());
            items.extend(r.output.iter().cloned());
            chains.keep(r.id.clone(), items);
        }
        let (_, data) = event_out(ev)?;
        if !send(socket, &data).await {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_keep_the_latest() {
        let mut c = Chains::default();
        for i in 0..KEPT + 2 {
            c.keep(format!("resp_{i}"), vec![]);
        }
        assert!(c.get("resp_0").is_none() && c.get("resp_1").is_none());
        assert!(c.get(&format!("resp_{}", KEPT + 1)).is_some());
        let e = error_event(&ApiError::invalid("x", "bad").with_code("c"));
        assert_eq!(e["status"], 400);
        assert_eq!(e["error"]["type"], "invalid_request_error");
    }
}

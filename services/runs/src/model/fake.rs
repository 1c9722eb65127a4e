//! A scripted fake of an OpenAI-compatible backend, for tests: it records every
//! request body and answers each with the next scripted reply — streamed text, tool
//! calls, usage, delays, HTTP errors, or a stream cut off mid-answer. It listens on
//! 127.0.0.1 only and stops when dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A piece of a scripted streamed answer.
#[derive(Debug, Clone)]
pub enum Piece {
    Text(String),
    /// A tool call fragment (`id`/`name` on the first).
    ToolCall {
        /// Position.
        index: u32,
        id: Option<String>,
        name: Option<String>,
        /// Arguments fragment.
        arguments: String,
    },
    /// The finish reason.
    Finish(String),
    /// Token usage.
    Usage(u64, u64),
    /// A pause before the next piece.
    Sleep(Duration),
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Stream these pieces, then `[DONE]` unless `cut` (the connection just ends).
    Stream {
        /// The pieces.
        pieces: Vec<Piece>,
        /// End without `[DONE]`.
        cut: bool,
    },
    /// Answer with this status and OpenAI error message (and `retry-after` seconds).
    Error {
        /// HTTP status.
        status: u16,
        message: String,
        /// `retry-after` header.
        retry_after: Option<u32>,
    },
}

impl Reply {
    /// Text answered in `parts`, then `stop` and usage.
    pub fn text(parts: &[&str]) -> Self {
        let mut pieces: Vec<Piece> = parts.iter().map(|p| Piece::Text((*p).to_owned())).collect();
        pieces.push(Piece::Finish("stop".into()));
        pieces.push(Piece::Usage(10, parts.len() as u64));
        Reply::Stream { pieces, cut: false }
    }

    /// `first`, a pause of `pause`, then `rest` and `stop`: an answer a test can act
    /// in the middle of.
    pub fn slow_text(first: &str, pause: Duration, rest: &str) -> Self {
        let pieces = vec![
            Piece::Text(first.to_owned()),
            Piece::Sleep(pause),
            Piece::Text(rest.to_owned()),
            Piece::Finish("stop".into()),
        ];
        Reply::Stream { pieces, cut: false }
    }

    /// An HTTP error.
    pub fn error(status: u16, message: &str) -> Self {
        Reply::Error { status, message: message.into(), retry_after: None }
    }
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    requests: Vec<Value>,
}

/// A running fake backend.
pub struct FakeBackend {
    /// Base URL, ending in `/v1`.
    pub base_url: String,
    script: Arc<Mutex<Script>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeBackend {
    /// Starts a backend that answers with `replies` in order (then 500s).
    pub async fn start(replies: Vec<Reply>) -> Self {
        let script = Arc::new(Mutex::new(Script { replies: replies.into(), requests: vec![] }));
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(handle))
            .route("/v1/models", axum::routing::get(|| async { axum::Json(models()) }))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the fake backend");
        let addr = listener.local_addr().expect("fake backend address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base_url: format!("http://{addr}/v1"), script, task }
    }

    /// The request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.script.lock().unwrap_or_else(|e| e.into_inner()).requests.clone()
    }

    /// Adds replies to the script.
    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap_or_else(|e| e.into_inner()).replies.push_back(reply);
    }
}

impl Drop for FakeBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What `GET /v1/models` answers: one model, `fake-model`.
pub fn models() -> Value {
    json!({"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 1_700_000_000, "owned_by": "fake"}]})
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let v = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {v}\n\n")
}

async fn handle(State(script): State<Arc<Mutex<Script>>>, body: axum::body::Bytes) -> Response {
    let reply = {
        let mut s = script.lock().unwrap_or_else(|e| e.into_inner());
        s.requests.push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        s.replies.pop_front()
    };
    match reply {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no scripted reply left").into_response(),
        Some(Reply::Error { status, message, retry_after }) => {
            let mut res = (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(json!({"error": {"message": message, "type": "fake"}})),
            )
                .into_response();
            if let Some(s) = retry_after {
                res.headers_mut().insert("retry-after", s.into());
            }
            res
        }
        Some(Reply::Stream { pieces, cut }) => {
            let stream = async_stream::stream! {
                yield Ok::<_, std::io::Error>(chunk(json!({"role": "assistant", "content": ""}), None));
                for p in pieces {
                    let s = match p {
                        Piece::Sleep(d) => { tokio::time::sleep(d).await; continue; }
                        Piece::Text(t) => chunk(json!({"content": t}), None),
                        Piece::ToolCall { index, id, name, arguments } => {
                            let mut call = json!({"index": index, "function": {"arguments": arguments}});
                            if let Some(id) = id { call["id"] = id.into(); call["type"] = "function".into(); }
                            if let Some(n) = name { call["function"]["name"] = n.into(); }
                            chunk(json!({"tool_calls": [call]}), None)
                        }
                        Piece::Finish(r) => chunk(json!({}), Some(&r)),
                        Piece::Usage(p, c) => format!("data: {}\n\n", json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}})),
                    };
                    yield Ok(s);
                }
                if !cut {
                    yield Ok("data: [DONE]\n\n".to_owned());
                }
            };
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap_or_default()
        }
    }
}

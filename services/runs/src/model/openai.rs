//! The OpenAI-compatible backend: `POST {base_url}/chat/completions` with
//! `stream: true` (vLLM, Ollama, llama.cpp server, TGI, LiteLLM, OpenAI, Azure…).
//! 429 and 5xx answers and connection failures before the first byte are retried with
//! backoff (honouring `retry-after`); errors become [`ModelError`]s, never a hang: every
//! wait for the next chunk is bounded by the idle timeout.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use super::sse::SseDecoder;
use super::{ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, ModelError, ModelInfo, ToolChoice, UserPart};

/// An OpenAI-compatible chat completions backend.
#[derive(Clone)]
pub struct OpenAiCompatible {
    endpoint: String,
    models_endpoint: String,
    api_key: Option<String>,
    client: reqwest::Client,
    max_retries: u32,
    backoff: Duration,
    idle_timeout: Duration,
    context_window: Option<u64>,
}

impl OpenAiCompatible {
    /// A backend at `base_url` (ending in `/v1`, as OpenAI clients take it).
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Self, ModelError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .map_err(|e| ModelError::Backend(format!("building the http client: {e}")))?;
        Ok(Self {
            endpoint: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            models_endpoint: format!("{}/models", base_url.trim_end_matches('/')),
            api_key: api_key.filter(|k| !k.is_empty()),
            client,
            max_retries: 3,
            backoff: Duration::from_millis(500),
            idle_timeout: Duration::from_secs(120),
            context_window: None,
        })
    }

    /// The model's context window in tokens, when the operator knows it.
    pub fn with_context_window(mut self, tokens: Option<u64>) -> Self {
        self.context_window = tokens;
        self
    }

    /// Retries after 429/5xx/connection errors, the first after `backoff`, doubling.
    pub fn with_retries(mut self, max_retries: u32, backoff: Duration) -> Self {
        self.max_retries = max_retries;
        self.backoff = backoff;
        self
    }

    /// Longest wait for the response headers or the next chunk.
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    async fn send(&self, body: &Value) -> Result<reqwest::Response, ModelError> {
        let mut attempt = 0;
        loop {
            let mut trace = http::HeaderMap::new();
            assistd_common::trace::inject_headers(&mut trace);
            let mut req = self.client.post(&self.endpoint).headers(trace).json(body);
            if let Some(k) = &self.api_key {
                req = req.bearer_auth(k);
            }
            let wait: Result<(), (ModelError, Option<Duration>)> =
                match tokio::time::timeout(self.idle_timeout, req.send()).await {
                    Err(_) => Err((ModelError::Backend("timed out waiting for the response".into()), None)),
                    Ok(Err(e)) => Err((ModelError::Backend(format!("request failed: {e}")), None)),
                    Ok(Ok(res)) if res.status().is_success() => return Ok(res),
                    Ok(Ok(res)) => {
                        let status = res.status();
                        let retry_after = res
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<f64>().ok())
                            .filter(|s| *s >= 0.0 && *s <= 60.0)
                            .map(Duration::from_secs_f64);
                        let text = res.text().await.unwrap_or_default();
                        let message = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                            .unwrap_or_else(|| text.chars().take(500).collect());
                        let detail = format!("HTTP {}: {message}", status.as_u16());
                        if status.as_u16() == 429 {
                            Err((ModelError::RateLimited(detail), retry_after))
                        } else if status.is_server_error() {
                            Err((ModelError::Backend(detail), retry_after))
                        } else {
                            return Err(ModelError::Rejected(detail));
                        }
                    }
                };
            let (err, retry_after) = wait.unwrap_err();
            if attempt >= self.max_retries {
                return Err(err);
            }
            let delay = retry_after.unwrap_or(self.backoff * 2u32.pow(attempt));
            tracing::warn!(endpoint = %self.endpoint, attempt, delay_ms = delay.as_millis() as u64, error = %err, "model call failed, retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// The request body for `req`.
pub fn request_body(req: &ChatRequest) -> Value {
    let messages: Vec<Value> = req.messages.iter().map(message_json).collect();
    let mut body = json!({
        "model": req.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": t.name, "parameters": t.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}}))});
                if let Some(d) = &t.description {
                    f["description"] = d.clone().into();
                }
                if let Some(s) = t.strict {
                    f["strict"] = s.into();
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        if let Some(p) = req.parallel_tool_calls {
            body["parallel_tool_calls"] = p.into();
        }
    }
    if let Some(c) = &req.tool_choice {
        body["tool_choice"] = match c {
            ToolChoice::None => "none".into(),
            ToolChoice::Auto => "auto".into(),
            ToolChoice::Required => "required".into(),
            ToolChoice::Function(name) => json!({"type": "function", "function": {"name": name}}),
        };
    }
    if let Some(t) = req.temperature {
        body["temperature"] = t.into();
    }
    if let Some(t) = req.top_p {
        body["top_p"] = t.into();
    }
    if let Some(m) = req.max_tokens {
        body["max_tokens"] = m.into();
    }
    if let Some(f) = &req.response_format {
        body["response_format"] = f.clone();
    }
    body
}

fn message_json(m: &ChatMessage) -> Value {
    match m {
        ChatMessage::System(text) => json!({"role": "system", "content": text}),
        ChatMessage::User(parts) => match parts.as_slice() {
            [UserPart::Text(t)] => json!({"role": "user", "content": t}),
            parts => json!({"role": "user", "content": parts.iter().map(|p| match p {
                UserPart::Text(t) => json!({"type": "text", "text": t}),
                UserPart::ImageUrl { url, detail } => json!({"type": "image_url", "image_url": {"url": url, "detail": detail.clone().unwrap_or_else(|| "auto".into())}}),
            }).collect::<Vec<_>>()}),
        },
        ChatMessage::Assistant { content, tool_calls } => {
            let mut v = json!({"role": "assistant", "content": content});
            if !tool_calls.is_empty() {
                v["tool_calls"] = tool_calls
                    .iter()
                    .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
                    .collect();
            }
            v
        }
        ChatMessage::Tool { tool_call_id, content } => {
            json!({"role": "tool", "tool_call_id": tool_call_id, "content": content})
        }
    }
}

/// The events in one streamed chunk (`chat.completion.chunk`).
pub fn chunk_events(chunk: &Value) -> Vec<ChatEvent> {
    let mut out = Vec::new();
    if let Some(choice) = chunk["choices"].get(0) {
        let delta = &choice["delta"];
        if let Some(t) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            out.push(ChatEvent::Text(t.to_owned()));
        }
        if let Some(calls) = delta["tool_calls"].as_array() {
            for (i, c) in calls.iter().enumerate() {
                out.push(ChatEvent::ToolCall {
                    index: c["index"].as_u64().unwrap_or(i as u64) as u32,
                    id: c["id"].as_str().map(str::to_owned),
                    name: c["function"]["name"].as_str().map(str::to_owned),
                    arguments: c["function"]["arguments"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
        if let Some(r) = choice["finish_reason"].as_str() {
            out.push(ChatEvent::Finish(r.to_owned()));
        }
    }
    if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
        out.push(ChatEvent::Usage {
            prompt_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
            completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
        });
    }
    out
}

/// The models of a `GET /models` reply (OpenAI's list shape); entries without an id
/// are skipped.
fn parse_models(body: &Value) -> Vec<ModelInfo> {
    body["data"]
        .as_array()
        .map(|data| {
            data.iter()
                .filter_map(|m| {
                    Some(ModelInfo {
                        id: m["id"].as_str().filter(|id| !id.is_empty())?.to_owned(),
                        created: m["created"].as_i64().unwrap_or(0),
                        owned_by: m["owned_by"].as_str().unwrap_or("backend").to_owned(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl ChatModel for OpenAiCompatible {
    fn context_window(&self) -> Option<u64> {
        self.context_window
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ModelError> {
        let mut req = self.client.get(&self.models_endpoint).timeout(Duration::from_secs(5));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let res = req.send().await.map_err(|e| ModelError::Backend(format!("listing the backend's models: {e}")))?;
        if !res.status().is_success() {
            return Err(ModelError::Backend(format!("listing the backend's models: HTTP {}", res.status())));
        }
        let body: Value =
            res.json().await.map_err(|e| ModelError::Backend(format!("listing the backend's models: {e}")))?;
        Ok(parse_models(&body))
    }

    fn kind(&self) -> &'static str {
        "OpenAI-compatible backend"
    }

    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let body = request_body(&request);
        let res = self.send(&body).await?;
        let idle = self.idle_timeout;
        let mut bytes = res.bytes_stream();
        let stream = async_stream::stream! {
            let mut decoder = SseDecoder::default();
            let mut finished = false;
            loop {
                let next = match tokio::time::timeout(idle, bytes.next()).await {
                    Err(_) => { yield Err(ModelError::Backend("timed out waiting for the next chunk".into())); return; }
                    Ok(n) => n,
                };
                let chunk = match next {
                    None => break,
                    Some(Err(e)) => { yield Err(ModelError::Backend(format!("the stream broke: {e}"))); return; }
                    Some(Ok(c)) => c,
                };
                for event in decoder.push(&chunk) {
                    if event.data.starts_with("[DONE]") {
                        if !finished {
                            yield Err(ModelError::Backend("the stream ended without a finish reason".into()));
                        }
                        return;
                    }
                    let value: Value = match serde_json::from_str(&event.data) {
                        Ok(v) => v,
                        Err(e) => { yield Err(ModelError::Backend(format!("bad chunk: {e}"))); return; }
                    };
                    if let Some(msg) = value["error"]["message"].as_str() {
                        yield Err(ModelError::Backend(msg.to_owned()));
                        return;
                    }
                    for e in chunk_events(&value) {
                        if matches!(e, ChatEvent::Finish(_)) {
                            finished = true;
                        }
                        yield Ok(e);
                    }
                }
            }
            if !finished {
                yield Err(ModelError::Backend("the stream ended before the answer was complete".into()));
            }
        };
        Ok(stream.boxed())
    }
}

//! Embeddings from any OpenAI-compatible `POST {base_url}/embeddings` backend (OpenAI,
//! vLLM, Ollama, llama.cpp server, TEI, LiteLLM…).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::warn;

use super::{EmbedError, Embedder};

/// The most texts sent in one request.
pub const MAX_BATCH: usize = 256;
/// The text embedded once by [`OpenAiEmbeddings::connect`] to learn the vector size.
pub const PROBE_TEXT: &str = "dimension probe";
/// How many times a request that got 429, a 5xx or no answer at all is tried again.
const RETRIES: u32 = 2;
/// The wait before the first retry; it doubles for each next one.
const BACKOFF: Duration = Duration::from_millis(200);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How much of an error body ends up in an error message.
const MAX_MESSAGE_CHARS: usize = 500;

/// Embeddings from an OpenAI-compatible `/embeddings` endpoint.
#[derive(Clone)]
pub struct OpenAiEmbeddings {
    client: reqwest::Client,
    url: String,
    api_key: Option<String>,
    model: String,
    dim: usize,
    id: String,
}

impl std::fmt::Debug for OpenAiEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbeddings")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("dim", &self.dim)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    /// Position of the input; some backends leave it out and answer in order.
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

impl OpenAiEmbeddings {
    /// A client of `{base_url}/embeddings` (`base_url` like `http://host:8000/v1`) for
    /// `model`, sending `api_key` (if any) as a bearer token. Embeds [`PROBE_TEXT`] once
    /// to learn the vector size.
    pub async fn connect(base_url: &str, api_key: Option<String>, model: &str) -> Result<Self, EmbedError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| EmbedError::Backend(format!("cannot build the http client: {e}")))?;
        let mut this = Self {
            client,
            url: format!("{}/embeddings", base_url.trim_end_matches('/')),
            api_key: api_key.filter(|k| !k.is_empty()),
            model: model.to_owned(),
            dim: 0,
            id: String::new(),
        };
        let probe = this.request(&[PROBE_TEXT.to_owned()], None).await?;
        this.dim = probe.first().map_or(0, Vec::len);
        this.id = format!("openai:{}:{}", this.model, this.dim);
        Ok(this)
    }

    /// The model name sent to the backend.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// One request for at most [`MAX_BATCH`] texts, retried on 429, 5xx and transport
    /// errors; the vectors come back in input order, normalised, of size `dim` if given.
    async fn request(&self, texts: &[String], dim: Option<usize>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = EmbeddingsRequest { model: &self.model, input: texts };
        let mut attempt = 0;
        let response = loop {
            let mut request = self.client.post(&self.url).json(&body);
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key);
            }
            let failure = match request.send().await {
                Ok(response) if response.status().is_success() => break response,
                Ok(response) => {
                    let status = response.status();
                    let message = error_message(response).await;
                    let error = EmbedError::Backend(format!("{} answered {status}: {message}", self.url));
                    if !(status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS) {
                        return Err(error);
                    }
                    error
                }
                Err(e) => EmbedError::Backend(format!("request to {} failed: {e}", self.url)),
            };
            if attempt >= RETRIES {
                return Err(failure);
            }
            warn!(url = %self.url, attempt, error = %failure, "embedding request failed, retrying");
            tokio::time::sleep(BACKOFF * 2u32.pow(attempt)).await;
            attempt += 1;
        };

        let bytes = response
            .bytes()
            .await
            .map_err(|e| EmbedError::Backend(format!("cannot read the answer of {}: {e}", self.url)))?;
        let parsed: EmbeddingsResponse = serde_json::from_slice(&bytes)
            .map_err(|e| EmbedError::Backend(format!("unexpected answer from {}: {e}", self.url)))?;
        order_and_normalise(parsed.data, texts.len(), dim)
    }
}

/// Puts the vectors in input order (by `index`), checks them and L2-normalises them.
fn order_and_normalise(
    items: Vec<EmbeddingItem>,
    expected: usize,
    dim: Option<usize>,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let bad = |what: String| Err(EmbedError::Backend(format!("unusable embeddings: {what}")));
    if items.len() != expected {
        return bad(format!("{} vectors for {expected} inputs", items.len()));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in items.into_iter().enumerate() {
        let index = item.index.unwrap_or(position);
        let Some(slot) = slots.get_mut(index) else {
            return bad(format!("index {index} out of range"));
        };
        if slot.is_some() {
            return bad(format!("index {index} repeated"));
        }
        let mut vector = item.embedding;
        let want = dim.unwrap_or(vector.len());
        if vector.is_empty() || vector.len() != want {
            return bad(format!("a vector of size {}, expected {want}", vector.len()));
        }
        if vector.iter().any(|x| !x.is_finite()) {
            return bad("a vector with a non-finite value".to_owned());
        }
        normalise(&mut vector);
        *slot = Some(vector);
    }
    // Every slot is filled: as many items as slots, none repeated, none out of range.
    Ok(slots.into_iter().flatten().collect())
}

fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The backend's own error message: OpenAI's `{"error": {"message": …}}`, or
/// `{"error": "…"}`, `{"message": "…"}`, or the body as text.
async fn error_message(response: reqwest::Response) -> String {
    let text = match response.text().await {
        Ok(text) => text,
        Err(e) => return format!("(unreadable body: {e})"),
    };
    let from_json = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| {
        let message = v.pointer("/error/message").or_else(|| v.get("error")).or_else(|| v.get("message"))?;
        message.as_str().map(str::to_owned)
    });
    let message = from_json.unwrap_or(text);
    let message = message.trim();
    if message.is_empty() {
        return "(empty body)".to_owned();
    }
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

#[async_trait::async_trait]
impl Embedder for OpenAiEmbeddings {
    fn id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(MAX_BATCH) {
            vectors.extend(self.request(batch, Some(self.dim)).await?);
        }
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use axum::Json;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use serde_json::{Value, json};

    use super::*;

    /// A request the scripted server got.
    #[derive(Debug, Clone)]
    struct Seen {
        authorization: Option<String>,
        model: String,
        input: Vec<String>,
    }

    /// A scripted `/v1/embeddings`: answers queued replies first, then embeddings of
    /// `[i + 1, 1, 0.5]` for input `t<i>` (`[3, 4, 0]` for anything else), listed in
    /// reverse order so that the client has to sort them by `index`.
    #[derive(Default)]
    struct Script {
        seen: Vec<Seen>,
        replies: VecDeque<(StatusCode, String)>,
    }

    type Shared = Arc<Mutex<Script>>;

    fn vector_for(text: &str) -> Vec<f32> {
        match text.strip_prefix('t').and_then(|n| n.parse::<u16>().ok()) {
            Some(i) => vec![f32::from(i) + 1.0, 1.0, 0.5],
            None => vec![3.0, 4.0, 0.0],
        }
    }

    async fn embeddings(State(script): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
        let input: Vec<String> = serde_json::from_value(body["input"].clone()).unwrap();
        let mut script = script.lock().unwrap();
        script.seen.push(Seen {
            authorization: headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()),
            model: body["model"].as_str().unwrap_or_default().to_owned(),
            input: input.clone(),
        });
        if let Some((status, body)) = script.replies.pop_front() {
            return (status, body).into_response();
        }
        let data: Vec<Value> = input
            .iter()
            .enumerate()
            .rev()
            .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": vector_for(text)}))
            .collect();
        Json(json!({"object": "list", "data": data, "model": body["model"]})).into_response()
    }

    /// Starts the scripted server on a free port; returns its base URL (`…/v1`).
    async fn serve(script: &Shared) -> String {
        let app =
            axum::Router::new().route("/v1/embeddings", axum::routing::post(embeddings)).with_state(Arc::clone(script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/v1")
    }

    fn seen(script: &Shared) -> Vec<Seen> {
        script.lock().unwrap().seen.clone()
    }

    fn queue(script: &Shared, status: StatusCode, body: &str) {
        script.lock().unwrap().replies.push_back((status, body.to_owned()));
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / norm).collect()
    }

    fn backend_message(err: EmbedError) -> String {
        match err {
            EmbedError::Backend(m) => m,
            other => panic!("expected a backend error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn connect_probes_the_dimension_with_the_key() {
        let script = Shared::default();
        let base = serve(&script).await;
        let embedder = OpenAiEmbeddings::connect(&format!("{base}/"), Some("sk-test".to_owned()), "text-embedding-x")
            .await
            .unwrap();
        assert_eq!(embedder.dim(), 3);
        assert_eq!(embedder.id(), "openai:text-embedding-x:3");
        assert_eq!(embedder.model(), "text-embedding-x");
        assert!(!format!("{embedder:?}").contains("sk-test"));
        let seen = seen(&script);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].authorization.as_deref(), Some("Bearer sk-test"));
        assert_eq!(seen[0].model, "text-embedding-x");
        assert_eq!(seen[0].input, [PROBE_TEXT]);

        embedder.embed(&["t1".to_owned()]).await.unwrap();
        assert_eq!(self::seen(&script)[1].authorization.as_deref(), Some("Bearer sk-test"));
    }

    #[tokio::test]
    async fn no_key_sends_no_authorization() {
        let script = Shared::default();
        let base = serve(&script).await;
        let embedder = OpenAiEmbeddings::connect(&base, None, "m").await.unwrap();
        embedder.embed(&["t1".to_owned()]).await.unwrap();
        assert!(seen(&script).iter().all(|s| s.authorization.is_none()));
    }

    #[tokio::test]
    async fn batches_and_orders_by_index() {
        let script = Shared::default();
        let base = serve(&script).await;
        let embedder = OpenAiEmbeddings::connect(&base, None, "m").await.unwrap();
        let texts: Vec<String> = (0..600).map(|i| format!("t{i}")).collect();
        let vectors = embedder.embed(&texts).await.unwrap();

        let seen = seen(&script);
        let sizes: Vec<usize> = seen[1..].iter().map(|s| s.input.len()).collect();
        assert_eq!(sizes, [256, 256, 88]);
        let sent: Vec<String> = seen[1..].iter().flat_map(|s| s.input.clone()).collect();
        assert_eq!(sent, texts);
        assert_eq!(vectors.len(), texts.len());
        for (text, vector) in texts.iter().zip(&vectors) {
            assert_eq!(vector, &unit(&vector_for(text)), "{text}");
        }
        assert!(embedder.embed(&[]).await.unwrap().is_empty());
        assert_eq!(self::seen(&script).len(), 4, "an empty call sends nothing");
    }

    #[tokio::test]
    async fn maps_backend_errors_without_retrying_4xx() {
        let script = Shared::default();
        let base = serve(&script).await;
        let embedder = OpenAiEmbeddings::connect(&base, None, "m").await.unwrap();

        queue(&script, StatusCode::BAD_REQUEST, r#"{"error":{"message":"model 'm' not found","type":"x"}}"#);
        let message = backend_message(embedder.embed(&["t1".to_owned()]).await.unwrap_err());
        assert!(message.contains("model 'm' not found") && message.contains("400"), "{message}");
        assert_eq!(seen(&script).len(), 2, "a 400 is not retried");

        queue(&script, StatusCode::UNAUTHORIZED, r#"{"error":"invalid api key"}"#);
        let message = backend_message(embedder.embed(&["t1".to_owned()]).await.unwrap_err());
        assert!(message.contains("invalid api key") && message.contains("401"), "{message}");

        queue(&script, StatusCode::NOT_FOUND, "no such route");
        let message = backend_message(embedder.embed(&["t1".to_owned()]).await.unwrap_err());
        assert!(message.contains("no such route"), "{message}");
    }

    #[tokio::test]
    async fn retries_503_and_429() {
        let script = Shared::default();
        let base = serve(&script).await;
        let embedder = OpenAiEmbeddings::connect(&base, None, "m").await.unwrap();

        queue(&script, StatusCode::SERVICE_UNAVAILABLE, r#"{"error":{"message":"loading model"}}"#);
        queue(&script, StatusCode::TOO_MANY_REQUESTS, r#"{"error":{"message":"slow down"}}"#);
        let vectors = embedder.embed(&["t1".to_owned()]).await.unwrap();
        assert_eq!(vectors, [unit(&vector_for("t1"))]);
        assert_eq!(seen(&script).len(), 4, "probe, two failures, success");

        for _ in 0..3 {
            queue(&script, StatusCode::SERVICE_UNAVAILABLE, r#"{"error":{"message":"still loading"}}"#);
        }
        let message = backend_message(embedder.embed(&["t1".to_owned()]).await.unwrap_err());
        assert!(message.contains("still loading") && message.contains("503"), "{message}");
        assert_eq!(seen(&script).len(), 7, "tried three times in all");
    }

    #[tokio::test]
    async fn rejects_unusable_answers() {
        let script = Shared::default();
        let base = serve(&script).await;
        let embedder = OpenAiEmbeddings::connect(&base, None, "m").await.unwrap();
        let two = ["t1".to_owned(), "t2".to_owned()];
        let cases = [
            (r#"{"data":[{"index":0,"embedding":[1,2,3]}]}"#, "1 vectors for 2 inputs"),
            (r#"{"data":[{"index":0,"embedding":[1,2,3]},{"index":0,"embedding":[1,2,3]}]}"#, "repeated"),
            (r#"{"data":[{"index":0,"embedding":[1,2,3]},{"index":5,"embedding":[1,2,3]}]}"#, "out of range"),
            (r#"{"data":[{"index":0,"embedding":[1,2,3]},{"index":1,"embedding":[1,2]}]}"#, "expected 3"),
            (r#"{"unexpected": true}"#, "unexpected answer"),
        ];
        for (body, want) in cases {
            queue(&script, StatusCode::OK, body);
            let message = backend_message(embedder.embed(&two).await.unwrap_err());
            assert!(message.contains(want), "{body}: {message}");
        }
        // Without `index`, the answer's order is the inputs' order.
        queue(&script, StatusCode::OK, r#"{"data":[{"embedding":[0,2,0]},{"embedding":[3,0,4]}]}"#);
        assert_eq!(embedder.embed(&two).await.unwrap(), [vec![0.0, 1.0, 0.0], vec![0.6, 0.0, 0.8]]);
    }

    #[tokio::test]
    async fn connect_fails_when_nothing_listens() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = OpenAiEmbeddings::connect(&format!("http://{addr}/v1"), None, "m").await.unwrap_err();
        assert!(backend_message(err).contains("request to"));
    }
}

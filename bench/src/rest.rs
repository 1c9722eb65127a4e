//! The REST side: setup (thread, seed messages) and the REST scenarios.

use std::time::Duration;

use anyhow::{Context, ensure};
use futures::{StreamExt, TryStreamExt};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};

use crate::{LIST_LIMIT, Scenario};

/// Per-request ceiling for setup requests (the measured loop is bounded by its deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many seed messages are in flight at once.
const SEED_CONCURRENCY: usize = 8;

/// One shared HTTP/1.1 keep-alive client whose pool holds a connection per worker.
/// It sends the API key and `OpenAI-Beta: assistants=v2` on every request, uses no
/// proxy and follows no redirects, so it only ever talks to the given base URL.
pub fn client(api_key: &str, concurrency: usize) -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    let mut auth =
        HeaderValue::from_str(&format!("Bearer {api_key}")).context("the API key is not a valid header value")?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    headers.insert("openai-beta", HeaderValue::from_static("assistants=v2"));
    reqwest::Client::builder()
        .default_headers(headers)
        .http1_only()
        .pool_max_idle_per_host(concurrency.max(1))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("building the HTTP client")
}

/// Sends a request and returns its JSON body, failing on a non-2xx status.
async fn send_json(req: reqwest::RequestBuilder, what: &str) -> anyhow::Result<serde_json::Value> {
    let resp = req.send().await.with_context(|| what.to_owned())?;
    let status = resp.status();
    let body = resp.bytes().await.with_context(|| what.to_owned())?;
    ensure!(status.is_success(), "{what}: HTTP {status}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).with_context(|| format!("{what}: response is not JSON"))
}

/// Creates an empty thread and returns its id.
pub async fn create_thread(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let req = http.post(format!("{base}/v1/threads")).header(CONTENT_TYPE, "application/json").body("{}");
    let v = send_json(req, "POST /v1/threads").await?;
    v["id"].as_str().map(str::to_owned).context("POST /v1/threads: no id in the response")
}

/// Adds `count` user messages to the thread, a few at a time.
pub async fn seed_messages(http: &reqwest::Client, base: &str, thread_id: &str, count: usize) -> anyhow::Result<()> {
    let url = format!("{base}/v1/threads/{thread_id}/messages");
    futures::stream::iter(0..count)
        .map(|i| {
            let req = http.post(&url).header(CONTENT_TYPE, "application/json").body(create_body(i as u64));
            async move { send_json(req, "seeding a message").await.map(drop) }
        })
        .buffer_unordered(SEED_CONCURRENCY)
        .try_collect::<()>()
        .await
}

/// How many messages one list request of the thread returns.
pub async fn count_listed(http: &reqwest::Client, base: &str, thread_id: &str) -> anyhow::Result<usize> {
    let req = http.get(list_url(base, thread_id));
    let v = send_json(req, "listing messages").await?;
    v["data"].as_array().map(Vec::len).context("listing messages: no data array in the response")
}

fn list_url(base: &str, thread_id: &str) -> String {
    format!("{base}/v1/threads/{thread_id}/messages?limit={LIST_LIMIT}")
}

fn create_body(n: u64) -> String {
    format!(r#"{{"role":"user","content":"hello {n}"}}"#)
}

/// A worker's REST requester.
pub struct RestCaller {
    http: reqwest::Client,
    create: bool,
    url: String,
}

impl RestCaller {
    /// A requester for a REST scenario against `thread_id`.
    pub fn new(scenario: Scenario, http: &reqwest::Client, base: &str, thread_id: &str) -> Self {
        let create = scenario == Scenario::RestCreateMessage;
        let url = if create { format!("{base}/v1/threads/{thread_id}/messages") } else { list_url(base, thread_id) };
        Self { http: http.clone(), create, url }
    }

    /// Issues one request and reads the whole response body.
    pub async fn call(&mut self, n: u64) -> Result<(), String> {
        let req = if self.create {
            self.http.post(&self.url).header(CONTENT_TYPE, "application/json").body(create_body(n))
        } else {
            self.http.get(&self.url)
        };
        let resp = req.send().await.map_err(|e| format!("{e:#}"))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| format!("{e:#}"))?;
        if status.is_success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&body);
            Err(format!("HTTP {status}: {}", text.chars().take(300).collect::<String>()))
        }
    }
}

//! The OpenAI-compatible client against the scripted fake backend.

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use super::fake::{FakeBackend, Piece, Reply};
use super::openai::OpenAiCompatible;
use super::{ChatEvent, ChatMessage, ChatModel, ChatRequest, FunctionSpec, ModelError, ToolChoice, UserPart};

fn request() -> ChatRequest {
    ChatRequest {
        model: "m".into(),
        messages: vec![ChatMessage::System("be brief".into()), ChatMessage::User(vec![UserPart::Text("hi".into())])],
        ..Default::default()
    }
}

async fn collect(backend: &OpenAiCompatible, req: ChatRequest) -> Result<Vec<ChatEvent>, ModelError> {
    let mut s = backend.stream(req).await?;
    let mut out = vec![];
    while let Some(e) = s.next().await {
        out.push(e?);
    }
    Ok(out)
}

fn client(fake: &FakeBackend) -> OpenAiCompatible {
    OpenAiCompatible::new(&fake.base_url, Some("sk-backend".into())).unwrap().with_retries(2, Duration::from_millis(10))
}

#[tokio::test]
async fn streams_text_and_usage_and_sends_the_prompt() {
    let fake = FakeBackend::start(vec![Reply::text(&["Hel", "lo"])]).await;
    let mut req = request();
    req.temperature = Some(0.7);
    req.tools = vec![FunctionSpec {
        name: "f".into(),
        description: None,
        parameters: Some(json!({"type": "object"})),
        strict: Some(true),
    }];
    req.tool_choice = Some(ToolChoice::Function("f".into()));
    let events = collect(&client(&fake), req).await.unwrap();
    assert_eq!(
        events,
        vec![
            ChatEvent::Text("Hel".into()),
            ChatEvent::Text("lo".into()),
            ChatEvent::Finish("stop".into()),
            ChatEvent::Usage { prompt_tokens: 10, completion_tokens: 2 }
        ]
    );
    let sent = &fake.requests()[0];
    assert_eq!(sent["messages"], json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]));
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["temperature"], json!(0.7));
    assert_eq!(sent["tools"][0]["function"]["strict"], true);
    assert_eq!(sent["tool_choice"], json!({"type": "function", "function": {"name": "f"}}));
}

#[tokio::test]
async fn tool_call_fragments_keep_their_index() {
    let pieces = vec![
        Piece::ToolCall { index: 0, id: Some("call_1".into()), name: Some("get".into()), arguments: String::new() },
        Piece::ToolCall { index: 0, id: None, name: None, arguments: "{\"a\":".into() },
        Piece::ToolCall { index: 0, id: None, name: None, arguments: "1}".into() },
        Piece::Finish("tool_calls".into()),
    ];
    let fake = FakeBackend::start(vec![Reply::Stream { pieces, cut: false }]).await;
    let events = collect(&client(&fake), request()).await.unwrap();
    let args: String = events
        .iter()
        .filter_map(|e| if let ChatEvent::ToolCall { arguments, .. } = e { Some(arguments.as_str()) } else { None })
        .collect();
    assert_eq!(args, "{\"a\":1}");
    assert!(
        matches!(&events[0], ChatEvent::ToolCall { id: Some(id), name: Some(n), .. } if id == "call_1" && n == "get")
    );
    assert_eq!(events.last(), Some(&ChatEvent::Finish("tool_calls".into())));
}

#[tokio::test]
async fn retries_429_and_5xx_then_succeeds() {
    let fake = FakeBackend::start(vec![
        Reply::Error { status: 429, message: "slow down".into(), retry_after: Some(0) },
        Reply::error(503, "busy"),
        Reply::text(&["ok"]),
    ])
    .await;
    let events = collect(&client(&fake), request()).await.unwrap();
    assert_eq!(events[0], ChatEvent::Text("ok".into()));
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn errors_map_to_run_error_codes() {
    let fake = FakeBackend::start(vec![Reply::error(500, "a"), Reply::error(500, "b"), Reply::error(500, "c")]).await;
    let err = collect(&client(&fake), request()).await.unwrap_err();
    assert_eq!(err.run_error_code(), "server_error");
    assert_eq!(fake.requests().len(), 3, "two retries, then give up");

    let fake = FakeBackend::start(vec![Reply::error(429, "x"), Reply::error(429, "x"), Reply::error(429, "x")]).await;
    assert_eq!(collect(&client(&fake), request()).await.unwrap_err().run_error_code(), "rate_limit_exceeded");

    let fake = FakeBackend::start(vec![Reply::error(400, "context too long")]).await;
    let err = collect(&client(&fake), request()).await.unwrap_err();
    assert_eq!(err.run_error_code(), "invalid_prompt");
    assert!(err.to_string().contains("context too long"));
    assert_eq!(fake.requests().len(), 1, "4xx is not retried");
}

#[tokio::test]
async fn a_stream_cut_mid_answer_is_an_error() {
    let fake = FakeBackend::start(vec![Reply::Stream { pieces: vec![Piece::Text("par".into())], cut: true }]).await;
    let err = collect(&client(&fake), request()).await.unwrap_err();
    assert_eq!(err.run_error_code(), "server_error");
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let pieces = vec![Piece::Text("a".into()), Piece::Sleep(Duration::from_secs(5)), Piece::Finish("stop".into())];
    let fake = FakeBackend::start(vec![Reply::Stream { pieces, cut: false }]).await;
    let backend = client(&fake).with_idle_timeout(Duration::from_millis(300));
    let start = std::time::Instant::now();
    let err = collect(&backend, request()).await.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn the_model_list_is_the_map_then_what_the_backend_lists() {
    use std::sync::Arc;

    use crate::engine::Models;
    use crate::engine::models::Route;

    let fake = FakeBackend::start(vec![]).await;
    let backend: Arc<dyn ChatModel> = Arc::new(client(&fake));
    let listed = backend.list_models().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].owned_by.as_str(), listed[0].created),
        ("fake-model", "fake", 1_700_000_000)
    );

    let models = Models::single(backend.clone())
        .with_route("small", Route { backend: backend.clone(), rename: Some("fake-model".into()) })
        .with_route("fake-model", Route { backend: backend.clone(), rename: None });
    let ids: Vec<(String, String)> = models.list().await.into_iter().map(|m| (m.id, m.owned_by)).collect();
    assert_eq!(
        ids,
        [
            ("fake-model".to_owned(), "assistd (model map: fake-model on the OpenAI-compatible backend)".to_owned()),
            ("small".to_owned(), "assistd (model map: fake-model on the OpenAI-compatible backend)".to_owned()),
        ],
        "map entries sorted, the backend's own entry not repeated"
    );

    // a backend that cannot list adds nothing; no backend lists nothing
    let down: Arc<dyn ChatModel> = Arc::new(OpenAiCompatible::new("http://127.0.0.1:9/v1", None).unwrap());
    assert!(down.list_models().await.is_err());
    assert!(Models::single(down).list().await.is_empty());
    assert!(Models::none().list().await.is_empty());
}

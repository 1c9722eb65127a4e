//! The responses service inside one process: the real conversations service on the
//! same database (SQLite and, when configured, PostgreSQL), the scripted fake model
//! backend behind the OpenAI-compatible client. Tests assert what the client sees and
//! what was sent to the model.

use std::sync::Arc;
use std::time::Duration;

use assistd_common::channel::in_process;
use assistd_common::testing::{request, test_databases};
use assistd_proto::pb;
use assistd_proto::pb::conversation_service_server::ConversationService;
use assistd_proto::pb::response_service_server::ResponseService;
use assistd_runs::Models;
use assistd_runs::model::fake::{FakeBackend, Piece, Reply};
use assistd_runs::model::openai::OpenAiCompatible;
use futures::StreamExt;
use serde_json::{Value, json};

use super::ResponsesService;
use crate::ops::Responses;
use crate::peers::ConversationPeer;
use crate::store::Store;

const P: &str = "p1";

struct World {
    svc: ResponsesService,
    store: Store,
    conversations: assistd_conversations::ConversationsService,
    fake: FakeBackend,
}

async fn world(url: &str, replies: Vec<Reply>) -> World {
    world_with_window(url, replies, None).await
}

async fn world_with_window(url: &str, replies: Vec<Reply>, window: Option<u64>) -> World {
    let db = assistd_common::db::connect(url).await.unwrap();
    for s in [assistd_migrations::Service::Conversations, assistd_migrations::Service::Responses] {
        assistd_migrations::up(&db, s).await.unwrap();
    }
    let conversations = assistd_conversations::ConversationsService::new(assistd_conversations::Conversations::new(
        assistd_conversations::store::Store::new(db.clone()),
    ));
    let peer = ConversationPeer::new(
        in_process(tonic::service::Routes::new(conversations.clone().into_server()).into_axum_router()),
        None,
    );
    let fake = FakeBackend::start(replies).await;
    let backend = OpenAiCompatible::new(&fake.base_url, None)
        .unwrap()
        .with_retries(1, Duration::from_millis(5))
        .with_context_window(window);
    let queue =
        crate::ops::QueueConfig { lease: Duration::from_millis(600), poll: Duration::from_millis(50), concurrency: 4 };
    let store = Store::new(db);
    let ops = Responses::new(store.clone(), Models::single(Arc::new(backend)), Some(peer)).with_queue(queue);
    World { svc: ResponsesService::new(ops), conversations, fake, store }
}

fn user(text: &str) -> pb::Item {
    let item: assistd_common::items::Item = serde_json::from_value(json!({"role": "user", "content": text})).unwrap();
    item.into()
}

fn create(input: Vec<pb::Item>) -> pb::CreateResponseRequest {
    pb::CreateResponseRequest { model: "gpt-test".into(), input, ..Default::default() }
}

fn output_text(r: &pb::ResponseObject) -> String {
    r.output
        .iter()
        .filter_map(|it| match &it.item {
            Some(pb::item::Item::Message(m)) => Some(m.content.iter().filter_map(|p| match &p.part {
                Some(pb::content_part::Part::OutputText(t)) => Some(t.text.clone()),
                _ => None,
            })),
            _ => None,
        })
        .flatten()
        .collect()
}

/// What the backend was sent, as (role, content) pairs.
fn sent(fake: &FakeBackend, n: usize) -> Vec<(String, Value)> {
    fake.requests()[n]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap().to_owned(), m.get("content").cloned().unwrap_or(Value::Null)))
        .collect()
}

#[tokio::test]
async fn a_chain_of_three_sends_the_whole_context_and_each_is_kept() {
    for db in test_databases().await {
        let w =
            world(&db.url, vec![Reply::text(&["Hi ", "Ada."]), Reply::text(&["Ada."]), Reply::text(&["Bye."])]).await;
        let first =
            pb::CreateResponseRequest { instructions: Some("Be brief.".into()), ..create(vec![user("I am Ada.")]) };
        let r1 = w.svc.create_response(request(P, first)).await.unwrap().into_inner();
        assert_eq!((r1.status.as_str(), output_text(&r1).as_str()), ("completed", "Hi Ada."), "{}", db.backend);
        assert!(r1.id.starts_with("resp_"));
        assert_eq!(r1.usage.unwrap().input_tokens, 10);

        let second =
            pb::CreateResponseRequest { previous_response_id: Some(r1.id.clone()), ..create(vec![user("Who am I?")]) };
        let r2 = w.svc.create_response(request(P, second)).await.unwrap().into_inner();
        assert_eq!(output_text(&r2), "Ada.");
        // the instructions are not carried over; the chain's input and output are
        assert_eq!(
            sent(&w.fake, 1),
            vec![
                ("user".into(), json!("I am Ada.")),
                ("assistant".into(), json!("Hi Ada.")),
                ("user".into(), json!("Who am I?")),
            ]
        );
        let third =
            pb::CreateResponseRequest { previous_response_id: Some(r2.id.clone()), ..create(vec![user("Bye.")]) };
        w.svc.create_response(request(P, third)).await.unwrap();
        assert_eq!(sent(&w.fake, 2).len(), 5);
        assert_eq!(sent(&w.fake, 0)[0], ("system".into(), json!("Be brief.")));

        // kept, retrievable, and its input listed
        let got = w
            .svc
            .get_response(request(
                P,
                pb::GetResponseRequest { response_id: r2.id.clone(), include: vec![], starting_after: None },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.previous_response_id.as_deref(), Some(r1.id.as_str()));
        assert_eq!(output_text(&got), "Ada.");
        let items = w
            .svc
            .list_input_items(request(
                P,
                pb::ListInputItemsRequest { response_id: r2.id.clone(), page: None, include: vec![] },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(items.data.len(), 1);
        assert!(items.data[0].id.starts_with("msg_"));

        // another project sees none of it
        let err = w
            .svc
            .get_response(request(
                "p2",
                pb::GetResponseRequest { response_id: r1.id.clone(), include: vec![], starting_after: None },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let err = w
            .svc
            .create_response(request(
                "p2",
                pb::CreateResponseRequest { previous_response_id: Some(r1.id.clone()), ..create(vec![user("x")]) },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);

        w.svc.delete_response(request(P, pb::DeleteResponseRequest { response_id: r1.id.clone() })).await.unwrap();
        let err = w
            .svc
            .get_response(request(
                P,
                pb::GetResponseRequest { response_id: r1.id.clone(), include: vec![], starting_after: None },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
    }
}

#[tokio::test]
async fn a_conversation_is_the_context_and_grows_by_each_response() {
    for db in test_databases().await {
        let w = world(&db.url, vec![Reply::text(&["One."]), Reply::text(&["Two."])]).await;
        let conv = w
            .conversations
            .create_conversation(request(
                P,
                pb::CreateConversationRequest { metadata: None, items: vec![user("Count with me.")] },
            ))
            .await
            .unwrap()
            .into_inner();
        for (n, word) in ["Go.", "Again."].iter().enumerate() {
            let req = pb::CreateResponseRequest { conversation_id: Some(conv.id.clone()), ..create(vec![user(word)]) };
            let r = w.svc.create_response(request(P, req)).await.unwrap().into_inner();
            assert_eq!(r.conversation_id.as_deref(), Some(conv.id.as_str()), "{}", db.backend);
            assert_eq!(sent(&w.fake, n).len(), 2 + 2 * n);
        }
        assert_eq!(sent(&w.fake, 1)[1], ("user".into(), json!("Go.")));
        assert_eq!(sent(&w.fake, 1)[2], ("assistant".into(), json!("One.")));
        let items = w
            .conversations
            .list_items(request(
                P,
                pb::ListItemsRequest {
                    conversation_id: conv.id.clone(),
                    page: Some(pb::ListParams { order: pb::Order::Asc as i32, ..Default::default() }),
                    include: vec![],
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(items.data.len(), 5);

        // both context sources at once, or a missing conversation, are refused
        let both = pb::CreateResponseRequest {
            conversation_id: Some(conv.id.clone()),
            previous_response_id: Some("resp_x".into()),
            ..create(vec![user("x")])
        };
        let err = w.svc.create_response(request(P, both)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let missing =
            pb::CreateResponseRequest { conversation_id: Some("conv_nope".into()), ..create(vec![user("x")]) };
        assert_eq!(w.svc.create_response(request(P, missing)).await.unwrap_err().code(), tonic::Code::NotFound);
    }
}

#[tokio::test]
async fn function_calls_stream_and_their_outputs_continue_the_chain() {
    for db in test_databases().await {
        let call = Reply::Stream {
            pieces: vec![
                Piece::ToolCall {
                    index: 0,
                    id: Some("call_1".into()),
                    name: Some("get_weather".into()),
                    arguments: "{\"city\":".into(),
                },
                Piece::ToolCall { index: 0, id: None, name: None, arguments: "\"Oslo\"}".into() },
                Piece::Finish("tool_calls".into()),
            ],
            cut: false,
        };
        let w = world(&db.url, vec![call, Reply::text(&["3 degrees."])]).await;
        let weather = pb::ResponseTool {
            tool: Some(pb::response_tool::Tool::Function(pb::FunctionDefinition {
                name: "get_weather".into(),
                description: None,
                parameters: None,
                strict: Some(true),
            })),
        };
        let req = pb::CreateResponseRequest { tools: vec![weather.clone()], ..create(vec![user("Weather in Oslo?")]) };
        let events: Vec<pb::ResponseEvent> =
            w.svc.stream_response(request(P, req)).await.unwrap().into_inner().map(|e| e.unwrap()).collect().await;
        let kinds: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ],
            "{}",
            db.backend
        );
        assert!(events.iter().enumerate().all(|(i, e)| e.sequence_number == i as u64));
        let Some(pb::response_event::Payload::Response(done)) = &events[7].payload else { panic!() };
        let Some(pb::item::Item::FunctionCall(c)) = &done.output[0].item else { panic!("{done:?}") };
        assert_eq!((c.call_id.as_str(), c.arguments.as_str()), ("call_1", "{\"city\":\"Oslo\"}"));
        assert_eq!(w.fake.requests()[0]["tools"][0]["function"]["name"], "get_weather");

        let output: assistd_common::items::Item = serde_json::from_value(
            json!({"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\": 3}"}),
        )
        .unwrap();
        let next = pb::CreateResponseRequest {
            previous_response_id: Some(done.id.clone()),
            tools: vec![weather],
            ..create(vec![output.into()])
        };
        let r = w.svc.create_response(request(P, next)).await.unwrap().into_inner();
        assert_eq!(output_text(&r), "3 degrees.");
        let messages = w.fake.requests()[1]["messages"].clone();
        assert_eq!(messages[1]["tool_calls"][0]["id"], "call_1");
        assert_eq!(messages[2], json!({"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 3}"}));
    }
}

#[tokio::test]
async fn store_false_keeps_nothing_and_limits_end_incomplete() {
    for db in test_databases().await {
        let cut =
            Reply::Stream { pieces: vec![Piece::Text("Once upon".into()), Piece::Finish("length".into())], cut: false };
        let w = world(&db.url, vec![Reply::text(&["ok"]), cut]).await;
        let r = w
            .svc
            .create_response(request(P, pb::CreateResponseRequest { store: Some(false), ..create(vec![user("x")]) }))
            .await
            .unwrap()
            .into_inner();
        assert!(!r.store);
        let err = w
            .svc
            .get_response(request(
                P,
                pb::GetResponseRequest { response_id: r.id.clone(), include: vec![], starting_after: None },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "{}", db.backend);

        let req = pb::CreateResponseRequest { max_output_tokens: Some(16), ..create(vec![user("a story")]) };
        let r = w.svc.create_response(request(P, req)).await.unwrap().into_inner();
        assert_eq!((r.status.as_str(), r.incomplete_reason.as_deref()), ("incomplete", Some("max_output_tokens")));
        assert_eq!(w.fake.requests()[1]["max_tokens"], 16);
    }
}

async fn poll_until_ended(svc: &ResponsesService, id: &str) -> pb::ResponseObject {
    for _ in 0..200 {
        let r = svc
            .get_response(request(
                P,
                pb::GetResponseRequest { response_id: id.into(), include: vec![], starting_after: None },
            ))
            .await
            .unwrap()
            .into_inner();
        if !matches!(r.status.as_str(), "queued" | "in_progress") {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("response {id} did not end");
}

#[tokio::test]
async fn background_responses_queue_replay_and_cancel() {
    for db in test_databases().await {
        let slow = Reply::slow_text("Once", Duration::from_secs(5), " upon a time.");
        let w = world(&db.url, vec![Reply::text(&["Queued ", "answer."]), slow]).await;
        let bg = |text: &str| pb::CreateResponseRequest { background: Some(true), ..create(vec![user(text)]) };
        // queued at once; nobody works until the workers start
        let r = w.svc.create_response(request(P, bg("hi"))).await.unwrap().into_inner();
        assert_eq!(r.status, "queued", "{}", db.backend);
        w.svc.ops().spawn_workers(true);
        let done = poll_until_ended(&w.svc, &r.id).await;
        assert_eq!((done.status.as_str(), output_text(&done).as_str()), ("completed", "Queued answer."));

        // its events were kept: replayed after a sequence number, in order, to the end
        let follow = |after: Option<u64>| pb::GetResponseRequest {
            response_id: r.id.clone(),
            include: vec![],
            starting_after: after,
        };
        let all: Vec<pb::ResponseEvent> = w
            .svc
            .follow_response(request(P, follow(None)))
            .await
            .unwrap()
            .into_inner()
            .map(|e| e.unwrap())
            .collect()
            .await;
        let kinds: Vec<&str> = all.iter().map(|e| e.r#type.as_str()).collect();
        assert_eq!(&kinds[..3], ["response.created", "response.queued", "response.in_progress"]);
        assert_eq!(kinds.last(), Some(&"response.completed"));
        let tail: Vec<pb::ResponseEvent> = w
            .svc
            .follow_response(request(P, follow(Some(4))))
            .await
            .unwrap()
            .into_inner()
            .map(|e| e.unwrap())
            .collect()
            .await;
        assert_eq!(tail.first().map(|e| e.sequence_number), Some(5));
        assert_eq!(tail.len(), all.len() - 5);

        // a running background response is cancelled through its row
        let r = w.svc.create_response(request(P, bg("a long story"))).await.unwrap().into_inner();
        for _ in 0..100 {
            let now = w.store.get(&assistd_common::Project(P.into()), &r.id).await.unwrap().unwrap();
            if !now.response.output.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let c = w
            .svc
            .cancel_response(request(P, pb::CancelResponseRequest { response_id: r.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(c.status, "cancelled");

        // a synchronous response cannot be cancelled, nor followed
        let sync = w.svc.create_response(request(P, create(vec![user("x")]))).await.unwrap().into_inner();
        let err = w
            .svc
            .cancel_response(request(P, pb::CancelResponseRequest { response_id: sync.id.clone() }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let err = w
            .svc
            .follow_response(request(
                P,
                pb::GetResponseRequest { response_id: sync.id, include: vec![], starting_after: None },
            ))
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
}

#[tokio::test]
async fn a_background_response_whose_worker_died_fails() {
    for db in test_databases().await {
        let w = world(&db.url, vec![]).await;
        let r = w
            .svc
            .create_response(request(
                P,
                pb::CreateResponseRequest { background: Some(true), ..create(vec![user("x")]) },
            ))
            .await
            .unwrap()
            .into_inner();
        // a worker claims it and dies at once: its lease lapses, nobody renews it
        let dead = assistd_common::Lease::for_next("dead-worker", Duration::from_millis(1));
        let (_, claimed) = w.store.claim(&dead).await.unwrap().expect("claimed");
        assert_eq!(claimed.response.id, r.id);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(w.svc.ops().reap().await.unwrap(), 1, "{}", db.backend);
        let ended = poll_until_ended(&w.svc, &r.id).await;
        assert_eq!(ended.status, "failed");
        assert_eq!(ended.error.unwrap().code, "server_error");
        // followers see it end
        let events: Vec<pb::ResponseEvent> = w
            .svc
            .follow_response(request(
                P,
                pb::GetResponseRequest { response_id: r.id, include: vec![], starting_after: None },
            ))
            .await
            .unwrap()
            .into_inner()
            .map(|e| e.unwrap())
            .collect()
            .await;
        assert_eq!(events.last().map(|e| e.r#type.as_str()), Some("response.failed"));

        // a synchronous response whose replica died mid-answer is ended the same way
        let project = assistd_common::Project(P.into());
        let orphan = crate::domain::Response {
            id: "resp_orphan".into(),
            status: "in_progress".into(),
            model: "m".into(),
            store: true,
            truncation: "disabled".into(),
            ..Default::default()
        };
        w.store.insert(&project, &orphan, &[], Some(&assistd_common::Lease::lapsed("gone"))).await.unwrap();
        assert_eq!(w.svc.ops().reap().await.unwrap(), 1);
        assert_eq!(poll_until_ended(&w.svc, "resp_orphan").await.status, "failed");
    }
}

#[tokio::test]
async fn truncation_auto_leaves_the_oldest_out_and_disabled_refuses() {
    for db in test_databases().await {
        let w =
            world_with_window(&db.url, vec![Reply::text(&["Long noted."]), Reply::text(&["Short."])], Some(120)).await;
        let long = "word ".repeat(80); // about 100 tokens
        let r1 = w.svc.create_response(request(P, create(vec![user(&long)]))).await.unwrap().into_inner();
        let next = |truncation: &str| pb::CreateResponseRequest {
            previous_response_id: Some(r1.id.clone()),
            truncation: Some(truncation.into()),
            ..create(vec![user(&"more ".repeat(40))])
        };
        let err = w.svc.create_response(request(P, next("disabled"))).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{}", db.backend);
        let detail = assistd_common::error::error_detail(&err).unwrap();
        assert_eq!(detail.code.as_deref(), Some("context_length_exceeded"));
        let r2 = w.svc.create_response(request(P, next("auto"))).await.unwrap().into_inner();
        assert_eq!(r2.status, "completed");
        // the long first input was left out; its answer and the new input were sent
        let sent = sent(&w.fake, 1);
        assert!(sent.iter().all(|(_, c)| c != &json!(long)), "{sent:?}");
        assert_eq!(sent.last().unwrap().1, json!("more ".repeat(40)));
        // an input that cannot fit at all is refused even with auto
        let huge =
            pb::CreateResponseRequest { truncation: Some("auto".into()), ..create(vec![user(&"x".repeat(2000))]) };
        assert_eq!(w.svc.create_response(request(P, huge)).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    }
}

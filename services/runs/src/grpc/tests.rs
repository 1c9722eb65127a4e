//! The runs service end to end inside one process: the real assistants and threads
//! services on the same database (SQLite and, when configured, PostgreSQL), the run
//! engine, and the scripted fake model backend. Tests assert both what the client
//! sees and what the engine sent to the model.

use std::sync::Arc;
use std::time::Duration;

use assistd_common::channel::in_process;
use assistd_common::testing::{request, test_databases};
use assistd_proto::pb;
use assistd_proto::pb::run_service_server::RunService;
use futures::StreamExt;
use serde_json::{Value, json};

use super::RunsService;
use crate::engine::{Engine, EngineConfig, Models};
use crate::model::fake::{FakeBackend, Piece, Reply};
use crate::model::openai::OpenAiCompatible;
use crate::peers::Peers;

const P: &str = "p";

struct World {
    svc: RunsService,
    engine: Engine,
    /// The engine's store, for what tests do behind the API (a dead worker's claims).
    store: crate::store::Store,
    /// The engine's peers, for what a dead worker wrote to the thread.
    peers: Peers,
    assistants: assistd_assistants::AssistantsService,
    threads: assistd_threads::ThreadsService,
    fake: FakeBackend,
}

async fn world(url: &str, replies: Vec<Reply>, cfg: EngineConfig) -> World {
    let db = assistd_common::db::connect(url).await.unwrap();
    for s in [
        assistd_migrations::Service::Assistants,
        assistd_migrations::Service::Threads,
        assistd_migrations::Service::Runs,
    ] {
        assistd_migrations::up(&db, s).await.unwrap();
    }
    let assistants = assistd_assistants::AssistantsService::new(assistd_assistants::Assistants::new(
        assistd_assistants::store::Store::new(db.clone()),
    ));
    let threads = assistd_threads::ThreadsService::new(assistd_threads::Threads::new(
        assistd_threads::store::Store::new(db.clone()),
    ));
    let peers = Peers::new(
        in_process(tonic::service::Routes::new(assistants.clone().into_server()).into_axum_router()),
        in_process(tonic::service::Routes::new(threads.clone().into_server()).into_axum_router()),
    );
    let fake = FakeBackend::start(replies).await;
    let backend = OpenAiCompatible::new(&fake.base_url, None).unwrap().with_retries(1, Duration::from_millis(5));
    let store = crate::store::Store::new(db);
    let engine = Engine::new(store.clone(), peers.clone(), Models::single(Arc::new(backend)), cfg);
    World { svc: RunsService::new(engine.clone()), engine, store, peers, assistants, threads, fake }
}

fn lease(owner: &str, until_ms: i64) -> crate::store::Lease {
    crate::store::Lease { owner: owner.into(), until_ms }
}

fn fast() -> EngineConfig {
    EngineConfig { lease: Duration::from_millis(600), poll: Duration::from_millis(50), ..EngineConfig::default() }
}

fn text(s: &str) -> pb::MessageContent {
    pb::MessageContent {
        part: Some(pb::message_content::Part::Text(pb::TextContent { value: s.into(), annotations: vec![] })),
    }
}

fn user(s: &str) -> pb::NewMessage {
    pb::NewMessage { role: pb::MessageRole::User as i32, content: vec![text(s)], ..Default::default() }
}

fn function(name: &str) -> pb::Tool {
    pb::Tool {
        tool: Some(pb::tool::Tool::Function(pb::FunctionDefinition {
            name: name.into(),
            description: Some("d".into()),
            parameters: None,
            strict: None,
        })),
    }
}

impl World {
    async fn assistant(&self, instructions: &str, tools: Vec<pb::Tool>) -> String {
        use pb::assistant_service_server::AssistantService;
        let fields = pb::AssistantFields {
            model: Some("gpt-test".into()),
            instructions: Some(instructions.into()),
            tools,
            ..Default::default()
        };
        self.assistants
            .create_assistant(request(P, pb::CreateAssistantRequest { assistant: Some(fields) }))
            .await
            .unwrap()
            .into_inner()
            .id
    }

    async fn thread(&self, messages: &[&str]) -> String {
        use pb::thread_service_server::ThreadService;
        let req =
            pb::CreateThreadRequest { messages: messages.iter().map(|m| user(m)).collect(), ..Default::default() };
        self.threads.create_thread(request(P, req)).await.unwrap().into_inner().id
    }

    async fn messages(&self, thread_id: &str) -> Vec<pb::Message> {
        use pb::thread_service_server::ThreadService;
        let req = pb::ListMessagesRequest {
            thread_id: thread_id.into(),
            page: Some(pb::ListParams { order: pb::Order::Asc as i32, ..Default::default() }),
            run_id: None,
        };
        self.threads.list_messages(request(P, req)).await.unwrap().into_inner().data
    }

    async fn stream(&self, req: pb::CreateRunRequest) -> Vec<pb::RunEvent> {
        let s = self.svc.stream_run(request(P, req)).await.unwrap().into_inner();
        s.map(|e| e.unwrap()).collect().await
    }

    /// Streams `req` up to its first text delta: the rest of the stream, and the run id.
    async fn stream_to_first_delta(&self, req: pb::CreateRunRequest) -> (super::RunEventStream, String) {
        let mut s = self.svc.stream_run(request(P, req)).await.unwrap().into_inner();
        let mut run_id = String::new();
        while let Some(e) = s.next().await {
            let e = e.unwrap();
            if let Some(pb::run_event::Payload::Run(r)) = &e.payload {
                run_id = r.id.clone();
            }
            if e.event == "thread.message.delta" {
                break;
            }
        }
        (s, run_id)
    }

    /// Writes an empty assistant message of `run_id`, as a run's worker does first.
    async fn run_message(&self, thread_id: &str, assistant_id: &str, run_id: &str) -> pb::Message {
        let message = pb::Message {
            id: assistd_common::ids::MessageId::generate().into_string(),
            created_at: assistd_common::time::now_secs(),
            thread_id: thread_id.into(),
            assistant_id: Some(assistant_id.into()),
            run_id: Some(run_id.into()),
            ..Default::default()
        };
        let caller = crate::peers::Caller::engine(assistd_common::Project(P.into()));
        self.peers.create_run_message(&caller, &message).await.unwrap()
    }

    async fn get(&self, thread_id: &str, run_id: &str) -> pb::Run {
        let req = pb::GetRunRequest { thread_id: thread_id.into(), run_id: run_id.into() };
        self.svc.get_run(request(P, req)).await.unwrap().into_inner()
    }

    async fn wait(&self, thread_id: &str, run_id: &str, until: &[pb::RunStatus]) -> pb::Run {
        for _ in 0..200 {
            let r = self.get(thread_id, run_id).await;
            if until.iter().any(|s| *s as i32 == r.status) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {run_id} never reached {until:?}");
    }

    async fn steps(&self, thread_id: &str, run_id: &str) -> Vec<pb::RunStep> {
        let req = pb::ListRunStepsRequest {
            thread_id: thread_id.into(),
            run_id: run_id.into(),
            page: Some(pb::ListParams { order: pb::Order::Asc as i32, ..Default::default() }),
            include: vec![],
        };
        self.svc.list_run_steps(request(P, req)).await.unwrap().into_inner().data
    }
}

fn names(events: &[pb::RunEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

fn run_of(events: &[pb::RunEvent]) -> pb::Run {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.payload {
            Some(pb::run_event::Payload::Run(r)) => Some(r.clone()),
            _ => None,
        })
        .expect("a run event")
}

fn text_of(m: &pb::Message) -> String {
    m.content
        .iter()
        .filter_map(|c| match &c.part {
            Some(pb::message_content::Part::Text(t)) => Some(t.value.clone()),
            _ => None,
        })
        .collect()
}

fn create(thread_id: &str, assistant_id: &str) -> pb::CreateRunRequest {
    pb::CreateRunRequest { thread_id: thread_id.into(), assistant_id: assistant_id.into(), ..Default::default() }
}

#[tokio::test]
async fn a_streamed_run_sends_the_events_in_order_and_writes_the_answer() {
    for db in test_databases().await {
        let w = world(&db.url, vec![Reply::text(&["Hel", "lo", "!"])], fast()).await;
        let a = w.assistant("Be brief.", vec![]).await;
        let t = w.thread(&["hi"]).await;
        let mut req = create(&t, &a);
        req.additional_instructions = Some("Answer in English.".into());
        req.temperature = Some(0.7);
        let events = w.stream(req).await;
        assert_eq!(
            names(&events),
            [
                "thread.run.created",
                "thread.run.queued",
                "thread.run.in_progress",
                "thread.run.step.created",
                "thread.run.step.in_progress",
                "thread.message.created",
                "thread.message.in_progress",
                "thread.message.delta",
                "thread.message.delta",
                "thread.message.delta",
                "thread.message.completed",
                "thread.run.step.completed",
                "thread.run.completed",
                "done"
            ],
            "{}",
            db.backend
        );
        let run = run_of(&events);
        assert_eq!(run.status, pb::RunStatus::Completed as i32);
        assert_eq!(run.instructions, "Be brief.\n\nAnswer in English.", "the instructions used, as the model got them");
        let usage = run.usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens), (10, 3, 13));
        assert!(run.expires_at.is_none() && run.completed_at.is_some() && run.started_at.is_some());

        let msgs = w.messages(&t).await;
        assert_eq!(msgs.len(), 2);
        assert_eq!(text_of(&msgs[1]), "Hello!");
        assert_eq!(msgs[1].status, pb::MessageStatus::Completed as i32);
        assert_eq!(msgs[1].run_id.as_deref(), Some(run.id.as_str()));
        assert_eq!(msgs[1].assistant_id.as_deref(), Some(a.as_str()));

        let steps = w.steps(&t, &run.id).await;
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].status, pb::RunStepStatus::Completed as i32);
        assert_eq!(steps[0].usage.unwrap().total_tokens, 13);

        let sent = &w.fake.requests()[0];
        assert_eq!(sent["model"], "gpt-test");
        assert_eq!(sent["temperature"], 0.7);
        assert_eq!(sent["messages"][0], json!({"role": "system", "content": "Be brief.\n\nAnswer in English."}));
        assert_eq!(sent["messages"][1]["role"], "user");
        assert_eq!(sent["messages"].as_array().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn queued_runs_are_executed_by_workers() {
    for db in test_databases().await {
        let w = world(&db.url, vec![Reply::text(&["queued answer"])], fast()).await;
        w.engine.spawn_workers(true);
        let a = w.assistant("", vec![]).await;
        let t = w.thread(&["hi"]).await;
        let run = w.svc.create_run(request(P, create(&t, &a))).await.unwrap().into_inner();
        assert_eq!(run.status, pb::RunStatus::Queued as i32);
        assert!(run.usage.is_none() && run.expires_at.is_some());
        let done = w.wait(&t, &run.id, &[pb::RunStatus::Completed]).await;
        assert!(done.usage.is_some());
        assert_eq!(text_of(&w.messages(&t).await[1]), "queued answer");
        // No instructions: no system message.
        assert_eq!(w.fake.requests()[0]["messages"][0]["role"], "user", "{}", db.backend);
        w.engine.stop_workers();
    }
}

fn call(id: &str, name: &str, args: &[&str]) -> Reply {
    let mut pieces =
        vec![Piece::ToolCall { index: 0, id: Some(id.into()), name: Some(name.into()), arguments: String::new() }];
    pieces.extend(args.iter().map(|a| Piece::ToolCall { index: 0, id: None, name: None, arguments: (*a).into() }));
    pieces.push(Piece::Finish("tool_calls".into()));
    Reply::Stream { pieces, cut: false }
}

#[tokio::test]
async fn function_calls_round_trip_through_submit_tool_outputs() {
    for db in test_databases().await {
        let replies = vec![call("call_1", "weather", &["{\"city\":", "\"Paris\"}"]), Reply::text(&["Sunny."])];
        let w = world(&db.url, replies, fast()).await;
        let a = w.assistant("Use tools.", vec![function("weather")]).await;
        let t = w.thread(&["weather in Paris?"]).await;
        let mut req = create(&t, &a);
        req.tool_choice = Some(pb::ToolChoice {
            choice: Some(pb::tool_choice::Choice::Function(pb::FunctionToolChoice { name: "weather".into() })),
        });
        let events = w.stream(req).await;
        assert_eq!(
            names(&events),
            [
                "thread.run.created",
                "thread.run.queued",
                "thread.run.in_progress",
                "thread.run.step.created",
                "thread.run.step.in_progress",
                "thread.run.step.delta",
                "thread.run.step.delta",
                "thread.run.step.delta",
                "thread.run.requires_action",
                "done"
            ]
        );
        let run = run_of(&events);
        let Some(pb::required_action::Action::SubmitToolOutputs(action)) = run.required_action.unwrap().action else {
            panic!("no required action")
        };
        assert_eq!(action.tool_calls[0].id, "call_1");
        assert_eq!(action.tool_calls[0].function.as_ref().unwrap().arguments, "{\"city\":\"Paris\"}");
        let first = &w.fake.requests()[0];
        assert_eq!(first["tool_choice"], json!({"type": "function", "function": {"name": "weather"}}));
        assert_eq!(first["tools"][0]["function"]["name"], "weather");

        // A wrong call id is refused and changes nothing.
        let bad = pb::SubmitToolOutputsRequest {
            thread_id: t.clone(),
            run_id: run.id.clone(),
            tool_outputs: vec![pb::ToolOutput { tool_call_id: "call_x".into(), output: "?".into() }],
        };
        let err = w.svc.submit_tool_outputs(request(P, bad)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(w.get(&t, &run.id).await.status, pb::RunStatus::RequiresAction as i32);

        let submit = pb::SubmitToolOutputsRequest {
            thread_id: t.clone(),
            run_id: run.id.clone(),
            tool_outputs: vec![pb::ToolOutput { tool_call_id: "call_1".into(), output: "22C".into() }],
        };
        let resumed: Vec<pb::RunEvent> = w
            .svc
            .stream_submit_tool_outputs(request(P, submit))
            .await
            .unwrap()
            .into_inner()
            .map(|e| e.unwrap())
            .collect()
            .await;
        let n = names(&resumed);
        assert_eq!(
            &n[..4],
            ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress", "thread.run.step.created"]
        );
        assert_eq!(&n[n.len() - 2..], ["thread.run.completed", "done"]);
        let second = &w.fake.requests()[1];
        let msgs = second["messages"].as_array().unwrap();
        let tail: Vec<&Value> = msgs.iter().rev().take(2).collect();
        assert_eq!(tail[0], &json!({"role": "tool", "tool_call_id": "call_1", "content": "22C"}));
        assert_eq!(tail[1]["tool_calls"][0]["id"], "call_1");
        let steps = w.steps(&t, &run.id).await;
        assert_eq!(steps.len(), 2);
        let Some(pb::run_step_details::Details::ToolCalls(tc)) = steps[0].step_details.clone().unwrap().details else {
            panic!("first step is the tool step")
        };
        let Some(pb::tool_call::Call::Function(f)) = &tc.tool_calls[0].call else { panic!() };
        assert_eq!(f.output.as_deref(), Some("22C"));
        assert_eq!(text_of(&w.messages(&t).await[1]), "Sunny.");
    }
}

#[tokio::test]
async fn one_active_run_per_thread_and_cancel() {
    for db in test_databases().await {
        let w = world(&db.url, vec![], fast()).await; // no workers: runs stay queued
        let a = w.assistant("", vec![]).await;
        let t = w.thread(&["hi"]).await;
        let run = w.svc.create_run(request(P, create(&t, &a))).await.unwrap().into_inner();
        let mut second = create(&t, &a);
        second.additional_messages = vec![user("more")];
        let err = w.svc.create_run(request(P, second)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("already has an active run"), "{}", err.message());
        assert_eq!(w.messages(&t).await.len(), 1, "nothing written by the refused run");

        let c = pb::CancelRunRequest { thread_id: t.clone(), run_id: run.id.clone() };
        let cancelled = w.svc.cancel_run(request(P, c.clone())).await.unwrap().into_inner();
        assert_eq!(cancelled.status, pb::RunStatus::Cancelled as i32);
        assert!(cancelled.cancelled_at.is_some());
        let again = w.svc.cancel_run(request(P, c)).await.unwrap_err();
        assert_eq!(again.message(), "Cannot cancel run with status 'cancelled'.");
        // The thread is free again.
        w.svc.create_run(request(P, create(&t, &a))).await.unwrap();
        let other = w.svc.create_run(request("q", create(&t, &a))).await.unwrap_err();
        assert_eq!(other.code(), tonic::Code::NotFound, "another project sees no thread");
    }
}

#[tokio::test]
async fn cancel_while_streaming_and_while_waiting_for_outputs() {
    for db in test_databases().await {
        let slow = Reply::Stream {
            pieces: vec![
                Piece::Text("partial".into()),
                Piece::Sleep(Duration::from_secs(5)),
                Piece::Text(" never".into()),
            ],
            cut: false,
        };
        let w = world(&db.url, vec![slow, call("call_9", "f", &["{}"])], fast()).await;
        let a = w.assistant("", vec![function("f")]).await;
        let t = w.thread(&["hi"]).await;
        let (s, run_id) = w.stream_to_first_delta(create(&t, &a)).await;
        let c = pb::CancelRunRequest { thread_id: t.clone(), run_id: run_id.clone() };
        let r = w.svc.cancel_run(request(P, c)).await.unwrap().into_inner();
        assert_eq!(r.status, pb::RunStatus::Cancelling as i32);
        let rest: Vec<String> = s.map(|e| e.unwrap().event).collect().await;
        assert!(rest.contains(&"thread.message.incomplete".to_owned()), "{rest:?}");
        assert_eq!(&rest[rest.len() - 2..], ["thread.run.cancelled", "done"]);
        let msgs = w.messages(&t).await;
        assert_eq!(text_of(&msgs[1]), "partial");
        assert_eq!(msgs[1].incomplete_reason.as_deref(), Some("run_cancelled"));

        let events = w.stream(create(&t, &a)).await;
        let run = run_of(&events);
        assert_eq!(run.status, pb::RunStatus::RequiresAction as i32);
        let c = pb::CancelRunRequest { thread_id: t.clone(), run_id: run.id.clone() };
        let r = w.svc.cancel_run(request(P, c)).await.unwrap().into_inner();
        assert_eq!(r.status, pb::RunStatus::Cancelled as i32, "{}", db.backend);
        let steps = w.steps(&t, &run.id).await;
        assert_eq!(steps[0].status, pb::RunStepStatus::Cancelled as i32);
    }
}

#[tokio::test]
async fn backend_errors_become_last_error() {
    for db in test_databases().await {
        let replies = vec![
            Reply::error(500, "boom"),
            Reply::error(500, "boom"),
            Reply::Error { status: 429, message: "slow down".into(), retry_after: Some(0) },
            Reply::Error { status: 429, message: "slow down".into(), retry_after: Some(0) },
            Reply::error(400, "bad prompt"),
            Reply::Stream { pieces: vec![Piece::Text("half an ans".into())], cut: true },
        ];
        let w = world(&db.url, replies, fast()).await;
        let a = w.assistant("", vec![]).await;
        for (code, partial) in
            [("server_error", false), ("rate_limit_exceeded", false), ("invalid_prompt", false), ("server_error", true)]
        {
            let t = w.thread(&["hi"]).await;
            let events = w.stream(create(&t, &a)).await;
            let run = run_of(&events);
            assert_eq!(run.status, pb::RunStatus::Failed as i32, "{code}");
            assert_eq!(run.last_error.as_ref().unwrap().code, code, "{}", run.last_error.as_ref().unwrap().message);
            assert!(run.failed_at.is_some());
            assert_eq!(names(&events).last(), Some(&"done"));
            if partial {
                let m = &w.messages(&t).await[1];
                assert_eq!(m.status, pb::MessageStatus::Incomplete as i32);
                assert_eq!(text_of(m), "half an ans");
                let steps = w.steps(&t, &run.id).await;
                assert_eq!(steps[0].status, pb::RunStepStatus::Failed as i32);
                assert_eq!(steps[0].last_error.as_ref().unwrap().code, "server_error");
            }
        }
    }
}

#[tokio::test]
async fn token_budgets_and_truncation() {
    for db in test_databases().await {
        let long = Reply::Stream {
            pieces: vec![Piece::Text("cut".into()), Piece::Finish("length".into()), Piece::Usage(50, 16)],
            cut: false,
        };
        let w = world(&db.url, vec![long, Reply::text(&["ok"])], fast()).await;
        let a = w.assistant("", vec![]).await;
        let t = w.thread(&["one", "two", "three"]).await;
        let mut req = create(&t, &a);
        req.max_completion_tokens = Some(16);
        let run = run_of(&w.stream(req).await);
        assert_eq!(run.status, pb::RunStatus::Incomplete as i32);
        assert_eq!(run.incomplete_details.unwrap().reason, "max_completion_tokens");
        assert_eq!(w.fake.requests()[0]["max_tokens"], 16);
        let m = &w.messages(&t).await[3];
        assert_eq!(
            (m.status, m.incomplete_reason.as_deref()),
            (pb::MessageStatus::Incomplete as i32, Some("max_tokens"))
        );

        let mut req = create(&t, &a);
        req.truncation_strategy =
            Some(pb::TruncationStrategy { r#type: pb::TruncationType::LastMessages as i32, last_messages: Some(1) });
        let run = run_of(&w.stream(req).await);
        assert_eq!(run.status, pb::RunStatus::Completed as i32);
        let sent = w.fake.requests()[1]["messages"].as_array().unwrap().clone();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0]["content"], "cut", "the last message is the assistant's incomplete answer");

        let mut req = create(&t, &a);
        req.instructions = Some("x".repeat(4000));
        req.max_prompt_tokens = Some(300);
        let run = run_of(&w.stream(req).await);
        assert_eq!(run.status, pb::RunStatus::Incomplete as i32);
        assert_eq!(run.incomplete_details.unwrap().reason, "max_prompt_tokens");
        assert_eq!(w.fake.requests().len(), 2, "no model call for a prompt over budget");
    }
}

#[tokio::test]
async fn a_run_whose_worker_died_is_queued_again_then_fails() {
    for db in test_databases().await {
        let w = world(&db.url, vec![Reply::text(&["after"])], fast()).await;
        let a = w.assistant("", vec![]).await;
        let t = w.thread(&["hi"]).await;
        let run = w.svc.create_run(request(P, create(&t, &a))).await.unwrap().into_inner();
        for attempt in 1..=crate::engine::MAX_ATTEMPTS {
            // A worker claims it and dies at once: its lease is already over.
            let claimed = w.store.claim(&lease("dead-worker", crate::engine::now_ms() - 1)).await.unwrap().unwrap();
            assert_eq!(claimed.1.id, run.id);
            assert!(w.store.claim(&lease("other", crate::engine::now_ms() + 10_000)).await.unwrap().is_none());
            // It had written its message but died before its step was stored.
            let partial = w.run_message(&t, &a, &run.id).await;
            w.engine.reap().await.unwrap();
            let m = w.messages(&t).await.into_iter().find(|m| m.id == partial.id).unwrap();
            assert_eq!(
                (m.status, m.incomplete_reason.as_deref()),
                (pb::MessageStatus::Incomplete as i32, Some("run_failed"))
            );
            let after = w.get(&t, &run.id).await;
            if attempt < crate::engine::MAX_ATTEMPTS {
                assert_eq!(after.status, pb::RunStatus::Queued as i32, "attempt {attempt} ({})", db.backend);
                assert!(after.last_error.is_none());
            } else {
                assert_eq!(after.status, pb::RunStatus::Failed as i32, "{}", db.backend);
                assert_eq!(after.last_error.unwrap().code, "server_error");
            }
        }
        // The thread is usable again.
        let next = run_of(&w.stream(create(&t, &a)).await);
        assert_eq!(next.status, pb::RunStatus::Completed as i32);
    }
}

#[tokio::test]
async fn a_run_whose_worker_died_after_answering_is_completed_not_answered_again() {
    for db in test_databases().await {
        let w = world(&db.url, vec![Reply::text(&["a second answer"])], fast()).await;
        let a = w.assistant("", vec![]).await;
        let t = w.thread(&["hi"]).await;
        let run = w.svc.create_run(request(P, create(&t, &a))).await.unwrap().into_inner();
        let project = assistd_common::Project(P.into());
        let (_, claimed) = w.store.claim(&lease("dead-worker", crate::engine::now_ms() - 1)).await.unwrap().unwrap();
        // The dead worker wrote its whole answer (message completed, step still open)
        // and died before it marked the run done.
        let caller = crate::peers::Caller::engine(project.clone());
        let answer = w.run_message(&t, &a, &run.id).await;
        let done = pb::UpdateRunMessageRequest {
            thread_id: t.clone(),
            message_id: answer.id.clone(),
            status: pb::MessageStatus::Completed as i32,
            content: vec![text("the answer")],
            incomplete_reason: None,
        };
        w.peers.update_run_message(&caller, done).await.unwrap();
        let step = crate::domain::RunStep::open(
            assistd_common::ids::StepId::generate().into_string(),
            &run.id,
            &t,
            &a,
            crate::domain::StepDetails::MessageCreation { message_id: answer.id.clone() },
            assistd_common::time::now_secs(),
        );
        w.store.insert_step(&project, &step).await.unwrap();
        assert_eq!(claimed.id, run.id);
        w.engine.reap().await.unwrap();
        let after = w.get(&t, &run.id).await;
        assert_eq!(after.status, pb::RunStatus::Completed as i32, "{}", db.backend);
        assert_eq!(w.steps(&t, &run.id).await[0].status, pb::RunStepStatus::Completed as i32);
        let answers: Vec<String> = w.messages(&t).await.iter().skip(1).map(text_of).collect();
        assert_eq!(answers, ["the answer"], "answered once");
        assert!(w.fake.requests().is_empty(), "no model call");
    }
}

#[tokio::test]
async fn a_requeued_run_keeps_what_its_dead_worker_finished() {
    for db in test_databases().await {
        // The first drive calls a function the client answers; the worker that takes
        // the run next dies; the drive after it goes on from the tool outputs.
        let replies = vec![call("call_1", "f", &["{}"]), Reply::text(&["whole answer"])];
        let w = world(&db.url, replies, fast()).await;
        let a = w.assistant("", vec![function("f")]).await;
        let t = w.thread(&["hi"]).await;
        let run = run_of(&w.stream(create(&t, &a)).await);
        assert_eq!(run.status, pb::RunStatus::RequiresAction as i32);
        let submit = pb::SubmitToolOutputsRequest {
            thread_id: t.clone(),
            run_id: run.id.clone(),
            tool_outputs: vec![pb::ToolOutput { tool_call_id: "call_1".into(), output: "42".into() }],
        };
        // Submitted without a stream: the run is queued; a worker that dies takes it.
        w.svc.submit_tool_outputs(request(P, submit)).await.unwrap();
        let dead = w.store.claim(&lease("dead-worker", crate::engine::now_ms() - 1)).await.unwrap();
        assert_eq!(dead.unwrap().1.id, run.id);
        w.engine.reap().await.unwrap();
        assert_eq!(w.get(&t, &run.id).await.status, pb::RunStatus::Queued as i32);
        // A live worker finishes it: the function is not called again.
        w.engine.spawn_workers(true);
        let done = w.wait(&t, &run.id, &[pb::RunStatus::Completed, pb::RunStatus::Failed]).await;
        assert_eq!(done.status, pb::RunStatus::Completed as i32, "{:?} ({})", done.last_error, db.backend);
        let steps = w.steps(&t, &run.id).await;
        assert_eq!(steps[0].status, pb::RunStepStatus::Completed as i32, "the function call stays done");
        assert_eq!(steps.len(), 2, "{steps:?}");
        let sent = w.fake.requests().last().unwrap().clone();
        let msgs = sent["messages"].as_array().unwrap();
        assert_eq!(msgs.last().unwrap(), &json!({"role": "tool", "tool_call_id": "call_1", "content": "42"}));
        assert_eq!(text_of(w.messages(&t).await.last().unwrap()), "whole answer");
        w.engine.stop_workers();
    }
}

#[tokio::test]
async fn waiting_for_outputs_too_long_expires_the_run() {
    for db in test_databases().await {
        let w = world(&db.url, vec![call("call_e", "f", &["{}"])], fast()).await;
        let a = w.assistant("", vec![function("f")]).await;
        let t = w.thread(&["hi"]).await;
        let mut req = create(&t, &a);
        req.tool_choice =
            Some(pb::ToolChoice { choice: Some(pb::tool_choice::Choice::Required(pb::ToolChoiceRequired {})) });
        req.parallel_tool_calls = Some(false);
        req.response_format = Some(pb::ResponseFormat {
            format: Some(pb::response_format::Format::JsonSchema(pb::JsonSchemaFormat {
                name: "answer".into(),
                description: None,
                schema: assistd_common::json::json_to_struct(&json!({"type": "object"})),
                strict: Some(true),
            })),
        });
        let run = run_of(&w.stream(req).await);
        assert_eq!(run.status, pb::RunStatus::RequiresAction as i32);
        let sent = &w.fake.requests()[0];
        assert_eq!(sent["tool_choice"], "required");
        assert_eq!(sent["parallel_tool_calls"], false);
        assert_eq!(sent["response_format"]["type"], "json_schema");
        assert_eq!(sent["response_format"]["json_schema"]["name"], "answer");

        // Ten minutes pass (the run's expires_at is moved into the past).
        let project = assistd_common::Project(P.into());
        let mut stored = w.store.get_run(&project, &t, &run.id).await.unwrap().unwrap();
        stored.expires_at = Some(assistd_common::time::now_secs() - 1);
        assert!(
            w.store.save_run(&project, &stored, &[crate::domain::RunStatus::RequiresAction], None, None).await.unwrap()
        );
        w.engine.reap().await.unwrap();
        let expired = w.get(&t, &run.id).await;
        assert_eq!(expired.status, pb::RunStatus::Expired as i32, "{}", db.backend);
        assert!(expired.required_action.is_none());
        assert_eq!(w.steps(&t, &run.id).await[0].status, pb::RunStepStatus::Expired as i32);
        let late = pb::SubmitToolOutputsRequest {
            thread_id: t.clone(),
            run_id: run.id.clone(),
            tool_outputs: vec![pb::ToolOutput { tool_call_id: "call_e".into(), output: "x".into() }],
        };
        assert_eq!(
            w.svc.submit_tool_outputs(request(P, late)).await.unwrap_err().code(),
            tonic::Code::FailedPrecondition
        );
        // and the thread is free
        w.svc.create_run(request(P, create(&t, &a))).await.unwrap();
    }
}

#[tokio::test]
async fn metadata_set_while_a_run_goes_on_is_kept() {
    for db in test_databases().await {
        let slow = Reply::slow_text("thinking", Duration::from_millis(400), " done");
        let w = world(&db.url, vec![slow], fast()).await;
        let a = w.assistant("", vec![]).await;
        let t = w.thread(&["hi"]).await;
        let (s, run_id) = w.stream_to_first_delta(create(&t, &a)).await;
        let modify = pb::ModifyRunRequest {
            thread_id: t.clone(),
            run_id: run_id.clone(),
            metadata: Some(pb::Metadata { entries: [("foo".to_owned(), "bar".to_owned())].into() }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["metadata".into()] }),
        };
        let modified = w.svc.modify_run(request(P, modify)).await.unwrap().into_inner();
        assert_eq!(modified.status, pb::RunStatus::InProgress as i32);
        let rest: Vec<pb::RunEvent> = s.map(|e| e.unwrap()).collect().await;
        let done = run_of(&rest);
        assert_eq!(done.status, pb::RunStatus::Completed as i32);
        assert_eq!(done.metadata.unwrap().entries.get("foo").map(String::as_str), Some("bar"), "the event");
        let stored = w.get(&t, &run_id).await;
        assert_eq!(stored.metadata.unwrap().entries.get("foo").map(String::as_str), Some("bar"), "{}", db.backend);
    }
}

/// A sandbox for code_interpreter (scripts/setup-sandbox makes its Python; the test
/// suite runs it first).
fn sandbox() -> Arc<dyn assistd_sandbox::Sandbox> {
    let python = std::env::var_os("ASSISTD_SANDBOX_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(assistd_sandbox::local::default_python);
    let limits = assistd_sandbox::Limits { max_sessions: 4, ..Default::default() };
    let local = assistd_sandbox::local::LocalSandbox::new(None, &python, limits);
    local.available().expect("the sandbox can run here (scripts/setup-sandbox)");
    Arc::new(local)
}

#[tokio::test]
async fn code_interpreter_streams_its_input_and_outputs_over_grpc() {
    use pb::tool_call_delta::Call;
    for db in test_databases().await {
        let replies = vec![
            call("call_c", "code_interpreter", &["{\"code\": \"print(", "6 * 7)\\nz = ", "1\"}"]),
            Reply::text(&["42."]),
        ];
        let mut w = world(&db.url, replies, fast()).await;
        let peers = w.peers.clone().with_sandbox(sandbox());
        w.engine = Engine::new(
            w.store.clone(),
            peers,
            Models::single(Arc::new(OpenAiCompatible::new(&w.fake.base_url, None).unwrap())),
            fast(),
        );
        w.svc = RunsService::new(w.engine.clone());
        let tool = pb::Tool { tool: Some(pb::tool::Tool::CodeInterpreter(pb::CodeInterpreterTool {})) };
        let a = w.assistant("Compute.", vec![tool]).await;
        let t = w.thread(&["6 times 7?"]).await;
        let events = w.stream(create(&t, &a)).await;
        assert_eq!(run_of(&events).status, pb::RunStatus::Completed as i32, "{}", db.backend);

        let deltas: Vec<(Option<String>, pb::CodeInterpreterCallDelta)> = events
            .iter()
            .filter_map(|e| match &e.payload {
                Some(pb::run_event::Payload::RunStepDelta(d)) => match &d.step_details.as_ref()?.details {
                    Some(pb::run_step_delta_details::Details::ToolCalls(t)) => {
                        let c = t.tool_calls.first()?;
                        match &c.call {
                            Some(Call::CodeInterpreter(ci)) => Some((c.id.clone(), ci.clone())),
                            _ => None,
                        }
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert_eq!(deltas[0].0.as_deref(), Some("call_c"));
        let input: String = deltas.iter().filter_map(|(_, d)| d.input.clone()).collect();
        assert_eq!(input, "print(6 * 7)\nz = 1");
        let last = &deltas.last().unwrap().1;
        let logs = pb::code_interpreter_output_delta::Output::Logs("42\n".into());
        assert_eq!(last.outputs, [pb::CodeInterpreterOutputDelta { index: 0, output: Some(logs) }]);

        let run_id = run_of(&events).id;
        let steps = w.steps(&t, &run_id).await;
        let Some(pb::run_step_details::Details::ToolCalls(calls)) = &steps[0].step_details.as_ref().unwrap().details
        else {
            panic!("a tool_calls step first")
        };
        let Some(pb::tool_call::Call::CodeInterpreter(ci)) = &calls.tool_calls[0].call else { panic!("a code call") };
        assert_eq!(ci.input, "print(6 * 7)\nz = 1");
        // The model read the output back.
        let second = &w.fake.requests()[1]["messages"];
        let last_message = &second[second.as_array().unwrap().len() - 1];
        assert_eq!(last_message["content"], "42\n");
        assert_eq!(text_of(&w.messages(&t).await[1]), "42.");
    }
}

#[tokio::test]
async fn code_interpreter_without_a_sandbox_fails_the_run_saying_why() {
    for db in test_databases().await {
        let replies = vec![call("call_n", "code_interpreter", &["{\"code\": \"1 + 1\"}"])];
        let w = world(&db.url, replies, fast()).await;
        let tool = pb::Tool { tool: Some(pb::tool::Tool::CodeInterpreter(pb::CodeInterpreterTool {})) };
        let a = w.assistant("Compute.", vec![tool]).await;
        let t = w.thread(&["1 + 1?"]).await;
        let run = run_of(&w.stream(create(&t, &a)).await);
        assert_eq!(run.status, pb::RunStatus::Failed as i32, "{}", db.backend);
        let error = run.last_error.unwrap();
        assert_eq!(error.code, "server_error");
        assert!(error.message.contains("code_interpreter is unavailable"), "{}", error.message);
        let steps = w.steps(&t, &run.id).await;
        assert_eq!(steps[0].status, pb::RunStepStatus::Failed as i32);
    }
}

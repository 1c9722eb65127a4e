//! Runs end to end with the real binary and the scripted fake model backend: a
//! worker process killed mid-run, a streaming client that goes away, and SIGTERM
//! with runs in flight. Every test runs on SQLite and, when configured, PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use assistd_runs::model::fake::{FakeBackend, Reply};
use common::{KEY, Launch, Server, call, http, test_databases};
use serde_json::{Value, json};

async fn setup(s: &Server) -> (String, String) {
    let c = http();
    let (st, a) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": "m"}))).await;
    assert_eq!(st, 200, "{a}");
    let (st, t) =
        call(c.post(s.url("/v1/threads")).json(&json!({"messages": [{"role": "user", "content": "hi"}]}))).await;
    assert_eq!(st, 200, "{t}");
    (a["id"].as_str().unwrap().to_owned(), t["id"].as_str().unwrap().to_owned())
}

async fn run(s: &Server, thread: &str, id: &str) -> Value {
    call(http().get(s.url(&format!("/v1/threads/{thread}/runs/{id}")))).await.1
}

async fn wait_for(s: &Server, thread: &str, id: &str, status: &str, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let r = run(s, thread, id).await;
        if r["status"] == status {
            return r;
        }
        assert!(start.elapsed() < within, "run {id} is {} after {within:?}, not {status}", r["status"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn messages(s: &Server, thread: &str) -> Vec<Value> {
    let (_, m) = call(http().get(s.url(&format!("/v1/threads/{thread}/messages?order=asc")))).await;
    m["data"].as_array().unwrap().clone()
}

fn text(m: &Value) -> String {
    m["content"].as_array().unwrap().iter().filter_map(|c| c["text"]["value"].as_str()).collect()
}

/// Streams a run and returns its SSE event names.
async fn stream(s: &Server, thread: &str, assistant: &str) -> Vec<String> {
    let res = http()
        .post(s.url(&format!("/v1/threads/{thread}/runs")))
        .bearer_auth(KEY)
        .json(&json!({"assistant_id": assistant, "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    body.lines().filter_map(|l| l.strip_prefix("event: ").map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_worker_killed_mid_run_leaves_its_run_to_another_worker() {
    for db in test_databases().await {
        let fake = FakeBackend::start(vec![
            Reply::slow_text("partial", Duration::from_secs(120), "never"),
            Reply::text(&["recovered"]),
        ])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let lease = "1.5";
        let api = Launch::serve()
            .database(&db)
            .data_dir(dir.path())
            .args(&["--no-workers", "--run-lease", lease])
            .env("ASSISTD_LLM_BASE_URL", &fake.base_url)
            .start();
        let vector_stores = format!("vector_stores={}", api.base);
        let worker = |db| {
            Launch::command(&["worker", "--run-lease", lease, "--upstream", &vector_stores])
                .database(db)
                .data_dir(dir.path())
                .env("ASSISTD_LLM_BASE_URL", &fake.base_url)
                .start()
        };
        let first = worker(&db);
        let (a, t) = setup(&api).await;
        let (st, r) =
            call(http().post(api.url(&format!("/v1/threads/{t}/runs"))).json(&json!({"assistant_id": a}))).await;
        assert_eq!((st, r["status"].as_str()), (200, Some("queued")), "{r}");
        let id = r["id"].as_str().unwrap().to_owned();
        wait_for(&api, &t, &id, "in_progress", Duration::from_secs(20)).await;
        // the worker is mid-answer once the assistant's message and its step exist
        let start = Instant::now();
        let steps_url = api.url(&format!("/v1/threads/{t}/runs/{id}/steps"));
        while messages(&api, &t).await.len() < 2
            || call(http().get(&steps_url)).await.1["data"].as_array().is_none_or(|d| d.is_empty())
        {
            assert!(start.elapsed() < Duration::from_secs(20), "no answer started");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let killed = std::process::Command::new("kill").args(["-KILL", &first.pid().to_string()]).status().unwrap();
        assert!(killed.success());
        // Within its lease the run is queued again (the API process reaps), with what
        // the dead worker left open closed.
        let at = Instant::now();
        let queued = wait_for(&api, &t, &id, "queued", Duration::from_secs(10)).await;
        assert!(at.elapsed() < Duration::from_secs(5), "queued after {:?} with a {lease}s lease", at.elapsed());
        assert!(queued["last_error"].is_null(), "{queued}");
        let msgs = messages(&api, &t).await;
        assert_eq!(msgs[1]["status"], "incomplete", "{}", msgs[1]);
        assert_eq!(msgs[1]["incomplete_details"]["reason"], "run_failed");
        let (_, steps) = call(http().get(&steps_url)).await;
        assert_eq!(steps["data"][0]["status"], "failed", "{steps}");
        // Another worker finishes it; nothing was lost and nothing doubled.
        let _second = worker(&db);
        let done = wait_for(&api, &t, &id, "completed", Duration::from_secs(20)).await;
        assert!(done["last_error"].is_null(), "{done}");
        let msgs = messages(&api, &t).await;
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert_eq!(text(&msgs[2]), "recovered");
        let (_, steps) = call(http().get(format!("{steps_url}?order=asc"))).await;
        let statuses: Vec<&str> =
            steps["data"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["failed", "completed"], "{} ({})", steps, db.backend);
        // the thread is usable again
        fake.push(Reply::text(&["again"]));
        let events = stream(&api, &t, &a).await;
        assert_eq!(events.iter().rev().nth(1).map(String::as_str), Some("thread.run.completed"), "{events:?}");
    }
}

#[tokio::test]
async fn a_client_that_goes_away_does_not_stop_its_run() {
    for db in test_databases().await {
        let fake = FakeBackend::start(vec![Reply::slow_text("first ", Duration::from_millis(600), "second")]).await;
        let s = Launch::serve().database(&db).env("ASSISTD_LLM_BASE_URL", &fake.base_url).start();
        let (a, t) = setup(&s).await;
        let mut res = http()
            .post(s.url(&format!("/v1/threads/{t}/runs")))
            .bearer_auth(KEY)
            .json(&json!({"assistant_id": a, "stream": true}))
            .send()
            .await
            .unwrap();
        let mut seen = String::new();
        while !seen.contains("thread.message.delta") {
            let chunk = res.chunk().await.unwrap().expect("stream ended early");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        let id = seen
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .find(|v| v["object"] == "thread.run")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        drop(res); // the client goes away mid-answer
        wait_for(&s, &t, &id, "completed", Duration::from_secs(20)).await;
        assert_eq!(text(&messages(&s, &t).await[1]), "first second", "{}", db.backend);
        // the run shows in the metrics, and no stream is left counted as open
        let metrics = http().get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let value = |name: &str| -> f64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
                .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
        };
        assert_eq!(value(r#"assistd_runs_total{status="completed"}"#), 1.0);
        assert_eq!(value("assistd_run_first_token_seconds_count"), 1.0);
        // no usage from this backend: estimated, 4 characters a token ("first second")
        assert_eq!(value(r#"assistd_run_tokens_total{kind="completion"}"#), 3.0);
        assert_eq!(value("assistd_run_streams_open"), 0.0);
    }
}

#[tokio::test]
async fn sigterm_ends_runs_in_flight_instead_of_leaving_them_to_lapse() {
    for db in test_databases().await {
        let fake = FakeBackend::start(vec![Reply::slow_text("partial", Duration::from_secs(120), "never")]).await;
        let dir = tempfile::tempdir().unwrap();
        let mut s = Launch::serve()
            .database(&db)
            .data_dir(dir.path())
            .args(&["--shutdown-timeout", "1"])
            .env("ASSISTD_LLM_BASE_URL", &fake.base_url)
            .start();
        let (a, t) = setup(&s).await;
        let (_, r) = call(http().post(s.url(&format!("/v1/threads/{t}/runs"))).json(&json!({"assistant_id": a}))).await;
        let id = r["id"].as_str().unwrap().to_owned();
        wait_for(&s, &t, &id, "in_progress", Duration::from_secs(20)).await;
        let at = Instant::now();
        assert!(s.terminate().success());
        assert!(at.elapsed() < Duration::from_secs(8), "shutdown took {:?}", at.elapsed());
        let s = Launch::serve().database(&db).data_dir(dir.path()).start();
        let r = run(&s, &t, &id).await;
        assert_eq!((r["status"].as_str(), r["last_error"]["code"].as_str()), (Some("failed"), Some("server_error")));
    }
}

/// The embedded model (SmolLM2-135M, run in process with candle) answers a question,
/// streamed, with no backend configured. Needs the model file: `scripts/test` puts it
/// in place (scripts/setup-models) and names it in `ASSISTD_EMBEDDED_MODEL`.
#[tokio::test]
async fn the_embedded_model_answers_streamed() {
    let Some(model) = std::env::var("ASSISTD_EMBEDDED_MODEL").ok().filter(|p| std::path::Path::new(p).is_file()) else {
        eprintln!("ASSISTD_EMBEDDED_MODEL is not a file: skipping (scripts/test sets it up)");
        return;
    };
    let dbs = test_databases().await;
    let s = Launch::serve().database(&dbs[0]).env("ASSISTD_EMBEDDED_MODEL", &model).start();
    let c = http();
    let (_, a) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": "smollm2"}))).await;
    let (_, t) = call(c.post(s.url("/v1/threads")).json(&json!({
        "messages": [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
    })))
    .await;
    let t = t["id"].as_str().unwrap();
    let res = c
        .post(s.url(&format!("/v1/threads/{t}/runs")))
        .bearer_auth(KEY)
        .json(&json!({"assistant_id": a["id"], "stream": true, "temperature": 0, "max_completion_tokens": 40}))
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    let deltas: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["object"] == "thread.message.delta")
        .map(|v| v["delta"]["content"][0]["text"]["value"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(deltas.len() > 1, "streamed in pieces: {deltas:?}");
    let answer = deltas.concat();
    assert!(answer.contains("Paris"), "{answer}");
    assert!(body.contains("event: thread.run.completed") || body.contains("event: thread.run.incomplete"), "{body}");
    assert_eq!(text(&messages(&s, t).await[1]), answer);
}

/// The model map sends runs of some models to another backend, under another name;
/// the rest go to the default backend as they are.
#[tokio::test]
async fn the_model_map_routes_models_to_backends() {
    let dbs = test_databases().await;
    let default = FakeBackend::start(vec![Reply::text(&["from default"])]).await;
    let other = FakeBackend::start(vec![Reply::text(&["from other"])]).await;
    let s = Launch::serve()
        .database(&dbs[0])
        .env("ASSISTD_LLM_BASE_URL", &default.base_url)
        .env("ASSISTD_MODEL_MAP", &format!("gpt-4o=local-model@{}", other.base_url))
        .start();
    let c = http();
    for (model, answer) in [("gpt-4o", "from other"), ("m", "from default")] {
        let (_, a) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": model}))).await;
        let (_, t) =
            call(c.post(s.url("/v1/threads")).json(&json!({"messages": [{"role": "user", "content": "hi"}]}))).await;
        let t = t["id"].as_str().unwrap();
        let events = stream(&s, t, a["id"].as_str().unwrap()).await;
        assert!(events.contains(&"thread.run.completed".to_owned()), "{events:?}");
        assert_eq!(text(&messages(&s, t).await[1]), answer);
    }
    assert_eq!(other.requests()[0]["model"], "local-model");
    assert_eq!(default.requests()[0]["model"], "m");
    let (_, runs) = call(c.get(s.url("/v1/assistants"))).await;
    assert_eq!(runs["data"].as_array().unwrap().len(), 2);
}

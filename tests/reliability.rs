//! What a fault and abuse sweep found, kept as tests of the real binary: slow and
//! stalled clients are timed out while slow but moving ones are not, bad input gets
//! an OpenAI error, polling clients are told how long to wait, another project's
//! vector store cannot be referenced, and `assistd worker` can run file_search.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use assistd_runs::model::fake::{FakeBackend, Piece, Reply};
use common::{KEY, Launch, Server, assert_error, call, http, test_databases};
use serde_json::{Value, json};

/// Writes `head` on a fresh connection to `s` and returns the connection.
fn raw(s: &Server, head: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(&s.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp.write_all(head.as_bytes()).unwrap();
    tcp
}

/// Reads until the server closes the connection (or 20 s pass); what it sent.
fn read_to_close(tcp: &mut TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

fn status_of(response: &str) -> u16 {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn slow_stalled_and_idle_connections_are_cut_and_moving_ones_are_not() {
    let s = Launch::serve().args(&["--header-timeout", "1", "--body-timeout", "1"]).start();
    let auth = format!("Authorization: Bearer {KEY}\r\n");

    // Headers that never finish: the connection is closed after the header timeout.
    let mut slow = (0..50).map(|_| raw(&s, "POST /v1/assistants HTTP/1.1\r\nHost: x\r\n")).collect::<Vec<_>>();
    for tcp in &mut slow {
        let (_, took) = read_to_close(tcp);
        assert!(took < Duration::from_secs(5), "a half-sent header kept its connection {took:?}");
    }

    // An idle keep-alive connection is closed once its request is answered and the
    // next does not come.
    let mut idle = raw(&s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let (answer, took) = read_to_close(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(5), "an idle keep-alive connection stayed {took:?}");

    // A body far larger than any request may be is refused at once, before it is read.
    for (path, ctype) in [("/v1/assistants", "application/json"), ("/v1/files", "multipart/form-data; boundary=x")] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {ctype}\r\nContent-Length: 2147483648\r\n\r\n{{\"model\":1}}"
        );
        let mut tcp = raw(&s, &head);
        let (answer, took) = read_to_close(&mut tcp);
        assert_eq!(status_of(&answer), 413, "{path}: {answer}");
        assert!(answer.contains("\"request_too_large\""), "{answer}");
        assert!(took < Duration::from_secs(3), "{path} answered after {took:?}");
    }

    // A body that stops arriving is answered 408 after the body timeout.
    let head = format!(
        "POST /v1/assistants HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\":"
    );
    let mut stalled = raw(&s, &head);
    let (answer, took) = read_to_close(&mut stalled);
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A slow body that keeps moving is never cut: 3 s in pieces, 0.4 s apart, with a
    // 1 s body timeout.
    let body = json!({"model": "m", "name": "slow but steady", "instructions": "x".repeat(40)}).to_string();
    let head = format!(
        "POST /v1/assistants HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut tcp = raw(&s, &head);
    for piece in body.as_bytes().chunks(body.len().div_ceil(8)) {
        std::thread::sleep(Duration::from_millis(400));
        tcp.write_all(piece).unwrap();
    }
    let (answer, _) = read_to_close(&mut tcp);
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(answer.contains("slow but steady"));

    // and through all of it the server stayed responsive
    let (st, _) = call(http().get(s.url("/v1/assistants"))).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn bad_input_gets_openai_errors() {
    let s = Launch::serve().env("ASSISTD_EMBEDDINGS_MODEL", "none").start();
    let c = http();
    let (st, vs) = call(c.post(s.url("/v1/vector_stores")).json(&json!({"name": "v"}))).await;
    assert_eq!(st, 200, "{vs}");
    let search = s.url(&format!("/v1/vector_stores/{}/search", vs["id"].as_str().unwrap()));

    // Search: bounded number and length of queries.
    let (st, e) = call(c.post(&search).json(&json!({"query": vec!["q"; 50_000]}))).await;
    assert_eq!(st, 400, "{e}");
    assert_error(&e, Some("query"));
    let (st, e) = call(c.post(&search).json(&json!({"query": "x".repeat(1_000_000)}))).await;
    assert_eq!(st, 400, "{e}");
    assert_error(&e, Some("query"));
    assert!(e.to_string().len() < 2_000, "the query is not echoed back");
    let (st, e) = call(c.post(&search).json(&json!({"query": ["ok", "y".repeat(5_000)]}))).await;
    assert_eq!(st, 400);
    assert_error(&e, Some("query[1]"));
    let (st, ok) = call(c.post(&search).json(&json!({"query": vec!["q"; 10]}))).await;
    assert_eq!(st, 200, "{ok}");

    // Huge metadata is refused by its rules, whatever its size.
    let metadata: serde_json::Map<String, Value> = (0..100_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (st, e) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": "m", "metadata": metadata}))).await;
    assert_eq!(st, 400, "{e}");
    assert_error(&e, Some("metadata"));

    // Deeply nested JSON is a parse error, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let body = format!("{{\"model\":\"m\",\"metadata\":{deep}}}");
    let res = c
        .post(s.url("/v1/assistants"))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_error(&res.json::<Value>().await.unwrap(), Some("body"));

    // A body that is not multipart on /v1/files: an OpenAI error, not plain text.
    let res = c
        .post(s.url("/v1/files"))
        .bearer_auth(KEY)
        .header("content-type", "application/octet-stream")
        .body(vec![b'x'; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/json");
    // the body was not read: the connection closes, and the client is told so
    assert_eq!(res.headers()["connection"], "close");
    assert_error(&res.json::<Value>().await.unwrap(), None);

    // A junk cursor is a 400 naming it, on every list.
    let (_, a) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": "m"}))).await;
    let (_, t) = call(c.post(s.url("/v1/threads")).json(&json!({}))).await;
    let t = t["id"].as_str().unwrap();
    let (_, r) = call(c.post(s.url(&format!("/v1/threads/{t}/runs"))).json(&json!({"assistant_id": a["id"]}))).await;
    let r = r["id"].as_str().unwrap();
    let vs_id = vs["id"].as_str().unwrap();
    for list in [
        "/v1/assistants".to_owned(),
        format!("/v1/threads/{t}/messages"),
        format!("/v1/threads/{t}/runs"),
        format!("/v1/threads/{t}/runs/{r}/steps"),
        "/v1/files".to_owned(),
        "/v1/vector_stores".to_owned(),
        format!("/v1/vector_stores/{vs_id}/files"),
    ] {
        let (st, e) = call(c.get(s.url(&format!("{list}?after=junk")))).await;
        assert_eq!(st, 400, "{list}: {e}");
        assert_error(&e, Some("after"));
        let (st, e) = call(c.get(s.url(&format!("{list}?before=asst_%27%3B")))).await;
        assert_eq!(st, 400, "{list}: {e}");
        assert_error(&e, Some("before"));
    }
}

#[tokio::test]
async fn vector_store_references_are_checked_like_file_references() {
    for db in test_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let s = Launch::serve().database(&db).data_dir(dir.path()).env("ASSISTD_EMBEDDINGS_MODEL", "none").start();
        let url = (db.backend != "sqlite").then_some(db.url.as_str());
        let other = common::keys_create(dir.path(), url, "other");
        let c = http();
        let res = c.post(s.url("/v1/vector_stores")).bearer_auth(&other).json(&json!({})).send().await.unwrap();
        let theirs = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let (_, mine) = call(c.post(s.url("/v1/vector_stores")).json(&json!({}))).await;
        let mine = mine["id"].as_str().unwrap().to_owned();
        let (_, a) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": "m"}))).await;
        let a = a["id"].as_str().unwrap().to_owned();
        let (_, t) = call(c.post(s.url("/v1/threads")).json(&json!({}))).await;
        let t = t["id"].as_str().unwrap().to_owned();

        let param = "tool_resources.file_search.vector_store_ids[0]";
        let mut messages = vec![];
        for bad in [theirs.as_str(), "vs_made_up", "nonsense"] {
            let resources = json!({"file_search": {"vector_store_ids": [bad]}});
            let calls = [
                (s.url("/v1/assistants"), json!({"model": "m", "tool_resources": resources})),
                (s.url(&format!("/v1/assistants/{a}")), json!({"tool_resources": resources})),
                (s.url("/v1/threads"), json!({"tool_resources": resources})),
                (s.url(&format!("/v1/threads/{t}")), json!({"tool_resources": resources})),
                (s.url("/v1/threads/runs"), json!({"assistant_id": a, "tool_resources": resources})),
                (s.url("/v1/threads/runs"), json!({"assistant_id": a, "thread": {"tool_resources": resources}})),
            ];
            for (url, body) in calls {
                let (st, e) = call(c.post(&url).json(&body)).await;
                assert_eq!(st, 400, "{url} {body}: {e} ({})", db.backend);
                let expected = if body.get("thread").is_some() { format!("thread.{param}") } else { param.to_owned() };
                assert_error(&e, Some(&expected));
                messages.push(e["error"]["message"].as_str().unwrap().replace(bad, "ID"));
            }
        }
        // Another project's store and a made-up one are refused alike: nothing leaks.
        assert!(messages.iter().all(|m| *m == messages[0]), "{messages:?}");
        // Nothing was changed or made by the refused calls.
        let (_, list) = call(c.get(s.url("/v1/assistants"))).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        assert_eq!(list["data"][0]["tool_resources"], json!({}), "{list}");
        // The caller's own store is accepted.
        let resources = json!({"file_search": {"vector_store_ids": [mine]}});
        let (st, e) =
            call(c.post(s.url(&format!("/v1/assistants/{a}"))).json(&json!({"tool_resources": resources}))).await;
        assert_eq!(st, 200, "{e}");
    }
}

async fn get(s: &Server, path: &str) -> (Value, Option<u32>) {
    let res = http().get(s.url(path)).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let poll = res.headers().get("openai-poll-after-ms").map(|v| v.to_str().unwrap().parse().unwrap());
    (res.json().await.unwrap(), poll)
}

#[tokio::test]
async fn polled_objects_say_when_to_poll_again() {
    let fake = FakeBackend::start(vec![Reply::slow_text("a", Duration::from_millis(1500), "b")]).await;
    let s = Launch::serve().env("ASSISTD_LLM_BASE_URL", &fake.base_url).env("ASSISTD_EMBEDDINGS_MODEL", "none").start();
    let c = http();
    let (_, a) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": "m"}))).await;
    let (_, t) =
        call(c.post(s.url("/v1/threads")).json(&json!({"messages": [{"role": "user", "content": "hi"}]}))).await;
    let t = t["id"].as_str().unwrap();
    let (st, r) = call(c.post(s.url(&format!("/v1/threads/{t}/runs"))).json(&json!({"assistant_id": a["id"]}))).await;
    assert_eq!(st, 200, "{r}");
    let run_path = format!("/v1/threads/{t}/runs/{}", r["id"].as_str().unwrap());
    // While it starts or works: a short wait.
    let (run, poll) = get(&s, &run_path).await;
    assert!(matches!(run["status"].as_str(), Some("queued" | "in_progress")), "{run}");
    assert!(poll.is_some_and(|ms| ms <= 250), "{poll:?}");
    let start = Instant::now();
    let (step_id, step_poll) = loop {
        let (steps, _) = get(&s, &format!("{run_path}/steps")).await;
        if let Some(id) = steps["data"][0]["id"].as_str() {
            let (step, poll) = get(&s, &format!("{run_path}/steps/{id}")).await;
            break (id.to_owned(), (step["status"].clone(), poll));
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no step");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if step_poll.0 == "in_progress" {
        assert!(step_poll.1.is_some_and(|ms| ms <= 250), "{step_poll:?}");
    }
    // Once it is done: a long one.
    let (run, poll) = loop {
        let (run, poll) = get(&s, &run_path).await;
        if run["status"] == "completed" {
            break (run, poll);
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(poll, Some(1000), "{run}");
    assert_eq!(get(&s, &format!("{run_path}/steps/{step_id}")).await.1, Some(1000));

    // Vector store files and batches while they are indexed, and after.
    let form = reqwest::multipart::Form::new()
        .text("purpose", "assistants")
        .part("file", reqwest::multipart::Part::bytes(b"paid leave is 25 days".to_vec()).file_name("h.txt"));
    let (_, f) = call(c.post(s.url("/v1/files")).multipart(form)).await;
    let (_, vs) = call(c.post(s.url("/v1/vector_stores")).json(&json!({}))).await;
    let vs = vs["id"].as_str().unwrap();
    let (_, b) =
        call(c.post(s.url(&format!("/v1/vector_stores/{vs}/file_batches"))).json(&json!({"file_ids": [f["id"]]})))
            .await;
    let batch_path = format!("/v1/vector_stores/{vs}/file_batches/{}", b["id"].as_str().unwrap());
    let file_path = format!("/v1/vector_stores/{vs}/files/{}", f["id"].as_str().unwrap());
    loop {
        let (file, poll) = get(&s, &file_path).await;
        let (batch, batch_poll) = get(&s, &batch_path).await;
        let expect = |status: &Value| if status == "in_progress" { 500 } else { 1000 };
        assert_eq!(poll, Some(expect(&file["status"])), "{file}");
        assert_eq!(batch_poll, Some(expect(&batch["status"])), "{batch}");
        if file["status"] == "completed" && batch["status"] == "completed" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{file}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `{"queries": [...]}` called as file_search, then an answer.
fn search_then_answer(query: &str, answer: &str) -> Vec<Reply> {
    let args = json!({"queries": [query]}).to_string();
    vec![
        Reply::Stream {
            pieces: vec![
                Piece::ToolCall {
                    index: 0,
                    id: Some("call_fs".into()),
                    name: Some("file_search".into()),
                    arguments: args,
                },
                Piece::Finish("tool_calls".into()),
            ],
            cut: false,
        },
        Reply::text(&[answer]),
    ]
}

#[tokio::test]
async fn a_worker_runs_file_search_and_says_what_it_needs_at_start() {
    // Without a way to reach the vector stores service, `assistd worker` does not start.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["worker", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("ASSISTD_QDRANT_URL")
        .env("ASSISTD_API_KEYS", KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--upstream vector_stores=URL"), "{stderr}");

    for db in test_databases().await {
        let fake = FakeBackend::start(search_then_answer("paid leave", "25 days.")).await;
        let dir = tempfile::tempdir().unwrap();
        let api = Launch::serve()
            .database(&db)
            .data_dir(dir.path())
            .args(&["--no-workers"])
            .env("ASSISTD_LLM_BASE_URL", &fake.base_url)
            .env("ASSISTD_EMBEDDINGS_MODEL", "none")
            .start();
        let vector_stores = format!("vector_stores={}", api.base);
        let _worker = Launch::command(&["worker", "--upstream", &vector_stores])
            .database(&db)
            .data_dir(dir.path())
            .env("ASSISTD_LLM_BASE_URL", &fake.base_url)
            .start();
        let c = http();
        let form = reqwest::multipart::Form::new().text("purpose", "assistants").part(
            "file",
            reqwest::multipart::Part::bytes(b"Paid leave: every employee gets 25 days a year.".to_vec())
                .file_name("handbook.txt"),
        );
        let (_, f) = call(c.post(api.url("/v1/files")).multipart(form)).await;
        let (_, vs) = call(c.post(api.url("/v1/vector_stores")).json(&json!({"file_ids": [f["id"]]}))).await;
        let vs_id = vs["id"].as_str().unwrap();
        let start = Instant::now();
        while call(c.get(api.url(&format!("/v1/vector_stores/{vs_id}")))).await.1["file_counts"]["completed"] != 1 {
            assert!(start.elapsed() < Duration::from_secs(30), "not indexed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (st, a) = call(c.post(api.url("/v1/assistants")).json(&json!({
            "model": "m",
            "tools": [{"type": "file_search"}],
            "tool_resources": {"file_search": {"vector_store_ids": [vs_id]}},
        })))
        .await;
        assert_eq!(st, 200, "{a}");
        let (st, r) = call(c.post(api.url("/v1/threads/runs")).json(&json!({
            "assistant_id": a["id"],
            "thread": {"messages": [{"role": "user", "content": "How much paid leave?"}]},
        })))
        .await;
        assert_eq!(st, 200, "{r}");
        let run_path = format!("/v1/threads/{}/runs/{}", r["thread_id"].as_str().unwrap(), r["id"].as_str().unwrap());
        let run = loop {
            let (_, run) = call(c.get(api.url(&run_path))).await;
            if !matches!(run["status"].as_str(), Some("queued" | "in_progress")) {
                break run;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{run}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(run["status"], "completed", "{run} ({})", db.backend);
        let (_, steps) = call(c.get(api.url(&format!(
            "{run_path}/steps?order=asc&include[]=step_details.tool_calls[*].file_search.results[*].content"
        ))))
        .await;
        let call0 = &steps["data"][0]["step_details"]["tool_calls"][0];
        assert_eq!(call0["type"], "file_search", "{steps}");
        assert_eq!(call0["file_search"]["results"][0]["file_name"], "handbook.txt", "{steps}");
    }
}

#[tokio::test]
async fn idle_connections_close_but_long_streams_and_grpc_channels_go_on() {
    let fake = FakeBackend::start(vec![Reply::slow_text("first", Duration::from_millis(2500), " last")]).await;
    let s = Launch::serve()
        .args(&["--idle-timeout", "1", "--header-timeout", "1"])
        .env("ASSISTD_LLM_BASE_URL", &fake.base_url)
        .start();

    // An HTTP/2 (h2c) connection with nothing in flight gets GOAWAY and is closed (once
    // the client answers the server's PING, as HTTP/2 clients do).
    let mut h2 = TcpStream::connect(&s.addr).unwrap();
    h2.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    h2.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap(); // an empty SETTINGS frame
    let start = Instant::now();
    let mut goaway = None;
    let mut head = [0u8; 9];
    while h2.read_exact(&mut head).is_ok() {
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let mut payload = vec![0u8; len];
        if h2.read_exact(&mut payload).is_err() {
            break;
        }
        match (head[3], head[4] & 1) {
            (7, _) => goaway = goaway.or(Some(start.elapsed())),
            (6, 0) => {
                // PING: answer with an ACK carrying the same payload
                let mut ack = vec![0, 0, 8, 6, 1, 0, 0, 0, 0];
                ack.extend_from_slice(&payload);
                let _ = h2.write_all(&ack);
            }
            _ => {}
        }
    }
    let closed = start.elapsed();
    let goaway = goaway.expect("a GOAWAY frame");
    assert!(goaway < Duration::from_secs(4), "GOAWAY after {goaway:?}");
    assert!(closed < Duration::from_secs(6), "an idle HTTP/2 connection stayed {closed:?}");

    // A response that streams for longer than the idle limit is not cut.
    let (_, a) = call(http().post(s.url("/v1/assistants")).json(&json!({"model": "m"}))).await;
    let (_, t) =
        call(http().post(s.url("/v1/threads")).json(&json!({"messages": [{"role": "user", "content": "hi"}]}))).await;
    let res = http()
        .post(s.url(&format!("/v1/threads/{}/runs", t["id"].as_str().unwrap())))
        .bearer_auth(KEY)
        .json(&json!({"assistant_id": a["id"], "stream": true}))
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(body.contains("thread.run.completed") && body.ends_with("data: [DONE]\n\n"), "{body}");

    // A gRPC channel whose connection was closed while idle connects again.
    let ch = tonic::transport::Endpoint::from_shared(s.base.clone()).unwrap().connect().await.unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch);
    for _ in 0..2 {
        let req = tonic_health::pb::HealthCheckRequest { service: String::new() };
        health.check(req).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1800)).await;
    }
}

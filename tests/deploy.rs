//! Deployment shapes and auth: the split shape (gateway + one process per service,
//! each with its own SQLite file), projects and `assistd keys create`, auth off.

mod common;

use std::process::Command;

use common::{KEY, Launch, Server, call, http, test_databases};
use serde_json::json;

#[tokio::test]
async fn split_shape_gateway_and_five_services() {
    let names = ["files", "vector_stores", "assistants", "threads", "runs"];
    let mut services: Vec<Server> = Vec::new();
    let up = |services: &[Server], i: usize| format!("{}={}", names[i], services[i].base);
    for n in names {
        let s = match n {
            "files" => Launch::serve().args(&["--only", "files"]).start(),
            // vector stores read files; assistants and threads check files and make
            // vector stores; runs call assistants, threads and vector stores
            "vector_stores" => Launch::serve().args(&["--only", n, "--upstream", &up(&services, 0)]).start(),
            "assistants" | "threads" => Launch::serve()
                .args(&["--only", n, "--upstream", &up(&services, 0), "--upstream", &up(&services, 1)])
                .start(),
            _ => Launch::serve()
                .args(&["--only", "runs", "--upstream", &up(&services, 2), "--upstream", &up(&services, 3)])
                .args(&["--upstream", &up(&services, 1)])
                .start(),
        };
        services.push(s);
    }
    let mut args = vec!["gateway".to_owned()];
    for (n, s) in names.iter().zip(&services) {
        args.push("--upstream".into());
        args.push(format!("{n}={}", s.base));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let gw = Launch::command(&args).start();
    let c = http();

    let (st, a) = call(c.post(gw.url("/v1/assistants")).json(&json!({"model": "m", "name": "split"}))).await;
    assert_eq!(st, 200, "{a}");
    let (st, t) =
        call(c.post(gw.url("/v1/threads")).json(&json!({"messages": [{"role": "user", "content": "hi"}]}))).await;
    assert_eq!(st, 200, "{t}");
    let (_, msgs) = call(c.get(gw.url(&format!("/v1/threads/{}/messages", t["id"].as_str().unwrap())))).await;
    assert_eq!(msgs["data"][0]["content"][0]["text"]["value"], "hi");
    let form = reqwest::multipart::Form::new()
        .text("purpose", "assistants")
        .part("file", reqwest::multipart::Part::bytes(b"split bytes".to_vec()).file_name("s.txt"));
    let (st, f) = call(c.post(gw.url("/v1/files")).multipart(form)).await;
    assert_eq!(st, 200, "{f}");
    let body = c
        .get(gw.url(&format!("/v1/files/{}/content", f["id"].as_str().unwrap())))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "split bytes");
    let (st, e) = call(c.post(gw.url(&format!("/v1/threads/{}/messages", t["id"].as_str().unwrap()))).json(&json!({
        "role": "user", "content": "x", "attachments": [{"file_id": "file-nope", "tools": [{"type": "file_search"}]}]
    })))
    .await;
    assert_eq!(st, 400, "file references are checked across processes: {e}");
    let (st, m) = call(c.post(gw.url(&format!("/v1/threads/{}/messages", t["id"].as_str().unwrap()))).json(&json!({
        "role": "user", "content": "x", "attachments": [{"file_id": f["id"], "tools": [{"type": "file_search"}]}]
    })))
    .await;
    assert_eq!(st, 200, "{m}");
    // the attachment went into the thread's own vector store, in the vector stores process
    let (_, t2) = call(c.get(gw.url(&format!("/v1/threads/{}", t["id"].as_str().unwrap())))).await;
    let vs = t2["tool_resources"]["file_search"]["vector_store_ids"][0].as_str().expect("a thread vector store");
    let (st, vsf) = call(c.get(gw.url(&format!("/v1/vector_stores/{vs}/files/{}", f["id"].as_str().unwrap())))).await;
    assert_eq!(st, 200, "{vsf}");
    let (st, e) = call(c.get(gw.url("/v1/threads/thread_x/runs"))).await;
    assert_eq!(st, 404, "{e}");
    // the runs service reads the thread and the assistant across processes, as the caller
    let (st, e) = call(c.post(gw.url(&format!("/v1/threads/{}/runs", t["id"].as_str().unwrap()))).json(&json!({
        "assistant_id": "asst_nope"
    })))
    .await;
    assert_eq!((st, e["error"]["message"].as_str()), (404, Some("No assistant found with id 'asst_nope'.")), "{e}");
    let (st, r) = call(c.post(gw.url(&format!("/v1/threads/{}/runs", t["id"].as_str().unwrap()))).json(&json!({
        "assistant_id": a["id"]
    })))
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["status"], "queued");
    let res = c.get(gw.url("/v1/assistants")).bearer_auth("sk-wrong").send().await.unwrap();
    assert_eq!(res.status(), 401);

    // each service stored only its own objects, in its own database file
    let dbs: Vec<u64> = services
        .iter()
        .map(|s| std::fs::metadata(s.data_dir.join("assistd.db")).map(|m| m.len()).unwrap_or(0))
        .collect();
    assert!(dbs.iter().all(|&n| n > 0), "every service has its own SQLite file");
    let assistants_db =
        sea_orm::Database::connect(format!("sqlite://{}/assistd.db", services[2].data_dir.display())).await.unwrap();
    let threads_db =
        sea_orm::Database::connect(format!("sqlite://{}/assistd.db", services[3].data_dir.display())).await.unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    let count = |db: &sea_orm::DatabaseConnection, table: &str| {
        let sql = format!("SELECT count(*) AS n FROM sqlite_master WHERE type='table' AND name='{table}'");
        let db = db.clone();
        async move {
            db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap()
        }
    };
    assert_eq!(count(&assistants_db, "assistants").await, 1);
    assert_eq!(count(&assistants_db, "messages").await, 0);
    assert_eq!(count(&threads_db, "messages").await, 1);
    assert_eq!(count(&threads_db, "assistants").await, 0);
}

#[tokio::test]
async fn projects_are_isolated_and_new_keys_work_at_once() {
    for db in test_databases().await {
        let dir = tempfile::tempdir().unwrap();
        let s = Launch::serve().database(&db).data_dir(dir.path()).start();
        let url = (db.backend != "sqlite").then_some(db.url.as_str());
        let alpha = common::keys_create(dir.path(), url, "alpha");
        let beta = common::keys_create(dir.path(), url, "beta");
        let c = http();
        let res =
            c.post(s.url("/v1/assistants")).bearer_auth(&alpha).json(&json!({"model": "m"})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let a: serde_json::Value = res.json().await.unwrap();
        let id = a["id"].as_str().unwrap();
        for key in [&beta, &KEY.to_owned()] {
            let res = c.get(s.url(&format!("/v1/assistants/{id}"))).bearer_auth(key).send().await.unwrap();
            assert_eq!(res.status(), 404, "{}", db.backend);
            let res = c.delete(s.url(&format!("/v1/assistants/{id}"))).bearer_auth(key).send().await.unwrap();
            assert_eq!(res.status(), 404);
            let list: serde_json::Value =
                c.get(s.url("/v1/assistants")).bearer_auth(key).send().await.unwrap().json().await.unwrap();
            assert_eq!(list["data"], json!([]));
        }
        let res = c.get(s.url(&format!("/v1/assistants/{id}"))).bearer_auth(&alpha).send().await.unwrap();
        assert_eq!(res.status(), 200);
        // a thread of alpha is invisible to beta, messages included
        let t: serde_json::Value = c
            .post(s.url("/v1/threads"))
            .bearer_auth(&alpha)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let res = c
            .post(s.url(&format!("/v1/threads/{}/messages", t["id"].as_str().unwrap())))
            .bearer_auth(&beta)
            .json(&json!({"role": "user", "content": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
}

#[tokio::test]
async fn auth_off_without_keys_and_loopback_only() {
    let s = Launch::serve().without_env("ASSISTD_API_KEYS").start();
    let c = http();
    let res = c.post(s.url("/v1/assistants")).json(&json!({"model": "m"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(s.logs().contains("authentication is off"), "{}", s.logs());

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("ASSISTD_API_KEYS")
        .env_remove("ASSISTD_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--insecure-no-auth"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn migrate_then_serve() {
    let dbs = test_databases().await;
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env_remove("ASSISTD_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("assistd.db").exists());
    drop(dbs);
    let help = Command::new(common::bin()).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--object-store",
        "--qdrant-url",
        "--llm-base-url",
        "--config",
        "--insecure-no-auth",
        "--only",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}");
    }
}

#[tokio::test]
async fn the_sandbox_serves_on_its_own() {
    use assistd_proto::pb;
    use tonic::metadata::MetadataValue;
    let s = Launch::serve().args(&["--only", "sandbox"]).start();
    let channel = tonic::transport::Endpoint::from_shared(s.base.clone()).unwrap().connect().await.unwrap();
    let mut client = pb::sandbox_service_client::SandboxServiceClient::new(channel);
    let cell = |code: &str| {
        let mut r = tonic::Request::new(pb::ExecuteRequest {
            session: "thread_1".into(),
            code: code.into(),
            ..Default::default()
        });
        r.metadata_mut().insert("authorization", MetadataValue::try_from(format!("Bearer {KEY}")).unwrap());
        r
    };
    let r = client.execute(cell("x = 20 + 22\nprint(x)")).await.unwrap().into_inner();
    assert_eq!((r.outcome, r.logs.as_str()), (pb::CellOutcome::Completed as i32, "42\n"), "{}", s.logs());
    let r = client.execute(cell("x")).await.unwrap().into_inner();
    assert_eq!(r.logs, "42\n", "the session kept its state");
    let anonymous = pb::ExecuteRequest { session: "thread_1".into(), code: "1".into(), ..Default::default() };
    let e = client.execute(anonymous).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
}

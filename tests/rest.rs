//! Every REST operation of assistants, threads, messages, files and uploads against
//! the real binary, on SQLite and (with ASSISTD_TEST_DATABASE_URL) PostgreSQL.

mod common;

use common::{Server, assert_error, call, http, test_databases};
use serde_json::{Value, json};

#[tokio::test]
async fn assistants_crud_and_pagination() {
    for db in test_databases().await {
        let s = Server::serve(&db);
        let c = http();
        let (st, a) = call(c.post(s.url("/v1/assistants")).json(&json!({
            "model": "gpt-4o", "name": "n", "description": "d", "instructions": "i",
            "tools": [{"type": "code_interpreter"}, {"type": "file_search", "file_search": {"max_num_results": 5}},
                      {"type": "function", "function": {"name": "f", "description": "fd", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}, "strict": true}}],
            "tool_resources": {"code_interpreter": {"file_ids": []}},
            "metadata": {"k": "v"}, "temperature": 0.7, "top_p": 0.3,
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}, "strict": true}},
            "reasoning_effort": "low"
        })))
        .await;
        assert_eq!(st, 200, "{} {a}", db.backend);
        assert_eq!(a["temperature"], json!(0.7));
        assert_eq!(a["top_p"], json!(0.3));
        assert_eq!(a["tools"][2]["function"]["strict"], json!(true));
        assert_eq!(a["response_format"]["json_schema"]["name"], "s");
        assert_eq!(a["reasoning_effort"], "low");
        let id = a["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("asst_"));

        let (st, got) = call(c.get(s.url(&format!("/v1/assistants/{id}")))).await;
        assert_eq!(st, 200);
        assert_eq!(got, a);

        let (st, m) =
            call(c.post(s.url(&format!("/v1/assistants/{id}"))).json(&json!({"name": "renamed", "description": null})))
                .await;
        assert_eq!(st, 200, "{m}");
        assert_eq!(m["name"], "renamed");
        assert_eq!(m["description"], Value::Null);
        assert_eq!(m["instructions"], "i");
        let (_, got) = call(c.get(s.url(&format!("/v1/assistants/{id}")))).await;
        assert_eq!(got, m);

        let mut ids = vec![id.clone()];
        for i in 0..4 {
            let (_, a) =
                call(c.post(s.url("/v1/assistants")).json(&json!({"model": "m", "name": format!("a{i}")}))).await;
            ids.push(a["id"].as_str().unwrap().to_owned());
        }
        let (_, page) = call(c.get(s.url("/v1/assistants?limit=2"))).await;
        assert_eq!(page["data"].as_array().unwrap().len(), 2);
        assert_eq!(page["has_more"], true);
        assert_eq!(page["first_id"], ids[4].as_str());
        let (_, page2) =
            call(c.get(s.url(&format!("/v1/assistants?limit=2&after={}", page["last_id"].as_str().unwrap())))).await;
        assert_eq!(page2["data"][0]["id"], ids[2].as_str());
        let (_, asc) = call(c.get(s.url(&format!("/v1/assistants?order=asc&limit=2&before={}", ids[4])))).await;
        let got: Vec<&str> = asc["data"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(got, vec![ids[2].as_str(), ids[3].as_str()]);

        let (st, d) = call(c.delete(s.url(&format!("/v1/assistants/{id}")))).await;
        assert_eq!((st, &d), (200, &json!({"id": id, "object": "assistant.deleted", "deleted": true})));
        let (st, e) = call(c.get(s.url(&format!("/v1/assistants/{id}")))).await;
        assert_eq!(st, 404);
        assert_error(&e, None);
    }
}

#[tokio::test]
async fn threads_and_messages() {
    for db in test_databases().await {
        let s = Server::serve(&db);
        let c = http();
        let (st, t) = call(c.post(s.url("/v1/threads")).json(&json!({
            "messages": [
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}}]}
            ],
            "metadata": {"a": "b"}
        })))
        .await;
        assert_eq!(st, 200, "{t}");
        let tid = t["id"].as_str().unwrap().to_owned();
        assert_eq!(t["tool_resources"], json!({}));

        let (_, list) = call(c.get(s.url(&format!("/v1/threads/{tid}/messages?order=asc")))).await;
        let data = list["data"].as_array().unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data[0]["content"], json!([{"type": "text", "text": {"value": "hello", "annotations": []}}]));
        assert_eq!(data[1]["content"][1]["image_url"]["detail"], "low");
        assert_eq!(data[1]["role"], "assistant");

        let (st, m) = call(
            c.post(s.url(&format!("/v1/threads/{tid}/messages")))
                .json(&json!({"role": "user", "content": "third", "metadata": {"x": "1"}})),
        )
        .await;
        assert_eq!(st, 200, "{m}");
        let mid = m["id"].as_str().unwrap().to_owned();
        assert_eq!(m["status"], "completed");
        let (_, got) = call(c.get(s.url(&format!("/v1/threads/{tid}/messages/{mid}")))).await;
        assert_eq!(got, m);
        let (_, upd) =
            call(c.post(s.url(&format!("/v1/threads/{tid}/messages/{mid}"))).json(&json!({"metadata": {"x": "2"}})))
                .await;
        assert_eq!(upd["metadata"], json!({"x": "2"}));
        let (_, desc) = call(c.get(s.url(&format!("/v1/threads/{tid}/messages?limit=1")))).await;
        assert_eq!(desc["data"][0]["id"], mid.as_str());
        assert_eq!(desc["has_more"], true);
        let (_, none) = call(c.get(s.url(&format!("/v1/threads/{tid}/messages?run_id=run_nothing")))).await;
        assert_eq!(none["data"], json!([]));

        // file references are checked through the files service
        let (st, e) = call(c.post(s.url(&format!("/v1/threads/{tid}/messages"))).json(&json!({
            "role": "user", "content": "see file", "attachments": [{"file_id": "file-missing", "tools": [{"type": "file_search"}]}]
        })))
        .await;
        assert_eq!(st, 400, "{e}");
        assert_error(&e, Some("attachments[0].file_id"));
        let form = reqwest::multipart::Form::new()
            .text("purpose", "vision")
            .part("file", reqwest::multipart::Part::bytes(b"png".to_vec()).file_name("a.png"));
        let (_, f) = call(c.post(s.url("/v1/files")).multipart(form)).await;
        let fid = f["id"].as_str().unwrap();
        let (st, m2) = call(c.post(s.url(&format!("/v1/threads/{tid}/messages"))).json(&json!({
            "role": "user",
            "content": [{"type": "image_file", "image_file": {"file_id": fid}}],
            "attachments": [{"file_id": fid, "tools": [{"type": "code_interpreter"}]}]
        })))
        .await;
        assert_eq!(st, 200, "{m2}");
        assert_eq!(m2["attachments"][0]["tools"][0]["type"], "code_interpreter");
        let (st, e) = call(
            c.post(s.url("/v1/assistants"))
                .json(&json!({"model": "m", "tool_resources": {"code_interpreter": {"file_ids": [fid, "file-gone"]}}})),
        )
        .await;
        assert_eq!(st, 400, "{e}");
        assert_error(&e, Some("tool_resources.code_interpreter.file_ids[1]"));
        call(c.delete(s.url(&format!("/v1/threads/{tid}/messages/{}", m2["id"].as_str().unwrap())))).await;

        let (_, tm) = call(c.post(s.url(&format!("/v1/threads/{tid}"))).json(&json!({"metadata": {"c": "d"}}))).await;
        assert_eq!(tm["metadata"], json!({"c": "d"}));
        let (_, tg) = call(c.get(s.url(&format!("/v1/threads/{tid}")))).await;
        assert_eq!(tg, tm);

        let (st, d) = call(c.delete(s.url(&format!("/v1/threads/{tid}/messages/{mid}")))).await;
        assert_eq!((st, d["object"].as_str()), (200, Some("thread.message.deleted")));
        let (st, _) = call(c.get(s.url(&format!("/v1/threads/{tid}/messages/{mid}")))).await;
        assert_eq!(st, 404);

        let (st, d) = call(c.delete(s.url(&format!("/v1/threads/{tid}")))).await;
        assert_eq!((st, d["object"].as_str()), (200, Some("thread.deleted")));
        let (st, _) = call(c.get(s.url(&format!("/v1/threads/{tid}/messages")))).await;
        assert_eq!(st, 404);
    }
}

#[tokio::test]
async fn files_and_uploads() {
    for db in test_databases().await {
        let s = Server::serve(&db);
        let c = http();
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let form = reqwest::multipart::Form::new()
            .text("purpose", "assistants")
            .text("expires_after[anchor]", "created_at")
            .text("expires_after[seconds]", "3600")
            .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name("data.bin"));
        let (st, f) = call(c.post(s.url("/v1/files")).multipart(form)).await;
        assert_eq!(st, 200, "{f}");
        assert_eq!(f["bytes"], 300_000);
        assert_eq!(f["expires_at"].as_i64().unwrap() - f["created_at"].as_i64().unwrap(), 3600);
        let fid = f["id"].as_str().unwrap().to_owned();
        assert!(fid.starts_with("file-"));

        // file before purpose: spooled, same result
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(b"# hi".to_vec()).file_name("notes.md"))
            .text("purpose", "user_data");
        let (st, f2) = call(c.post(s.url("/v1/files")).multipart(form)).await;
        assert_eq!(st, 200, "{f2}");
        let res = c
            .get(s.url(&format!("/v1/files/{}/content", f2["id"].as_str().unwrap())))
            .bearer_auth(common::KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["content-type"], "text/markdown");
        assert_eq!(res.bytes().await.unwrap().as_ref(), b"# hi");

        let res = c.get(s.url(&format!("/v1/files/{fid}/content"))).bearer_auth(common::KEY).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);

        let (_, list) = call(c.get(s.url("/v1/files?purpose=user_data"))).await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1);
        let (_, got) = call(c.get(s.url(&format!("/v1/files/{fid}")))).await;
        assert_eq!(got, f);
        let (st, d) = call(c.delete(s.url(&format!("/v1/files/{fid}")))).await;
        assert_eq!((st, d), (200, json!({"id": fid, "object": "file", "deleted": true})));
        let (st, _) = call(c.get(s.url(&format!("/v1/files/{fid}/content")))).await;
        assert_eq!(st, 404);

        // uploads: parts completed out of order
        let (st, u) = call(
            c.post(s.url("/v1/uploads"))
                .json(&json!({"filename": "u.txt", "purpose": "assistants", "bytes": 9, "mime_type": "text/plain"})),
        )
        .await;
        assert_eq!(st, 200, "{u}");
        assert_eq!(u["status"], "pending");
        assert_eq!(u["expires_at"].as_i64().unwrap() - u["created_at"].as_i64().unwrap(), 3600);
        let uid = u["id"].as_str().unwrap().to_owned();
        let mut parts = vec![];
        for chunk in ["aaa", "bbb", "ccc"] {
            let form = reqwest::multipart::Form::new()
                .part("data", reqwest::multipart::Part::bytes(chunk.as_bytes().to_vec()));
            let (st, p) = call(c.post(s.url(&format!("/v1/uploads/{uid}/parts"))).multipart(form)).await;
            assert_eq!(st, 200, "{p}");
            parts.push(p["id"].as_str().unwrap().to_owned());
        }
        let (st, e) =
            call(c.post(s.url(&format!("/v1/uploads/{uid}/complete"))).json(&json!({"part_ids": [parts[0]]}))).await;
        assert_eq!(st, 400);
        assert_error(&e, Some("part_ids"));
        let (st, done) = call(
            c.post(s.url(&format!("/v1/uploads/{uid}/complete")))
                .json(&json!({"part_ids": [parts[2], parts[0], parts[1]]})),
        )
        .await;
        assert_eq!(st, 200, "{done}");
        assert_eq!(done["status"], "completed");
        let new_file = done["file"]["id"].as_str().unwrap();
        let body = c
            .get(s.url(&format!("/v1/files/{new_file}/content")))
            .bearer_auth(common::KEY)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "cccaaabbb");

        let (_, u2) = call(
            c.post(s.url("/v1/uploads"))
                .json(&json!({"filename": "v.txt", "purpose": "assistants", "bytes": 1, "mime_type": "text/plain"})),
        )
        .await;
        let uid2 = u2["id"].as_str().unwrap();
        let (st, cancelled) = call(c.post(s.url(&format!("/v1/uploads/{uid2}/cancel")))).await;
        assert_eq!((st, cancelled["status"].as_str()), (200, Some("cancelled")));
        let form = reqwest::multipart::Form::new().part("data", reqwest::multipart::Part::bytes(b"x".to_vec()));
        let (st, e) = call(c.post(s.url(&format!("/v1/uploads/{uid2}/parts"))).multipart(form)).await;
        assert_eq!(st, 400, "{e}");
    }
}

#[tokio::test]
async fn errors_are_openai_shaped() {
    let dbs = test_databases().await;
    let s = Server::serve(&dbs[0]);
    let c = http();
    let cases: Vec<(reqwest::RequestBuilder, u16, Option<&str>)> = vec![
        (c.get(s.url("/v1/nothing")), 404, None),
        (c.put(s.url("/v1/assistants")), 405, None),
        (c.post(s.url("/v1/assistants")).body("{oops").header("content-type", "application/json"), 400, Some("body")),
        (c.post(s.url("/v1/assistants")).json(&json!({"model": "m", "colour": "red"})), 400, Some("colour")),
        (c.post(s.url("/v1/assistants")).json(&json!({"model": "m", "temperature": "hot"})), 400, Some("temperature")),
        (c.post(s.url("/v1/assistants")).json(&json!({"model": "m", "temperature": 3})), 400, Some("temperature")),
        (c.post(s.url("/v1/assistants")).json(&json!({"name": "no model"})), 400, Some("model")),
        (c.post(s.url("/v1/assistants")).json(&json!({"model": "m", "name": "x".repeat(257)})), 400, Some("name")),
        (c.post(s.url("/v1/assistants")).json(&json!({"model": "m", "tools": [{"type": "function", "function": {"name": "bad name"}}]})), 400, Some("tools[0].function.name")),
        (c.post(s.url("/v1/assistants")).json(&json!({"model": "m", "metadata": (0..17).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()})), 400, Some("metadata")),
        (c.get(s.url("/v1/assistants?limit=101")), 400, Some("limit")),
        (c.get(s.url("/v1/assistants?order=sideways")), 400, Some("order")),
        (c.post(s.url("/v1/threads")).json(&json!({"messages": [{"role": "system", "content": "x"}]})), 400, Some("messages[0].role")),
        (c.post(s.url("/v1/threads")).json(&json!({"messages": [{"role": "user", "content": []}]})), 400, Some("messages[0].content")),
        (c.post(s.url("/v1/vector_stores")).json(&json!({"expires_after": {"anchor": "last_active_at", "days": 0}})), 400, Some("expires_after.days")),
        (c.post(s.url("/v1/vector_stores/vs_x/search")).json(&json!({"query": "q", "max_num_results": 0})), 400, Some("max_num_results")),
        (c.post(s.url("/v1/threads/thread_x/runs")).json(&json!({"assistant_id": "asst_x"})), 404, None),
        (c.post(s.url("/v1/threads/thread_x/runs")).json(&json!({"assistant_id": "asst_x", "temperature": 3})), 400, Some("temperature")),
        (c.post(s.url("/v1/threads/runs")).json(&json!({"assistant_id": "asst_x", "tool_choice": "sometimes"})), 400, Some("tool_choice")),
        (c.post(s.url("/v1/uploads")).json(&json!({"filename": "f", "purpose": "user_data", "bytes": 1, "mime_type": "text/plain"})), 400, Some("purpose")),
    ];
    for (req, status, param) in cases {
        let (st, body) = call(req).await;
        assert_eq!(st, status, "{body}");
        assert_error(&body, param);
        let ty = if status >= 500 { "server_error" } else { "invalid_request_error" };
        assert_eq!(body["error"]["type"], ty, "{body}");
    }
    // too large: a JSON body over the limit is a 413 in the same shape
    let big = format!("{{\"model\":\"m\",\"instructions\":\"{}\"}}", "x".repeat(33 * 1024 * 1024));
    // (its own client: the server closes a connection whose body it did not read)
    let (st, body) =
        call(http().post(s.url("/v1/assistants")).body(big).header("content-type", "application/json")).await;
    assert_eq!(st, 413);
    let c = http();
    assert_error(&body, None);
    // a wrong key
    let res = c.get(s.url("/v1/assistants")).bearer_auth("sk-wrong").send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    // health needs no key
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(c.get(s.url("/readyz")).send().await.unwrap().status(), 200);
}

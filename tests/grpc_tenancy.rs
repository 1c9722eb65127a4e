//! Tenant isolation over gRPC, swept over the services' descriptors (not a hand list):
//! every rpc whose request names objects by `*_id` fields is called by another
//! project with the first project's ids; each answers NOT_FOUND (or INVALID_ARGUMENT
//! for a reference) and changes nothing. The internal rpcs the runs engine uses
//! (writing run messages) are on the same listener, so they are swept too.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use assistd_runs::model::fake::{FakeBackend, Reply};
use bytes::{Buf, BufMut};
use common::{KEY, Launch, Server, call, http, test_databases};
use prost::Message as _;
use serde_json::{Value, json};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataValue;

/// Request and reply bodies as raw protobuf bytes.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;

    fn encoder(&mut self) -> Raw {
        Raw
    }

    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A request message with string field `number` = `value` for each given field.
fn encode(fields: &[(i32, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (number, value) in fields {
        varint(((*number as u64) << 3) | 2, &mut out);
        varint(value.len() as u64, &mut out);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

struct Rpc {
    path: String,
    client_streaming: bool,
    server_streaming: bool,
    /// (field number, field name) of the request's `*_id` string fields.
    ids: Vec<(i32, String)>,
}

/// Every rpc of the assistd services whose request has `*_id` string fields.
fn rpcs() -> Vec<Rpc> {
    use prost_types::field_descriptor_proto::Type;
    let set = prost_types::FileDescriptorSet::decode(assistd_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut messages = BTreeMap::new();
    for file in &set.file {
        for m in &file.message_type {
            messages.insert(format!(".{}.{}", file.package(), m.name()), m.clone());
        }
    }
    let mut out = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                let input = &messages[method.input_type()];
                let ids: Vec<(i32, String)> = input
                    .field
                    .iter()
                    .filter(|f| f.r#type() == Type::String && f.name().ends_with("_id") && f.oneof_index.is_none())
                    .map(|f| (f.number(), f.name().to_owned()))
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                out.push(Rpc {
                    path: format!("/{}.{}/{}", file.package(), service.name(), method.name()),
                    client_streaming: method.client_streaming(),
                    server_streaming: method.server_streaming(),
                    ids,
                });
            }
        }
    }
    out
}

async fn call_raw(ch: &tonic::transport::Channel, key: &str, rpc: &Rpc, body: Vec<u8>) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone());
    grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
    let path: http::uri::PathAndQuery = rpc.path.parse().unwrap();
    let auth = MetadataValue::try_from(format!("Bearer {key}")).unwrap();
    if rpc.client_streaming {
        let mut req = tonic::Request::new(futures::stream::iter([body]));
        req.metadata_mut().insert("authorization", auth);
        grpc.client_streaming(req, path, Raw).await.map(drop)
    } else if rpc.server_streaming {
        let mut req = tonic::Request::new(body);
        req.metadata_mut().insert("authorization", auth);
        let mut stream = grpc.server_streaming(req, path, Raw).await?.into_inner();
        stream.message().await.map(drop)
    } else {
        let mut req = tonic::Request::new(body);
        req.metadata_mut().insert("authorization", auth);
        grpc.unary(req, path, Raw).await.map(drop)
    }
}

/// What the owner sees of its objects (REST), for before/after comparison.
async fn snapshot(s: &Server, ids: &BTreeMap<&str, String>) -> Vec<Value> {
    let (t, r, vs) = (&ids["thread_id"], &ids["run_id"], &ids["vector_store_id"]);
    let mut out = vec![];
    for path in [
        format!("/v1/assistants/{}", ids["assistant_id"]),
        format!("/v1/threads/{t}"),
        format!("/v1/threads/{t}/messages?order=asc"),
        format!("/v1/threads/{t}/runs/{r}"),
        format!("/v1/threads/{t}/runs/{r}/steps"),
        format!("/v1/files/{}", ids["file_id"]),
        format!("/v1/vector_stores/{vs}/files"),
        format!("/v1/conversations/{}", ids["conversation_id"]),
        format!("/v1/conversations/{}/items", ids["conversation_id"]),
        format!("/v1/responses/{}", ids["response_id"]),
    ] {
        out.push(call(http().get(s.url(&path))).await.1);
    }
    let mut store = call(http().get(s.url(&format!("/v1/vector_stores/{vs}")))).await.1;
    store.as_object_mut().unwrap().remove("last_active_at");
    out.push(store);
    out
}

#[tokio::test]
async fn another_projects_ids_are_not_found_over_grpc() {
    for db in test_databases().await {
        let fake = FakeBackend::start(vec![Reply::text(&["an answer"]), Reply::text(&["a response"])]).await;
        let dir = tempfile::tempdir().unwrap();
        let s = Launch::serve()
            .database(&db)
            .data_dir(dir.path())
            .env("ASSISTD_LLM_BASE_URL", &fake.base_url)
            .env("ASSISTD_EMBEDDINGS_MODEL", "none")
            .start();
        let url = (db.backend != "sqlite").then_some(db.url.as_str());
        let other = common::keys_create(dir.path(), url, "grpc-tenancy-b");
        let c = http();

        // One object of every kind in the first project.
        let form = reqwest::multipart::Form::new()
            .text("purpose", "assistants")
            .part("file", reqwest::multipart::Part::bytes(b"secret words".to_vec()).file_name("a.txt"));
        let (_, f) = call(c.post(s.url("/v1/files")).multipart(form)).await;
        let (_, vs) = call(c.post(s.url("/v1/vector_stores")).json(&json!({"file_ids": [f["id"]]}))).await;
        let (_, batch) = call(
            c.post(s.url(&format!("/v1/vector_stores/{}/file_batches", vs["id"].as_str().unwrap())))
                .json(&json!({"file_ids": [f["id"]]})),
        )
        .await;
        let (_, a) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": "m"}))).await;
        let (_, r) = call(c.post(s.url("/v1/threads/runs")).json(&json!({
            "assistant_id": a["id"], "thread": {"messages": [{"role": "user", "content": "hi"}]},
        })))
        .await;
        let t = r["thread_id"].as_str().unwrap().to_owned();
        let run_path = format!("/v1/threads/{t}/runs/{}", r["id"].as_str().unwrap());
        let start = Instant::now();
        while call(c.get(s.url(&run_path))).await.1["status"] != "completed" {
            assert!(start.elapsed() < Duration::from_secs(20), "run not done");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, steps) = call(c.get(s.url(&format!("{run_path}/steps")))).await;
        let (_, msgs) = call(c.get(s.url(&format!("/v1/threads/{t}/messages")))).await;
        let (_, upload) = call(c.post(s.url("/v1/uploads")).json(&json!({
            "filename": "u.txt", "purpose": "assistants", "bytes": 3, "mime_type": "text/plain",
        })))
        .await;
        let (_, conv) = call(
            c.post(s.url("/v1/conversations")).json(&json!({"items": [{"role": "user", "content": "secret words"}]})),
        )
        .await;
        let (_, items) = call(c.get(s.url(&format!("/v1/conversations/{}/items", conv["id"].as_str().unwrap())))).await;
        let (_, resp) =
            call(c.post(s.url("/v1/responses")).json(&json!({"model": "m", "input": "secret words"}))).await;
        let id = |v: &Value| v.as_str().unwrap().to_owned();
        let ids: BTreeMap<&str, String> = BTreeMap::from([
            ("conversation_id", id(&conv["id"])),
            ("item_id", id(&items["data"][0]["id"])),
            ("response_id", id(&resp["id"])),
            ("assistant_id", id(&a["id"])),
            ("thread_id", t.clone()),
            ("message_id", id(&msgs["data"][0]["id"])),
            ("run_id", id(&r["id"])),
            ("step_id", id(&steps["data"][0]["id"])),
            ("file_id", id(&f["id"])),
            ("vector_store_id", id(&vs["id"])),
            ("batch_id", id(&batch["id"])),
            ("upload_id", id(&upload["id"])),
        ]);
        let store = s.url(&format!("/v1/vector_stores/{}", ids["vector_store_id"]));
        while call(c.get(&store)).await.1["status"] != "completed" {
            assert!(start.elapsed() < Duration::from_secs(30), "not indexed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let before = snapshot(&s, &ids).await;

        let ch = tonic::transport::Endpoint::from_shared(s.base.clone()).unwrap().connect().await.unwrap();
        let swept = rpcs();
        assert!(swept.len() >= 30, "only {} rpcs name objects", swept.len());
        let mut answers = BTreeMap::new();
        for rpc in &swept {
            let fields: Vec<(i32, &str)> = rpc
                .ids
                .iter()
                .map(|(n, name)| {
                    let value = ids.get(name.as_str()).unwrap_or_else(|| panic!("{}: no object for {name}", rpc.path));
                    (*n, value.as_str())
                })
                .collect();
            let status = call_raw(&ch, &other, rpc, encode(&fields)).await.expect_err(&rpc.path);
            assert!(
                matches!(status.code(), tonic::Code::NotFound | tonic::Code::InvalidArgument),
                "{}: {:?} {} ({})",
                rpc.path,
                status.code(),
                status.message(),
                db.backend
            );
            assert!(!status.message().contains("secret words"), "{}", rpc.path);
            answers.insert(rpc.path.clone(), status.code());
        }
        // Nothing changed for the owner.
        assert_eq!(snapshot(&s, &ids).await, before, "{}", db.backend);
        // The same requests reach the objects with the owner's key (the ids are right).
        for rpc in swept.iter().filter(|r| r.path.contains("/Get")) {
            let fields: Vec<(i32, &str)> = rpc.ids.iter().map(|(n, name)| (*n, ids[name.as_str()].as_str())).collect();
            if let Err(e) = call_raw(&ch, KEY, rpc, encode(&fields)).await {
                panic!("{}: the owner gets {:?} {}", rpc.path, e.code(), e.message());
            }
        }
        println!("{} rpcs swept ({}): {answers:?}", answers.len(), db.backend);
        drop(fake);
    }
}

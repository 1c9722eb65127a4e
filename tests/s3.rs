//! Files on an S3 object store: the same upload, multipart assembly, download and
//! delete against a local S3 (moto's server, from the SDK test venv; `scripts/test`
//! sets ASSISTD_TEST_MOTO_SERVER). Without it the test says so and does nothing,
//! unless CI is set, where it fails.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{KEY, Launch, call, http};
use serde_json::json;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn files_on_s3() {
    let Some(moto) = std::env::var("ASSISTD_TEST_MOTO_SERVER").ok().filter(|v| !v.is_empty()) else {
        assert!(std::env::var("CI").is_err(), "ASSISTD_TEST_MOTO_SERVER must be set in CI");
        eprintln!("skipping: ASSISTD_TEST_MOTO_SERVER is not set (scripts/test sets it)");
        return;
    };
    let port = free_port();
    let _moto = Moto(
        Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server"),
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let c = http();
    let mut up = false;
    for _ in 0..100 {
        if c.put(format!("{endpoint}/assistd-test")).send().await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "moto_server did not start");

    let s = Launch::serve()
        .env("ASSISTD_OBJECT_STORE", "s3://assistd-test/blobs")
        .env("AWS_ENDPOINT", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .start();
    // 12 MiB: more than two 5 MiB parts, so an S3 multipart upload
    let bytes: Vec<u8> = (0..12 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let form = reqwest::multipart::Form::new()
        .text("purpose", "assistants")
        .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name("big.bin"));
    let (st, f) = call(c.post(s.url("/v1/files")).multipart(form)).await;
    assert_eq!(st, 200, "{f}\n{}", s.logs());
    let id = f["id"].as_str().unwrap().to_owned();
    let listing = c.get(format!("{endpoint}/assistd-test?list-type=2")).send().await.unwrap().text().await.unwrap();
    assert!(listing.contains(&format!("<Key>blobs/files/default/{id}</Key>")), "{listing}");
    let got =
        c.get(s.url(&format!("/v1/files/{id}/content"))).bearer_auth(KEY).send().await.unwrap().bytes().await.unwrap();
    assert!(got.as_ref() == bytes.as_slice(), "content differs");

    // an upload assembled from parts lands on S3 too, parts removed
    let (_, u) = call(
        c.post(s.url("/v1/uploads"))
            .json(&json!({"filename": "u.txt", "purpose": "assistants", "bytes": 6, "mime_type": "text/plain"})),
    )
    .await;
    let uid = u["id"].as_str().unwrap();
    let mut parts = vec![];
    for chunk in ["abc", "def"] {
        let form =
            reqwest::multipart::Form::new().part("data", reqwest::multipart::Part::bytes(chunk.as_bytes().to_vec()));
        let (_, p) = call(c.post(s.url(&format!("/v1/uploads/{uid}/parts"))).multipart(form)).await;
        parts.push(p["id"].as_str().unwrap().to_owned());
    }
    let (st, done) =
        call(c.post(s.url(&format!("/v1/uploads/{uid}/complete"))).json(&json!({"part_ids": [parts[1], parts[0]]})))
            .await;
    assert_eq!(st, 200, "{done}");
    let body = c
        .get(s.url(&format!("/v1/files/{}/content", done["file"]["id"].as_str().unwrap())))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "defabc");
    let listing = c.get(format!("{endpoint}/assistd-test?list-type=2")).send().await.unwrap().text().await.unwrap();
    assert!(!listing.contains("blobs/uploads/"), "parts are removed: {listing}");

    let (st, _) = call(c.delete(s.url(&format!("/v1/files/{id}")))).await;
    assert_eq!(st, 200);
    let listing = c.get(format!("{endpoint}/assistd-test?list-type=2")).send().await.unwrap().text().await.unwrap();
    assert!(!listing.contains(&id), "the object is deleted: {listing}");
}

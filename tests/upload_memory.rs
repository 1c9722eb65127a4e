//! A large upload streams through the gateway and the files service with bounded
//! memory: 256 MiB goes in while the server's peak resident memory grows by far less.
//! (1 GiB behaves the same; 256 MiB keeps the suite fast on two cores.)

mod common;

use common::{KEY, Server, test_databases};

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn upload_of_256_mib_has_bounded_memory() {
    const SIZE: u64 = 256 * 1024 * 1024;
    const CHUNK: usize = 1024 * 1024;
    let dbs = test_databases().await;
    let s = Server::serve(&dbs[0]);
    let before = peak_rss_kib(s.pid());
    let body = futures::stream::iter(
        (0..SIZE / CHUNK as u64).map(|i| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![(i % 251) as u8; CHUNK]))),
    );
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), SIZE).file_name("big.bin");
    let form = reqwest::multipart::Form::new().text("purpose", "assistants").part("file", part);
    let res = reqwest::Client::new().post(s.url("/v1/files")).bearer_auth(KEY).multipart(form).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let f: serde_json::Value = res.json().await.unwrap();
    assert_eq!(f["bytes"].as_u64(), Some(SIZE));
    let after = peak_rss_kib(s.pid());
    let growth_mib = (after.saturating_sub(before)) / 1024;
    eprintln!(
        "peak RSS before {} MiB, after {} MiB, growth {growth_mib} MiB for a 256 MiB upload",
        before / 1024,
        after / 1024
    );
    assert!(growth_mib < 64, "peak RSS grew by {growth_mib} MiB");

    // and the bytes read back intact, streamed
    let res = reqwest::Client::new()
        .get(s.url(&format!("/v1/files/{}/content", f["id"].as_str().unwrap())))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let mut total = 0u64;
    let mut stream = res.bytes_stream();
    use futures::StreamExt;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        let first = total / CHUNK as u64;
        assert_eq!(chunk[0], (first % 251) as u8);
        total += chunk.len() as u64;
    }
    assert_eq!(total, SIZE);
    let peak = peak_rss_kib(s.pid()) / 1024;
    assert!(peak.saturating_sub(before / 1024) < 64, "download grew peak RSS to {peak} MiB");
}

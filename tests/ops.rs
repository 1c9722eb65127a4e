//! Operations: Prometheus metrics after traffic, and a graceful SIGTERM that lets an
//! open download finish and exits 0.

mod common;

use std::collections::HashMap;

use common::{KEY, Server, call, http, test_databases};
use serde_json::json;

/// Parses Prometheus text exposition into `series → value`, failing on a bad line.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            assert!(rest.starts_with("HELP ") || rest.starts_with("TYPE "), "bad comment line: {line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "bad labels: {line}");
        }
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        out.insert(series.to_owned(), v);
    }
    out
}

#[tokio::test]
async fn metrics_after_traffic() {
    let dbs = test_databases().await;
    let s = Server::serve(&dbs[0]);
    let c = http();
    for _ in 0..3 {
        let (st, _) = call(c.post(s.url("/v1/assistants")).json(&json!({"model": "m"}))).await;
        assert_eq!(st, 200);
    }
    let (st, _) = call(c.get(s.url("/v1/assistants/asst_nope"))).await;
    assert_eq!(st, 404);
    let res = c.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let m = parse_prometheus(&res.text().await.unwrap());
    assert_eq!(m[r#"assistd_http_requests_total{method="POST",route="/v1/assistants",status="200"}"#], 3.0);
    assert_eq!(
        m[r#"assistd_http_requests_total{method="GET",route="/v1/assistants/{assistant_id}",status="404"}"#],
        1.0
    );
    assert_eq!(
        m[r#"assistd_grpc_requests_total{service="assistd.v1.AssistantService",method="CreateAssistant",code="Ok"}"#],
        3.0
    );
    assert_eq!(
        m[r#"assistd_grpc_requests_total{service="assistd.v1.AssistantService",method="GetAssistant",code="NotFound"}"#],
        1.0
    );
    let count = m[r#"assistd_http_request_duration_seconds_count{method="POST",route="/v1/assistants",status="200"}"#];
    assert_eq!(count, 3.0);
    assert!(
        m.keys().any(|k| k.starts_with("assistd_http_request_duration_seconds_bucket{") && k.contains(r#"le="+Inf""#))
    );
}

#[tokio::test]
async fn sigterm_drains_open_downloads_and_exits_zero() {
    let dbs = test_databases().await;
    let mut s = Server::serve(&dbs[0]);
    let c = http();
    let size = 16 * 1024 * 1024;
    let form = reqwest::multipart::Form::new()
        .text("purpose", "assistants")
        .part("file", reqwest::multipart::Part::bytes(vec![7u8; size]).file_name("big.bin"));
    let (st, f) = call(c.post(s.url("/v1/files")).multipart(form)).await;
    assert_eq!(st, 200, "{f}");
    let mut res = c
        .get(s.url(&format!("/v1/files/{}/content", f["id"].as_str().unwrap())))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let mut got = res.chunk().await.unwrap().unwrap().len();
    s.signal_term();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // no new connections once draining
    assert!(
        reqwest::Client::new().get(s.url("/healthz")).send().await.is_err(),
        "accepted a new connection while draining"
    );
    while let Some(chunk) = res.chunk().await.unwrap() {
        got += chunk.len();
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert_eq!(got, size, "the open download finished");
    let status = s.wait();
    assert!(status.success(), "exit status {status:?}; logs:\n{}", s.logs());
}

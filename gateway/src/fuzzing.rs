//! Entry points of the fuzz targets in `fuzz/` (cargo-fuzz), shared with the tests
//! that replay their seeds and regressions on stable Rust: whatever the bytes, these
//! return (an error is fine); a panic or a hang is the bug.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};

use crate::extract::parse_json;
use crate::openai::{assistants, runs, threads};

/// Parses `data` as each main request body and converts what parses to its proto
/// request.
pub fn request_json(data: &[u8]) {
    if let Ok(a) = parse_json::<assistants::AssistantIn>(data) {
        let _ = a.into_pb();
    }
    if let Ok(r) = parse_json::<runs::CreateRunIn>(data) {
        let _ = r.into_pb("thread_1".into(), vec![]);
    }
    if let Ok(r) = parse_json::<runs::CreateThreadAndRunIn>(data) {
        let _ = r.into_pb();
    }
    if let Ok(t) = parse_json::<threads::CreateThreadIn>(data) {
        let _ = t.into_pb();
    }
    if let Ok(m) = parse_json::<threads::MessageIn>(data) {
        let _ = m.into_pb("");
    }
}

/// Reads `data` as a multipart body (boundary `XyZ`) the way the files and uploads
/// routes do: every field's name, file name, type and chunks.
pub async fn multipart(data: &[u8]) {
    let req = axum::http::Request::builder()
        .method("POST")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(Body::from(data.to_vec()))
        .expect("a request");
    let Ok(mut mp) = Multipart::from_request(req, &()).await else { return };
    while let Ok(Some(mut field)) = mp.next_field().await {
        let _ = (field.name().map(str::len), field.file_name().map(str::len), field.content_type().map(str::len));
        while let Ok(Some(chunk)) = field.chunk().await {
            let _ = chunk.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use assistd_common::testing::fuzz_inputs;

    use super::*;

    #[test]
    fn request_json_regressions_are_handled() {
        for data in fuzz_inputs("request_json") {
            request_json(&data);
        }
    }

    #[tokio::test]
    async fn multipart_regressions_are_handled() {
        for data in fuzz_inputs("multipart") {
            multipart(&data).await;
        }
    }
}

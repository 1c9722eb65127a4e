//! The playground page at `/playground`: the files of `playground/dist`, compiled into
//! the binary by `build.rs`. It calls the REST API of the same listener with the key
//! the user types (kept in the tab's session storage), so serving it needs no auth.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::errors::ApiError;

include!(concat!(env!("OUT_DIR"), "/playground.rs"));

/// What `/playground/` shows when the binary was built without the page.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>assistd playground</title></head>\
<body><h1>The playground is not built into this binary</h1>\
<p>Run <code>scripts/build-playground</code> (Node.js 20.19 or newer), then rebuild assistd.</p></body></html>";

/// Only the page's own origin; images may also be `blob:` (files fetched with the key),
/// `data:` and, for `image_url` message content, any https URL.
const CSP: &str = "default-src 'self'; img-src 'self' blob: data: https:; script-src 'self'; style-src 'self'; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The file at `path` under `/playground/`, if the page has one.
pub fn file(path: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, bytes)| *bytes)
}

/// Whether the binary carries a built page.
pub fn built() -> bool {
    file("index.html").is_some()
}

fn serve(path: &str) -> Response {
    let (bytes, cache): (&'static [u8], &'static str) = match file(path) {
        // Vite names assets by their content's hash: they never change.
        Some(b) if path.starts_with("assets/") => (b, "public, max-age=31536000, immutable"),
        Some(b) => (b, "no-cache"),
        None if path == "index.html" => (NOT_BUILT.as_bytes(), "no-cache"),
        None => {
            return ApiError::new(StatusCode::NOT_FOUND, format!("Invalid URL (GET /playground/{path})"))
                .into_response();
        }
    };
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

/// `/playground` (redirects to `/playground/`), `/playground/` and its files.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/playground", get(|| async { Redirect::permanent("/playground/") }))
        .route("/playground/", get(|| async { serve("index.html") }))
        .route("/playground/{*path}", get(|Path(path): Path<String>| async move { serve(&path) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(uri: &str) -> Response {
        router::<()>().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn serves_the_page_its_files_and_nothing_else() {
        let res = get("/playground").await;
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(res.headers()[header::LOCATION], "/playground/");

        let res = get("/playground/").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("default-src 'self'"));
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let html = String::from_utf8_lossy(&body);
        assert!(html.contains("assistd playground"), "{html}");

        // Every embedded file is served with its type; the page's script is among them
        // when the page was built.
        for (path, bytes) in FILES {
            let res = get(&format!("/playground/{path}")).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            assert_eq!(res.headers()[header::CONTENT_TYPE], content_type(path), "{path}");
            let body = axum::body::to_bytes(res.into_body(), 64 << 20).await.unwrap();
            assert_eq!(&body[..], *bytes, "{path}");
        }
        if built() {
            assert!(FILES.iter().any(|(p, _)| p.starts_with("assets/") && p.ends_with(".js")));
        }

        for missing in ["/playground/nope.js", "/playground/../Cargo.toml", "/playground/assets/%2e%2e/x"] {
            let res = get(missing).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{missing}");
            let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(v["error"]["message"].is_string(), "{v}");
        }
    }
}

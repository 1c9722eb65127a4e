//! Request extractors that answer in OpenAI's error format: a JSON body that names
//! the offending field (unknown fields, wrong types, malformed JSON) and tolerates an
//! empty body, and list query parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// A JSON body of type `T`. An empty body reads as `{}`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let version = req.version();
        if declared_length(&req).is_some_and(|n| n > crate::routes::MAX_JSON_BODY as u64) {
            drain(req.into_body());
            return Err(unread_body(version, too_large()));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            let status = e.status();
            if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                unread_body(version, too_large())
            } else if is_body_timeout(&e) {
                unread_body(version, body_timeout())
            } else {
                ApiError::new(status, format!("Could not read the request body: {e}")).into_response()
            }
        })?;
        parse_json(&bytes).map(JsonBody).map_err(IntoResponse::into_response)
    }
}

/// Most of a refused body read (and dropped) after the answer, and for how long.
const DRAIN_BYTES: u64 = 64 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and drops what a client still sends of a body that was refused before it was
/// read (up to [`DRAIN_BYTES`] within [`DRAIN_TIME`]), so that the client, still
/// writing, gets to read the answer instead of a broken connection. The answer goes out
/// at once; the connection closes when the draining ends.
pub fn drain(body: axum::body::Body) {
    use http_body_util::BodyExt;
    tokio::spawn(async move {
        let mut body = body;
        let mut read = 0u64;
        let _ = tokio::time::timeout(DRAIN_TIME, async {
            while read < DRAIN_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
                    _ => break,
                }
            }
        })
        .await;
    });
}

/// The answer to a request whose body is left unread: on HTTP/1 it also closes the
/// connection (`Connection: close`), so that a client does not send its next request
/// on a connection the server is about to drop.
pub fn unread_body(version: axum::http::Version, error: ApiError) -> Response {
    let mut res = error.into_response();
    if version <= axum::http::Version::HTTP_11 {
        res.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    res
}

fn not_multipart(status: axum::http::StatusCode, detail: String) -> ApiError {
    ApiError::new(status, format!("The request body must be multipart/form-data with a boundary{detail}."))
        .with_code("invalid_multipart")
}

/// The request's `Content-Length`, if it declares one.
pub fn declared_length(req: &Request) -> Option<u64> {
    req.headers().get(axum::http::header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn too_large() -> ApiError {
    ApiError::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large.")
        .with_code("request_too_large")
}

/// 408: the client stopped sending its body (the listener's body timeout).
pub fn body_timeout() -> ApiError {
    ApiError::new(axum::http::StatusCode::REQUEST_TIMEOUT, "The request body stopped arriving before it was complete.")
        .with_code("request_timeout")
}

/// Whether `err` (from reading a request body) comes from the listener's body timeout.
pub fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// A multipart body; a request that is not one (no boundary, another content type)
/// is an OpenAI-style 400, not axum's plain-text rejection.
pub struct MultipartBody(pub axum::extract::Multipart);

/// The most a multipart body may declare: the largest file the API takes (512 MB,
/// as OpenAI) and room for the other fields. A larger `Content-Length` is refused at
/// once, before a byte of the body is read.
pub const MAX_MULTIPART_BODY: u64 = (512 << 20) + (1 << 20);

impl<S: Send + Sync> FromRequest<S> for MultipartBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let version = req.version();
        if declared_length(&req).is_some_and(|n| n > MAX_MULTIPART_BODY) {
            drain(req.into_body());
            return Err(unread_body(version, too_large()));
        }
        let multipart = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data") && v.contains("boundary="));
        if !multipart {
            drain(req.into_body());
            let error = not_multipart(axum::http::StatusCode::BAD_REQUEST, String::new());
            return Err(unread_body(version, error));
        }
        axum::extract::Multipart::from_request(req, state)
            .await
            .map(MultipartBody)
            .map_err(|e| unread_body(version, not_multipart(e.status(), format!(": {}", e.body_text()))))
    }
}

/// Parses `bytes` as `T`, with OpenAI-style errors.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::invalid(
            "body",
            format!("We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. {e})"),
        )
        .with_code("invalid_json")
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid("body", "The request body must be a JSON object.").with_code("invalid_type"));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        if let Some(field) = unknown_field(&inner) {
            let param = if path == "." {
                field.clone()
            } else if path == field || path.ends_with(&format!(".{field}")) {
                path.clone()
            } else {
                format!("{path}.{field}")
            };
            return ApiError::unknown(param);
        }
        let param = if path == "." { missing_field(&inner).unwrap_or_else(|| "body".into()) } else { path };
        let code = if inner.starts_with("missing field") { "missing_required_parameter" } else { "invalid_type" };
        ApiError::invalid(param.clone(), format!("Invalid value for '{param}': {}", humanize(&inner))).with_code(code)
    })
}

fn backticked(msg: &str, prefix: &str) -> Option<String> {
    let rest = msg.strip_prefix(prefix)?;
    let rest = rest.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_owned())
}

fn unknown_field(msg: &str) -> Option<String> {
    backticked(msg, "unknown field ")
}

fn missing_field(msg: &str) -> Option<String> {
    backticked(msg, "missing field ")
}

fn humanize(msg: &str) -> String {
    msg.replace('`', "'")
}

/// `limit`, `order`, `after`, `before` of a list request.
#[derive(Debug, Default)]
pub struct ListQuery {
    /// The pagination parameters.
    pub page: assistd_proto::pb::ListParams,
    /// Other query parameters, by name.
    pub rest: Vec<(String, String)>,
}

impl ListQuery {
    /// The value of another query parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.rest.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::invalid("query", format!("Invalid query string: {e}")))?;
        let mut out = ListQuery::default();
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => {
                    let n: i64 = v.parse().map_err(|_| {
                        ApiError::invalid(
                            "limit",
                            format!("Invalid 'limit': expected an integer, but got '{v}' instead."),
                        )
                        .with_code("invalid_type")
                    })?;
                    out.page.limit = Some(u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX }));
                }
                "order" => {
                    out.page.order = match v.as_str() {
                        "asc" => assistd_proto::pb::Order::Asc as i32,
                        "desc" => assistd_proto::pb::Order::Desc as i32,
                        _ => {
                            return Err(ApiError::invalid(
                                "order",
                                format!("Invalid value: '{v}'. Supported values are: 'asc' and 'desc'."),
                            )
                            .with_code("invalid_value"));
                        }
                    }
                }
                "after" => out.page.after = Some(v),
                "before" => out.page.before = Some(v),
                _ => out.rest.push((k, v)),
            }
        }
        Ok(out)
    }
}

/// Whether a query parameter name is `include[]` (or `include`, as some clients write it).
pub fn is_include_key(k: &str) -> bool {
    k == "include[]" || k == "include"
}

/// The `include[]` query parameters of a request (repeatable; `include=` is accepted too).
/// Other query parameters are ignored.
#[derive(Debug, Default)]
pub struct IncludeQuery(pub Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for IncludeQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::invalid("query", format!("Invalid query string: {e}")))?;
        Ok(IncludeQuery(pairs.into_iter().filter(|(k, _)| is_include_key(k)).map(|(_, v)| v).collect()))
    }
}

impl ListQuery {
    /// The `include[]` parameters among the other query parameters.
    pub fn include(&self) -> Vec<String> {
        self.rest.iter().filter(|(k, _)| is_include_key(k)).map(|(_, v)| v.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        model: String,
        temperature: Option<f64>,
        tools: Option<Vec<Inner>>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    #[test]
    fn errors_name_the_param() {
        let e = parse_json::<T>(br#"{"model":"m","bogus":1}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("bogus"));
        assert_eq!(e.code.as_deref(), Some("unknown_parameter"));
        let e = parse_json::<T>(br#"{"model":"m","temperature":"hot"}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("temperature"));
        let e = parse_json::<T>(br#"{"model":"m","tools":[{"name":1}]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].name"));
        let e = parse_json::<T>(br#"{"model":"m","tools":[{"name":"x","y":2}]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].y"));
        let e = parse_json::<T>(br#"{}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        let e = parse_json::<T>(b"{not json").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("invalid_json"));
        assert!(parse_json::<serde_json::Map<String, serde_json::Value>>(b"").is_ok());
    }

    #[tokio::test]
    async fn include_query() {
        let req = axum::http::Request::builder()
            .uri("/x?include%5B%5D=a&limit=3&include=b&include[]=c&other=1")
            .body(())
            .unwrap();
        let (mut parts, _) = req.into_parts();
        let IncludeQuery(inc) = IncludeQuery::from_request_parts(&mut parts, &()).await.unwrap();
        assert_eq!(inc, vec!["a", "b", "c"]);
        let q = ListQuery::from_request_parts(&mut parts, &()).await.unwrap();
        assert_eq!(q.page.limit, Some(3));
        assert_eq!(q.include(), vec!["a", "b", "c"]);
    }
}

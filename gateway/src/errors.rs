//! OpenAI-shaped errors: `{"error":{"message","type","param","code"}}`, and the one
//! place a gRPC status becomes an HTTP status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic::Code;

/// An error answered to a REST client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for people.
    pub message: String,
    /// Parameter at fault.
    pub param: Option<String>,
    /// Machine-readable code.
    pub code: Option<String>,
}

/// OpenAI's `Error` object: the `error` of an error body, and the data of an SSE
/// `error` event. `param` and `code` are null when unset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorOut {
    pub message: String,
    /// `invalid_request_error`, `rate_limit_error` or `server_error`.
    pub r#type: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

/// An error response's body: `{"error": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBodyOut {
    pub error: ErrorOut,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), param: None, code: None }
    }

    /// 400 naming `param`.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message).with_param(param)
    }

    /// 400 `invalid_value`: `got` is not one of the supported values.
    pub fn invalid_value(param: &str, got: &str, supported: &str) -> Self {
        Self::invalid(param, format!("Invalid value: '{got}'. {supported}")).with_code("invalid_value")
    }

    /// 400 `invalid_type`: `param` is not `expected` ("a string", "an object", ...).
    pub fn invalid_type(param: &str, expected: &str, got: &serde_json::Value) -> Self {
        use serde_json::Value;
        let got = match got {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        Self::invalid(param, format!("Invalid type for '{param}': expected {expected}, but got {got} instead."))
            .with_code("invalid_type")
    }

    /// 400 `unknown_parameter`: a request argument the operation does not take.
    pub fn unknown(param: impl Into<String>) -> Self {
        let param = param.into();
        Self::invalid(param.clone(), format!("Unrecognized request argument supplied: {param}"))
            .with_code("unknown_parameter")
    }

    /// 400 `missing_required_parameter`.
    pub fn missing(param: &str) -> Self {
        Self::invalid(param, format!("Missing required parameter: '{param}'.")).with_code("missing_required_parameter")
    }

    /// Sets `param`.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Sets `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The OpenAI error `type` for the status.
    pub fn error_type(&self) -> &'static str {
        match self.status.as_u16() {
            429 => "rate_limit_error",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The `Error` object.
    pub fn to_out(&self) -> ErrorOut {
        ErrorOut {
            message: self.message.clone(),
            r#type: self.error_type().to_owned(),
            param: self.param.clone(),
            code: self.code.clone(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBodyOut {
        ErrorBodyOut { error: self.to_out() }
    }

    /// A gRPC status from a service, as an API error. `what` names the call for 501s.
    pub fn from_status(status: &tonic::Status, what: &str) -> Self {
        let detail = assistd_common::error::error_detail(status);
        let http = detail
            .as_ref()
            .and_then(|d| d.http_status)
            .and_then(|s| StatusCode::from_u16(s as u16).ok())
            .unwrap_or_else(|| http_status(status.code()));
        let (param, code) = detail.map(|d| (d.param, d.code)).unwrap_or_default();
        let message = match status.code() {
            Code::Unimplemented if code.is_none() => {
                format!("{what} is not implemented yet in assistd.")
            }
            Code::Internal | Code::Unknown | Code::DataLoss
                if http.is_server_error() && param.is_none() && code.is_none() =>
            {
                tracing::error!(code = ?status.code(), message = status.message(), "service call failed");
                "The server had an error while processing your request.".to_owned()
            }
            Code::Unavailable if code.is_none() => {
                tracing::warn!(message = status.message(), "service unavailable");
                "The service is temporarily unavailable. Please retry.".to_owned()
            }
            _ => status.message().to_owned(),
        };
        let code = code.or_else(|| (status.code() == Code::Unimplemented).then(|| "not_implemented".to_owned()));
        Self { status: http, message, param, code }
    }
}

/// The HTTP status for a gRPC code, when the service gave none.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Internal | Code::Unknown | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body())).into_response();
        if matches!(self.status.as_u16(), 429 | 503) {
            res.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        res
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use assistd_common::ServiceError;

    #[test]
    fn status_mapping() {
        let s: tonic::Status = ServiceError::invalid("metadata", "bad").into();
        let e = ApiError::from_status(&s, "x");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.param.as_deref(), Some("metadata"));
        assert_eq!(e.error_type(), "invalid_request_error");
        let e = ApiError::from_status(&tonic::Status::unimplemented("nope"), "POST /v1/threads/t/runs");
        assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(e.code.as_deref(), Some("not_implemented"));
        assert_eq!(e.error_type(), "server_error");
        let e = ApiError::from_status(&tonic::Status::internal("secret db detail"), "x");
        assert!(!e.message.contains("secret"));
    }
}

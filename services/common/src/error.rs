//! The one error type of the services, and its conversion to a gRPC status that
//! carries OpenAI's `param` and `code` through the hop to the gateway.

use assistd_proto::pb;
use prost::Message as _;
use tonic::{Code, Status};

/// Binary metadata key holding an encoded [`pb::ErrorDetail`].
pub const ERROR_DETAIL_KEY: &str = "assistd-error-bin";

/// What went wrong, with both its gRPC code and its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is invalid.
    InvalidArgument,
    /// 400: the request is valid but the object's state forbids it.
    FailedPrecondition,
    /// 401: no or wrong API key.
    Unauthenticated,
    /// 404: no such object (in this project).
    NotFound,
    /// 409: the object changed concurrently.
    Conflict,
    /// 413: too large.
    TooLarge,
    /// 429: slow down.
    RateLimited,
    /// 501: not implemented yet.
    Unimplemented,
    /// 503: a dependency is unavailable.
    Unavailable,
    /// 500: a bug or a storage failure; details are logged, not shown.
    Internal,
}

impl ErrorKind {
    /// The gRPC status code.
    pub fn grpc_code(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::NotFound => Code::NotFound,
            Self::Conflict => Code::Aborted,
            Self::TooLarge => Code::OutOfRange,
            Self::RateLimited => Code::ResourceExhausted,
            Self::Unimplemented => Code::Unimplemented,
            Self::Unavailable => Code::Unavailable,
            Self::Internal => Code::Internal,
        }
    }

    /// The HTTP status.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument | Self::FailedPrecondition => 400,
            Self::Unauthenticated => 401,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::RateLimited => 429,
            Self::Unimplemented => 501,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

/// An error a service returns.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Message shown to the client.
    pub message: String,
    /// Request parameter at fault.
    pub param: Option<String>,
    /// Machine-readable code.
    pub code: Option<String>,
}

/// Result of a service operation.
pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), param: None, code: None }
    }

    /// 400 naming the parameter at fault.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message).with_param(param).with_code("invalid_value")
    }

    /// 400 because of the object's state.
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::FailedPrecondition, message)
    }

    /// 404 in OpenAI's words: `No assistant found with id 'x'.`
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("No {what} found with id '{id}'."))
    }

    /// 413.
    pub fn too_large(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, message).with_param(param)
    }

    /// 501 for behaviour that a later release implements.
    pub fn unimplemented(what: &str) -> Self {
        Self::new(ErrorKind::Unimplemented, format!("{what} is not implemented yet in assistd."))
            .with_code("not_implemented")
    }

    /// 500: logs `context` and `err` and shows the client an opaque message.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        Self::new(ErrorKind::Internal, "The server had an error while processing your request.")
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
}

/// A request field that is wrong, found while converting a message (IOx's
/// `FieldViolation`). `field` is the path below the message converted
/// (`function.name`); callers [`scope`](Self::scope) it as the error travels up, so
/// the client's `param` is the full path (`tools[2].function.name`). `message` may
/// name the field as [`PARAM`], which becomes the full path when the violation turns
/// into a [`ServiceError`].
#[derive(Debug, Clone, PartialEq)]
pub struct FieldViolation {
    /// The path of the field at fault, relative to the message converted.
    pub field: String,
    /// What is wrong; [`PARAM`] stands for the field's full path.
    pub message: String,
    /// How the error is answered (400 unless the field asks for something not built).
    pub kind: ErrorKind,
    /// OpenAI's `code`.
    pub code: String,
}

/// Stands for the field's full path in a [`FieldViolation`]'s message.
pub const PARAM: &str = "{param}";

impl FieldViolation {
    /// A 400 for `field` (`code: invalid_value`).
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            kind: ErrorKind::InvalidArgument,
            code: "invalid_value".into(),
        }
    }

    /// `Missing required parameter: '<field>'.`
    pub fn missing(field: impl Into<String>) -> Self {
        Self::invalid(field, format!("Missing required parameter: '{PARAM}'."))
    }

    /// A 501: `field` asks for something assistd does not do yet.
    pub fn unimplemented(field: impl Into<String>, what: &str) -> Self {
        let e = ServiceError::unimplemented(what);
        Self { field: field.into(), message: e.message, kind: e.kind, code: e.code.unwrap_or_default() }
    }

    /// Sets `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = code.into();
        self
    }

    /// The violation as seen from the message that holds this one at `prefix`
    /// (`tools` and `[2]` make `tools[2]`; `tools[2]` and `function.name` make
    /// `tools[2].function.name`).
    pub fn scope(mut self, prefix: &str) -> Self {
        self.field = match (prefix.is_empty(), self.field.is_empty()) {
            (true, _) => self.field,
            (false, true) => prefix.to_owned(),
            (false, false) if self.field.starts_with('[') => format!("{prefix}{}", self.field),
            (false, false) => format!("{prefix}.{}", self.field),
        };
        self
    }
}

impl From<FieldViolation> for ServiceError {
    fn from(v: FieldViolation) -> Self {
        let FieldViolation { field, message, kind, code } = v;
        ServiceError::new(kind, message.replace(PARAM, &field)).with_param(field).with_code(code)
    }
}

impl From<FieldViolation> for Status {
    fn from(v: FieldViolation) -> Self {
        ServiceError::from(v).into()
    }
}

/// Scoping the violation of a conversion result.
pub trait FieldViolationExt<T> {
    /// See [`FieldViolation::scope`].
    fn scope(self, prefix: &str) -> Result<T, FieldViolation>;
}

impl<T> FieldViolationExt<T> for Result<T, FieldViolation> {
    fn scope(self, prefix: &str) -> Result<T, FieldViolation> {
        self.map_err(|v| v.scope(prefix))
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    /// A database that is down, restarting or busy is a 503 the client may retry;
    /// anything else is an opaque 500.
    fn from(err: sea_orm::DbErr) -> Self {
        if crate::db::is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Self::new(ErrorKind::Unavailable, "The database is temporarily unavailable. Please retry.")
                .with_code("database_unavailable");
        }
        Self::internal("database error", err)
    }
}

impl From<ServiceError> for Status {
    fn from(err: ServiceError) -> Self {
        let detail =
            pb::ErrorDetail { param: err.param, code: err.code, http_status: Some(u32::from(err.kind.http_status())) };
        let mut status = Status::new(err.kind.grpc_code(), err.message);
        status
            .metadata_mut()
            .insert_bin(ERROR_DETAIL_KEY, tonic::metadata::MetadataValue::from_bytes(&detail.encode_to_vec()));
        status
    }
}

impl ServiceError {
    /// The error another service answered with, kept as it was (kind, message,
    /// `param`, `code`), so it passes through this service unchanged.
    pub fn from_status(status: &Status) -> Self {
        let kind = match status.code() {
            Code::InvalidArgument => ErrorKind::InvalidArgument,
            Code::FailedPrecondition => ErrorKind::FailedPrecondition,
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::NotFound => ErrorKind::NotFound,
            Code::Aborted | Code::AlreadyExists => ErrorKind::Conflict,
            Code::OutOfRange => ErrorKind::TooLarge,
            Code::ResourceExhausted => ErrorKind::RateLimited,
            Code::Unimplemented => ErrorKind::Unimplemented,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        };
        let mut err = ServiceError::new(kind, status.message());
        if let Some(d) = error_detail(status) {
            err.param = d.param;
            err.code = d.code;
        }
        err
    }
}

/// Reads the detail a service attached to a status, if any.
pub fn error_detail(status: &Status) -> Option<pb::ErrorDetail> {
    let value = status.metadata().get_bin(ERROR_DETAIL_KEY)?;
    let bytes = value.to_bytes().ok()?;
    pb::ErrorDetail::decode(bytes.as_ref()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_survives_status() {
        let status: Status = ServiceError::invalid("metadata", "too many keys").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let detail = error_detail(&status).unwrap();
        assert_eq!(detail.param.as_deref(), Some("metadata"));
        assert_eq!(detail.http_status, Some(400));
    }

    #[test]
    fn violations_scope_to_the_full_path() {
        let v =
            FieldViolation::invalid("function.name", format!("Invalid '{PARAM}': bad.")).scope("[2]").scope("tools");
        let e = ServiceError::from(v);
        assert_eq!(e.param.as_deref(), Some("tools[2].function.name"));
        assert_eq!(e.message, "Invalid 'tools[2].function.name': bad.");
        let e = ServiceError::from(FieldViolation::missing("").scope("model"));
        assert_eq!((e.param.as_deref(), e.message.as_str()), (Some("model"), "Missing required parameter: 'model'."));
    }
}

//! Who a call between services acts for. In one process the project travels in the
//! request's extensions (the auth layer trusts it there, where no network request can
//! put it); the caller's `authorization`, when there is one, is forwarded too, so calls
//! that cross the network are authenticated as the caller; a service's own calls (a
//! worker's) use the deployment's internal token and name the project in a header.

use tonic::metadata::{MetadataMap, MetadataValue};

use crate::Project;

/// The `authorization` value a service's own calls carry: `Bearer <internal token>`
/// (see `crate::auth::internal_token`); none without a token.
pub fn internal_authorization(token: Option<String>) -> Option<MetadataValue<tonic::metadata::Ascii>> {
    token.and_then(|t| format!("Bearer {t}").parse().ok())
}

/// The header that names a client request in every log line and every call it leads
/// to.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Who a call acts for, and the request it is part of.
#[derive(Clone, Debug)]
pub struct Caller {
    pub project: Project,
    /// The caller's `authorization` header, when a client made the call.
    pub authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    /// The client request's `x-request-id`, passed on to every peer call.
    pub request_id: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Caller {
    /// A call for `project` by the engine itself (a worker, the reaper).
    pub fn engine(project: Project) -> Self {
        Self { project, authorization: None, request_id: None }
    }

    /// A call on behalf of a client request.
    pub fn of(project: Project, metadata: &MetadataMap) -> Self {
        Self {
            project,
            authorization: metadata.get("authorization").cloned(),
            request_id: metadata.get(REQUEST_ID_HEADER).cloned(),
        }
    }

    /// A request carrying `msg` for this caller: the project in the extensions, the
    /// caller's authorization, else the `internal` token and the project header; the
    /// request id and the current trace context (`traceparent`). Every call from one
    /// service to another is made through here.
    pub fn request<T>(&self, msg: T, internal: Option<&MetadataValue<tonic::metadata::Ascii>>) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.extensions_mut().insert(self.project.clone());
        let project = match (&self.authorization, internal) {
            (None, Some(_)) => self.project.id().parse().ok(),
            _ => None,
        };
        let authorization = self.authorization.as_ref().or(internal).cloned();
        outgoing(req.metadata_mut(), authorization, project, self.request_id.clone());
        req
    }
}

/// The metadata of every call from one service to another, and of the gateway's calls
/// to the services: who calls (`authorization`; with the internal token, the project it
/// acts for), the client request's `x-request-id`, and the current trace context
/// (`traceparent`). [`Caller::request`] and the gateway's requests both write it here.
pub fn outgoing(
    metadata: &mut MetadataMap,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    project: Option<MetadataValue<tonic::metadata::Ascii>>,
    request_id: Option<MetadataValue<tonic::metadata::Ascii>>,
) {
    if let Some(auth) = authorization {
        metadata.insert("authorization", auth);
    }
    if let Some(p) = project {
        metadata.insert(crate::auth::PROJECT_HEADER, p);
    }
    if let Some(id) = request_id {
        metadata.insert(REQUEST_ID_HEADER, id);
    }
    crate::trace::inject_current(metadata);
}

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

/// Who a call acts for.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The project.
    pub project: Project,
    /// The caller's `authorization` header, when a client made the call.
    pub authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl Caller {
    /// A call for `project` by the engine itself (a worker, the reaper).
    pub fn engine(project: Project) -> Self {
        Self { project, authorization: None }
    }

    /// A call on behalf of a client request.
    pub fn of(project: Project, metadata: &MetadataMap) -> Self {
        Self { project, authorization: metadata.get("authorization").cloned() }
    }

    /// A request carrying `msg` for this caller: the project in the extensions, the
    /// caller's authorization, else the `internal` token and the project header.
    pub fn request<T>(&self, msg: T, internal: Option<&MetadataValue<tonic::metadata::Ascii>>) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.extensions_mut().insert(self.project.clone());
        match (&self.authorization, internal) {
            (Some(auth), _) => {
                req.metadata_mut().insert("authorization", auth.clone());
            }
            (None, Some(token)) => {
                req.metadata_mut().insert("authorization", token.clone());
                if let Ok(p) = self.project.id().parse() {
                    req.metadata_mut().insert(crate::auth::PROJECT_HEADER, p);
                }
            }
            (None, None) => {}
        }
        crate::trace::inject_current(req.metadata_mut());
        req
    }
}

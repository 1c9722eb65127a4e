//! API keys and the project a request acts for.
//!
//! Keys are either bootstrap keys (`ASSISTD_API_KEYS`, project `default`) or records
//! in the `api_keys` table (made by `assistd keys create`), stored as SHA-256 hashes.
//! Every gRPC request passes through [`Authenticator::authenticate`]; the resulting
//! [`Project`] travels in the request extensions to the service, whose every query
//! starts from it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rand::Rng;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::error::{ErrorKind, ServiceError, ServiceResult};
use crate::ids::KeyId;

/// The project used by bootstrap keys and when auth is off.
pub const DEFAULT_PROJECT: &str = "default";

/// The tenant a request acts for. Every row belongs to one project.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Project(pub String);

impl Project {
    /// The project id.
    pub fn id(&self) -> &str {
        &self.0
    }

    /// The project the auth layer attached to a gRPC request.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Project, tonic::Status> {
        request
            .extensions()
            .get::<Project>()
            .cloned()
            .ok_or_else(|| ServiceError::new(ErrorKind::Unauthenticated, "No project on the request.").into())
    }
}

/// The `api_keys` table.
pub mod api_key {
    use sea_orm::entity::prelude::*;

    /// One stored key.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_keys")]
    pub struct Model {
        /// `key_…`
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Project the key acts for.
        pub project_id: String,
        /// Hex SHA-256 of the key.
        #[sea_orm(unique)]
        pub key_hash: String,
        /// Unix seconds.
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Hex SHA-256 of a key.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new random key, `sk-` and 48 alphanumerics.
pub fn generate_key() -> String {
    let mut rng = rand::rng();
    let body: String = (0..48).map(|_| rng.sample(rand::distr::Alphanumeric) as char).collect();
    format!("sk-{body}")
}

/// Stores a new key for `project` and returns it (the only time it is seen in clear).
pub async fn create_key(db: &DatabaseConnection, project: &str) -> ServiceResult<String> {
    if project.is_empty()
        || project.len() > 64
        || !project.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ServiceError::invalid("project", "Project ids are 1-64 characters of [A-Za-z0-9_-]."));
    }
    let key = generate_key();
    api_key::ActiveModel {
        id: Set(KeyId::generate().into_string()),
        project_id: Set(project.to_owned()),
        key_hash: Set(hash_key(&key)),
        created_at: Set(crate::time::now_secs()),
    }
    .insert(db)
    .await?;
    Ok(key)
}

/// Metadata key naming the project of a service-to-service call made with the
/// internal token.
pub const PROJECT_HEADER: &str = "assistd-project";

/// The token services present to each other when acting for a project without a
/// client's key (the run engine's workers). It is derived from the bootstrap keys,
/// which every process of a deployment shares; none without bootstrap keys.
pub fn internal_token(bootstrap_keys: &[String]) -> Option<String> {
    let mut keys: Vec<&str> = bootstrap_keys.iter().map(String::as_str).filter(|k| !k.is_empty()).collect();
    if keys.is_empty() {
        return None;
    }
    keys.sort_unstable();
    Some(format!("assistd-internal-{}", hash_key(&format!("assistd internal token\n{}", keys.join("\n")))))
}

/// Resolves bearer keys to projects.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    bootstrap: HashMap<String, Project>,
    internal: Option<String>,
    db: Option<DatabaseConnection>,
    enabled: bool,
    cache: RwLock<HashMap<String, Project>>,
}

impl Authenticator {
    /// Auth with `bootstrap_keys` (project `default`) and the keys stored in `db`.
    /// Auth is off when there are neither bootstrap keys nor stored keys.
    pub async fn new(bootstrap_keys: &[String], db: Option<DatabaseConnection>) -> ServiceResult<Self> {
        let stored = match &db {
            Some(db) => api_key::Entity::find().count(db).await?,
            None => 0,
        };
        let enabled = !bootstrap_keys.is_empty() || stored > 0;
        Ok(Self::build(bootstrap_keys, db, enabled))
    }

    /// Auth that lets every request act for the default project.
    pub fn disabled() -> Self {
        Self::build(&[], None, false)
    }

    fn build(bootstrap_keys: &[String], db: Option<DatabaseConnection>, enabled: bool) -> Self {
        let bootstrap = bootstrap_keys
            .iter()
            .filter(|k| !k.is_empty())
            .map(|k| (hash_key(k), Project(DEFAULT_PROJECT.to_owned())))
            .collect();
        let internal = internal_token(bootstrap_keys);
        Self { inner: Arc::new(Inner { bootstrap, internal, db, enabled, cache: RwLock::new(HashMap::new()) }) }
    }

    /// Whether keys are checked.
    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    /// The project of a service-to-service call: `authorization` is the internal
    /// token and `project` names the project; `None` when it is not such a call.
    pub fn internal(&self, authorization: Option<&str>, project: Option<&str>) -> Option<Project> {
        let token = self.inner.internal.as_deref()?;
        let presented = authorization?.strip_prefix("Bearer ")?;
        let same = presented.len() == token.len()
            && presented.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        (same && project.is_some_and(|p| !p.is_empty())).then(|| Project(project.unwrap_or_default().to_owned()))
    }

    /// The project for an `authorization` header value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> ServiceResult<Project> {
        let key = authorization
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let Some(key) = key else {
            if !self.inner.enabled {
                return Ok(Project(DEFAULT_PROJECT.to_owned()));
            }
            return Err(ServiceError::new(
                ErrorKind::Unauthenticated,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
            .with_code("missing_api_key"));
        };
        let hash = hash_key(key);
        if let Some(p) = self.inner.bootstrap.get(&hash) {
            return Ok(p.clone());
        }
        if let Some(p) = self.inner.cache.read().unwrap_or_else(|e| e.into_inner()).get(&hash) {
            return Ok(p.clone());
        }
        if let Some(db) = &self.inner.db {
            let found = api_key::Entity::find().filter(api_key::Column::KeyHash.eq(hash.clone())).one(db).await?;
            if let Some(row) = found {
                let project = Project(row.project_id);
                self.inner.cache.write().unwrap_or_else(|e| e.into_inner()).insert(hash, project.clone());
                return Ok(project);
            }
        }
        if !self.inner.enabled {
            return Ok(Project(DEFAULT_PROJECT.to_owned()));
        }
        let shown: String = key.chars().take(3).collect::<String>()
            + "*****"
            + &key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect::<String>();
        Err(ServiceError::new(ErrorKind::Unauthenticated, format!("Incorrect API key provided: {shown}."))
            .with_code("invalid_api_key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bootstrap_keys() {
        let auth = Authenticator::new(&["sk-a".into()], None).await.unwrap();
        assert!(auth.enabled());
        assert_eq!(auth.authenticate(Some("Bearer sk-a")).await.unwrap().id(), DEFAULT_PROJECT);
        let err = auth.authenticate(Some("Bearer sk-b")).await.unwrap_err();
        assert_eq!(err.code.as_deref(), Some("invalid_api_key"));
        assert!(auth.authenticate(None).await.is_err());
    }

    #[tokio::test]
    async fn disabled_uses_default_project() {
        let auth = Authenticator::new(&[], None).await.unwrap();
        assert!(!auth.enabled());
        assert_eq!(auth.authenticate(Some("Bearer whatever")).await.unwrap().id(), DEFAULT_PROJECT);
    }
}

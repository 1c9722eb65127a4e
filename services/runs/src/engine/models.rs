//! Which backend answers a run's `model`, and under what name: the model map
//! (DESIGN.md §5). Names not in the map go to the default backend as they are.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{ChatModel, ModelError, ModelInfo};

/// A backend and the names it is used for.
#[derive(Clone)]
pub struct Route {
    /// The backend.
    pub backend: Arc<dyn ChatModel>,
    /// The model name sent to it (`None`: the run's own).
    pub rename: Option<String>,
}

/// The model map.
#[derive(Clone, Default)]
pub struct Models {
    default: Option<Arc<dyn ChatModel>>,
    routes: HashMap<String, Route>,
}

impl Models {
    /// Every name to `backend`, unchanged.
    pub fn single(backend: Arc<dyn ChatModel>) -> Self {
        Self { default: Some(backend), routes: HashMap::new() }
    }

    /// No backend: runs fail with a clear `last_error`.
    pub fn none() -> Self {
        Self::default()
    }

    /// Sends runs of model `name` to `route`.
    pub fn with_route(mut self, name: impl Into<String>, route: Route) -> Self {
        self.routes.insert(name.into(), route);
        self
    }

    /// The backend for `model` and the name to send it.
    pub fn resolve(&self, model: &str) -> Result<(Arc<dyn ChatModel>, String), ModelError> {
        if let Some(r) = self.routes.get(model) {
            return Ok((r.backend.clone(), r.rename.clone().unwrap_or_else(|| model.to_owned())));
        }
        match &self.default {
            Some(b) => Ok((b.clone(), model.to_owned())),
            None => Err(ModelError::Backend(format!(
                "No model backend serves model '{model}': set ASSISTD_LLM_BASE_URL or install the embedded model."
            ))),
        }
    }

    /// The model names runs can use: the map's entries (sorted), then what the default
    /// backend lists, each name once. A backend that cannot list its models adds none.
    pub async fn list(&self) -> Vec<ModelInfo> {
        let mut routes: Vec<(&String, &Route)> = self.routes.iter().collect();
        routes.sort_by_key(|(name, _)| *name);
        let mut out: Vec<ModelInfo> = routes
            .into_iter()
            .map(|(name, r)| {
                let target = r.rename.as_deref().unwrap_or(name);
                ModelInfo {
                    id: name.clone(),
                    created: 0,
                    owned_by: format!("assistd (model map: {target} on the {})", r.backend.kind()),
                }
            })
            .collect();
        if let Some(default) = &self.default {
            match default.list_models().await {
                Ok(models) => {
                    for m in models {
                        if !out.iter().any(|o| o.id == m.id) {
                            out.push(m);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the default chat backend did not list its models"),
            }
        }
        out
    }
}

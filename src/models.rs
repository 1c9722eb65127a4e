//! The model backends of the run engine, from the settings (DESIGN.md §5): the
//! OpenAI-compatible backend at `ASSISTD_LLM_BASE_URL` or, without one, the embedded
//! model; and the model map, which sends runs of some model names to other backends
//! (other base URLs, or the embedded model) and renames them.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use assistd_runs::engine::models::Route;
use assistd_runs::model::ChatModel;
use assistd_runs::model::embedded::Embedded;
use assistd_runs::model::openai::OpenAiCompatible;

use crate::config::Settings;

/// The name of the embedded model as a model map backend.
const EMBEDDED: &str = "embedded";

/// The backends of `settings`, each built once.
struct Backends<'a> {
    settings: &'a Settings,
    built: HashMap<String, Arc<dyn ChatModel>>,
}

impl Backends<'_> {
    /// The backend at `url` (an OpenAI-compatible base URL, or `embedded`); `None`
    /// when it is the embedded model and its file is not installed.
    async fn get(&mut self, url: &str) -> anyhow::Result<Option<Arc<dyn ChatModel>>> {
        if let Some(b) = self.built.get(url) {
            return Ok(Some(b.clone()));
        }
        let backend: Arc<dyn ChatModel> = if url == EMBEDDED {
            match embedded(self.settings).await? {
                Some(m) => Arc::new(m),
                None => return Ok(None),
            }
        } else {
            Arc::new(
                OpenAiCompatible::new(url, self.settings.llm_api_key.clone())
                    .map_err(|e| anyhow::anyhow!(e.to_string()))
                    .with_context(|| format!("chat backend {url}"))?
                    .with_context_window(self.settings.llm_context_tokens),
            )
        };
        self.built.insert(url.to_owned(), backend.clone());
        Ok(Some(backend))
    }
}

/// The embedded model from `ASSISTD_EMBEDDED_MODEL` or `<data-dir>/models/`, if its
/// file is there.
async fn embedded(settings: &Settings) -> anyhow::Result<Option<Embedded>> {
    let path = std::env::var_os("ASSISTD_EMBEDDED_MODEL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Embedded::default_path(&settings.data_dir));
    if !path.is_file() {
        tracing::warn!(
            path = %path.display(),
            "the embedded model is not installed (run scripts/setup-models); runs meant for it fail with a server_error"
        );
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let load = path.clone();
    let model = tokio::task::spawn_blocking(move || Embedded::load(&load))
        .await
        .context("loading the embedded model")?
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    tracing::info!(path = %path.display(), secs = started.elapsed().as_secs_f64(), "embedded model loaded");
    Ok(Some(model))
}

/// The model map of `settings`. Runs whose model no backend serves fail with a
/// `last_error` saying so.
pub async fn models(settings: &Settings) -> anyhow::Result<assistd_runs::Models> {
    let mut backends = Backends { settings, built: HashMap::new() };
    let default_url = settings.llm_base_url.clone().unwrap_or_else(|| EMBEDDED.to_owned());
    let default = backends.get(&default_url).await?;
    if default.is_none() {
        tracing::warn!(
            "no chat backend: set ASSISTD_LLM_BASE_URL (an OpenAI-compatible server) or run scripts/setup-models"
        );
    }
    let mut models = match &default {
        Some(b) => assistd_runs::Models::single(b.clone()),
        None => assistd_runs::Models::none(),
    };
    for route in &settings.model_map {
        let url = route.backend.as_deref().unwrap_or(&default_url);
        if let Some(backend) = backends.get(url).await? {
            models = models.with_route(route.name.clone(), Route { backend, rename: route.model.clone() });
        }
    }
    Ok(models)
}

//! The model backends of the run engine, from the settings (DESIGN.md §5): the
//! OpenAI-compatible backend at `ASSISTD_LLM_BASE_URL` or the embedded model, with
//! names renamed per the model map.

use std::sync::Arc;

use anyhow::Context;
use assistd_runs::engine::models::Route;
use assistd_runs::model::ChatModel;
use assistd_runs::model::embedded::Embedded;
use assistd_runs::model::openai::OpenAiCompatible;

use crate::config::Settings;

/// The model map of `settings`: the OpenAI-compatible backend when one is set, else
/// the embedded model from `<data-dir>/models/` (or `ASSISTD_EMBEDDED_MODEL`), else
/// none (runs then fail with a `last_error` saying so).
pub async fn models(settings: &Settings) -> anyhow::Result<assistd_runs::Models> {
    let backend: Arc<dyn ChatModel> = match &settings.llm_base_url {
        Some(url) => Arc::new(
            OpenAiCompatible::new(url, settings.llm_api_key.clone())
                .map_err(|e| anyhow::anyhow!(e.to_string()))
                .with_context(|| format!("chat backend {url}"))?,
        ),
        None => {
            let path = std::env::var_os("ASSISTD_EMBEDDED_MODEL")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| Embedded::default_path(&settings.data_dir));
            if !path.is_file() {
                tracing::warn!(
                    path = %path.display(),
                    "no chat backend: set ASSISTD_LLM_BASE_URL (an OpenAI-compatible server) or run scripts/setup-models for the embedded model; runs fail with a server_error until then"
                );
                return Ok(assistd_runs::Models::none());
            }
            let started = std::time::Instant::now();
            let load = path.clone();
            let model = tokio::task::spawn_blocking(move || Embedded::load(&load))
                .await
                .context("loading the embedded model")?
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
            tracing::info!(path = %path.display(), secs = started.elapsed().as_secs_f64(), "embedded model loaded");
            Arc::new(model)
        }
    };
    let mut models = assistd_runs::Models::single(backend.clone());
    for (name, target) in &settings.model_map {
        models = models.with_route(name.clone(), Route { backend: backend.clone(), rename: Some(target.clone()) });
    }
    Ok(models)
}

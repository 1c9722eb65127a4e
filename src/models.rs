//! The model backends of the run engine, from the settings (DESIGN.md §5): the
//! OpenAI-compatible backend at `ASSISTD_LLM_BASE_URL`, renamed per the model map.

use std::sync::Arc;

use anyhow::Context;
use assistd_runs::engine::models::Route;
use assistd_runs::model::ChatModel;
use assistd_runs::model::openai::OpenAiCompatible;

use crate::config::Settings;

/// The model map of `settings`.
pub fn models(settings: &Settings) -> anyhow::Result<assistd_runs::Models> {
    let Some(url) = &settings.llm_base_url else {
        tracing::warn!(
            "no chat backend: set ASSISTD_LLM_BASE_URL (an OpenAI-compatible server); runs fail with a server_error until then"
        );
        return Ok(assistd_runs::Models::none());
    };
    let backend: Arc<dyn ChatModel> = Arc::new(
        OpenAiCompatible::new(url, settings.llm_api_key.clone())
            .map_err(|e| anyhow::anyhow!(e.to_string()))
            .with_context(|| format!("chat backend {url}"))?,
    );
    let mut models = assistd_runs::Models::single(backend.clone());
    for (name, target) in &settings.model_map {
        models = models.with_route(name.clone(), Route { backend: backend.clone(), rename: Some(target.clone()) });
    }
    Ok(models)
}

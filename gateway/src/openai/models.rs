//! OpenAI's `model` object and its list (`GET /v1/models`), from `pb::Model`.

use assistd_proto::pb;
use serde::Serialize;

/// A model as answered.
#[derive(Debug, Serialize)]
pub struct ModelOut {
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    pub created: i64,
    pub owned_by: String,
}

impl From<pb::Model> for ModelOut {
    fn from(m: pb::Model) -> Self {
        let pb::Model { id, created, owned_by } = m;
        ModelOut { id, object: "model", created, owned_by }
    }
}

/// The list of models as answered: OpenAI's models list has no cursor fields.
#[derive(Debug, Serialize)]
pub struct ModelsOut {
    /// Always `list`.
    pub object: &'static str,
    pub data: Vec<ModelOut>,
}

impl From<pb::ListModelsResponse> for ModelsOut {
    fn from(r: pb::ListModelsResponse) -> Self {
        ModelsOut { object: "list", data: r.data.into_iter().map(ModelOut::from).collect() }
    }
}

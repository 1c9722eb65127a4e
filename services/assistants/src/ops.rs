//! The operations of the assistants API on domain values: what the gRPC adapter (and
//! any other front) calls. Each checks the request's rules and its references to
//! files and vector stores (through those services), makes the vector stores the
//! `tool_resources.file_search.vector_stores` helper asks for, and writes the store.

use assistd_common::caller::Caller;
use assistd_common::files_ref::FileRefs;
use assistd_common::ids::AssistantId;
use assistd_common::page::{Page, PageRequest};
use assistd_common::tools::ToolResources;
use assistd_common::vector_stores_ref::VectorStoreRefs;
use assistd_common::{Project, ServiceError, ServiceResult, time};

use crate::domain::{Assistant, AssistantPatch};
use crate::store::Store;

/// The assistants of every project, and the peers their references are checked with.
#[derive(Clone)]
pub struct Assistants {
    store: Store,
    files: FileRefs,
    vector_stores: VectorStoreRefs,
}

impl Assistants {
    /// Assistants in `store`; references go unchecked until the peers are given.
    pub fn new(store: Store) -> Self {
        Self { store, files: FileRefs::unchecked(), vector_stores: VectorStoreRefs::unavailable() }
    }

    /// Checks vector store references, and makes the helper's stores, through the
    /// vector stores service.
    pub fn with_vector_stores(mut self, vector_stores: VectorStoreRefs) -> Self {
        self.vector_stores = vector_stores;
        self
    }

    /// Checks that files in `tool_resources` exist, through the files service.
    pub fn with_file_refs(mut self, files: FileRefs) -> Self {
        self.files = files;
        self
    }

    /// Creates an assistant from `patch` (`model` required).
    pub async fn create(&self, caller: &Caller, mut patch: AssistantPatch) -> ServiceResult<Assistant> {
        let helpers = take_helpers(&mut patch)?;
        let mut assistant = patch.create(AssistantId::generate().into_string(), time::now_secs())?;
        if let Some(r) = &assistant.tool_resources {
            self.check_refs(caller, r).await?;
        }
        add_made(&mut assistant.tool_resources, self.vector_stores.make(caller, helpers).await?);
        self.store.insert(&caller.project, &assistant).await?;
        Ok(assistant)
    }

    /// A page of the project's assistants.
    pub async fn list(&self, project: &Project, page: &PageRequest) -> ServiceResult<Page<Assistant>> {
        self.store.list(project, page).await
    }

    /// The assistant `id`.
    pub async fn get(&self, project: &Project, id: &str) -> ServiceResult<Assistant> {
        self.store.get(project, id).await?.ok_or_else(|| not_found(id))
    }

    /// Writes the fields `patch` gives into assistant `id`.
    pub async fn modify(&self, caller: &Caller, id: &str, mut patch: AssistantPatch) -> ServiceResult<Assistant> {
        let helpers = take_helpers(&mut patch)?;
        patch.validate()?;
        let mut a = self.get(&caller.project, id).await?;
        let checks_refs = patch.tool_resources.is_some();
        patch.apply_to(&mut a);
        if checks_refs && let Some(r) = &a.tool_resources {
            self.check_refs(caller, r).await?;
        }
        add_made(&mut a.tool_resources, self.vector_stores.make(caller, helpers).await?);
        self.store.update(&caller.project, &a).await?;
        Ok(a)
    }

    /// Deletes assistant `id`.
    pub async fn delete(&self, project: &Project, id: &str) -> ServiceResult<()> {
        if self.store.delete(project, id).await? { Ok(()) } else { Err(not_found(id)) }
    }

    async fn check_refs(&self, caller: &Caller, r: &ToolResources) -> ServiceResult<()> {
        self.files.check(caller, &r.file_refs("tool_resources")).await?;
        self.vector_stores.check(caller, &r.vector_store_refs("tool_resources")).await
    }
}

/// Takes the `vector_stores` helper out of the patch's tool resources.
fn take_helpers(patch: &mut AssistantPatch) -> ServiceResult<Vec<assistd_common::tools::NewVectorStore>> {
    match patch.tool_resources.as_mut() {
        Some(res) => VectorStoreRefs::take_helpers(res, "tool_resources"),
        None => Ok(vec![]),
    }
}

/// Records vector stores made by the helper in the tool resources.
fn add_made(res: &mut Option<ToolResources>, made: Vec<String>) {
    if !made.is_empty() {
        let res = res.get_or_insert_with(ToolResources::default);
        res.file_search.get_or_insert_with(Default::default).vector_store_ids.extend(made);
    }
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::not_found("assistant", id)
}

//! The built-in tools a response runs itself. file_search: the model calls the
//! function `file_search` with `{"queries": [...]}` (as in runs); the response searches
//! the tool's vector stores through the vector stores service (after files still being
//! indexed are done, a while at most), keeps the best `max_num_results` above the score
//! threshold, and answers the model with each result under a marker
//! `【{call}:{n}†{filename}】` that citations are made from.

use std::time::Duration;

use assistd_common::caller::Caller;
use assistd_proto::pb;
use assistd_runs::domain::SearchResult;
use assistd_runs::engine::file_search::{DEFAULT_MAX_RESULTS, queries};

use crate::domain::ResponseTool;
use crate::peers::VectorStorePeer;

/// How long a search waits for files still being indexed.
const INDEXING_WAIT: Duration = Duration::from_secs(60);

/// The file_search tool of one response.
#[derive(Clone)]
pub struct FileSearch {
    pub peer: VectorStorePeer,
    pub caller: Caller,
    pub vector_store_ids: Vec<String>,
    pub max_results: i32,
    pub score_threshold: f64,
    pub filters: Option<pb::SearchFilter>,
}

/// What one call found.
#[derive(Debug, Clone)]
pub struct Found {
    pub queries: Vec<String>,
    pub results: Vec<SearchResult>,
}

impl FileSearch {
    /// The tool of `tool` (a `file_search` tool) for `caller`.
    pub fn of(
        tool: &ResponseTool,
        peer: VectorStorePeer,
        caller: Caller,
        filters: Option<pb::SearchFilter>,
    ) -> Option<Self> {
        let ResponseTool::FileSearch { vector_store_ids, max_num_results, ranking_options, .. } = tool else {
            return None;
        };
        Some(Self {
            peer,
            caller,
            vector_store_ids: vector_store_ids.clone(),
            max_results: max_num_results.unwrap_or(DEFAULT_MAX_RESULTS).clamp(1, 50),
            score_threshold: ranking_options.as_ref().map(|r| r.score_threshold).unwrap_or(0.0),
            filters,
        })
    }

    /// Runs one call with the model's `arguments`.
    pub async fn run(&self, arguments: &str) -> Result<Found, String> {
        let queries = queries(arguments);
        if queries.is_empty() {
            return Ok(Found { queries, results: vec![] });
        }
        let mut results = Vec::new();
        for vs in &self.vector_store_ids {
            self.wait_indexed(vs).await.map_err(|e| e.message)?;
            let request = pb::SearchVectorStoreRequest {
                vector_store_id: vs.clone(),
                query: queries.clone(),
                filters: self.filters.clone(),
                max_num_results: Some(self.max_results),
                ranking_options: Some(pb::FileSearchRankingOptions {
                    ranker: None,
                    score_threshold: self.score_threshold,
                }),
                rewrite_query: None,
            };
            let page = self.peer.search(&self.caller, request).await.map_err(|e| e.message)?;
            results.extend(page.data.into_iter().map(|r| SearchResult {
                file_id: r.file_id,
                file_name: r.filename,
                score: r.score,
                text: r.content.into_iter().map(|c| c.text).collect::<Vec<_>>().join("\n"),
            }));
        }
        results.sort_by(|a, b| b.score.total_cmp(&a.score));
        results.truncate(self.max_results as usize);
        Ok(Found { queries, results })
    }

    async fn wait_indexed(&self, vs: &str) -> assistd_common::ServiceResult<()> {
        let deadline = tokio::time::Instant::now() + INDEXING_WAIT;
        loop {
            let store = self.peer.store(&self.caller, vs).await?;
            let busy = store.file_counts.map(|c| c.in_progress).unwrap_or(0) > 0;
            if !busy || tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The code_interpreter tool of one response: the model calls the function
/// `code_interpreter` with `{"code": …}`; the code runs in the container's sandbox
/// session (a container is a session: its variables and files last between calls and
/// responses that name it), with the container's files in `/mnt/data`; what it draws
/// or writes is stored as files (purpose `assistants_output`).
#[derive(Clone)]
pub struct CodeInterpreter {
    pub sandbox: std::sync::Arc<dyn assistd_sandbox::Sandbox>,
    pub files: Option<assistd_common::files_client::Files>,
    pub caller: Caller,
    pub container_id: String,
    pub inputs: Vec<assistd_runs::engine::code::InputRef>,
}

/// What one code_interpreter call did.
#[derive(Debug, Clone)]
pub struct Ran {
    pub outputs: Vec<assistd_runs::domain::CodeOutput>,
    pub written: Vec<assistd_runs::domain::CodeFile>,
}

impl CodeInterpreter {
    /// Runs `code` for call `call_id`.
    pub async fn run(&self, call_id: &str, code: String) -> Result<Ran, String> {
        use assistd_runs::engine::code;
        let session = assistd_sandbox::SessionKey::new(self.caller.project.id(), &self.container_id);
        let execution =
            code::execute(self.sandbox.as_ref(), self.files.as_ref(), &self.caller, session, &self.inputs, code)
                .await
                .map_err(|e| e.message)?;
        let (outputs, written) =
            code::store_outputs(self.files.as_ref(), &self.caller, call_id, execution).await.map_err(|e| e.message)?;
        Ok(Ran { outputs, written })
    }
}

//! The file_search tool. The model sees it as the function `file_search` with
//! `{"queries": [string]}`; the engine runs the call itself: it searches the vector
//! stores of the assistant and of the thread (through the vector stores service, after
//! waiting for files still being indexed), keeps the best `max_num_results` (default
//! 20) above the score threshold, and answers the model with each result under a
//! marker `【{call}:{n}†{filename}】`. Markers the answer quotes become `file_citation`
//! annotations.

use std::time::Duration;

use assistd_common::tools::{MAX_SEARCH_QUERIES, MAX_SEARCH_QUERY_CHARS, Tool};
use assistd_proto::pb;

use crate::domain::{RunError, SearchResult};
use crate::peers::{Caller, Peers};

/// Results a call keeps when the tool does not say.
pub const DEFAULT_MAX_RESULTS: i32 = 20;
/// The ranker reported when the tool does not name one.
pub const DEFAULT_RANKER: &str = "default_2024_08_21";
/// How long a search waits for files still being indexed.
const INDEXING_WAIT: Duration = Duration::from_secs(60);

/// The file_search settings of a run's tools, if it has the tool.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Most results.
    pub max_results: i32,
    /// The ranker named.
    pub ranker: String,
    /// Minimum score.
    pub score_threshold: f64,
}

/// The run's file_search settings; `None` when it does not have the tool.
pub fn settings(tools: &[Tool]) -> Option<Settings> {
    tools.iter().find_map(|t| match t {
        Tool::FileSearch { file_search } => {
            let ranking = file_search.ranking_options.as_ref();
            Some(Settings {
                max_results: file_search.max_num_results.unwrap_or(DEFAULT_MAX_RESULTS),
                ranker: ranking
                    .and_then(|r| r.ranker.clone())
                    .filter(|r| r != "auto")
                    .unwrap_or_else(|| DEFAULT_RANKER.into()),
                score_threshold: ranking.map(|r| r.score_threshold).unwrap_or(0.0),
            })
        }
        _ => None,
    })
}

/// The queries of a call's arguments (`{"queries": [...]}`, also `{"query": "..."}`;
/// anything else is searched as it is), at most [`MAX_SEARCH_QUERIES`] of at most
/// [`MAX_SEARCH_QUERY_CHARS`] characters.
pub fn queries(arguments: &str) -> Vec<String> {
    let parsed: Option<serde_json::Value> = serde_json::from_str(arguments).ok();
    let from_json = parsed.as_ref().and_then(|v| match (v.get("queries"), v.get("query")) {
        (Some(serde_json::Value::Array(qs)), _) => {
            Some(qs.iter().filter_map(|q| q.as_str().map(str::to_owned)).collect::<Vec<_>>())
        }
        (Some(serde_json::Value::String(q)), _) | (_, Some(serde_json::Value::String(q))) => Some(vec![q.clone()]),
        _ => None,
    });
    // A model may write more or longer queries than a search takes: the first ones,
    // cut to length, are searched.
    from_json
        .unwrap_or_else(|| vec![arguments.to_owned()])
        .into_iter()
        .map(|q| q.trim().chars().take(MAX_SEARCH_QUERY_CHARS).collect::<String>())
        .filter(|q| !q.is_empty())
        .take(MAX_SEARCH_QUERIES)
        .collect()
}

fn ids(resources: Option<&pb::ToolResources>) -> Vec<String> {
    resources.and_then(|r| r.file_search.as_ref()).map(|f| f.vector_store_ids.clone()).unwrap_or_default()
}

/// Runs one call for the run of `assistant_id` on `thread_id`.
pub async fn search(
    peers: &Peers,
    caller: &Caller,
    assistant_id: &str,
    thread_id: &str,
    arguments: &str,
    settings: &Settings,
) -> Result<Vec<SearchResult>, RunError> {
    let queries = queries(arguments);
    if queries.is_empty() {
        return Ok(vec![]);
    }
    let fail = |e: assistd_common::ServiceError| RunError::server(format!("file_search failed: {}", e.message));
    let (assistant, thread) =
        tokio::try_join!(peers.assistant(caller, assistant_id), peers.thread(caller, thread_id)).map_err(fail)?;
    let mut stores = ids(assistant.tool_resources.as_ref());
    for id in ids(thread.tool_resources.as_ref()) {
        if !stores.contains(&id) {
            stores.push(id);
        }
    }
    let mut found = Vec::new();
    for vs in stores {
        wait_indexed(peers, caller, &vs).await.map_err(fail)?;
        let request = pb::SearchVectorStoreRequest {
            vector_store_id: vs,
            query: queries.clone(),
            filters: None,
            max_num_results: Some(settings.max_results.clamp(1, 50)),
            ranking_options: Some(pb::FileSearchRankingOptions {
                ranker: None,
                score_threshold: settings.score_threshold,
            }),
            rewrite_query: None,
        };
        let page = peers.search(caller, request).await.map_err(fail)?;
        found.extend(page.data.into_iter().map(|r| SearchResult {
            file_id: r.file_id,
            file_name: r.filename,
            score: r.score,
            text: r.content.into_iter().map(|c| c.text).collect::<Vec<_>>().join("\n"),
        }));
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found.truncate(settings.max_results.max(1) as usize);
    Ok(found)
}

/// Waits (a while) until no file of the store is being indexed, as OpenAI does before
/// searching a store that is still in progress.
async fn wait_indexed(peers: &Peers, caller: &Caller, vs: &str) -> assistd_common::ServiceResult<()> {
    let deadline = tokio::time::Instant::now() + INDEXING_WAIT;
    loop {
        let store = peers.vector_store(caller, vs).await?;
        let busy = store.file_counts.map(|c| c.in_progress).unwrap_or(0) > 0;
        if !busy || tokio::time::Instant::now() >= deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the model reads for call number `call` of the run: each result under its marker.
pub fn output(call: usize, results: &[SearchResult]) -> String {
    if results.is_empty() {
        return "No results were found in the files.".into();
    }
    results
        .iter()
        .enumerate()
        .map(|(n, r)| format!("【{call}:{n}†{}】\n{}", r.file_name, r.text))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The `file_citation` annotations of an answer: every marker `【c:n†…】` that names a
/// result of call `c` (`searches[c]`), with its character span.
pub fn citations(text: &str, searches: &[Vec<SearchResult>]) -> Vec<pb::Annotation> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].1 != '【' {
            i += 1;
            continue;
        }
        let Some(end) = chars[i..].iter().position(|&(_, c)| c == '】').map(|p| i + p) else { break };
        let inner: String = chars[i + 1..end].iter().map(|&(_, c)| c).collect();
        let mut parts = inner.splitn(2, '†');
        let head = parts.next().unwrap_or_default();
        let mut nums = head.splitn(2, ':');
        let (c, n) = (
            nums.next().and_then(|x| x.trim().parse::<usize>().ok()),
            nums.next().and_then(|x| x.trim().parse::<usize>().ok()),
        );
        if let (Some(c), Some(n)) = (c, n)
            && let Some(r) = searches.get(c).and_then(|s| s.get(n))
        {
            let start_byte = chars[i].0;
            let end_byte = chars[end].0 + '】'.len_utf8();
            out.push(pb::Annotation {
                text: text[start_byte..end_byte].to_owned(),
                start_index: i as u32,
                end_index: (end + 1) as u32,
                kind: Some(pb::annotation::Kind::FileCitation(pb::FileRef { file_id: r.file_id.clone() })),
            });
        }
        i = end + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(file: &str, name: &str) -> SearchResult {
        SearchResult { file_id: file.into(), file_name: name.into(), score: 0.5, text: "t".into() }
    }

    #[test]
    fn queries_from_arguments() {
        assert_eq!(queries(r#"{"queries":["a"," b "]}"#), vec!["a", "b"]);
        assert_eq!(queries(r#"{"query":"x"}"#), vec!["x"]);
        assert_eq!(queries("plain words"), vec!["plain words"]);
        assert!(queries(r#"{"queries":[]}"#).is_empty());
    }

    #[test]
    fn citations_map_markers_to_files_with_char_spans() {
        let searches = vec![vec![r("file-a", "a.txt"), r("file-b", "b.pdf")], vec![r("file-c", "c.md")]];
        let text = "Otters sleep holding hands【0:1†b.pdf】 — and é【1:0†c.md】. Unknown【5:0†x】.";
        let a = citations(text, &searches);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].text, "【0:1†b.pdf】");
        let pb::annotation::Kind::FileCitation(f) = a[0].kind.clone().unwrap() else { panic!() };
        assert_eq!(f.file_id, "file-b");
        let chars: Vec<char> = text.chars().collect();
        let span: String = chars[a[1].start_index as usize..a[1].end_index as usize].iter().collect();
        assert_eq!(span, "【1:0†c.md】");
    }

    #[test]
    fn output_numbers_results_under_the_call() {
        let o = output(2, &[r("file-a", "a.txt")]);
        assert!(o.starts_with("【2:0†a.txt】\nt"));
        assert_eq!(output(0, &[]), "No results were found in the files.");
    }

    #[test]
    fn settings_defaults() {
        let tools = vec![Tool::FileSearch { file_search: Default::default() }];
        let s = settings(&tools).unwrap();
        assert_eq!((s.max_results, s.ranker.as_str(), s.score_threshold), (20, DEFAULT_RANKER, 0.0));
        assert!(settings(&[]).is_none());
    }
}

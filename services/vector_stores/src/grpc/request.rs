//! Requests in: protobuf → checked domain values (new stores, files and batches,
//! store updates, chunking, attributes, search filters and options), with
//! OpenAI-style errors naming the parameter. A request's own rules are checked here,
//! in the order the fields come; what needs the stored state is the operations'.

use std::collections::{HashMap, HashSet};

use assistd_common::json::value_to_json;
use assistd_common::metadata::{self, Metadata};
use assistd_common::tools::{MAX_SEARCH_QUERIES, MAX_SEARCH_QUERY_CHARS};
use assistd_common::{ServiceError, ServiceResult};
use assistd_proto::pb;
use serde_json::{Map, Value};

use crate::domain::{
    Chunking, ExpiresAfter, MAX_BATCH_FILES, MAX_CREATE_FILES, NewStoreFile, NewVectorStore, StoreUpdate,
    validate_attributes,
};
use crate::index::{AttrFilter, Scalar};
use crate::search::SearchOptions;

fn metadata_of(m: Option<pb::Metadata>) -> Metadata {
    m.map(|m| m.entries.into_iter().collect()).unwrap_or_default()
}

/// A create-store request, checked: metadata, expiry, file ids, chunking.
pub fn new_store(r: pb::CreateVectorStoreRequest) -> ServiceResult<NewVectorStore> {
    let pb::CreateVectorStoreRequest {
        name,
        description: _,
        file_ids: ids,
        chunking_strategy,
        expires_after,
        metadata,
    } = r;
    let metadata = metadata_of(metadata);
    metadata::validate("metadata", &metadata)?;
    let expires_after_days = expires_after.map(ExpiresAfter::from).as_ref().map(ExpiresAfter::checked).transpose()?;
    let file_ids = file_ids("file_ids", ids, 0, MAX_CREATE_FILES)?;
    let chunking = chunking("chunking_strategy", chunking_strategy)?;
    Ok(NewVectorStore { name, file_ids, chunking, expires_after_days, metadata })
}

/// What a modify request changes: a field changes when the request sets it or its
/// `update_mask` names it (named and unset means null). The expiry and the metadata
/// are checked by the operation, once the store is found.
pub fn store_update(
    name: Option<String>,
    expires_after: Option<pb::VectorStoreExpiresAfter>,
    metadata: Option<pb::Metadata>,
    update_mask: Option<prost_types::FieldMask>,
) -> StoreUpdate {
    let paths = update_mask.map(|m| m.paths).unwrap_or_default();
    let named = |p: &str| paths.iter().any(|x| x == p);
    StoreUpdate {
        name: (name.is_some() || named("name")).then_some(name),
        expires_after: (expires_after.is_some() || named("expires_after"))
            .then(|| expires_after.map(ExpiresAfter::from)),
        metadata: (metadata.is_some() || named("metadata")).then(|| metadata_of(metadata)),
    }
}

/// A file to attach, checked: its id, chunking and attributes, their params under
/// `prefix` (`""` for a single file, `files[2].` in a batch).
pub fn new_file(prefix: &str, f: pb::NewVectorStoreFile) -> ServiceResult<NewStoreFile> {
    let pb::NewVectorStoreFile { file_id, chunking_strategy, attributes: attrs } = f;
    if file_id.is_empty() {
        return Err(ServiceError::invalid(
            format!("{prefix}file_id"),
            format!("Missing required parameter: '{prefix}file_id'."),
        ));
    }
    let chunking = chunking(&format!("{prefix}chunking_strategy"), chunking_strategy)?;
    let attributes = attributes(&format!("{prefix}attributes"), attrs)?;
    Ok(NewStoreFile { file_id, chunking, attributes })
}

/// The files of a create-batch request, checked: either `file_ids` (sharing one
/// chunking and one set of attributes) or `files` (each with its own), not both;
/// a file named twice is attached once.
pub fn batch_files(
    ids: Vec<String>,
    files: Vec<pb::NewVectorStoreFile>,
    attrs: HashMap<String, prost_types::Value>,
    chunking_strategy: Option<pb::ChunkingStrategy>,
) -> ServiceResult<Vec<NewStoreFile>> {
    match (ids.is_empty(), files.is_empty()) {
        (false, true) => {
            let ids = file_ids("file_ids", ids, 1, MAX_BATCH_FILES)?;
            let chunking = chunking("chunking_strategy", chunking_strategy)?;
            let attributes = attributes("attributes", attrs)?;
            Ok(ids
                .into_iter()
                .map(|file_id| NewStoreFile { file_id, chunking, attributes: attributes.clone() })
                .collect())
        }
        (true, false) => {
            if files.len() > MAX_BATCH_FILES {
                return Err(ServiceError::invalid(
                    "files",
                    format!("Invalid 'files': at most {MAX_BATCH_FILES} files, but got {}.", files.len()),
                ));
            }
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for (i, f) in files.into_iter().enumerate() {
                let f = new_file(&format!("files[{i}]."), f)?;
                if seen.insert(f.file_id.clone()) {
                    out.push(f);
                }
            }
            Ok(out)
        }
        (true, true) => Err(ServiceError::invalid("file_ids", "Missing required parameter: 'file_ids' or 'files'.")),
        (false, false) => Err(ServiceError::invalid("files", "Give either 'file_ids' or 'files', not both.")),
    }
}

/// The chunking of `strategy` (auto when unset).
pub fn chunking(param: &str, strategy: Option<pb::ChunkingStrategy>) -> ServiceResult<Chunking> {
    use pb::chunking_strategy::Strategy;
    match strategy.and_then(|s| s.strategy) {
        None | Some(Strategy::Auto(_)) => Ok(Chunking::default()),
        Some(Strategy::Static(s)) => Chunking::fixed(param, s.max_chunk_size_tokens, s.chunk_overlap_tokens),
        Some(Strategy::Other(_)) => Err(ServiceError::invalid(
            format!("{param}.type"),
            format!("Invalid '{param}.type': expected one of 'auto' or 'static', but got 'other' instead."),
        )),
    }
}

/// Validated attributes.
pub fn attributes(param: &str, attrs: HashMap<String, prost_types::Value>) -> ServiceResult<Map<String, Value>> {
    let map: Map<String, Value> = attrs.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect();
    validate_attributes(param, &map)?;
    Ok(map)
}

/// Checks a list of file ids: non-empty strings, no more than `max`, no duplicates kept.
pub fn file_ids(param: &str, ids: Vec<String>, min: usize, max: usize) -> ServiceResult<Vec<String>> {
    if ids.len() < min || ids.len() > max {
        return Err(ServiceError::invalid(
            param,
            format!(
                "Invalid '{param}': expected an array of between {min} and {max} file ids, but got {} instead.",
                ids.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.into_iter().enumerate() {
        if id.is_empty() {
            return Err(ServiceError::invalid(
                format!("{param}[{i}]"),
                format!("Invalid '{param}[{i}]': empty string. Expected a file id."),
            ));
        }
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The search filter as the index takes it.
pub fn filter(param: &str, f: pb::SearchFilter) -> ServiceResult<AttrFilter> {
    match f.filter {
        Some(pb::search_filter::Filter::Comparison(c)) => comparison(param, c),
        Some(pb::search_filter::Filter::Compound(c)) => {
            let kind = pb::CompoundType::try_from(c.r#type).unwrap_or(pb::CompoundType::Unspecified);
            if c.filters.is_empty() {
                return Err(ServiceError::invalid(
                    format!("{param}.filters"),
                    format!("Invalid '{param}.filters': expected a non-empty array of filters."),
                ));
            }
            let parts = c
                .filters
                .into_iter()
                .enumerate()
                .map(|(i, f)| filter(&format!("{param}.filters[{i}]"), f))
                .collect::<ServiceResult<Vec<_>>>()?;
            match kind {
                pb::CompoundType::And => Ok(AttrFilter::And(parts)),
                pb::CompoundType::Or => Ok(AttrFilter::Or(parts)),
                pb::CompoundType::Unspecified => Err(ServiceError::invalid(
                    format!("{param}.type"),
                    format!("Invalid '{param}.type': expected one of 'and' or 'or'."),
                )),
            }
        }
        None => {
            Err(ServiceError::invalid(param, format!("Invalid '{param}': expected a comparison or compound filter.")))
        }
    }
}

fn scalar(param: &str, v: &Value) -> ServiceResult<Scalar> {
    match v {
        Value::String(s) => Ok(Scalar::Str(s.clone())),
        Value::Number(n) => Ok(Scalar::Num(n.as_f64().unwrap_or(0.0))),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        _ => Err(ServiceError::invalid(param, format!("Invalid '{param}': expected a string, a number or a boolean."))),
    }
}

fn comparison(param: &str, c: pb::ComparisonFilter) -> ServiceResult<AttrFilter> {
    use pb::ComparisonType as T;
    let key = c.key;
    if key.is_empty() {
        return Err(ServiceError::invalid(format!("{param}.key"), format!("Invalid '{param}.key': empty string.")));
    }
    let vparam = format!("{param}.value");
    let value = c.value.as_ref().map(value_to_json).unwrap_or(Value::Null);
    let number = |v: &Value| -> ServiceResult<f64> {
        v.as_f64().ok_or_else(|| {
            ServiceError::invalid(&vparam, format!("Invalid '{vparam}': this comparison needs a number."))
        })
    };
    let list = |v: &Value| -> ServiceResult<Vec<Scalar>> {
        match v {
            Value::Array(items) if !items.is_empty() => items.iter().map(|i| scalar(&vparam, i)).collect(),
            _ => Err(ServiceError::invalid(
                &vparam,
                format!("Invalid '{vparam}': 'in' and 'nin' need a non-empty array."),
            )),
        }
    };
    Ok(match T::try_from(c.r#type).unwrap_or(T::Unspecified) {
        T::Eq | T::Unspecified => AttrFilter::Eq(key, scalar(&vparam, &value)?),
        T::Ne => AttrFilter::Ne(key, scalar(&vparam, &value)?),
        T::Gt => AttrFilter::Gt(key, number(&value)?),
        T::Gte => AttrFilter::Gte(key, number(&value)?),
        T::Lt => AttrFilter::Lt(key, number(&value)?),
        T::Lte => AttrFilter::Lte(key, number(&value)?),
        T::In => AttrFilter::In(key, list(&value)?),
        T::Nin => AttrFilter::Nin(key, list(&value)?),
    })
}

/// Checks the options of a search.
pub fn search_options(
    queries: Vec<String>,
    max_num_results: Option<i32>,
    ranking: Option<pb::FileSearchRankingOptions>,
    rewrite_query: Option<bool>,
) -> ServiceResult<SearchOptions> {
    if queries.is_empty() || queries.iter().all(|q| q.trim().is_empty()) {
        return Err(ServiceError::invalid(
            "query",
            "Invalid 'query': expected a non-empty string or array of strings.",
        ));
    }
    if queries.len() > MAX_SEARCH_QUERIES {
        return Err(ServiceError::invalid(
            "query",
            format!(
                "Invalid 'query': array too long. Expected an array with maximum length {MAX_SEARCH_QUERIES}, but got an array with length {} instead.",
                queries.len()
            ),
        ));
    }
    if let Some((i, q)) = queries.iter().enumerate().find(|(_, q)| q.chars().count() > MAX_SEARCH_QUERY_CHARS) {
        let param = if queries.len() == 1 { "query".to_owned() } else { format!("query[{i}]") };
        return Err(ServiceError::invalid(
            param.clone(),
            format!(
                "Invalid '{param}': string too long. Expected a string with maximum length {MAX_SEARCH_QUERY_CHARS}, but got a string with length {} instead.",
                q.chars().count()
            ),
        ));
    }
    let max_results = match max_num_results {
        None => 10,
        Some(n) if (1..=50).contains(&n) => n as usize,
        Some(n) => {
            return Err(ServiceError::invalid(
                "max_num_results",
                format!(
                    "Invalid 'max_num_results': integer below minimum value or above maximum value. Expected a value between 1 and 50, but got {n} instead."
                ),
            ));
        }
    };
    let mut score_threshold = 0.0;
    if let Some(r) = ranking {
        if let Some(ranker) = r.ranker.as_deref()
            && !matches!(ranker, "none" | "auto" | "default-2024-11-15" | "default_2024_08_21")
        {
            return Err(ServiceError::invalid(
                "ranking_options.ranker",
                format!(
                    "Invalid 'ranking_options.ranker': expected one of 'none', 'auto' or 'default-2024-11-15', but got '{ranker}' instead."
                ),
            ));
        }
        if !(0.0..=1.0).contains(&r.score_threshold) {
            return Err(ServiceError::invalid(
                "ranking_options.score_threshold",
                format!(
                    "Invalid 'ranking_options.score_threshold': expected a number between 0 and 1, but got {} instead.",
                    r.score_threshold
                ),
            ));
        }
        score_threshold = r.score_threshold;
    }
    let queries = queries.into_iter().filter(|q| !q.trim().is_empty()).collect();
    Ok(SearchOptions { queries, max_results, score_threshold, rewrite: rewrite_query.unwrap_or(false) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(key: &str, t: pb::ComparisonType, v: Value) -> pb::SearchFilter {
        pb::SearchFilter {
            filter: Some(pb::search_filter::Filter::Comparison(pb::ComparisonFilter {
                key: key.into(),
                r#type: t as i32,
                value: Some(assistd_common::json::json_to_value(&v)),
            })),
        }
    }

    #[test]
    fn filters_convert_and_check() {
        let f = filter("filters", cmp("year", pb::ComparisonType::Gte, serde_json::json!(2020))).unwrap();
        assert_eq!(f, AttrFilter::Gte("year".into(), 2020.0));
        assert!(filter("filters", cmp("year", pb::ComparisonType::Gt, serde_json::json!("x"))).is_err());
        assert!(filter("filters", cmp("k", pb::ComparisonType::In, serde_json::json!([]))).is_err());
        let compound = pb::SearchFilter {
            filter: Some(pb::search_filter::Filter::Compound(pb::CompoundFilter {
                r#type: pb::CompoundType::Or as i32,
                filters: vec![
                    cmp("a", pb::ComparisonType::Eq, serde_json::json!("x")),
                    cmp("b", pb::ComparisonType::Nin, serde_json::json!([1, 2])),
                ],
            })),
        };
        assert_eq!(
            filter("filters", compound).unwrap(),
            AttrFilter::Or(vec![
                AttrFilter::Eq("a".into(), Scalar::Str("x".into())),
                AttrFilter::Nin("b".into(), vec![Scalar::Num(1.0), Scalar::Num(2.0)]),
            ])
        );
    }

    #[test]
    fn search_option_bounds() {
        assert!(search_options(vec![], None, None, None).is_err());
        assert!(search_options(vec!["q".into()], Some(51), None, None).is_err());
        let bad = pb::FileSearchRankingOptions { ranker: Some("x".into()), score_threshold: 0.0 };
        assert!(search_options(vec!["q".into()], None, Some(bad), None).is_err());
        let ok = search_options(vec!["q".into()], None, None, None).unwrap();
        assert_eq!(ok.max_results, 10);
    }

    #[test]
    fn search_query_limits() {
        let many = vec!["q".to_owned(); MAX_SEARCH_QUERIES + 1];
        let e = search_options(many, None, None, None).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("query"));
        assert!(e.message.contains("array too long"), "{}", e.message);
        assert!(search_options(vec!["q".to_owned(); MAX_SEARCH_QUERIES], None, None, None).is_ok());
        let long = "é".repeat(MAX_SEARCH_QUERY_CHARS + 1);
        let e = search_options(vec![long.clone()], None, None, None).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("query"));
        let e = search_options(vec!["ok".into(), long], None, None, None).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("query[1]"));
        assert!(search_options(vec!["é".repeat(MAX_SEARCH_QUERY_CHARS)], None, None, None).is_ok());
    }
}

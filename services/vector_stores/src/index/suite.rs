//! The test suite every [`VectorIndex`] implementation passes.
//!
//! Each property is an async function taking a fresh, empty index whose dense vector
//! has [`DIM`] dimensions. [`vector_index_suite!`] turns them into one `#[tokio::test]`
//! each, given an async expression that yields `(guard, index)` (the guard, e.g. a
//! temporary directory, lives as long as the test). The restart property comes in two
//! halves: [`before_reopen`] on an index, then [`after_reopen`] on the same index
//! reopened (and [`before_reopen_again`] / [`after_reopen_again`] for a second round).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::{AttrFilter, ChunkPoint, Hit, IndexError, Query, Ranked, Scalar, VectorIndex};

/// The dense vector size of the indexes the suite is given.
pub(crate) const DIM: usize = 4;

/// One `#[tokio::test]` per property of the suite. `$make` is an async expression
/// yielding `(guard, index)`, with `index: impl VectorIndex` fresh and empty with a dense
/// vector of [`DIM`] dimensions.
macro_rules! vector_index_suite {
    ($make:expr) => {
        $crate::index::suite::vector_index_suite!(@tests $make;
            upsert_and_count,
            lexical_finds_rare_term_first,
            bm25_prefers_short_specific_chunks,
            dense_ordering,
            tenancy,
            vector_store_restriction,
            attribute_filters,
            delete_file_and_store,
            reupsert_replaces,
            wrong_dense_size_is_invalid,
            set_attributes_replaces,
        );
    };
    (@tests $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (_guard, index) = $make.await;
                $crate::index::suite::$name(&index).await;
            }
        )+
    };
}
pub(crate) use vector_index_suite;

/// A chunk with no attributes and the dense vector `unit(0)`.
pub(crate) fn chunk(project: &str, store: &str, file: &str, position: u32, text: &str) -> ChunkPoint {
    ChunkPoint {
        project: project.to_owned(),
        vector_store_id: store.to_owned(),
        file_id: file.to_owned(),
        position,
        text: text.to_owned(),
        attributes: Map::new(),
        dense: Some(unit(0)),
    }
}

/// A lexical-only query with limit 10.
pub(crate) fn query(project: &str, stores: &[&str], text: &str) -> Query {
    Query {
        project: project.to_owned(),
        vector_store_ids: stores.iter().map(|s| (*s).to_owned()).collect(),
        text: text.to_owned(),
        dense: None,
        filter: None,
        limit: 10,
    }
}

/// The unit vector along axis `i`.
pub(crate) fn unit(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; DIM];
    v[i] = 1.0;
    v
}

fn with_attributes(mut p: ChunkPoint, attributes: Value) -> ChunkPoint {
    let Value::Object(map) = attributes else { panic!("attributes are an object") };
    p.attributes = map;
    p
}

fn with_dense(mut p: ChunkPoint, dense: Vec<f32>) -> ChunkPoint {
    p.dense = Some(dense);
    p
}

fn keys(hits: &[Hit]) -> Vec<(String, String, u32)> {
    hits.iter().map(|h| (h.vector_store_id.clone(), h.file_id.clone(), h.position)).collect()
}

fn files(hits: &[Hit]) -> BTreeSet<String> {
    hits.iter().map(|h| h.file_id.clone()).collect()
}

fn stores(hits: &[Hit]) -> BTreeSet<String> {
    hits.iter().map(|h| h.vector_store_id.clone()).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn search(index: &dyn VectorIndex, q: &Query) -> Ranked {
    index.search(q).await.unwrap_or_else(|e| panic!("search {q:?}: {e}"))
}

/// Upserted chunks are counted per store and per file, within their project only.
pub(crate) async fn upsert_and_count(index: &dyn VectorIndex) {
    index.health().await.unwrap();
    assert_eq!(index.count("p1", "vs_a", None).await.unwrap(), 0);
    index.upsert(Vec::new()).await.unwrap();
    let points = vec![
        chunk("p1", "vs_a", "f1", 0, "first chunk of the first file"),
        chunk("p1", "vs_a", "f1", 1, "second chunk of the first file"),
        chunk("p1", "vs_a", "f1", 2, "third chunk of the first file"),
        chunk("p1", "vs_a", "f2", 0, "first chunk of the second file"),
        chunk("p1", "vs_a", "f2", 1, "second chunk of the second file"),
        chunk("p1", "vs_b", "f1", 0, "the same file in another store"),
    ];
    index.upsert(points).await.unwrap();
    assert_eq!(index.count("p1", "vs_a", None).await.unwrap(), 5);
    assert_eq!(index.count("p1", "vs_a", Some("f1")).await.unwrap(), 3);
    assert_eq!(index.count("p1", "vs_a", Some("f2")).await.unwrap(), 2);
    assert_eq!(index.count("p1", "vs_a", Some("f3")).await.unwrap(), 0);
    assert_eq!(index.count("p1", "vs_b", None).await.unwrap(), 1);
    assert_eq!(index.count("p1", "vs_c", None).await.unwrap(), 0);
    assert_eq!(index.count("p2", "vs_a", None).await.unwrap(), 0);
    // a large batch in one call
    let many = (0..1000).map(|i| chunk("p1", "vs_c", &format!("f{}", i / 100), i % 100, &format!("chunk number {i}")));
    index.upsert(many.collect()).await.unwrap();
    assert_eq!(index.count("p1", "vs_c", None).await.unwrap(), 1000);
    assert_eq!(index.count("p1", "vs_c", Some("f7")).await.unwrap(), 100);
    index.health().await.unwrap();
}

/// The chunk with the rare query term comes first, with its payload intact; stopword-only
/// and unknown queries give an empty lexical list; `limit` bounds the list.
pub(crate) async fn lexical_finds_rare_term_first(index: &dyn VectorIndex) {
    let mut points: Vec<ChunkPoint> = (0..12)
        .map(|i| chunk("p", "vs", "common", i, &format!("the music plays in the concert hall number {i}")))
        .collect();
    points.push(with_attributes(
        chunk("p", "vs", "rare", 3, "a xylophone solo in the concert hall"),
        json!({"author": "ann", "year": 2020, "draft": false}),
    ));
    index.upsert(points).await.unwrap();

    let ranked = search(index, &query("p", &["vs"], "Xylophone music")).await;
    assert!(ranked.semantic.is_empty(), "no dense query, no semantic list");
    assert_eq!(ranked.lexical.len(), 10, "limit bounds the list");
    let first = &ranked.lexical[0];
    assert_eq!((first.vector_store_id.as_str(), first.file_id.as_str(), first.position), ("vs", "rare", 3));
    assert_eq!(first.text, "a xylophone solo in the concert hall");
    assert_eq!(Value::Object(first.attributes.clone()), json!({"author": "ann", "year": 2020, "draft": false}));
    assert!(first.score > 0.0);
    assert!(ranked.lexical.windows(2).all(|w| w[0].score >= w[1].score), "best first");
    assert!(ranked.lexical[1..].iter().all(|h| h.file_id == "common" && h.score < first.score));

    // stemming and case: "Xylophones" finds "xylophone"
    let ranked = search(index, &query("p", &["vs"], "XYLOPHONES")).await;
    assert_eq!(keys(&ranked.lexical), vec![("vs".to_owned(), "rare".to_owned(), 3)]);

    let mut q = query("p", &["vs"], "concert");
    q.limit = 3;
    assert_eq!(search(index, &q).await.lexical.len(), 3);
    q.limit = 100;
    assert_eq!(search(index, &q).await.lexical.len(), 13);

    assert!(search(index, &query("p", &["vs"], "the of and a")).await.lexical.is_empty(), "stopwords only");
    assert!(search(index, &query("p", &["vs"], "")).await.lexical.is_empty(), "empty query");
    assert!(search(index, &query("p", &["vs"], "qwertyuiop")).await.lexical.is_empty(), "unknown term");
}

/// BM25 shape: a short chunk beats a long one with the same occurrences, more
/// occurrences beat fewer, and a rare term outweighs a common one.
pub(crate) async fn bm25_prefers_short_specific_chunks(index: &dyn VectorIndex) {
    let filler = |n: usize, tag: &str| (0..n).map(|i| format!("{tag}filler{i}")).collect::<Vec<_>>().join(" ");
    let points = vec![
        chunk("p", "vs", "short", 0, &format!("kangaroo {}", filler(5, "s"))),
        chunk("p", "vs", "long", 0, &format!("kangaroo {}", filler(200, "l"))),
        chunk("p", "vs", "repeated", 0, &format!("kangaroo kangaroo kangaroo {}", filler(3, "r"))),
        // "common" is in every chunk below, "wombat" in one
        chunk("p", "vs", "common_heavy", 0, "common common common common other words here"),
        chunk("p", "vs", "wombat", 0, "wombat common other words here too"),
        chunk("p", "vs", "c1", 0, "common words"),
        chunk("p", "vs", "c2", 0, "common phrases"),
        chunk("p", "vs", "c3", 0, "common things"),
    ];
    index.upsert(points).await.unwrap();

    let ranked = search(index, &query("p", &["vs"], "kangaroo")).await;
    assert_eq!(files(&ranked.lexical), set(&["short", "long", "repeated"]));
    let order: Vec<&str> = ranked.lexical.iter().map(|h| h.file_id.as_str()).collect();
    assert_eq!(order, vec!["repeated", "short", "long"]);

    let ranked = search(index, &query("p", &["vs"], "wombat common")).await;
    assert_eq!(ranked.lexical[0].file_id, "wombat");
    assert_eq!(ranked.lexical.len(), 5);
}

/// Dense hits come by cosine similarity, with the filter applied, whatever the norm of
/// the query; the lexical list is computed alongside.
pub(crate) async fn dense_ordering(index: &dyn VectorIndex) {
    let s = std::f32::consts::FRAC_1_SQRT_2;
    let points = vec![
        with_dense(chunk("p", "vs", "x", 0, "alpha"), unit(0)),
        with_dense(chunk("p", "vs", "y", 0, "beta"), unit(1)),
        with_dense(chunk("p", "vs", "xy", 0, "gamma"), vec![s, s, 0.0, 0.0]),
        with_dense(chunk("p", "vs", "minus_x", 0, "delta alpha"), vec![-2.0, 0.0, 0.0, 0.0]),
        with_dense(chunk("p", "other", "x", 0, "alpha"), unit(0)),
    ];
    index.upsert(points).await.unwrap();

    let mut q = query("p", &["vs"], "alpha");
    q.dense = Some(vec![3.0, 0.0, 0.0, 0.0]);
    let ranked = search(index, &q).await;
    let order: Vec<&str> = ranked.semantic.iter().map(|h| h.file_id.as_str()).collect();
    assert_eq!(order, vec!["x", "xy", "y", "minus_x"]);
    let expected = [1.0, s, 0.0, -1.0];
    for (hit, want) in ranked.semantic.iter().zip(expected) {
        assert!((hit.score - want).abs() < 1e-3, "{}: score {} not {want}", hit.file_id, hit.score);
    }
    assert!(ranked.semantic.iter().all(|h| h.vector_store_id == "vs"));
    assert_eq!(files(&ranked.lexical), set(&["x", "minus_x"]));

    q.dense = Some(vec![0.0, 1.0, 0.0, 0.0]);
    q.limit = 2;
    let ranked = search(index, &q).await;
    let order: Vec<&str> = ranked.semantic.iter().map(|h| h.file_id.as_str()).collect();
    assert_eq!(order, vec!["y", "xy"]);

    q.text = "the".to_owned();
    let ranked = search(index, &q).await;
    assert!(ranked.lexical.is_empty());
    assert_eq!(ranked.semantic.len(), 2, "a stopword-only query still runs the dense search");
}

/// Another project's chunks never come back, even in a vector store of the same id, and
/// its deletes do not reach this project. (Point ids do not name the project: vector
/// store and file ids are unique across projects, so the files differ here.)
pub(crate) async fn tenancy(index: &dyn VectorIndex) {
    let mine = with_attributes(chunk("p1", "vs_same", "f1", 0, "shared secret words"), json!({"owner": "p1"}));
    let theirs = with_attributes(chunk("p2", "vs_same", "f2", 0, "shared secret words"), json!({"owner": "p2"}));
    let theirs_too = with_attributes(chunk("p2", "vs_same", "g2", 0, "shared secret words"), json!({"owner": "p2"}));
    index.upsert(vec![mine, theirs, theirs_too]).await.unwrap();

    assert_eq!(index.count("p1", "vs_same", None).await.unwrap(), 1);
    assert_eq!(index.count("p2", "vs_same", None).await.unwrap(), 2);
    assert_eq!(index.count("p1", "vs_same", Some("f2")).await.unwrap(), 0);
    assert_eq!(index.count("p3", "vs_same", None).await.unwrap(), 0);

    let mut q = query("p1", &["vs_same"], "secret");
    q.dense = Some(unit(0));
    q.limit = 50;
    let ranked = search(index, &q).await;
    assert_eq!(ranked.lexical.len(), 1);
    assert_eq!(ranked.semantic.len(), 1);
    for hit in ranked.lexical.iter().chain(&ranked.semantic) {
        assert_eq!(hit.attributes.get("owner"), Some(&json!("p1")));
    }
    let ranked = search(index, &Query { project: "p3".to_owned(), ..q.clone() }).await;
    assert!(ranked.lexical.is_empty() && ranked.semantic.is_empty());

    // deletes name the project: another project's delete of the same file does nothing
    index.delete_file("p2", "vs_same", "f1").await.unwrap();
    index.delete_store("p3", "vs_same").await.unwrap();
    assert_eq!(index.count("p1", "vs_same", None).await.unwrap(), 1);
    assert_eq!(index.count("p2", "vs_same", None).await.unwrap(), 2);
    index.delete_file("p2", "vs_same", "f2").await.unwrap();
    assert_eq!(index.count("p2", "vs_same", None).await.unwrap(), 1);
    index.delete_store("p2", "vs_same").await.unwrap();
    assert_eq!(index.count("p1", "vs_same", None).await.unwrap(), 1);
    assert_eq!(index.count("p2", "vs_same", None).await.unwrap(), 0);
    assert_eq!(search(index, &q).await.lexical.len(), 1);
}

/// Only the vector stores asked for are searched.
pub(crate) async fn vector_store_restriction(index: &dyn VectorIndex) {
    let points = ["vs_a", "vs_b", "vs_c"]
        .iter()
        .flat_map(|s| (0..3).map(move |i| chunk("p", s, "f", i, &format!("penguin facts {i}"))))
        .collect();
    index.upsert(points).await.unwrap();

    let mut q = query("p", &["vs_a", "vs_b"], "penguin");
    q.dense = Some(unit(0));
    q.limit = 50;
    let ranked = search(index, &q).await;
    assert_eq!(stores(&ranked.lexical), set(&["vs_a", "vs_b"]));
    assert_eq!(stores(&ranked.semantic), set(&["vs_a", "vs_b"]));
    assert_eq!(ranked.lexical.len(), 6);

    q.vector_store_ids = vec!["vs_c".to_owned()];
    let ranked = search(index, &q).await;
    assert_eq!(stores(&ranked.lexical), set(&["vs_c"]));
    assert_eq!(ranked.semantic.len(), 3);

    q.vector_store_ids = vec!["vs_none".to_owned()];
    let ranked = search(index, &q).await;
    assert!(ranked.lexical.is_empty() && ranked.semantic.is_empty());
}

/// Every [`AttrFilter`] variant, on the lexical and the semantic list alike, including
/// missing attributes, integer/float comparisons, a key holding values of several types,
/// keys with dots, and nesting. Idempotent: it may run twice on one index.
pub(crate) async fn attribute_filters(index: &dyn VectorIndex) {
    let fixtures = [
        ("a", json!({"author": "ann", "year": 2020, "score": 4.5, "draft": false, "dotted.key": "v", "with space": 1})),
        ("b", json!({"author": "bob", "year": 2021, "score": 3, "draft": true})),
        ("c", json!({"author": "cid", "year": 2022.0, "score": 2.5, "draft": false})),
        ("d", json!({})),
        ("e", json!({"year": "2021", "draft": "yes"})),
    ];
    let points = fixtures
        .iter()
        .flat_map(|(file, attributes)| {
            (0..2).map(move |i| with_attributes(chunk("p", "vs", file, i, "quarterly report"), attributes.clone()))
        })
        .collect();
    index.upsert(points).await.unwrap();

    let s = |v: &str| Scalar::Str(v.to_owned());
    let k = |v: &str| v.to_owned();
    use AttrFilter::*;
    let cases: Vec<(AttrFilter, &[&str])> = vec![
        (Eq(k("author"), s("ann")), &["a"]),
        (Eq(k("author"), s("Ann")), &[]),
        (Eq(k("year"), Scalar::Num(2021.0)), &["b"]),
        (Eq(k("year"), Scalar::Num(2022.0)), &["c"]),
        (Eq(k("score"), Scalar::Num(4.5)), &["a"]),
        (Eq(k("score"), Scalar::Num(3.0)), &["b"]),
        (Eq(k("draft"), Scalar::Bool(true)), &["b"]),
        (Eq(k("draft"), Scalar::Bool(false)), &["a", "c"]),
        (Eq(k("missing"), s("x")), &[]),
        (Eq(k("author"), Scalar::Num(1.0)), &[]),
        (Eq(k("dotted.key"), s("v")), &["a"]),
        (Eq(k("with space"), Scalar::Num(1.0)), &["a"]),
        (Ne(k("author"), s("ann")), &["b", "c", "d", "e"]),
        (Ne(k("draft"), Scalar::Bool(false)), &["b", "d", "e"]),
        (Ne(k("year"), Scalar::Num(2020.0)), &["b", "c", "d", "e"]),
        (Ne(k("missing"), s("x")), &["a", "b", "c", "d", "e"]),
        (Gt(k("year"), 2020.0), &["b", "c"]),
        (Gte(k("year"), 2021.0), &["b", "c"]),
        (Lt(k("year"), 2021.0), &["a"]),
        (Lte(k("year"), 2021.0), &["a", "b"]),
        (Gt(k("score"), 2.5), &["a", "b"]),
        (Lte(k("score"), 3.0), &["b", "c"]),
        (Gt(k("missing"), 0.0), &[]),
        // bounds at the edges of the values
        (Gte(k("year"), 2022.0), &["c"]),
        (Lte(k("year"), 2020.0), &["a"]),
        (Gt(k("year"), 2022.0), &[]),
        (Lt(k("year"), 2020.0), &[]),
        (And(vec![Gte(k("year"), 2021.0), Lte(k("year"), 2021.0)]), &["b"]),
        (In(k("author"), vec![s("ann"), s("cid"), s("zed")]), &["a", "c"]),
        (In(k("author"), vec![s("bob")]), &["b"]),
        (In(k("year"), vec![Scalar::Num(2020.0), Scalar::Num(2022.0)]), &["a", "c"]),
        (In(k("draft"), vec![Scalar::Bool(true)]), &["b"]),
        (In(k("author"), vec![]), &[]),
        (Nin(k("author"), vec![s("ann"), s("bob")]), &["c", "d", "e"]),
        (Nin(k("year"), vec![Scalar::Num(2021.0)]), &["a", "c", "d", "e"]),
        (Nin(k("author"), vec![]), &["a", "b", "c", "d", "e"]),
        (And(vec![Gte(k("year"), 2021.0), Eq(k("draft"), Scalar::Bool(false))]), &["c"]),
        (And(vec![]), &["a", "b", "c", "d", "e"]),
        (Or(vec![Eq(k("author"), s("ann")), Eq(k("year"), Scalar::Num(2022.0))]), &["a", "c"]),
        (Or(vec![]), &[]),
        (
            Or(vec![
                And(vec![Eq(k("draft"), Scalar::Bool(true)), Gt(k("score"), 1.0)]),
                And(vec![Ne(k("author"), s("ann")), Ne(k("author"), s("bob")), Ne(k("author"), s("cid"))]),
            ]),
            &["b", "d", "e"],
        ),
        (And(vec![Or(vec![Lt(k("year"), 2021.0), Gt(k("year"), 2021.0)]), Nin(k("author"), vec![s("cid")])]), &["a"]),
        // the same key holding a string in one file and numbers in others
        (Eq(k("year"), s("2021")), &["e"]),
        (In(k("year"), vec![s("2021"), Scalar::Num(2020.0)]), &["a", "e"]),
        (Eq(k("draft"), s("yes")), &["e"]),
        (Ne(k("draft"), s("yes")), &["a", "b", "c", "d"]),
    ];
    for (filter, expected) in cases {
        let mut q = query("p", &["vs"], "report");
        q.dense = Some(unit(0));
        q.limit = 50;
        q.filter = Some(filter.clone());
        let ranked = search(index, &q).await;
        assert_eq!(files(&ranked.lexical), set(expected), "lexical, {filter:?}");
        assert_eq!(files(&ranked.semantic), set(expected), "semantic, {filter:?}");
        assert_eq!(ranked.lexical.len(), 2 * expected.len(), "lexical, {filter:?}");
        assert_eq!(ranked.semantic.len(), 2 * expected.len(), "semantic, {filter:?}");
    }
}

/// Deleting a file or a store removes exactly its chunks, from counts and from search.
pub(crate) async fn delete_file_and_store(index: &dyn VectorIndex) {
    let mut points = Vec::new();
    for (store, file) in [("vs_a", "f1"), ("vs_a", "f2"), ("vs_b", "f1")] {
        points.extend((0..3).map(|i| chunk("p", store, file, i, &format!("otter habitat notes {i}"))));
    }
    index.upsert(points).await.unwrap();
    let mut q = query("p", &["vs_a", "vs_b"], "otter");
    q.dense = Some(unit(0));
    q.limit = 50;
    assert_eq!(search(index, &q).await.lexical.len(), 9);

    index.delete_file("p", "vs_a", "f1").await.unwrap();
    assert_eq!(index.count("p", "vs_a", None).await.unwrap(), 3);
    assert_eq!(index.count("p", "vs_a", Some("f1")).await.unwrap(), 0);
    assert_eq!(index.count("p", "vs_b", Some("f1")).await.unwrap(), 3);
    let ranked = search(index, &q).await;
    for list in [&ranked.lexical, &ranked.semantic] {
        assert_eq!(list.len(), 6);
        assert!(!list.iter().any(|h| h.vector_store_id == "vs_a" && h.file_id == "f1"));
    }
    index.delete_file("p", "vs_a", "f1").await.unwrap();
    index.delete_file("p", "vs_a", "nope").await.unwrap();

    index.delete_store("p", "vs_a").await.unwrap();
    assert_eq!(index.count("p", "vs_a", None).await.unwrap(), 0);
    assert_eq!(index.count("p", "vs_b", None).await.unwrap(), 3);
    let ranked = search(index, &q).await;
    assert_eq!(stores(&ranked.lexical), set(&["vs_b"]));
    assert_eq!(stores(&ranked.semantic), set(&["vs_b"]));
    q.vector_store_ids = vec!["vs_a".to_owned()];
    let ranked = search(index, &q).await;
    assert!(ranked.lexical.is_empty() && ranked.semantic.is_empty());
}

/// Setting a file's attributes replaces them on each of its chunks, in that vector store
/// of that project only, for hits and for filters alike (before and after a filter used
/// the keys).
pub(crate) async fn set_attributes_replaces(index: &dyn VectorIndex) {
    let old = json!({"a": 1, "b": "x"});
    index
        .upsert(vec![
            with_attributes(chunk("p", "vs", "f", 0, "walrus tusks"), old.clone()),
            with_attributes(chunk("p", "vs", "f", 1, "walrus whiskers"), old.clone()),
            with_attributes(chunk("p", "vs", "g", 0, "walrus colony"), old.clone()),
            with_attributes(chunk("p", "vs2", "f", 0, "walrus diet"), old.clone()),
        ])
        .await
        .unwrap();
    let mut q = query("p", &["vs", "vs2"], "walrus");
    q.dense = Some(unit(0));
    q.filter = Some(AttrFilter::Eq("a".to_owned(), Scalar::Num(1.0)));
    assert_eq!(search(index, &q).await.lexical.len(), 4);

    let Value::Object(new) = json!({"a": 2, "c": true}) else { unreachable!() };
    index.set_attributes("p", "vs", "f", &new).await.unwrap();
    index.set_attributes("other", "vs", "g", &new).await.unwrap();
    index.set_attributes("p", "vs", "nope", &new).await.unwrap();
    assert_eq!(index.count("p", "vs", None).await.unwrap(), 3);

    q.filter = None;
    let ranked = search(index, &q).await;
    assert_eq!(ranked.lexical.len(), 4);
    assert_eq!(ranked.semantic.len(), 4);
    for hit in ranked.lexical.iter().chain(&ranked.semantic) {
        let expected =
            if (hit.vector_store_id.as_str(), hit.file_id.as_str()) == ("vs", "f") { json!(new) } else { old.clone() };
        assert_eq!(Value::Object(hit.attributes.clone()), expected, "{hit:?}");
        assert!(hit.text.starts_with("walrus"), "{hit:?}");
    }
    for (filter, expected) in [
        (AttrFilter::Eq("c".to_owned(), Scalar::Bool(true)), 2),
        (AttrFilter::Eq("a".to_owned(), Scalar::Num(1.0)), 2),
        (AttrFilter::Eq("a".to_owned(), Scalar::Num(2.0)), 2),
        (AttrFilter::Eq("b".to_owned(), Scalar::Str("x".to_owned())), 2),
    ] {
        q.filter = Some(filter.clone());
        let ranked = search(index, &q).await;
        assert_eq!(ranked.lexical.len(), expected, "lexical, {filter:?}");
        assert_eq!(ranked.semantic.len(), expected, "semantic, {filter:?}");
    }
}

/// Upserting the same (store, file, position) again replaces the chunk.
pub(crate) async fn reupsert_replaces(index: &dyn VectorIndex) {
    index.upsert(vec![chunk("p", "vs", "f", 0, "original alpaca text")]).await.unwrap();
    let replacement = with_attributes(chunk("p", "vs", "f", 0, "replacement llama text"), json!({"v": 2}));
    index.upsert(vec![replacement.clone(), replacement]).await.unwrap();
    assert_eq!(index.count("p", "vs", None).await.unwrap(), 1);
    assert!(search(index, &query("p", &["vs"], "alpaca")).await.lexical.is_empty());
    let ranked = search(index, &query("p", &["vs"], "llama")).await;
    assert_eq!(ranked.lexical.len(), 1);
    assert_eq!(ranked.lexical[0].text, "replacement llama text");
    assert_eq!(ranked.lexical[0].attributes.get("v"), Some(&json!(2)));
    // the same position in another file or store is another chunk
    index.upsert(vec![chunk("p", "vs", "g", 0, "llama"), chunk("p", "vs2", "f", 0, "llama")]).await.unwrap();
    assert_eq!(index.count("p", "vs", None).await.unwrap(), 2);
    assert_eq!(index.count("p", "vs2", None).await.unwrap(), 1);
}

/// A dense vector of the wrong size (or a missing one) is refused, and nothing of the
/// batch is written.
pub(crate) async fn wrong_dense_size_is_invalid(index: &dyn VectorIndex) {
    let good = chunk("p", "vs", "f", 0, "good chunk");
    let short = with_dense(chunk("p", "vs", "f", 1, "short vector"), vec![1.0; DIM - 1]);
    let err = index.upsert(vec![good.clone(), short]).await.unwrap_err();
    assert!(matches!(err, IndexError::Invalid(_)), "{err:?}");
    let mut missing = chunk("p", "vs", "f", 2, "no vector");
    missing.dense = None;
    let err = index.upsert(vec![good.clone(), missing]).await.unwrap_err();
    assert!(matches!(err, IndexError::Invalid(_)), "{err:?}");
    assert_eq!(index.count("p", "vs", None).await.unwrap(), 0);

    index.upsert(vec![good]).await.unwrap();
    let mut q = query("p", &["vs"], "good");
    q.dense = Some(vec![1.0; DIM + 1]);
    let err = index.search(&q).await.unwrap_err();
    assert!(matches!(err, IndexError::Invalid(_)), "{err:?}");
    q.dense = Some(unit(1));
    assert_eq!(search(index, &q).await.semantic.len(), 1);
}

/// On an index with one vector per window ([`super::Dense::windowed`]): a chunk is found
/// by its best window, whatever its others; window sets of other sizes work; a set that
/// is not whole vectors, or a query of two vectors, is refused.
pub(crate) async fn windows_score_by_best_match(index: &dyn VectorIndex) {
    let s = std::f32::consts::FRAC_1_SQRT_2;
    let windows = |vs: &[Vec<f32>]| vs.concat();
    index
        .upsert(vec![
            // the answer sits in the third window of a long chunk
            with_dense(chunk("p", "vs", "long", 0, "alpha"), windows(&[unit(0), unit(2), unit(1), unit(2)])),
            // a one-window chunk leaning towards it
            with_dense(chunk("p", "vs", "half", 0, "beta"), vec![s, s, 0.0, 0.0]),
            with_dense(chunk("p", "vs", "away", 0, "gamma"), windows(&[unit(3), unit(2)])),
        ])
        .await
        .unwrap();
    let mut q = query("p", &["vs"], "");
    q.dense = Some(unit(1));
    let semantic = search(index, &q).await.semantic;
    let order: Vec<&str> = semantic.iter().map(|h| h.file_id.as_str()).collect();
    assert_eq!(order, ["long", "half", "away"], "{semantic:?}");
    assert!((semantic[0].score - 1.0).abs() < 1e-4, "the best window's cosine: {}", semantic[0].score);
    assert!((semantic[1].score - s).abs() < 1e-4, "{}", semantic[1].score);
    q.dense = Some(unit(3));
    assert_eq!(search(index, &q).await.semantic[0].file_id, "away");

    let ragged = with_dense(chunk("p", "vs", "ragged", 0, "delta"), vec![1.0; DIM + 2]);
    assert!(matches!(index.upsert(vec![ragged]).await, Err(IndexError::Invalid(_))));
    let empty = with_dense(chunk("p", "vs", "empty", 0, "delta"), Vec::new());
    assert!(matches!(index.upsert(vec![empty]).await, Err(IndexError::Invalid(_))));
    q.dense = Some(windows(&[unit(0), unit(1)]));
    assert!(matches!(index.search(&q).await, Err(IndexError::Invalid(_))));
    assert_eq!(index.count("p", "vs", None).await.unwrap(), 3);
}

/// The first half of the restart property: writes and deletes.
pub(crate) async fn before_reopen(index: &dyn VectorIndex) {
    let points = (0..5)
        .map(|i| with_attributes(chunk("p", "vs", "f", i, &format!("durable heron {i}")), json!({"i": i})))
        .chain([chunk("p", "vs", "gone", 0, "durable heron deleted")])
        .collect();
    index.upsert(points).await.unwrap();
    index.delete_file("p", "vs", "gone").await.unwrap();
    index.upsert(vec![chunk("p", "vs", "f", 4, "durable heron replaced")]).await.unwrap();
}

/// The second half: everything written before the restart is there, nothing deleted is.
pub(crate) async fn after_reopen(index: &dyn VectorIndex) {
    index.health().await.unwrap();
    assert_eq!(index.count("p", "vs", None).await.unwrap(), 5);
    assert_eq!(index.count("p", "vs", Some("gone")).await.unwrap(), 0);
    let mut q = query("p", &["vs"], "heron");
    q.dense = Some(unit(0));
    let ranked = search(index, &q).await;
    assert_eq!(ranked.lexical.len(), 5);
    assert_eq!(ranked.semantic.len(), 5);
    assert!(ranked.lexical.iter().all(|h| h.file_id == "f"));
    let replaced = search(index, &query("p", &["vs"], "replaced")).await;
    assert_eq!(keys(&replaced.lexical), vec![("vs".to_owned(), "f".to_owned(), 4)]);
    assert!(replaced.lexical[0].attributes.is_empty());
    let kept = search(index, &query("p", &["vs"], "heron 2")).await;
    assert_eq!(kept.lexical[0].attributes.get("i"), Some(&json!(2)));
}

/// A second round of writes, on the reopened index.
pub(crate) async fn before_reopen_again(index: &dyn VectorIndex) {
    index.upsert(vec![chunk("p", "vs", "h", 0, "heron again")]).await.unwrap();
    index.delete_file("p", "vs", "f").await.unwrap();
}

/// After a second restart.
pub(crate) async fn after_reopen_again(index: &dyn VectorIndex) {
    assert_eq!(index.count("p", "vs", None).await.unwrap(), 1);
    let ranked = search(index, &query("p", &["vs"], "heron")).await;
    assert_eq!(keys(&ranked.lexical), vec![("vs".to_owned(), "h".to_owned(), 0)]);
}

/// Deterministic pseudo-English text for benchmarks: a vocabulary of made-up words drawn
/// with a Zipf-like (log-uniform rank) distribution.
pub(crate) struct Words {
    state: u64,
    vocabulary: Vec<String>,
}

impl Words {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "ve", "zo", "bri", "cal", "dor", "fen", "gat", "hul",
            "jin", "kor", "lum", "mer", "nox", "pil", "qua", "rest",
        ];
        let mut vocabulary = Vec::new();
        for a in SYLLABLES {
            for b in SYLLABLES {
                for c in SYLLABLES {
                    vocabulary.push(format!("{a}{b}{c}"));
                }
            }
        }
        let mut words = Self { state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1, vocabulary };
        // shuffle so that frequent words are not alphabetical neighbours
        for i in (1..words.vocabulary.len()).rev() {
            let j = (words.next() % (i as u64 + 1)) as usize;
            words.vocabulary.swap(i, j);
        }
        words
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn word(&mut self) -> &str {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let rank = (self.vocabulary.len() as f64).powf(u) as usize - 1;
        &self.vocabulary[rank.min(self.vocabulary.len() - 1)]
    }

    /// `n` words separated by spaces.
    pub(crate) fn text(&mut self, n: usize) -> String {
        let mut text = String::with_capacity(n * 8);
        for i in 0..n {
            if i > 0 {
                text.push(' ');
            }
            let word = self.word().to_owned();
            text.push_str(&word);
        }
        text
    }

    /// A three-word query.
    pub(crate) fn query(&mut self) -> String {
        self.text(3)
    }
}

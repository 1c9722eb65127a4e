//! Qdrant filter conditions, written once for both indexes: a search's scope (project,
//! vector stores, file) and attribute filters ([`AttrFilter`]). Each implementation
//! supplies its own condition type through [`Conditions`] (qdrant-edge's segment types,
//! qdrant-client's gRPC messages), so the two cannot drift apart in what a filter means.

use super::{AttrFilter, IndexError, Scalar, keys};

/// How one index builds the conditions of a Qdrant filter.
pub(super) trait Conditions {
    /// A payload path.
    type Key;
    /// A condition.
    type Condition;

    /// The payload path `path` (in Qdrant's syntax).
    fn key(path: &str) -> Result<Self::Key, IndexError>;
    /// `key == value` for a string.
    fn keyword(key: Self::Key, value: String) -> Self::Condition;
    /// `key` is one of the strings.
    fn any_keyword(key: Self::Key, values: Vec<String>) -> Self::Condition;
    /// `key == value` for a boolean.
    fn boolean(key: Self::Key, value: bool) -> Self::Condition;
    /// A numeric range with exclusive bounds.
    fn range(key: Self::Key, gt: Option<f64>, lt: Option<f64>) -> Self::Condition;
    /// A condition that no point meets.
    fn nothing() -> Self::Condition;
    /// All of the conditions.
    fn all(conditions: Vec<Self::Condition>) -> Self::Condition;
    /// At least one of the conditions.
    fn any(conditions: Vec<Self::Condition>) -> Self::Condition;
    /// None of the conditions.
    fn none(conditions: Vec<Self::Condition>) -> Self::Condition;
}

fn payload_key<C: Conditions>(name: &str) -> C::Key {
    C::key(name).expect("payload keys are identifiers")
}

/// The conditions that keep a request to the project, its vector stores (at least one)
/// and optionally one file: the `must` list of its filter.
pub(super) fn scope<C: Conditions>(
    project: &str,
    vector_store_ids: &[&str],
    file_id: Option<&str>,
) -> Vec<C::Condition> {
    let mut must = vec![C::keyword(payload_key::<C>(keys::PROJECT), project.to_owned())];
    let stores = payload_key::<C>(keys::VECTOR_STORE);
    match vector_store_ids {
        [one] => must.push(C::keyword(stores, (*one).to_owned())),
        many => must.push(C::any_keyword(stores, many.iter().map(|s| (*s).to_owned()).collect())),
    }
    if let Some(file_id) = file_id {
        must.push(C::keyword(payload_key::<C>(keys::FILE), file_id.to_owned()));
    }
    must
}

/// The path of an attribute: `attributes.<key>`, quoted unless a plain identifier.
fn attribute_path(key: &str) -> Result<String, IndexError> {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if plain {
        Ok(format!("{}.{key}", keys::ATTRIBUTES))
    } else if key.contains(['"', '\\']) {
        Err(IndexError::Invalid(format!("attribute key {key:?} cannot be filtered on (it holds '\"' or '\\')")))
    } else {
        Ok(format!("{}.\"{key}\"", keys::ATTRIBUTES))
    }
}

/// The payload path of attribute `key`.
pub(super) fn attribute<C: Conditions>(key: &str) -> Result<C::Key, IndexError> {
    C::key(&attribute_path(key)?)
}

/// A range condition. Inclusive bounds are sent as exclusive bounds on the adjacent
/// float (`x >= n` as `x > next_down(n)`), the same set of numbers: Qdrant's numeric index
/// estimates an inclusive bound at the edge of its values with `min > exp` and trips a
/// `debug_assert` (in qdrant-edge and in the server alike).
fn range<C: Conditions>(
    key: C::Key,
    gt: Option<f64>,
    gte: Option<f64>,
    lt: Option<f64>,
    lte: Option<f64>,
) -> C::Condition {
    let gt = gt.into_iter().chain(gte.map(f64::next_down)).reduce(f64::max);
    let lt = lt.into_iter().chain(lte.map(f64::next_up)).reduce(f64::min);
    C::range(key, gt, lt)
}

/// `attributes[key] == value`: keyword or bool match, or a one-point range for numbers
/// (so that integers and floats compare as numbers).
fn equals<C: Conditions>(key: &str, value: &Scalar) -> Result<C::Condition, IndexError> {
    let key = attribute::<C>(key)?;
    Ok(match value {
        Scalar::Str(s) => C::keyword(key, s.clone()),
        Scalar::Bool(b) => C::boolean(key, *b),
        Scalar::Num(n) => range::<C>(key, None, Some(*n), None, Some(*n)),
    })
}

/// `attributes[key]` is one of `values`, as a list of alternatives: one any-of for the
/// strings, one condition per number and per boolean.
fn one_of<C: Conditions>(key: &str, values: &[Scalar]) -> Result<Vec<C::Condition>, IndexError> {
    let mut strings = Vec::new();
    let mut alternatives = Vec::new();
    for value in values {
        match value {
            Scalar::Str(s) => strings.push(s.clone()),
            other => alternatives.push(equals::<C>(key, other)?),
        }
    }
    match strings.len() {
        0 => {}
        1 => alternatives.push(equals::<C>(key, &Scalar::Str(strings.remove(0)))?),
        _ => alternatives.push(C::any_keyword(attribute::<C>(key)?, strings)),
    }
    Ok(alternatives)
}

/// An [`AttrFilter`] as a condition on `attributes.<key>`. A missing attribute fails
/// every positive condition and passes `ne`/`nin` (they are `must_not`).
pub(super) fn attr_condition<C: Conditions>(filter: &AttrFilter) -> Result<C::Condition, IndexError> {
    Ok(match filter {
        AttrFilter::Eq(key, value) => equals::<C>(key, value)?,
        AttrFilter::Ne(key, value) => C::none(vec![equals::<C>(key, value)?]),
        AttrFilter::Gt(key, n) => range::<C>(attribute::<C>(key)?, Some(*n), None, None, None),
        AttrFilter::Gte(key, n) => range::<C>(attribute::<C>(key)?, None, Some(*n), None, None),
        AttrFilter::Lt(key, n) => range::<C>(attribute::<C>(key)?, None, None, Some(*n), None),
        AttrFilter::Lte(key, n) => range::<C>(attribute::<C>(key)?, None, None, None, Some(*n)),
        AttrFilter::In(key, values) => {
            let mut alternatives = one_of::<C>(key, values)?;
            match alternatives.len() {
                0 => C::nothing(),
                1 => alternatives.remove(0),
                _ => C::any(alternatives),
            }
        }
        AttrFilter::Nin(key, values) => C::none(one_of::<C>(key, values)?),
        AttrFilter::And(filters) => C::all(filters.iter().map(attr_condition::<C>).collect::<Result<Vec<_>, _>>()?),
        AttrFilter::Or(filters) if filters.is_empty() => C::nothing(),
        AttrFilter::Or(filters) => C::any(filters.iter().map(attr_condition::<C>).collect::<Result<Vec<_>, _>>()?),
    })
}

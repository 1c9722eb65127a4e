//! Attribute filters of vector store searches (`ComparisonFilter`, `CompoundFilter`)
//! from their JSON to proto, checked: the vector store search API and the Responses
//! API's file_search tool take the same filters.

use assistd_proto::pb;
use serde_json::{Map, Value};

use crate::error::FieldViolation;
use crate::json::json_to_value;

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid_type(param: &str, expected: &str, got: &Value) -> FieldViolation {
    FieldViolation::invalid(
        param,
        format!("Invalid type for '{param}': expected {expected}, but got {} instead.", kind_of(got)),
    )
    .with_code("invalid_type")
}

fn unknown(param: String) -> FieldViolation {
    FieldViolation::invalid(param.clone(), format!("Unrecognized request argument supplied: {param}"))
        .with_code("unknown_parameter")
}

fn missing(param: &str) -> FieldViolation {
    FieldViolation::invalid(param, format!("Missing required parameter: '{param}'."))
        .with_code("missing_required_parameter")
}

fn invalid_value(param: &str, got: &str, supported: &str) -> FieldViolation {
    FieldViolation::invalid(param, format!("Invalid value: '{got}'. {supported}")).with_code("invalid_value")
}

/// A `ComparisonFilter` or `CompoundFilter` (nested to any depth) to proto. `param`
/// is where it sits in the request (`filters`, `filters.filters[0]`, …).
pub fn from_json(param: &str, v: Value) -> Result<pb::SearchFilter, FieldViolation> {
    use pb::search_filter::Filter;
    let mut o = match v {
        Value::Object(o) => o,
        other => return Err(invalid_type(param, "an object", &other)),
    };
    let kind = match o.remove("type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => return Err(invalid_type(&format!("{param}.type"), "a string", &other)),
    };
    let check_keys = |o: &Map<String, Value>, allowed: &[&str]| match o.keys().find(|k| !allowed.contains(&k.as_str()))
    {
        Some(k) => Err(unknown(format!("{param}.{k}"))),
        None => Ok(()),
    };
    let filter = match kind.as_deref() {
        Some(k @ ("and" | "or")) => {
            check_keys(&o, &["filters"])?;
            let combine = if k == "and" { pb::CompoundType::And } else { pb::CompoundType::Or };
            let list = match o.remove("filters") {
                None | Some(Value::Null) => return Err(missing(&format!("{param}.filters"))),
                Some(Value::Array(list)) => list,
                Some(other) => return Err(invalid_type(&format!("{param}.filters"), "an array", &other)),
            };
            let filters = list
                .into_iter()
                .enumerate()
                .map(|(i, f)| from_json(&format!("{param}.filters[{i}]"), f))
                .collect::<Result<Vec<_>, _>>()?;
            Filter::Compound(pb::CompoundFilter { r#type: combine as i32, filters })
        }
        None if o.contains_key("filters") && !o.contains_key("key") => {
            return Err(missing(&format!("{param}.type")));
        }
        k @ (None | Some("eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin")) => {
            use pb::ComparisonType as T;
            let op = match k {
                None | Some("eq") => T::Eq,
                Some("ne") => T::Ne,
                Some("gt") => T::Gt,
                Some("gte") => T::Gte,
                Some("lt") => T::Lt,
                Some("lte") => T::Lte,
                Some("in") => T::In,
                _ => T::Nin,
            };
            check_keys(&o, &["key", "value"])?;
            let key = match o.remove("key") {
                None | Some(Value::Null) => return Err(missing(&format!("{param}.key"))),
                Some(Value::String(s)) => s,
                Some(other) => return Err(invalid_type(&format!("{param}.key"), "a string", &other)),
            };
            let vparam = format!("{param}.value");
            let value = match o.remove("value") {
                None => return Err(missing(&vparam)),
                Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v,
                Some(Value::Array(items)) => {
                    if let Some((i, bad)) = items
                        .iter()
                        .enumerate()
                        .find(|(_, x)| !matches!(x, Value::String(_) | Value::Number(_) | Value::Bool(_)))
                    {
                        return Err(invalid_type(&format!("{vparam}[{i}]"), "a string or a number", bad));
                    }
                    Value::Array(items)
                }
                Some(other) => {
                    return Err(invalid_type(&vparam, "a string, a number, a boolean or an array", &other));
                }
            };
            Filter::Comparison(pb::ComparisonFilter { key, r#type: op as i32, value: Some(json_to_value(&value)) })
        }
        Some(other) => {
            return Err(invalid_value(
                &format!("{param}.type"),
                other,
                "Supported values are: 'eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'and' and 'or'.",
            ));
        }
    };
    Ok(pb::SearchFilter { filter: Some(filter) })
}

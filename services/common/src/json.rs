//! Conversions between `google.protobuf.Struct`/`Value` and `serde_json`.

use prost_types::{ListValue, Struct, Value, value::Kind};

/// A protobuf `Value` as JSON.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::NumberValue(n)) => number_to_json(*n),
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::ListValue(l)) => serde_json::Value::Array(l.values.iter().map(value_to_json).collect()),
        Some(Kind::StructValue(s)) => struct_to_json(s),
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

/// A protobuf `Struct` as a JSON object.
pub fn struct_to_json(s: &Struct) -> serde_json::Value {
    serde_json::Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

/// A protobuf `Struct` as a JSON object's map.
pub fn struct_to_map(s: &Struct) -> serde_json::Map<String, serde_json::Value> {
    s.fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect()
}

/// A JSON object's map as a protobuf `Struct`.
pub fn map_to_struct(m: &serde_json::Map<String, serde_json::Value>) -> Struct {
    Struct { fields: m.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect() }
}

/// JSON as a protobuf `Value`.
pub fn json_to_value(v: &serde_json::Value) -> Value {
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(ListValue { values: a.iter().map(json_to_value).collect() }),
        serde_json::Value::Object(_) => Kind::StructValue(json_to_struct(v).unwrap_or_default()),
    };
    Value { kind: Some(kind) }
}

/// A JSON object as a protobuf `Struct`; `None` for other JSON.
pub fn json_to_struct(v: &serde_json::Value) -> Option<Struct> {
    match v {
        serde_json::Value::Object(m) => {
            Some(Struct { fields: m.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect() })
        }
        _ => None,
    }
}

/// A value as the JSON text stored in a column.
pub fn to_column<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A JSON column read back; a row that does not parse is an internal error.
pub fn from_column<T: serde::de::DeserializeOwned>(s: &str) -> crate::ServiceResult<T> {
    serde_json::from_str(s).map_err(|e| crate::ServiceError::internal("corrupt json column", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let j = serde_json::json!({"type":"object","properties":{"x":{"type":"integer","minimum":3}},"required":["x"],"n":null,"f":0.5});
        assert_eq!(struct_to_json(&json_to_struct(&j).unwrap()), j);
    }
}

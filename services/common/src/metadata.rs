//! Metadata rules: at most 16 pairs, keys at most 64 characters, values at most 512.

use std::collections::BTreeMap;

use crate::error::{ServiceError, ServiceResult};

/// Most pairs a metadata object may hold.
pub const MAX_PAIRS: usize = 16;
/// Longest key, in characters.
pub const MAX_KEY_CHARS: usize = 64;
/// Longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 512;

/// Metadata, validated.
pub type Metadata = BTreeMap<String, String>;

/// Checks the rules; `param` names the field in errors.
pub fn validate(param: &str, map: &Metadata) -> ServiceResult<()> {
    if map.len() > MAX_PAIRS {
        return Err(ServiceError::invalid(
            param,
            format!(
                "Invalid '{param}': too many properties. Expected an object with at most {MAX_PAIRS} properties, but got {} instead.",
                map.len()
            ),
        ));
    }
    for (k, v) in map {
        if k.chars().count() > MAX_KEY_CHARS {
            return Err(ServiceError::invalid(
                param,
                format!("Invalid '{param}': key '{k}' is longer than {MAX_KEY_CHARS} characters."),
            ));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(ServiceError::invalid(
                param,
                format!("Invalid '{param}': value of key '{k}' is longer than {MAX_VALUE_CHARS} characters."),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        let mut m = Metadata::new();
        for i in 0..16 {
            m.insert(format!("k{i}"), "v".into());
        }
        assert!(validate("metadata", &m).is_ok());
        m.insert("k16".into(), "v".into());
        assert_eq!(validate("metadata", &m).unwrap_err().param.as_deref(), Some("metadata"));
        let m: Metadata = [("k".repeat(65), "v".to_string())].into();
        assert!(validate("metadata", &m).is_err());
        let m: Metadata = [("k".to_string(), "v".repeat(513))].into();
        assert!(validate("metadata", &m).is_err());
    }
}

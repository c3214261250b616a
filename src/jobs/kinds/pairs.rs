//! Job parameters written on the command line as `name=value` words.

use serde_json::Value;

/// Why `name=value` words could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairsError {
    /// A word without `=`.
    #[error("{0:?} is not name=value, such as n=5")]
    NotAPair(String),
    /// A word starting with `=`.
    #[error("{0:?} has no name before =")]
    NoName(String),
    /// A name given twice.
    #[error("{0} is given twice")]
    Twice(String),
}

/// Parameters written as `name=value` words (as `lab jobs submit` takes
/// them) as a JSON object: a value that reads as JSON (`5`, `true`) is
/// taken as such, anything else as a string (`2025-01-01`).
pub fn params_from_pairs(pairs: &[String]) -> Result<Value, PairsError> {
    let mut params = serde_json::Map::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(PairsError::NotAPair(pair.clone()));
        };
        if name.is_empty() {
            return Err(PairsError::NoName(pair.clone()));
        }
        let value = match serde_json::from_str::<Value>(value) {
            Ok(number @ Value::Number(_)) => number,
            Ok(boolean @ Value::Bool(_)) => boolean,
            _ => Value::String(value.to_owned()),
        };
        if params.insert(name.to_owned(), value).is_some() {
            return Err(PairsError::Twice(name.to_owned()));
        }
    }
    Ok(Value::Object(params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn name_value_words_become_parameters() {
        let words = |words: &[&str]| {
            params_from_pairs(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            words(&["from=2025-01-01", "n=5", "all=true"]),
            Ok(json!({"from": "2025-01-01", "n": 5, "all": true}))
        );
        assert_eq!(words(&[]), Ok(json!({})));
        assert!(
            words(&["n"])
                .unwrap_err()
                .to_string()
                .contains("name=value")
        );
        assert!(words(&["=5"]).unwrap_err().to_string().contains("no name"));
        assert!(
            words(&["n=1", "n=2"])
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }
}

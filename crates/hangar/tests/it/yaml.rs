//! Reading the shipped YAML files (compose files, Kubernetes manifests) in the tests: every
//! document of a file with its merge keys (`<<:`) applied, and lenient accessors that turn a
//! missing or mistyped field into an empty value, so a wiring test fails on its assertion with
//! the file's own content rather than on a panic here.

use std::path::Path;

use serde::Deserialize;
use serde_yaml_ng::Value;

/// The documents of the YAML file at `path` (empty ones dropped), merge keys applied.
pub(crate) fn load_all(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            let mut v =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            v.apply_merge()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            v
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The string, or "" when the value is not one.
pub(crate) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The sequence's items, or none when the value is not a sequence.
pub(crate) fn seq(v: &Value) -> Vec<Value> {
    v.as_sequence().cloned().unwrap_or_default()
}

/// The sequence's items as strings ("" for those that are not).
pub(crate) fn strings(v: &Value) -> Vec<String> {
    seq(v).iter().map(|x| s(x).to_owned()).collect()
}

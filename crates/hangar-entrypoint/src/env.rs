//! The environment the entrypoint reads and the one it hands to every command it starts.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

/// The complete environment of the commands the entrypoint starts. The entrypoint edits it
/// (HOME, PYTHONPATH, LD_PRELOAD, removed secrets) instead of its own process environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildEnv(BTreeMap<OsString, OsString>);

impl ChildEnv {
    /// The current process environment.
    pub fn from_process() -> Self {
        Self(std::env::vars_os().collect())
    }

    /// Builds one from pairs (tests).
    pub fn from_pairs<K: Into<OsString>, V: Into<OsString>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The raw value of `key`.
    pub fn get_os(&self, key: &str) -> Option<&OsStr> {
        self.0.get(OsStr::new(key)).map(OsString::as_os_str)
    }

    /// The value of `key` when it is valid UTF-8 (non-UTF-8 values count as absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.get_os(key).and_then(OsStr::to_str)
    }

    /// The value of `key`, with an empty value counting as unset (bash `${VAR:-}` tests).
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    /// Sets `key`.
    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.0.insert(key.into(), value.into());
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.remove(OsStr::new(key));
    }

    /// The pairs, in key order, for a child process.
    pub fn to_vec(&self) -> Vec<(OsString, OsString)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// The UTF-8 part as the string map `hangar-config` reads.
    pub fn to_config_env(&self) -> hangar_config::Env {
        self.0
            .iter()
            .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v.to_str()?.to_owned())))
            .collect()
    }
}

//! The build args as the in-build steps see them: `ARG` values are environment variables
//! inside a `RUN` step. Unset args take their catalogue default.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hangar_buildargs::{self as buildargs, Status};

use crate::InstallError;

/// Build-arg values, looked up by name with the catalogue's defaults.
#[derive(Debug, Clone, Default)]
pub struct BuildArgs {
    values: BTreeMap<String, String>,
}

impl BuildArgs {
    /// Reads every catalogued arg from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads every catalogued arg through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let values = buildargs::catalogue()
            .iter()
            .filter_map(|a| lookup(a.name).map(|v| (a.name.to_owned(), v)))
            .collect();
        Self { values }
    }

    /// From `KEY=VALUE` pairs (tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::from_lookup(|n| map.get(n).cloned())
    }

    /// The value of `name`, or its catalogue default when unset.
    pub fn get(&self, name: &str) -> &str {
        if let Some(v) = self.values.get(name) {
            return v.trim();
        }
        buildargs::find(name).map_or("", |a| a.default)
    }

    /// True when `name` was given (even empty).
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A boolean arg, checked.
    pub fn flag(&self, name: &'static str) -> Result<bool, InstallError> {
        match self.get(name) {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(InstallError::BadArg {
                name,
                problem: format!("expected `true` or `false`, got {other:?}"),
                fix: "use `true` or `false`",
            }),
        }
    }

    /// Validates the values of `names` against the catalogue's syntax checks.
    pub fn validate(&self, names: &[&str]) -> Result<(), InstallError> {
        for name in names {
            if self.is_set(name)
                && let Err(e) = buildargs::validate(name, self.get(name))
            {
                return Err(InstallError::Spec(e));
            }
        }
        Ok(())
    }

    /// Warnings for legacy and no-op args that were set to a non-default value.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in buildargs::catalogue() {
            if !self.is_set(a.name) || self.get(a.name) == a.default {
                continue;
            }
            match a.status {
                Status::Current => {}
                Status::Legacy { replaced_by } => out.push(format!(
                    "build arg {} is a legacy name; it still works, but use {replaced_by} in new builds",
                    a.name
                )),
                Status::NoOp { reason } => out.push(format!(
                    "build arg {} is ignored: {reason}; remove it from the build",
                    a.name
                )),
            }
        }
        out
    }

    /// `AIRFLOW_USER_HOME_DIR` as a path.
    pub fn home(&self) -> PathBuf {
        PathBuf::from(self.get("AIRFLOW_USER_HOME_DIR"))
    }

    /// The venv location: `~airflow/.local`.
    pub fn venv(&self) -> PathBuf {
        self.home().join(".local")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let a = BuildArgs::from_pairs(&[("AIRFLOW_VERSION", " 2.10.5 "), ("UNRELATED", "x")]);
        assert_eq!(a.get("AIRFLOW_VERSION"), "2.10.5");
        assert_eq!(a.get("AIRFLOW_HOME"), "/opt/airflow");
        assert!(!a.is_set("UNRELATED"));
        assert_eq!(a.venv(), PathBuf::from("/home/airflow/.local"));
        assert!(a.flag("INSTALL_MYSQL_CLIENT").unwrap());
        let bad = BuildArgs::from_pairs(&[("INSTALL_MYSQL_CLIENT", "yes")]);
        let err = bad.flag("INSTALL_MYSQL_CLIENT").unwrap_err().to_string();
        assert!(
            err.contains("INSTALL_MYSQL_CLIENT") && err.contains("yes"),
            "{err}"
        );
    }

    #[test]
    fn legacy_and_noop_args_warn_only_when_set() {
        assert!(BuildArgs::from_pairs(&[]).warnings().is_empty());
        let a = BuildArgs::from_pairs(&[
            ("AIRFLOW_WWW", "www"),
            ("SLUGIFY_USES_TEXT_UNIDECODE", "yes"),
            ("AIRFLOW_LOCAL_PIP_WHEELS", "true"),
            ("AIRFLOW_GID", "0"),
        ]);
        let w = a.warnings().join("\n");
        assert!(w.contains("AIRFLOW_WWW is ignored"), "{w}");
        assert!(w.contains("SLUGIFY_USES_TEXT_UNIDECODE is ignored"), "{w}");
        assert!(
            w.contains("AIRFLOW_LOCAL_PIP_WHEELS is a legacy name")
                && w.contains("INSTALL_DISTRIBUTIONS_FROM_CONTEXT"),
            "{w}"
        );
        assert!(
            !w.contains("AIRFLOW_GID"),
            "default value must not warn: {w}"
        );
    }
}

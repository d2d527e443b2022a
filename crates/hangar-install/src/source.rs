//! Where Airflow is installed from: PyPI, a path in the build stage (source tree, sdist or
//! wheel), an archive URL, or a GitHub branch archive.

use std::path::{Path, PathBuf};

use hangar_buildargs::{InstallMethod, parse_install_method};

/// A parsed `AIRFLOW_INSTALLATION_METHOD` (or legacy `AIRFLOW_INSTALL_SOURCES`) value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallSource {
    /// `apache-airflow` from the package index.
    PyPi,
    /// A source tree, sdist or wheel inside the build stage (relative paths are relative to
    /// `AIRFLOW_SOURCES_TO`).
    Path(PathBuf),
    /// An archive URL (`https://…/main.tar.gz`, optionally written `apache-airflow @ URL`).
    Url(String),
    /// `github`: the archive of `AIRFLOW_BRANCH` of `AIRFLOW_REPO`.
    GitHub,
}

impl InstallSource {
    /// Parses a method value; the error is a short description of what was expected.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        Ok(match parse_install_method(value)? {
            InstallMethod::PyPi => Self::PyPi,
            InstallMethod::Path(p) => Self::Path(PathBuf::from(p)),
            InstallMethod::Url(u) => Self::Url(u.to_owned()),
            InstallMethod::GitHub => Self::GitHub,
        })
    }

    /// The pip requirement for this source with the given extras and version specifier
    /// (the specifier applies to index installs only).
    pub fn requirement(
        &self,
        extras: &[String],
        version_spec: &str,
        sources_to: &Path,
        repo: &str,
        branch: &str,
    ) -> String {
        let extras = if extras.is_empty() {
            String::new()
        } else {
            format!("[{}]", extras.join(","))
        };
        match self {
            Self::PyPi => format!("apache-airflow{extras}{version_spec}"),
            Self::Path(p) => format!(
                "apache-airflow{extras} @ file://{}",
                self.resolve_path(p, sources_to).display()
            ),
            Self::Url(u) => format!("apache-airflow{extras} @ {u}"),
            Self::GitHub => {
                format!(
                    "apache-airflow{extras} @ https://github.com/{repo}/archive/{branch}.tar.gz"
                )
            }
        }
    }

    /// An absolute path for a `Path` source.
    pub fn resolve_path(&self, p: &Path, sources_to: &Path) -> PathBuf {
        let _ = self;
        if p.is_absolute() {
            p.to_path_buf()
        } else if p == Path::new(".") {
            sources_to.to_path_buf()
        } else {
            sources_to.join(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            InstallSource::parse("apache-airflow"),
            Ok(InstallSource::PyPi)
        );
        assert_eq!(InstallSource::parse(""), Ok(InstallSource::PyPi));
        assert_eq!(InstallSource::parse("github"), Ok(InstallSource::GitHub));
        assert_eq!(
            InstallSource::parse("."),
            Ok(InstallSource::Path(".".into()))
        );
        assert_eq!(
            InstallSource::parse(
                "apache-airflow @ https://github.com/apache/airflow/archive/main.tar.gz"
            ),
            Ok(InstallSource::Url(
                "https://github.com/apache/airflow/archive/main.tar.gz".into()
            ))
        );
        assert_eq!(
            InstallSource::parse("https://x.org/a.tar.gz"),
            Ok(InstallSource::Url("https://x.org/a.tar.gz".into()))
        );
        assert!(InstallSource::parse("apache-airflow @ nothing here").is_err());
        assert!(InstallSource::parse("foo @ https://x").is_err());
    }

    #[test]
    fn requirements_per_source() {
        let to = Path::new("/opt/airflow");
        let e = ex(&["postgres", "celery"]);
        let r = |s: &str, v: &str| {
            InstallSource::parse(s)
                .unwrap()
                .requirement(&e, v, to, "apache/airflow", "main")
        };
        assert_eq!(
            r("apache-airflow", "==3.3.2"),
            "apache-airflow[postgres,celery]==3.3.2"
        );
        assert_eq!(
            r(".", "==3.3.2"),
            "apache-airflow[postgres,celery] @ file:///opt/airflow"
        );
        assert_eq!(
            r("dist/apache_airflow-2.10.5-py3-none-any.whl", ""),
            "apache-airflow[postgres,celery] @ file:///opt/airflow/dist/apache_airflow-2.10.5-py3-none-any.whl"
        );
        assert_eq!(
            r("github", "==3.3.2"),
            "apache-airflow[postgres,celery] @ https://github.com/apache/airflow/archive/main.tar.gz"
        );
        let none = InstallSource::PyPi.requirement(&[], "", to, "a/b", "main");
        assert_eq!(none, "apache-airflow");
    }
}

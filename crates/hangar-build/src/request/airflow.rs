//! What Airflow to install: a PyPI version, a git reference of apache/airflow, or local
//! sources (a source tree, sdist or wheel) or a URL. At most one of them.

use std::path::{Path, PathBuf};

use super::args::Derived;
use super::error::{ResolveError, invalid};
use super::{AIRFLOW_SOURCES_TO, is_url};
use crate::context::AIRFLOW_SOURCES_DIR;
use crate::options::{BuildOptions, Origin, Sourced};

/// Sets the build args that choose and locate Airflow. Returns the local sources to copy into
/// the context, if any.
pub(super) fn airflow(o: &BuildOptions, d: &mut Derived) -> Result<Option<PathBuf>, ResolveError> {
    only_one_choice(o)?;
    if let Some(v) = &o.install_airflow_version {
        d.set("AIRFLOW_VERSION", &v.value, &v.origin);
        d.set("AIRFLOW_INSTALLATION_METHOD", "apache-airflow", &v.origin);
    }
    if let Some(r) = &o.install_airflow_reference {
        let repo = o
            .build_args
            .get("AIRFLOW_REPO")
            .map_or("apache/airflow", |s| s.value.as_str());
        reference(r, repo, d)?;
    }
    match &o.airflow_sources {
        Some(s) => sources(s, d),
        None => Ok(None),
    }
}

/// At most one of version, reference and sources.
fn only_one_choice(o: &BuildOptions) -> Result<(), ResolveError> {
    let given: Vec<&Origin> = [
        o.install_airflow_version.as_ref().map(|s| &s.origin),
        o.install_airflow_reference.as_ref().map(|s| &s.origin),
        o.airflow_sources.as_ref().map(|s| &s.origin),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let [first, second, ..] = given.as_slice() {
        return Err(ResolveError::Conflict {
            first: (*first).clone(),
            second: (*second).clone(),
        });
    }
    Ok(())
}

/// A tag or branch of `repo` on GitHub, installed from its archive; a version-like tag also
/// names the version and its constraints.
fn reference(r: &Sourced<String>, repo: &str, d: &mut Derived) -> Result<(), ResolveError> {
    let ok = !r.value.is_empty()
        && r.value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
    if !ok {
        return Err(invalid(
            r,
            "expected a git tag or branch of Airflow, e.g. 3.1.0 or v2-10-stable",
        ));
    }
    d.set(
        "AIRFLOW_INSTALLATION_METHOD",
        format!("https://github.com/{repo}/archive/{}.tar.gz", r.value),
        &r.origin,
    );
    match version_like(&r.value) {
        Some(v) => {
            d.set("AIRFLOW_VERSION", v, &r.origin);
            d.set(
                "AIRFLOW_CONSTRAINTS_REFERENCE",
                format!("constraints-{v}"),
                &r.origin,
            );
        }
        None => d.set(
            "AIRFLOW_CONSTRAINTS_REFERENCE",
            "constraints-main",
            &r.origin,
        ),
    }
    Ok(())
}

/// A URL is installed as it is; a local tree or distribution is copied into the context and
/// installed from where it lands in the build stage.
fn sources(s: &Sourced<String>, d: &mut Derived) -> Result<Option<PathBuf>, ResolveError> {
    if is_url(&s.value) {
        d.set("AIRFLOW_INSTALLATION_METHOD", &s.value, &s.origin);
        return Ok(None);
    }
    let path = Path::new(&s.value);
    let meta = std::fs::metadata(path).map_err(|e| {
        invalid(s, format!("cannot read it ({e}); give an Airflow source tree, sdist or wheel, or an https:// URL"))
    })?;
    if meta.is_dir() {
        if !path.join("pyproject.toml").is_file() && !path.join("setup.py").is_file() {
            return Err(invalid(
                s,
                "this folder has no pyproject.toml or setup.py; point at the root of an Airflow source tree",
            ));
        }
        d.set("AIRFLOW_INSTALLATION_METHOD", AIRFLOW_SOURCES_TO, &s.origin);
    } else {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(name.ends_with(".whl") || name.ends_with(".tar.gz") || name.ends_with(".zip")) {
            return Err(invalid(
                s,
                "expected a .whl, .tar.gz or .zip distribution of apache-airflow",
            ));
        }
        d.set(
            "AIRFLOW_INSTALLATION_METHOD",
            format!("{AIRFLOW_SOURCES_TO}/{name}"),
            &s.origin,
        );
        // The image's AIRFLOW_VERSION (env and label) is the distribution's own.
        if let Some(v) = distribution_version(&name) {
            d.set("AIRFLOW_VERSION", v, &s.origin);
        }
    }
    d.set("AIRFLOW_SOURCES_FROM", AIRFLOW_SOURCES_DIR, &s.origin);
    d.set("AIRFLOW_SOURCES_TO", AIRFLOW_SOURCES_TO, &s.origin);
    Ok(Some(path.to_path_buf()))
}

/// `3.10.5`, `v2.10.5` or `3.1.0rc1` → the version without a leading `v`.
fn version_like(reference: &str) -> Option<&str> {
    let v = reference.strip_prefix('v').unwrap_or(reference);
    let ok = v.starts_with(|c: char| c.is_ascii_digit())
        && v.contains('.')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    ok.then_some(v)
}

/// The version in the file name of an apache-airflow wheel or sdist
/// (`apache_airflow-2.10.5-py3-none-any.whl`, `apache-airflow-2.10.5.tar.gz`).
fn distribution_version(file_name: &str) -> Option<&str> {
    let rest = file_name
        .strip_prefix("apache_airflow-")
        .or_else(|| file_name.strip_prefix("apache-airflow-"))?;
    let v = if rest.ends_with(".whl") {
        rest.split('-').next()?
    } else {
        rest.strip_suffix(".tar.gz")
            .or_else(|| rest.strip_suffix(".zip"))?
    };
    version_like(v).filter(|_| !v.starts_with('v'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RawOptions;
    use crate::request::tests::{flags, value};

    fn derive(raw: RawOptions) -> Result<(Derived, Option<PathBuf>), ResolveError> {
        let mut d = Derived::default();
        airflow(&flags(raw), &mut d).map(|sources| (d, sources))
    }

    #[test]
    fn a_pypi_version() {
        let (d, sources) = derive(RawOptions {
            install_airflow_version: Some("3.1.0".into()),
            ..RawOptions::default()
        })
        .unwrap();
        assert_eq!(value(&d, "AIRFLOW_VERSION"), Some("3.1.0"));
        assert_eq!(
            value(&d, "AIRFLOW_INSTALLATION_METHOD"),
            Some("apache-airflow")
        );
        assert_eq!(sources, None);
    }

    #[test]
    fn two_choices_are_a_conflict_naming_both() {
        let err = derive(RawOptions {
            install_airflow_reference: Some("main".into()),
            airflow_sources: Some("https://example.org/airflow.tar.gz".into()),
            ..RawOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "flag --install-airflow-reference and flag --airflow-sources both choose what Airflow \
             to install; give only one of them"
        );
    }

    #[test]
    fn a_reference_follows_airflow_repo() {
        let o = flags(RawOptions {
            install_airflow_reference: Some("3.1.0".into()),
            build_args: Some([("AIRFLOW_REPO".into(), "me/airflow".into())].into()),
            ..RawOptions::default()
        });
        let mut d = Derived::default();
        airflow(&o, &mut d).unwrap();
        assert_eq!(
            value(&d, "AIRFLOW_INSTALLATION_METHOD"),
            Some("https://github.com/me/airflow/archive/3.1.0.tar.gz")
        );
        assert_eq!(value(&d, "AIRFLOW_VERSION"), Some("3.1.0"));
        let err = derive(RawOptions {
            install_airflow_reference: Some("main; rm".into()),
            ..RawOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("git tag or branch"), "{err}");
    }

    #[test]
    fn a_url_is_installed_as_given() {
        let (d, sources) = derive(RawOptions {
            airflow_sources: Some("https://example.org/airflow.tar.gz".into()),
            ..RawOptions::default()
        })
        .unwrap();
        assert_eq!(
            value(&d, "AIRFLOW_INSTALLATION_METHOD"),
            Some("https://example.org/airflow.tar.gz")
        );
        assert_eq!(value(&d, "AIRFLOW_SOURCES_FROM"), None);
        assert_eq!(sources, None);
    }

    #[test]
    fn a_folder_must_be_a_source_tree() {
        let dir = tempfile::tempdir().unwrap();
        let err = derive(RawOptions {
            airflow_sources: Some(dir.path().display().to_string()),
            ..RawOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("no pyproject.toml or setup.py"), "{err}");
        std::fs::write(dir.path().join("setup.py"), "").unwrap();
        let (d, sources) = derive(RawOptions {
            airflow_sources: Some(dir.path().display().to_string()),
            ..RawOptions::default()
        })
        .unwrap();
        assert_eq!(sources.as_deref(), Some(dir.path()));
        assert_eq!(
            value(&d, "AIRFLOW_INSTALLATION_METHOD"),
            Some(AIRFLOW_SOURCES_TO)
        );
        assert_eq!(value(&d, "AIRFLOW_SOURCES_TO"), Some(AIRFLOW_SOURCES_TO));
        let err = derive(RawOptions {
            airflow_sources: Some("/nonexistent/airflow".into()),
            ..RawOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot read it"), "{err}");
    }

    #[test]
    fn version_like_references() {
        assert_eq!(version_like("3.1.0"), Some("3.1.0"));
        assert_eq!(version_like("v2.10.5"), Some("2.10.5"));
        assert_eq!(version_like("3.1.0rc1"), Some("3.1.0rc1"));
        assert_eq!(version_like("main"), None);
        assert_eq!(version_like("v2-10-stable"), None);
    }

    #[test]
    fn the_version_of_a_local_distribution_comes_from_its_file_name() {
        for (name, v) in [
            ("apache_airflow-2.10.5-py3-none-any.whl", Some("2.10.5")),
            ("apache_airflow-3.1.0rc1-py3-none-any.whl", Some("3.1.0rc1")),
            ("apache_airflow-2.10.5.tar.gz", Some("2.10.5")),
            ("apache-airflow-2.10.5.tar.gz", Some("2.10.5")),
            ("apache_airflow-3.0.0.zip", Some("3.0.0")),
            ("apache_airflow_core-3.0.0-py3-none-any.whl", None),
            ("airflow.whl", None),
            ("apache_airflow-main.tar.gz", None),
        ] {
            assert_eq!(distribution_version(name), v, "{name}");
        }
    }
}

//! What the build context holds besides hangar's binary: the context files folder, the local
//! wheels in it, a local constraints file, and the Dockerfile.

use std::path::{Path, PathBuf};

use super::args::Derived;
use super::error::{ResolveError, invalid, invalid_path};
use super::is_url;
use crate::context::{CONTEXT_FILES_DIR, DockerfileSource};
use crate::options::BuildOptions;

/// Checks the context files folder and the options that need it, and sets the build args
/// that point into it. Returns the files to copy into it besides the folder's own.
pub(super) fn context_files(
    o: &BuildOptions,
    d: &mut Derived,
) -> Result<Vec<PathBuf>, ResolveError> {
    if let Some(cf) = &o.context_files
        && !cf.value.is_dir()
    {
        return Err(invalid_path(
            cf,
            "no such folder; give the folder holding your wheels, constraints or requirements files",
        ));
    }
    local_wheels(o, d)?;
    let extra_context_files = constraints(o, d)?;
    if let Some(cf) = &o.context_files {
        d.set("DOCKER_CONTEXT_FILES", CONTEXT_FILES_DIR, &cf.origin);
    } else if let (Some(c), false) = (&o.constraints_location, extra_context_files.is_empty()) {
        d.set("DOCKER_CONTEXT_FILES", CONTEXT_FILES_DIR, &c.origin);
    }
    Ok(extra_context_files)
}

/// The seed's `.pypirc` is read by upload tools, not by pip or uv: when the context files hold
/// one and nothing else configures the index, say so before the build.
pub(super) fn pypirc_warning(o: &BuildOptions) -> Option<String> {
    let cf = &o.context_files.as_ref()?.value;
    let configured = ["pip.conf", ".piprc"].iter().any(|n| cf.join(n).is_file())
        || o.pip_conf.is_some()
        || o.pip_index_url.is_some()
        || o.pip_extra_index_url.is_some();
    (cf.join(".pypirc").is_file() && !configured)
        .then(|| hangar_buildargs::PYPIRC_ONLY_WARNING.to_owned())
}

/// `--add-local-pip-wheels` needs a context files folder with at least one wheel.
fn local_wheels(o: &BuildOptions, d: &mut Derived) -> Result<(), ResolveError> {
    if let Some(w) = &o.add_local_pip_wheels
        && w.value
    {
        let Some(cf) = &o.context_files else {
            return Err(ResolveError::Needs {
                origin: w.origin.clone(),
                what: "--context-files DIR: the folder holding the .whl files to install".into(),
            });
        };
        if !contains_wheel(&cf.value) {
            return Err(invalid_path(
                cf,
                "--add-local-pip-wheels is set but this folder holds no .whl file; download them with \
                     `pip download -d DIR apache-airflow==VERSION` first",
            ));
        }
        d.set("INSTALL_DISTRIBUTIONS_FROM_CONTEXT", "true", &w.origin);
    }
    Ok(())
}

/// A URL, `none` or a path in the context is passed as it is; a local file is copied into the
/// context files folder (returned) and named by its path there.
fn constraints(o: &BuildOptions, d: &mut Derived) -> Result<Vec<PathBuf>, ResolveError> {
    let mut extra_context_files = Vec::new();
    if let Some(c) = &o.constraints_location {
        let v = c.value.as_str();
        let value = if v == "none" || is_url(v) || v.starts_with(&format!("/{CONTEXT_FILES_DIR}/"))
        {
            v.to_owned()
        } else {
            let p = Path::new(v);
            if !p.is_file() {
                return Err(invalid(
                    c,
                    "not a URL and no such file; give an https:// URL, a local constraints file, \
                     /docker-context-files/<file> or `none`",
                ));
            }
            extra_context_files.push(p.to_path_buf());
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("/{CONTEXT_FILES_DIR}/{name}")
        };
        d.set("AIRFLOW_CONSTRAINTS_LOCATION", value, &c.origin);
    }
    Ok(extra_context_files)
}

fn contains_wheel(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            contains_wheel(&p)
        } else {
            p.extension().is_some_and(|x| x == "whl")
        }
    })
}

/// hangar's own Dockerfile, or the existing file given with `--dockerfile`.
pub(super) fn dockerfile(o: &BuildOptions) -> Result<DockerfileSource, ResolveError> {
    match &o.dockerfile {
        None => Ok(DockerfileSource::Embedded),
        Some(f) => {
            if !f.value.is_file() {
                return Err(invalid_path(
                    f,
                    "no such file; give the path of a Dockerfile",
                ));
            }
            Ok(DockerfileSource::File(f.value.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Origin, RawOptions};
    use crate::request::tests::{flags, value};

    #[test]
    fn a_pypirc_alone_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let with = |f: &dyn Fn(&mut RawOptions)| {
            let mut raw = RawOptions {
                context_files: Some(dir.path().to_path_buf()),
                ..RawOptions::default()
            };
            f(&mut raw);
            pypirc_warning(&flags(raw))
        };
        assert_eq!(with(&|_| {}), None);
        std::fs::write(dir.path().join(".pypirc"), "[distutils]\n").unwrap();
        let w = with(&|_| {}).unwrap();
        assert!(w.contains("pip.conf") && w.contains("twine"), "{w}");
        assert_eq!(
            with(&|r| r.pip_index_url = Some("https://idx/simple".into())),
            None
        );
        std::fs::write(dir.path().join(".piprc"), "[global]\n").unwrap();
        assert_eq!(with(&|_| {}), None);
    }

    fn derive(raw: RawOptions) -> Result<(Derived, Vec<PathBuf>), ResolveError> {
        let mut d = Derived::default();
        context_files(&flags(raw), &mut d).map(|extra| (d, extra))
    }

    #[test]
    fn a_folder_of_wheels_is_installed_from() {
        let dir = tempfile::tempdir().unwrap();
        let raw = RawOptions {
            context_files: Some(dir.path().to_path_buf()),
            add_local_pip_wheels: Some(true),
            ..RawOptions::default()
        };
        let err = derive(raw.clone()).unwrap_err().to_string();
        assert!(err.contains("holds no .whl file"), "{err}");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/x-1-py3-none-any.whl"), "PK").unwrap();
        let (d, extra) = derive(raw).unwrap();
        assert_eq!(
            value(&d, "INSTALL_DISTRIBUTIONS_FROM_CONTEXT"),
            Some("true")
        );
        assert_eq!(value(&d, "DOCKER_CONTEXT_FILES"), Some(CONTEXT_FILES_DIR));
        assert_eq!(
            d.0["DOCKER_CONTEXT_FILES"].origin,
            Origin::Flag("--context-files".into())
        );
        assert!(extra.is_empty());
    }

    #[test]
    fn constraints_given_as_urls_or_context_paths_pass_as_they_are() {
        for given in [
            "none",
            "https://example.org/constraints.txt",
            "/docker-context-files/constraints.txt",
        ] {
            let (d, extra) = derive(RawOptions {
                constraints_location: Some(given.into()),
                ..RawOptions::default()
            })
            .unwrap();
            assert_eq!(value(&d, "AIRFLOW_CONSTRAINTS_LOCATION"), Some(given));
            assert_eq!(value(&d, "DOCKER_CONTEXT_FILES"), None);
            assert!(extra.is_empty());
        }
    }

    #[test]
    fn a_local_constraints_file_is_copied_into_the_context() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.txt");
        std::fs::write(&file, "rich==13\n").unwrap();
        let (d, extra) = derive(RawOptions {
            constraints_location: Some(file.display().to_string()),
            ..RawOptions::default()
        })
        .unwrap();
        assert_eq!(extra, [file]);
        assert_eq!(
            value(&d, "AIRFLOW_CONSTRAINTS_LOCATION"),
            Some("/docker-context-files/c.txt")
        );
        assert_eq!(
            d.0["DOCKER_CONTEXT_FILES"].origin,
            Origin::Flag("--constraints-location".into())
        );
    }

    #[test]
    fn the_dockerfile_is_hangars_or_an_existing_file() {
        assert_eq!(
            dockerfile(&flags(RawOptions::default())).unwrap(),
            DockerfileSource::Embedded
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("Dockerfile");
        let raw = RawOptions {
            dockerfile: Some(f.clone()),
            ..RawOptions::default()
        };
        let err = dockerfile(&flags(raw.clone())).unwrap_err().to_string();
        assert!(
            err.contains("--dockerfile") && err.contains("no such file"),
            "{err}"
        );
        std::fs::write(&f, "FROM scratch\n").unwrap();
        assert_eq!(dockerfile(&flags(raw)).unwrap(), DockerfileSource::File(f));
    }
}

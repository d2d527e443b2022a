//! The build context hangar hands to the engine: a temporary directory holding the Dockerfile,
//! the hangar binary of each target architecture (`.hangar/<arch>/hangar`, which the
//! Dockerfile's `hangar-from-context` stage copies for `TARGETARCH`), the user's context files
//! (`docker-context-files/`) and, for local installs, the Airflow sources. It is removed when
//! the build ends, whatever the outcome.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::platform::{Arch, Binaries};

/// Where the Dockerfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerfileSource {
    /// hangar's own Dockerfile, compiled into the binary.
    Embedded,
    /// A file given with `--dockerfile`.
    File(PathBuf),
    /// The extend route's Dockerfile, compiled into the binary, with the project it adds
    /// (copied to `.hangar/project/`).
    Extend(crate::extend::project::Project),
}

/// Folder names inside the context, shared with the Dockerfile.
pub const CONTEXT_FILES_DIR: &str = "docker-context-files";
/// Where a local Airflow source tree is copied.
pub const AIRFLOW_SOURCES_DIR: &str = "airflow-sources";
/// Where the hangar binaries are copied (`HANGAR_BINARY_SOURCE=context`), one folder per
/// architecture.
pub const HANGAR_BINARY_DIR: &str = ".hangar";

/// The context path of the binary of a build for a single architecture, also present at
/// [`hangar_binary_path`].
pub const SINGLE_BINARY_PATH: &str = ".hangar/hangar";

/// The context path of the hangar binary for `arch`: `.hangar/<arch>/hangar`.
#[must_use]
pub fn hangar_binary_path(arch: Arch) -> String {
    format!("{HANGAR_BINARY_DIR}/{arch}/hangar")
}

/// What goes into the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextPlan {
    pub dockerfile: DockerfileSource,
    /// The user's folder copied to `docker-context-files/`.
    pub context_files: Option<PathBuf>,
    /// Extra single files copied into `docker-context-files/` (e.g. a constraints file).
    pub extra_context_files: Vec<PathBuf>,
    /// A local Airflow source tree (its contents) or distribution file (the file itself)
    /// copied into `airflow-sources/`.
    pub airflow_sources: Option<PathBuf>,
    /// Secrets hangar writes itself (an index URL given as a flag), outside the context.
    pub generated_secrets: Vec<GeneratedSecret>,
}

/// A secret whose contents hangar writes: `<work>/secrets/<id>` (mode 0600, outside the
/// context), mounted like a secret file. Its `Debug` never shows the contents.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedSecret {
    pub id: String,
    pub contents: String,
}

impl std::fmt::Debug for GeneratedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GeneratedSecret {{ id: {:?}, contents: <hidden> }}",
            self.id
        )
    }
}

/// Where a generated secret is written in the work directory.
#[must_use]
pub fn generated_secret_path(work: &Path, id: &str) -> PathBuf {
    work.join("secrets").join(id)
}

/// Errors assembling the context.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(
        "cannot create a temporary build context (set TMPDIR to a writable directory with free space): {0}"
    )]
    TempDir(#[source] io::Error),
    #[error("cannot copy {from} into the build context at {to}: {source}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {path} in the build context: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{path} is neither a file nor a directory (sockets, devices and fifos cannot go into a build context)"
    )]
    Special { path: PathBuf },
}

/// An assembled context; dropping it removes it.
#[derive(Debug)]
pub struct Assembled {
    dir: tempfile::TempDir,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub iidfile: PathBuf,
}

impl Assembled {
    /// The temporary work directory (context plus the image-id file).
    #[must_use]
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The text of hangar's own Dockerfile.
#[must_use]
pub fn embedded_dockerfile() -> &'static str {
    include_str!("../../../Dockerfile")
}

/// Builds the context in a new temporary directory; each of `binaries` is copied to
/// `.hangar/<arch>/hangar`.
///
/// # Errors
/// A file cannot be read or written; the partial directory is removed.
pub fn assemble(plan: &ContextPlan, binaries: &Binaries) -> Result<Assembled, ContextError> {
    let dir = tempfile::Builder::new()
        .prefix("hangar-build-")
        .tempdir()
        .map_err(ContextError::TempDir)?;
    let context = dir.path().join("context");
    create_dir(&context)?;

    let dockerfile = context.join("Dockerfile");
    match &plan.dockerfile {
        DockerfileSource::Embedded => {
            fs::write(&dockerfile, embedded_dockerfile()).map_err(|source| {
                ContextError::Write {
                    path: dockerfile.clone(),
                    source,
                }
            })?;
        }
        DockerfileSource::File(src) => copy_file(src, &dockerfile)?,
        DockerfileSource::Extend(project) => {
            fs::write(&dockerfile, crate::extend::DOCKERFILE).map_err(|source| {
                ContextError::Write {
                    path: dockerfile.clone(),
                    source,
                }
            })?;
            crate::extend::project::write_into(project, &context).map_err(|source| {
                ContextError::Copy {
                    from: project.dir.clone(),
                    to: context.join(crate::extend::project::CONTEXT_DIR),
                    source,
                }
            })?;
        }
    }

    create_dir(&context.join(HANGAR_BINARY_DIR))?;
    for (arch, exe) in binaries.iter() {
        let bin = context.join(hangar_binary_path(*arch));
        create_dir(bin.parent().unwrap_or(&context))?;
        link_or_copy(exe, &bin)?;
    }
    // A build for one architecture also finds its binary at `.hangar/hangar`, where
    // Dockerfiles of one's own (`--dockerfile`) have always found it.
    if let [(_, exe)] = binaries.0.as_slice() {
        link_or_copy(exe, &context.join(SINGLE_BINARY_PATH))?;
    }

    let files = context.join(CONTEXT_FILES_DIR);
    create_dir(&files)?;
    if let Some(src) = &plan.context_files {
        copy_tree(src, &files)?;
    }
    for f in &plan.extra_context_files {
        let name = f
            .file_name()
            .map_or_else(|| "file".into(), ToOwned::to_owned);
        copy_file(f, &files.join(name))?;
    }
    if let Some(src) = &plan.airflow_sources {
        let to = context.join(AIRFLOW_SOURCES_DIR);
        create_dir(&to)?;
        if src.is_dir() {
            copy_tree(src, &to)?;
        } else {
            let name = src
                .file_name()
                .map_or_else(|| "airflow".into(), ToOwned::to_owned);
            copy_file(src, &to.join(name))?;
        }
    }

    for secret in &plan.generated_secrets {
        write_secret(
            &generated_secret_path(dir.path(), &secret.id),
            &secret.contents,
        )?;
    }

    let iidfile = dir.path().join("image-id");
    Ok(Assembled {
        dir,
        context,
        dockerfile,
        iidfile,
    })
}

/// Writes `contents` to `path` readable by its owner only (the folder too).
fn write_secret(path: &Path, contents: &str) -> Result<(), ContextError> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let err = |source| ContextError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(err)?;
    }
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(contents.as_bytes()))
        .map_err(err)
}

/// A hard link is free; across file systems it falls back to a copy.
fn link_or_copy(from: &Path, to: &Path) -> Result<(), ContextError> {
    if fs::hard_link(from, to).is_err() {
        copy_file(from, to)?;
    }
    Ok(())
}

fn create_dir(path: &Path) -> Result<(), ContextError> {
    fs::create_dir_all(path).map_err(|source| ContextError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn copy_file(from: &Path, to: &Path) -> Result<(), ContextError> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|source| ContextError::Copy {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            source,
        })
}

/// Copies the contents of `from` into the existing directory `to`, following symbolic links
/// (the engine must see real files), keeping permissions.
fn copy_tree(from: &Path, to: &Path) -> Result<(), ContextError> {
    let entries = fs::read_dir(from).map_err(|source| ContextError::Copy {
        from: from.to_path_buf(),
        to: to.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| ContextError::Copy {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            source,
        })?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = fs::metadata(&src).map_err(|source| ContextError::Copy {
            from: src.clone(),
            to: dst.clone(),
            source,
        })?;
        if meta.is_dir() {
            create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if meta.is_file() {
            copy_file(&src, &dst)?;
        } else {
            return Err(ContextError::Special { path: src });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(exe: &Path) -> Binaries {
        Binaries(vec![(Arch::Amd64, exe.to_path_buf())])
    }

    #[test]
    fn one_binary_per_architecture() {
        let src = tempfile::tempdir().unwrap();
        let (amd, arm) = (src.path().join("amd"), src.path().join("arm"));
        fs::write(&amd, b"amd").unwrap();
        fs::write(&arm, b"arm").unwrap();
        let plan = ContextPlan {
            dockerfile: DockerfileSource::Embedded,
            context_files: None,
            extra_context_files: vec![],
            airflow_sources: None,
            generated_secrets: Vec::new(),
        };
        let binaries = Binaries(vec![(Arch::Amd64, amd), (Arch::Arm64, arm)]);
        let a = assemble(&plan, &binaries).unwrap();
        assert_eq!(hangar_binary_path(Arch::Arm64), ".hangar/arm64/hangar");
        assert_eq!(
            fs::read(a.context.join(".hangar/amd64/hangar")).unwrap(),
            b"amd"
        );
        assert_eq!(
            fs::read(a.context.join(".hangar/arm64/hangar")).unwrap(),
            b"arm"
        );
        assert!(!a.context.join(SINGLE_BINARY_PATH).exists());
        // The image compiles hangar: no binary, the folder is still there.
        let a = assemble(&plan, &Binaries::default()).unwrap();
        assert!(a.context.join(HANGAR_BINARY_DIR).is_dir());
    }

    #[test]
    fn generated_secrets_are_private_and_outside_the_context() {
        use std::os::unix::fs::PermissionsExt as _;
        let plan = ContextPlan {
            dockerfile: DockerfileSource::Embedded,
            context_files: None,
            extra_context_files: Vec::new(),
            airflow_sources: None,
            generated_secrets: vec![GeneratedSecret {
                id: "pip-index-url".into(),
                contents: "https://u:tok@idx/simple".into(),
            }],
        };
        assert!(!format!("{plan:?}").contains("tok"), "{plan:?}");
        let a = assemble(&plan, &Binaries::default()).unwrap();
        let path = generated_secret_path(a.work_dir(), "pip-index-url");
        assert!(!path.starts_with(&a.context));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "https://u:tok@idx/simple"
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let work = a.work_dir().to_path_buf();
        drop(a);
        assert!(
            !work.exists(),
            "the secret is removed with the work directory"
        );
    }

    #[test]
    fn assembles_and_cleans_up() {
        let src = tempfile::tempdir().unwrap();
        let files = src.path().join("files");
        fs::create_dir_all(files.join("wheels")).unwrap();
        fs::write(files.join("wheels/a-1.0-py3-none-any.whl"), b"wheel").unwrap();
        fs::write(files.join("requirements.txt"), b"rich\n").unwrap();
        std::os::unix::fs::symlink(files.join("requirements.txt"), files.join("link.txt")).unwrap();
        let tree = src.path().join("airflow");
        fs::create_dir_all(tree.join("airflow")).unwrap();
        fs::write(tree.join("pyproject.toml"), b"[project]\n").unwrap();
        let constraints = src.path().join("constraints.txt");
        fs::write(&constraints, b"rich==13.0\n").unwrap();
        let exe = src.path().join("hangar");
        fs::write(&exe, b"\x7fELF").unwrap();
        let custom = src.path().join("Containerfile");
        fs::write(&custom, b"FROM scratch\n").unwrap();

        let plan = ContextPlan {
            dockerfile: DockerfileSource::File(custom),
            context_files: Some(files),
            extra_context_files: vec![constraints],
            airflow_sources: Some(tree),
            generated_secrets: Vec::new(),
        };
        let a = assemble(&plan, &native(&exe)).unwrap();
        let c = &a.context;
        assert_eq!(fs::read(c.join("Dockerfile")).unwrap(), b"FROM scratch\n");
        assert_eq!(
            fs::read(c.join(".hangar/amd64/hangar")).unwrap(),
            b"\x7fELF"
        );
        // One architecture: also where a Dockerfile of one's own finds it.
        assert_eq!(fs::read(c.join(SINGLE_BINARY_PATH)).unwrap(), b"\x7fELF");
        assert_eq!(
            fs::read(c.join("docker-context-files/wheels/a-1.0-py3-none-any.whl")).unwrap(),
            b"wheel"
        );
        let link = c.join("docker-context-files/link.txt");
        assert!(
            !fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(link).unwrap(), b"rich\n");
        assert!(c.join("docker-context-files/constraints.txt").is_file());
        assert!(c.join("airflow-sources/pyproject.toml").is_file());
        assert!(c.join("airflow-sources/airflow").is_dir());
        assert!(a.iidfile.starts_with(a.work_dir()) && !a.iidfile.starts_with(c));

        let work = a.work_dir().to_path_buf();
        drop(a);
        assert!(!work.exists(), "the temporary context is removed");
    }

    #[test]
    fn embedded_dockerfile_and_empty_context_files() {
        let src = tempfile::tempdir().unwrap();
        let exe = src.path().join("hangar");
        fs::write(&exe, b"bin").unwrap();
        let plan = ContextPlan {
            dockerfile: DockerfileSource::Embedded,
            context_files: None,
            extra_context_files: vec![],
            airflow_sources: None,
            generated_secrets: Vec::new(),
        };
        let a = assemble(&plan, &native(&exe)).unwrap();
        assert_eq!(
            fs::read_to_string(a.context.join("Dockerfile")).unwrap(),
            embedded_dockerfile()
        );
        assert!(a.context.join(CONTEXT_FILES_DIR).is_dir());
        assert!(!a.context.join(AIRFLOW_SOURCES_DIR).exists());
    }

    #[test]
    fn a_distribution_file_keeps_its_name() {
        let src = tempfile::tempdir().unwrap();
        let exe = src.path().join("hangar");
        fs::write(&exe, b"bin").unwrap();
        let wheel = src.path().join("apache_airflow-3.1.0-py3-none-any.whl");
        fs::write(&wheel, b"PK").unwrap();
        let plan = ContextPlan {
            dockerfile: DockerfileSource::Embedded,
            context_files: None,
            extra_context_files: vec![],
            airflow_sources: Some(wheel),
            generated_secrets: Vec::new(),
        };
        let a = assemble(&plan, &native(&exe)).unwrap();
        let copied = a
            .context
            .join(AIRFLOW_SOURCES_DIR)
            .join("apache_airflow-3.1.0-py3-none-any.whl");
        assert_eq!(fs::read(copied).unwrap(), b"PK");
    }

    #[test]
    fn missing_source_is_an_error_naming_it() {
        let src = tempfile::tempdir().unwrap();
        let exe = src.path().join("hangar");
        fs::write(&exe, b"bin").unwrap();
        let plan = ContextPlan {
            dockerfile: DockerfileSource::Embedded,
            context_files: Some(src.path().join("nope")),
            extra_context_files: vec![],
            airflow_sources: None,
            generated_secrets: Vec::new(),
        };
        let err = assemble(&plan, &native(&exe)).unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }
}

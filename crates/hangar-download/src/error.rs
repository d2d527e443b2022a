//! Why `hangar download` could not fill the folder. The folder is left as it was.

use std::path::PathBuf;

/// Errors of `hangar download`.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{input}: {problem}; {fix}")]
    Input {
        input: String,
        problem: String,
        fix: String,
    },
    #[error("cannot start `{program}`: {source}. {fix}")]
    Spawn {
        program: String,
        fix: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no wheel of {requirement} for CPython {python} on {platform}: the index has only a source \
         distribution, or none. Build the wheel in a container of the base image (e.g. `pip wheel \
         --no-deps '{requirement}' -w /out` with {dir} mounted at /out), then run hangar download \
         again: it takes wheels already in {dir}",
        dir = output.display()
    )]
    NoWheel {
        requirement: String,
        python: String,
        platform: String,
        output: PathBuf,
    },
    #[error("{what} failed ({status}): {tail}. {fix}")]
    Step {
        what: String,
        status: String,
        tail: String,
        fix: String,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] hangar_install::manifest::ManifestError),
    #[error(transparent)]
    Install(#[from] hangar_install::InstallError),
    #[error(transparent)]
    Engine(#[from] hangar_build::in_image::InImageError),
}

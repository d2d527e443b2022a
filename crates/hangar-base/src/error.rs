//! Why `hangar base` could not make the image.

use std::path::PathBuf;

/// Errors making the base image.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error("{input}: {problem}; {fix}")]
    Input {
        input: String,
        problem: String,
        fix: String,
    },
    #[error("hangar base runs debootstrap, which needs root: run it as root (e.g. with sudo)")]
    NotRoot,
    #[error("cannot start `{program}`: {source}. Install it with `apt-get install {package}`")]
    Spawn {
        program: String,
        package: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status}): {tail}. {fix}")]
    Step {
        what: String,
        status: String,
        tail: String,
        fix: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] hangar_build::run::RunError),
}

//! `hangar new`: writes the layout of an Airflow image project that Airflow teams know
//! (`hangar.toml`, `requirements.txt`, `packages.txt`, `dags/`, `plugins/`, `include/`,
//! `tests/`), ready for `hangar build`.
//!
//! [`new_project`] checks every target before it writes anything, so a refused or failed
//! check leaves the directory as it was; each file is written to a temporary file next to it
//! and renamed into place, so no file is ever half written.

mod error;
mod layout;
mod write;

use std::path::{Path, PathBuf};

pub use self::error::ProjectError;
pub use self::layout::{FILES, ProjectFile};

/// What [`new_project`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The project directory, as given.
    pub dir: PathBuf,
    /// The files written, relative to `dir`, in the order of [`FILES`].
    pub files: Vec<PathBuf>,
    /// Those of `files` that existed before and were overwritten (only with `force`).
    pub overwritten: Vec<PathBuf>,
}

/// Writes a new project into `dir`, creating it (and its parents) when missing.
///
/// Without `force`, any project file that already exists makes the whole call fail with
/// [`ProjectError::Exists`] and nothing is written; with `force`, existing files are replaced.
///
/// # Errors
/// A project file exists (without `force`), a target is a directory or its parent is a file,
/// or a directory or file cannot be created or written.
pub fn new_project(dir: &Path, force: bool) -> Result<Written, ProjectError> {
    let existing = write::check_targets(dir, FILES)?;
    if !existing.is_empty() && !force {
        return Err(ProjectError::Exists {
            dir: dir.to_path_buf(),
            files: existing,
        });
    }
    for file in FILES {
        write::write_atomic(&dir.join(file.path), file.contents.as_bytes())?;
    }
    Ok(Written {
        dir: dir.to_path_buf(),
        files: FILES.iter().map(|f| PathBuf::from(f.path)).collect(),
        overwritten: existing,
    })
}

#[cfg(test)]
mod tests;

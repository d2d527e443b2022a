//! Errors of writing a project: each names the path, what was wrong and what to do.

use std::fmt::Write as _;
use std::path::PathBuf;

/// An error of [`crate::new_project`].
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// Project files already exist and `force` was not given; nothing was written.
    #[error(
        "{} already holds {}: {}. Nothing was written; pass --force to overwrite them",
        dir.display(),
        if files.len() == 1 { "a project file" } else { "project files" },
        list(files)
    )]
    Exists { dir: PathBuf, files: Vec<PathBuf> },
    /// A path where the project needs a file is a directory (or something else that is not a
    /// regular file), which `--force` does not replace.
    #[error(
        "{} is not a regular file, so it cannot be written. Move it away and run again",
        path.display()
    )]
    NotAFile { path: PathBuf },
    /// A path where the project needs a directory is a file.
    #[error(
        "{} is not a directory, but the project needs one there. Move it away or choose another directory",
        path.display()
    )]
    NotADirectory { path: PathBuf },
    /// A path cannot be inspected (e.g. permission denied on a parent).
    #[error("cannot inspect {}: {source}. Check the directory's permissions", path.display())]
    Inspect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory cannot be created.
    #[error("cannot create the directory {}: {source}. Check the permissions of its parent", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file cannot be written or renamed into place.
    #[error("cannot write {}: {source}. Check the directory's permissions and free space", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `a, b and c`, each path as displayed.
fn list(files: &[PathBuf]) -> String {
    let mut out = String::new();
    for (i, file) in files.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == files.len() { " and " } else { ", " });
        }
        let _ = write!(out, "{}", file.display());
    }
    out
}

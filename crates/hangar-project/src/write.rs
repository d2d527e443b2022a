//! Checking the targets before anything is written, and writing each file through a
//! temporary file renamed into place.

use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use crate::error::ProjectError;
use crate::layout::ProjectFile;

/// Checks every target of `files` under `dir` and returns those that exist already
/// (relative to `dir`).
///
/// # Errors
/// A target is not a regular file, a directory the project needs (`dir` itself or a parent of
/// a file) is a file, or a path cannot be inspected.
pub(crate) fn check_targets(
    dir: &Path,
    files: &[ProjectFile],
) -> Result<Vec<PathBuf>, ProjectError> {
    check_directory(dir)?;
    let mut existing = Vec::new();
    for file in files {
        let relative = Path::new(file.path);
        for ancestor in relative.ancestors().skip(1) {
            if !ancestor.as_os_str().is_empty() {
                check_directory(&dir.join(ancestor))?;
            }
        }
        let path = dir.join(relative);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => existing.push(relative.to_path_buf()),
            Ok(_) => return Err(ProjectError::NotAFile { path }),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(source) => return Err(ProjectError::Inspect { path, source }),
        }
    }
    Ok(existing)
}

/// A directory the project needs is one, or is missing (and will be created).
fn check_directory(path: &Path) -> Result<(), ProjectError> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(ProjectError::NotADirectory {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ProjectError::Inspect {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `contents` to `path` through a temporary file in the same directory renamed onto
/// it, creating the parent directories first.
///
/// # Errors
/// A directory cannot be created, or the file cannot be written or renamed.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), ProjectError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| ProjectError::CreateDir {
        path: parent.to_path_buf(),
        source,
    })?;
    let write_error = |source| ProjectError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".hangar-new-")
        .tempfile_in(parent)
        .map_err(write_error)?;
    tmp.write_all(contents).map_err(write_error)?;
    tmp.as_file().sync_all().map_err(write_error)?;
    // A temporary file is created 0600; a project file is an ordinary one.
    set_readable(tmp.as_file()).map_err(write_error)?;
    tmp.persist(path).map_err(|e| write_error(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_readable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

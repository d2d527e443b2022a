//! SQLite: no server, so "ready" means the database file can be created or opened for
//! writing by this user.

use std::path::Path;

use super::{ProbeError, Reason};

/// Ready when the directory of the database file `path` exists and is writable, and the
/// file, if it exists, is readable and writable.
pub(super) fn check(path: &Path) -> Result<(), ProbeError> {
    use nix::unistd::{AccessFlags, access};
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    if !dir.is_dir() {
        return Err(ProbeError::not_ready(
            Reason::Sqlite,
            format!(
                "the directory {} of SQLite database {} does not exist: create it or mount the volume",
                dir.display(),
                path.display()
            ),
        ));
    }
    if access(&dir, AccessFlags::W_OK | AccessFlags::X_OK).is_err() {
        return Err(ProbeError::not_ready(
            Reason::Sqlite,
            format!(
                "the directory {} of SQLite database {} is not writable by this user: fix its \
             ownership or permissions",
                dir.display(),
                path.display()
            ),
        ));
    }
    if path.exists() && access(path, AccessFlags::R_OK | AccessFlags::W_OK).is_err() {
        return Err(ProbeError::not_ready(
            Reason::Sqlite,
            format!(
                "SQLite database {} is not writable by this user: fix its ownership or permissions",
                path.display()
            ),
        ));
    }
    Ok(())
}

//! The seed's `docker-context-files/.pypirc`: placed as the build user's `~/.pypirc` (root's,
//! where upload tools such as twine read it) for the duration of a step and removed after it,
//! so no layer keeps it. pip and uv never read it; when it is the only index configuration,
//! the step says so.

use std::path::{Path, PathBuf};

use crate::InstallError;
use crate::pip::Secrets;

/// The link made for a step; dropping it removes the link.
#[derive(Debug)]
pub(super) struct Pypirc {
    link: Option<PathBuf>,
}

impl Pypirc {
    /// Links `home/.pypirc` to the context's `.pypirc` when there is one and the home has
    /// none, and warns when nothing else tells pip which index to use.
    pub(super) fn place(
        context_files: &Path,
        home: &Path,
        secrets: &Secrets,
    ) -> Result<Pypirc, InstallError> {
        let source = context_files.join(".pypirc");
        if !source.is_file() {
            return Ok(Pypirc { link: None });
        }
        if !secrets.configures_an_index() {
            crate::exec::log(format_args!(
                "warning: {}",
                hangar_buildargs::PYPIRC_ONLY_WARNING
            ));
        }
        let link = home.join(".pypirc");
        if link.symlink_metadata().is_ok() {
            return Ok(Pypirc { link: None });
        }
        std::fs::create_dir_all(home)
            .and_then(|()| std::os::unix::fs::symlink(&source, &link))
            .map_err(|source| InstallError::Io {
                path: link.clone(),
                source,
            })?;
        Ok(Pypirc { link: Some(link) })
    }
}

impl Drop for Pypirc {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            let _ = std::fs::remove_file(link);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_lives_for_the_step_only() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        let home = dir.path().join("root");
        std::fs::create_dir_all(&ctx).unwrap();
        let none = Secrets::discover(&dir.path().join("secrets"), &ctx);
        // No .pypirc: nothing placed.
        drop(Pypirc::place(&ctx, &home, &none).unwrap());
        assert!(!home.join(".pypirc").exists());

        std::fs::write(ctx.join(".pypirc"), "[distutils]\nindex-servers = corp\n").unwrap();
        let placed = Pypirc::place(&ctx, &home, &none).unwrap();
        assert_eq!(
            std::fs::read_to_string(home.join(".pypirc")).unwrap(),
            "[distutils]\nindex-servers = corp\n"
        );
        drop(placed);
        assert!(home.join(".pypirc").symlink_metadata().is_err());

        // A home's own .pypirc is left alone.
        std::fs::write(home.join(".pypirc"), "mine").unwrap();
        drop(Pypirc::place(&ctx, &home, &none).unwrap());
        assert_eq!(
            std::fs::read_to_string(home.join(".pypirc")).unwrap(),
            "mine"
        );
    }
}

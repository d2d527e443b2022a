//! Putting a finished download in place: files moved from the staging folder into the output
//! folder, what an earlier download listed and this one did not removed, and the manifest
//! written last.

use std::path::{Path, PathBuf};

use hangar_install::manifest::{self, MANIFEST};

use crate::DownloadError;

/// The wheels and sdists at the top of `dir`, sorted.
#[must_use]
pub fn distributions(dir: &Path) -> Vec<PathBuf> {
    hangar_install::steps::context_distributions(dir)
}

/// What [`place`] did.
#[derive(Debug, Clone, Default)]
pub struct Placed {
    pub listed: usize,
    pub bytes: u64,
    pub manifest: PathBuf,
    /// Installable files in the folder that no download listed: the build will refuse them.
    pub unlisted: Vec<PathBuf>,
}

/// Every file under `dir`, as paths relative to it, sorted (hidden folders left out).
fn files(dir: &Path) -> Result<Vec<String>, DownloadError> {
    Ok(manifest::files_under(dir)?
        .iter()
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap_or(p)
                .to_string_lossy()
                .into_owned()
        })
        .collect())
}

/// Moves the staged files into `output` and writes its manifest. With `replace_debs`, the
/// Debian packages an earlier download listed are replaced by the staged ones; without it they
/// stay listed.
///
/// # Errors
/// A file cannot be moved or hashed, or the earlier manifest cannot be read.
pub fn place(staged: &Path, output: &Path, replace_debs: bool) -> Result<Placed, DownloadError> {
    let manifest_path = output.join(MANIFEST);
    let earlier: Vec<String> = if manifest_path.is_file() {
        let text =
            std::fs::read_to_string(&manifest_path).map_err(|source| DownloadError::Write {
                path: manifest_path.clone(),
                source,
            })?;
        manifest::parse(&manifest_path, &text)?
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    } else {
        Vec::new()
    };
    let new = files(staged)?;
    let mut listed: Vec<String> = new.clone();
    for old in &earlier {
        if listed.contains(old) {
            continue;
        }
        let keep = old.starts_with("debs/") && !replace_debs && output.join(old).is_file();
        if keep {
            listed.push(old.clone());
        } else {
            match std::fs::remove_file(output.join(old)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(DownloadError::Write {
                        path: output.join(old),
                        source,
                    });
                }
            }
        }
    }
    for rel in &new {
        let to = output.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|source| DownloadError::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        std::fs::rename(staged.join(rel), &to)
            .map_err(|source| DownloadError::Write { path: to, source })?;
    }
    let mut entries = Vec::new();
    let mut bytes = 0;
    for rel in &listed {
        let path = output.join(rel);
        bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        entries.push((rel.clone(), manifest::sha256_file(&path)?));
    }
    let tmp = output.join(format!(".{MANIFEST}.tmp"));
    std::fs::write(&tmp, manifest::render(&entries))
        .and_then(|()| std::fs::rename(&tmp, &manifest_path))
        .map_err(|source| DownloadError::Write {
            path: manifest_path.clone(),
            source,
        })?;
    let unlisted = manifest::installable_files(output)?
        .into_iter()
        .filter(|p| {
            let rel = p.strip_prefix(output).unwrap_or(p).to_string_lossy();
            !listed.iter().any(|l| *l == rel)
        })
        .collect();
    Ok(Placed {
        listed: entries.len(),
        bytes,
        manifest: manifest_path,
        unlisted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, body: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    #[test]
    fn a_second_download_replaces_the_first_and_keeps_its_debs_unless_asked() {
        let out = tempfile::tempdir().unwrap();
        write(
            out.path(),
            "requirements.txt",
            "not installable, not listed\n",
        );
        let s1 = tempfile::tempdir_in(out.path()).unwrap();
        write(s1.path(), "a-1.0-py3-none-any.whl", "a1");
        write(s1.path(), "constraints.txt", "a==1.0\n");
        write(s1.path(), "debs/dev/gcc.deb", "gcc");
        let p = place(s1.path(), out.path(), true).unwrap();
        assert_eq!(p.listed, 3);
        assert!(p.unlisted.is_empty());
        assert_eq!(manifest::verify(out.path()).unwrap(), Some(3));

        // Another version, no --debs: a-1.0 goes, the debs stay listed.
        let s2 = tempfile::tempdir_in(out.path()).unwrap();
        write(s2.path(), "a-2.0-py3-none-any.whl", "a2");
        write(s2.path(), "constraints.txt", "a==2.0\n");
        write(out.path(), "mine-0.1-py3-none-any.whl", "user's");
        let p = place(s2.path(), out.path(), false).unwrap();
        assert!(!out.path().join("a-1.0-py3-none-any.whl").exists());
        assert!(out.path().join("debs/dev/gcc.deb").is_file());
        assert_eq!(p.listed, 3);
        assert_eq!(p.unlisted, [out.path().join("mine-0.1-py3-none-any.whl")]);
        std::fs::remove_file(out.path().join("mine-0.1-py3-none-any.whl")).unwrap();
        assert_eq!(manifest::verify(out.path()).unwrap(), Some(3));
        assert_eq!(
            std::fs::read_to_string(out.path().join("constraints.txt")).unwrap(),
            "a==2.0\n"
        );

        // With --debs and none staged, the earlier debs go.
        let s3 = tempfile::tempdir_in(out.path()).unwrap();
        write(s3.path(), "a-2.0-py3-none-any.whl", "a2");
        place(s3.path(), out.path(), true).unwrap();
        assert!(!out.path().join("debs/dev/gcc.deb").exists());
        assert_eq!(manifest::verify(out.path()).unwrap(), Some(1));
    }
}

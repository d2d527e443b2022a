//! The checksum manifest of a context-files folder (`SHA256SUMS`, the format `sha256sum -c`
//! reads): `hangar download` writes it, and the build stages that install from the folder check
//! it, so a tampered, missing or unlisted file fails the build naming that file.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The manifest's file name, at the top of the folder.
pub const MANIFEST: &str = "SHA256SUMS";

/// The constraints file a download puts at the top of the folder; a build from the folder's
/// wheels uses it when no other constraints location is given.
pub const CONSTRAINTS: &str = "constraints.txt";

/// A problem with the folder against its manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: line {line} is not `SHA256  FILE` ({text:?}); write the manifest again with `hangar download`",
        manifest.display()
    )]
    BadLine {
        manifest: PathBuf,
        line: usize,
        text: String,
    },
    #[error(
        "{} is listed in {} but missing; put it back or run `hangar download` again",
        file.display(),
        MANIFEST
    )]
    Missing { file: PathBuf },
    #[error(
        "{} does not match its checksum in {} (expected {expected}, found {found}): the file was changed \
         after `hangar download`; download it again from a source you trust",
        file.display(),
        MANIFEST
    )]
    Mismatch {
        file: PathBuf,
        expected: String,
        found: String,
    },
    #[error(
        "{} is not listed in {}: files installed from the folder must be the downloaded ones; \
         remove it, or run `hangar download` again with it among the requirements",
        file.display(),
        MANIFEST
    )]
    Unlisted { file: PathBuf },
}

/// The SHA-256 of a file, as lowercase hex.
///
/// # Errors
/// The file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String, ManifestError> {
    let io = |source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The manifest text of `entries` (relative path, sha256), sorted by path.
#[must_use]
pub fn render(entries: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort();
    sorted
        .iter()
        .map(|(file, sum)| format!("{sum}  {file}\n"))
        .collect()
}

/// The entries (relative path, sha256) of a manifest's text.
///
/// # Errors
/// A line is not `SHA256  FILE` or names a path outside the folder.
pub fn parse(manifest: &Path, text: &str) -> Result<Vec<(String, String)>, ManifestError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let bad = || ManifestError::BadLine {
            manifest: manifest.to_path_buf(),
            line: i + 1,
            text: raw.to_owned(),
        };
        let (sum, file) = raw.split_once("  ").ok_or_else(bad)?;
        let inside = Path::new(file)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) || !inside {
            return Err(bad());
        }
        out.push((file.to_owned(), sum.to_ascii_lowercase()));
    }
    Ok(out)
}

/// True for a file the build installs from the folder: a wheel, an sdist or a Debian package.
#[must_use]
pub fn is_installable(name: &str) -> bool {
    name.ends_with(".whl") || name.ends_with(".tar.gz") || name.ends_with(".deb")
}

/// Checks `dir` against its manifest, if it has one: every listed file is there with its
/// checksum, and every installable file under `dir` is listed. Returns how many files were
/// checked, or `None` when the folder has no manifest.
///
/// # Errors
/// The first file that is missing, changed or unlisted, or a manifest that cannot be read.
pub fn verify(dir: &Path) -> Result<Option<usize>, ManifestError> {
    let manifest = dir.join(MANIFEST);
    if !manifest.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&manifest).map_err(|source| ManifestError::Io {
        path: manifest.clone(),
        source,
    })?;
    let entries = parse(&manifest, &text)?;
    for (file, expected) in &entries {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(ManifestError::Missing { file: path });
        }
        let found = sha256_file(&path)?;
        if &found != expected {
            return Err(ManifestError::Mismatch {
                file: path,
                expected: expected.clone(),
                found,
            });
        }
    }
    for file in installable_files(dir)? {
        let rel = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .to_string_lossy()
            .into_owned();
        if !entries.iter().any(|(f, _)| *f == rel) {
            return Err(ManifestError::Unlisted { file });
        }
    }
    Ok(Some(entries.len()))
}

/// Every installable file under `dir` (recursively, hidden folders left out), sorted.
///
/// # Errors
/// A folder cannot be read.
pub fn installable_files(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    Ok(files_under(dir)?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| is_installable(&n.to_string_lossy()))
        })
        .collect())
}

/// Every regular file under `dir`, recursively, sorted. Hidden folders (a download's staging
/// folder) are left out.
///
/// # Errors
/// A folder cannot be read.
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let io = |path: &Path, source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| io(&d, e))? {
            let entry = entry.map_err(|e| io(&d, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| io(&path, e))?;
            if kind.is_dir() {
                if !entry.file_name().to_string_lossy().starts_with('.') {
                    todo.push(path);
                }
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("debs/dev")).unwrap();
        std::fs::write(d.path().join("a-1.0-py3-none-any.whl"), b"wheel").unwrap();
        std::fs::write(d.path().join("debs/dev/gcc.deb"), b"deb").unwrap();
        std::fs::write(d.path().join("constraints.txt"), b"a==1.0\n").unwrap();
        let entries: Vec<(String, String)> = [
            "a-1.0-py3-none-any.whl",
            "debs/dev/gcc.deb",
            "constraints.txt",
        ]
        .iter()
        .map(|f| ((*f).to_owned(), sha256_file(&d.path().join(f)).unwrap()))
        .collect();
        std::fs::write(d.path().join(MANIFEST), render(&entries)).unwrap();
        d
    }

    #[test]
    fn sha256_of_known_bytes() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_intact_folder_passes_and_a_folder_without_manifest_is_not_checked() {
        let d = folder();
        assert_eq!(verify(d.path()).unwrap(), Some(3));
        let text = std::fs::read_to_string(d.path().join(MANIFEST)).unwrap();
        assert!(
            text.lines()
                .next()
                .unwrap()
                .ends_with("  a-1.0-py3-none-any.whl")
        );
        std::fs::remove_file(d.path().join(MANIFEST)).unwrap();
        assert_eq!(verify(d.path()).unwrap(), None);
    }

    #[test]
    fn tampered_missing_and_unlisted_files_are_named() {
        let d = folder();
        std::fs::write(d.path().join("debs/dev/gcc.deb"), b"evil").unwrap();
        let e = verify(d.path()).unwrap_err();
        assert!(matches!(e, ManifestError::Mismatch { .. }), "{e}");
        assert!(e.to_string().contains("debs/dev/gcc.deb"), "{e}");

        let d = folder();
        std::fs::remove_file(d.path().join("a-1.0-py3-none-any.whl")).unwrap();
        let e = verify(d.path()).unwrap_err();
        assert!(matches!(e, ManifestError::Missing { .. }), "{e}");
        assert!(e.to_string().contains("a-1.0-py3-none-any.whl"), "{e}");

        let d = folder();
        std::fs::write(d.path().join("b-2.0-py3-none-any.whl"), b"extra").unwrap();
        std::fs::write(d.path().join("notes.md"), b"not installed").unwrap();
        let e = verify(d.path()).unwrap_err();
        assert!(matches!(e, ManifestError::Unlisted { .. }), "{e}");
        assert!(e.to_string().contains("b-2.0-py3-none-any.whl"), "{e}");
    }

    #[test]
    fn bad_lines_and_paths_outside_the_folder_are_refused() {
        let m = Path::new("/x/SHA256SUMS");
        let sum = "0".repeat(64);
        assert!(parse(m, &format!("{sum}  a.whl\n\n")).is_ok());
        for bad in [
            format!("{sum} a.whl"),
            format!("{}  a.whl", "0".repeat(63)),
            format!("{sum}  ../etc/passwd"),
            format!("{sum}  /abs.whl"),
        ] {
            let e = parse(m, &bad).unwrap_err();
            assert!(e.to_string().contains("line 1"), "{e}");
        }
    }
}

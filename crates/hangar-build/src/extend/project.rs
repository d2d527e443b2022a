//! The project folder of the extend route (the layout `hangar new` writes): `packages.txt`,
//! `requirements.txt`, `dags/`, `plugins/`, `include/`, each optional. Read and checked before
//! any engine runs; copied into the build context under `.hangar/project/`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The folders copied under `AIRFLOW_HOME`, in the order of their layers.
pub const FOLDERS: [&str; 3] = ["plugins", "include", "dags"];
/// Where the project lands in the build context.
pub const CONTEXT_DIR: &str = ".hangar/project";

/// A project, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub dir: PathBuf,
    /// The apt packages of `packages.txt`, in order, without duplicates.
    pub packages: Vec<String>,
    /// The text of `requirements.txt` (empty without one).
    pub requirements: String,
}

/// Errors reading a project.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(
        "the project folder {} does not exist; run hangar build --extend in the project (or give --project DIR), \
         or create one with `hangar new DIR`", .0.display()
    )]
    NoFolder(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}:{line}: {word:?} is not an apt package name (lower-case letters, digits and + - . only, \
         optionally =VERSION or :ARCH); write one or more names per line, comments after #", path.display()
    )]
    BadPackage {
        path: PathBuf,
        line: usize,
        word: String,
    },
    #[error("{} should be a folder (its files are copied under AIRFLOW_HOME); move the file away or rename it", .0.display())]
    NotAFolder(PathBuf),
}

fn is_package(word: &str) -> bool {
    let (name, rest) = match word.find(['=', ':']) {
        Some(i) => (&word[..i], &word[i + 1..]),
        None => (word, ""),
    };
    let name_ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let rest_ok = rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+-.~:".contains(c));
    name_ok && rest_ok && !(word.contains(['=', ':']) && rest.is_empty())
}

/// The packages of a `packages.txt`: names separated by whitespace or lines, comments from
/// `#`, blank lines and CRLF endings tolerated.
///
/// # Errors
/// A word that is no apt package name (which could otherwise reach a shell).
pub fn parse_packages(text: &str, path: &Path) -> Result<Vec<String>, ProjectError> {
    let mut out: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for word in line.split_whitespace() {
            if !is_package(word) {
                return Err(ProjectError::BadPackage {
                    path: path.to_path_buf(),
                    line: i + 1,
                    word: word.to_owned(),
                });
            }
            if !out.iter().any(|p| p == word) {
                out.push(word.to_owned());
            }
        }
    }
    Ok(out)
}

fn read_optional(path: &Path) -> Result<String, ProjectError> {
    match fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(ProjectError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads the project in `dir`.
///
/// # Errors
/// No such folder, an unreadable file, a bad package name, or a file where a folder belongs.
pub fn read(dir: &Path) -> Result<Project, ProjectError> {
    if !dir.is_dir() {
        return Err(ProjectError::NoFolder(dir.to_path_buf()));
    }
    let packages_file = dir.join("packages.txt");
    let packages = parse_packages(&read_optional(&packages_file)?, &packages_file)?;
    let requirements = read_optional(&dir.join("requirements.txt"))?;
    for f in FOLDERS {
        let p = dir.join(f);
        if p.exists() && !p.is_dir() {
            return Err(ProjectError::NotAFolder(p));
        }
    }
    Ok(Project {
        dir: dir.to_path_buf(),
        packages,
        requirements,
    })
}

/// True for what never goes into an image: Python's byte-code caches.
fn skipped(name: &std::ffi::OsStr) -> bool {
    name == "__pycache__" || Path::new(name).extension().is_some_and(|e| e == "pyc")
}

/// Copies `from` (following symbolic links) into the existing folder `to`, giving the group
/// the user's permissions (Airflow runs with an arbitrary UID in group 0).
///
/// # Errors
/// The first file that cannot be read or written, or one that is neither file nor folder.
pub fn copy_group_writable(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        if skipped(&entry.file_name()) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = fs::metadata(&src)?;
        if meta.is_dir() {
            fs::create_dir(&dst)?;
            copy_group_writable(&src, &dst)?;
        } else if meta.is_file() {
            fs::copy(&src, &dst)?;
        } else {
            return Err(std::io::Error::other(format!(
                "{} is neither a file nor a folder",
                src.display()
            )));
        }
        let mode = meta.permissions().mode() & 0o7777;
        let user = (mode >> 6) & 0o7;
        fs::set_permissions(
            &dst,
            fs::Permissions::from_mode((mode & !0o070) | (user << 3)),
        )?;
    }
    Ok(())
}

/// Writes the project into the build context folder `context`: `.hangar/project/` with the
/// requirements file and the three folders (empty when the project has none).
///
/// # Errors
/// A file cannot be read or written.
pub fn write_into(p: &Project, context: &Path) -> std::io::Result<()> {
    let to = context.join(CONTEXT_DIR);
    fs::create_dir_all(&to)?;
    fs::write(to.join("requirements.txt"), &p.requirements)?;
    for f in FOLDERS {
        let dst = to.join(f);
        fs::create_dir_all(&dst)?;
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o775))?;
        let src = p.dir.join(f);
        if src.is_dir() {
            copy_group_writable(&src, &dst)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_txt_with_comments_blank_lines_and_crlf() {
        let text = "# tools\r\njq curl\r\n\r\n  vim-tiny # an editor\r\nlibpq5=15.10-0+deb12u1 jq\r\ng++\r\n";
        assert_eq!(
            parse_packages(text, Path::new("packages.txt")).unwrap(),
            ["jq", "curl", "vim-tiny", "libpq5=15.10-0+deb12u1", "g++"]
        );
        assert!(parse_packages("", Path::new("p")).unwrap().is_empty());
    }

    #[test]
    fn a_word_that_is_no_package_is_refused_with_its_line() {
        for bad in ["jq;rm", "$(id)", "Jq", "j", "jq=", "-y"] {
            let err =
                parse_packages(&format!("curl\n{bad}\n"), Path::new("packages.txt")).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!(
                    "packages.txt:2: {bad:?} is not an apt package name"
                )),
                "{msg}"
            );
        }
    }

    #[test]
    fn a_project_is_read_and_copied_group_writable_without_caches() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::create_dir_all(p.join("dags/sub/__pycache__")).unwrap();
        fs::write(p.join("dags/hello.py"), "x").unwrap();
        fs::set_permissions(p.join("dags/hello.py"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(p.join("dags/sub/__pycache__/a.pyc"), "x").unwrap();
        fs::write(p.join("dags/sub/b.pyc"), "x").unwrap();
        fs::write(p.join("dags/sub/run.sh"), "x").unwrap();
        fs::set_permissions(p.join("dags/sub/run.sh"), fs::Permissions::from_mode(0o750)).unwrap();
        fs::write(p.join("packages.txt"), "jq\n").unwrap();
        fs::write(p.join("requirements.txt"), "rich\n").unwrap();
        let project = read(p).unwrap();
        assert_eq!(project.packages, ["jq"]);

        let ctx = tempfile::tempdir().unwrap();
        write_into(&project, ctx.path()).unwrap();
        let c = ctx.path().join(CONTEXT_DIR);
        let mode = |f: &str| fs::metadata(c.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("dags/hello.py"), 0o664);
        assert_eq!(mode("dags/sub/run.sh"), 0o770);
        assert!(!c.join("dags/sub/__pycache__").exists());
        assert!(!c.join("dags/sub/b.pyc").exists());
        assert!(c.join("plugins").is_dir() && c.join("include").is_dir());
        assert_eq!(
            fs::read_to_string(c.join("requirements.txt")).unwrap(),
            "rich\n"
        );
    }

    #[test]
    fn missing_folder_and_file_in_place_of_a_folder() {
        let d = tempfile::tempdir().unwrap();
        let err = read(&d.path().join("nope")).unwrap_err().to_string();
        assert!(err.contains("hangar new DIR"), "{err}");
        fs::write(d.path().join("dags"), "").unwrap();
        assert!(matches!(read(d.path()), Err(ProjectError::NotAFolder(_))));
    }
}

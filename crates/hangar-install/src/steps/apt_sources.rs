//! `--apt-sources FILE` in the apt steps: the file (a build secret) is read instead of the base
//! image's Debian sources (`/etc/apt/sources.list` and `sources.list.d/debian.sources`); sources
//! that `*_APT_COMMAND` added to `sources.list.d` are still read. apt is pointed at a folder
//! made for the step (a copy of the file and links to the other sources), removed when the step
//! ends, whatever happened, so no copy reaches the layer.

use std::path::{Path, PathBuf};

use super::Paths;
use crate::InstallError;

/// The secret id of the sources file.
pub const SECRET: &str = "apt-sources";
/// The folder apt reads its sources from during the step (in the build's filesystem).
pub const PARTS: &str = "/tmp/hangar-apt-sources";
/// The base image's own Debian sources, which the file replaces.
const REPLACED: &[&str] = &["debian.sources"];

/// The sources file given to the build, if any.
#[must_use]
pub fn given(paths: &Paths) -> Option<PathBuf> {
    // Secrets are mounted at their own path, not under the build's root.
    let p = paths.secrets.join(SECRET);
    p.is_file().then_some(p)
}

/// True when `text` is in deb822 form (`Types:` / `URIs:` fields) rather than one-line
/// `deb URI SUITE COMPONENTS` entries.
#[must_use]
pub fn is_deb822(text: &str) -> bool {
    text.lines()
        .map(str::trim_start)
        .any(|l| l.starts_with("Types:") || l.starts_with("URIs:"))
}

/// The step's sources folder; removed when dropped.
#[derive(Debug)]
pub struct Prepared {
    dir: PathBuf,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Makes [`PARTS`]: the given file (as `hangar.sources` or `hangar.list`) and a link to every
/// other entry of `/etc/apt/sources.list.d` but the base's Debian sources.
///
/// # Errors
/// The file cannot be read or the folder cannot be written.
pub fn prepare(paths: &Paths, file: &Path) -> Result<Prepared, InstallError> {
    let io = |path: &Path, source| InstallError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = paths.at(Path::new(PARTS));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let prepared = Prepared { dir: dir.clone() };
    let text = std::fs::read_to_string(file).map_err(|e| io(file, e))?;
    let name = if is_deb822(&text) {
        "hangar.sources"
    } else {
        "hangar.list"
    };
    std::fs::write(dir.join(name), &text).map_err(|e| io(&dir.join(name), e))?;
    let parts = Path::new("/etc/apt/sources.list.d");
    if let Ok(rd) = std::fs::read_dir(paths.at(parts)) {
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                (n.ends_with(".list") || n.ends_with(".sources")) && !REPLACED.contains(&n.as_str())
            })
            .collect();
        names.sort();
        for n in names {
            let link = dir.join(format!("user-{n}"));
            std::os::unix::fs::symlink(parts.join(&n), &link).map_err(|e| io(&link, e))?;
        }
    }
    Ok(prepared)
}

/// apt's options that read the sources from [`PARTS`] alone.
#[must_use]
pub fn apt_options() -> Vec<String> {
    [
        "-o",
        "Dir::Etc::SourceList=/dev/null",
        "-o",
        &format!("Dir::Etc::SourceParts={PARTS}"),
    ]
    .map(str::to_owned)
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testing::paths;

    #[test]
    fn the_file_replaces_the_debian_sources_and_keeps_the_users() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let etc = dir.path().join("etc/apt/sources.list.d");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(
            etc.join("debian.sources"),
            "URIs: http://deb.debian.org/debian\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("mssql.list"),
            "deb https://packages.example/ bookworm main\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("run/secrets")).unwrap();
        std::fs::write(
            dir.path().join("run/secrets/apt-sources"),
            "Types: deb\nURIs: http://mirror.corp/debian\nSuites: bookworm\nComponents: main\n",
        )
        .unwrap();
        let file = given(&p).unwrap();
        let made = dir.path().join("tmp/hangar-apt-sources");
        {
            let _prepared = prepare(&p, &file).unwrap();
            let mut names: Vec<String> = std::fs::read_dir(&made)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            assert_eq!(names, ["hangar.sources", "user-mssql.list"]);
            assert_eq!(
                std::fs::read_link(made.join("user-mssql.list")).unwrap(),
                Path::new("/etc/apt/sources.list.d/mssql.list")
            );
        }
        assert!(!made.exists(), "the folder outlived the step");
        assert_eq!(
            apt_options().join(" "),
            "-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=/tmp/hangar-apt-sources"
        );
    }

    #[test]
    fn one_line_and_deb822_forms() {
        assert!(is_deb822("# corp\nTypes: deb\nURIs: http://m/debian\n"));
        assert!(!is_deb822("deb http://m/debian bookworm main\n"));
        let dir = tempfile::tempdir().unwrap();
        assert!(given(&paths(dir.path())).is_none());
    }
}

//! `--apt-sources FILE` in the apt steps: the file (a build secret) is read instead of the base
//! image's Debian sources (`/etc/apt/sources.list` and `sources.list.d/debian.sources`); sources
//! that `*_APT_COMMAND` added to `sources.list.d` are still read. apt is pointed at a folder
//! made for the step (a copy of the file and links to the other sources), removed when the step
//! ends, whatever happened, so no copy reaches the layer. With `INSTALL_APT_SOURCES_IN_IMAGE`
//! the final image keeps the file as its own sources instead ([`keep`]).

use std::path::{Path, PathBuf};

use super::Paths;
use crate::InstallError;

/// The secret id of the sources file.
pub const SECRET: &str = "apt-sources";
/// The folder apt reads its sources from during the step (in the build's filesystem).
pub const PARTS: &str = "/tmp/hangar-apt-sources";
/// The base image's own Debian sources, which the file replaces.
const REPLACED: &[&str] = &["debian.sources"];
/// The build arg that keeps the file as the final image's sources.
pub const IN_IMAGE: &str = "INSTALL_APT_SOURCES_IN_IMAGE";

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

/// The name apt reads `text` by: `hangar.sources` (deb822) or `hangar.list` (one-line).
fn file_name(text: &str) -> &'static str {
    if is_deb822(text) {
        "hangar.sources"
    } else {
        "hangar.list"
    }
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
    let name = file_name(&text);
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

/// The text of the file the image keeps, read and checked before anything is installed:
/// `None` when [`IN_IMAGE`] is false.
///
/// # Errors
/// [`IN_IMAGE`] is not a boolean, is true with no `apt-sources` secret, or the file has a line
/// that looks like a credential (named by number, never shown).
pub fn to_keep(a: &crate::args::BuildArgs, paths: &Paths) -> Result<Option<String>, InstallError> {
    if !a.flag(IN_IMAGE)? {
        return Ok(None);
    }
    let Some(file) = given(paths) else {
        return Err(InstallError::BadArg {
            name: IN_IMAGE,
            problem: format!("it is true, but the build has no `{SECRET}` secret"),
            fix: "pass the sources file (`hangar build --apt-sources FILE`, or the engine's \
                  `--secret id=apt-sources,src=FILE`), or leave INSTALL_APT_SOURCES_IN_IMAGE false",
        });
    };
    let text = std::fs::read_to_string(&file).map_err(|e| InstallError::Io {
        path: file.clone(),
        source: e,
    })?;
    let lines = hangar_buildargs::credential_lines(&text);
    if !lines.is_empty() {
        return Err(InstallError::BadArg {
            name: IN_IMAGE,
            problem: format!(
                "line(s) {} of the `{SECRET}` secret look like a credential, which the image \
                 would keep",
                lines
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            fix: "take the login out of the URLs (apt reads it from /etc/apt/auth.conf.d, which \
                  a *_APT_COMMAND can write for one step), or leave INSTALL_APT_SOURCES_IN_IMAGE false",
        });
    }
    Ok(Some(text))
}

/// Makes `text` (see [`to_keep`]) the image's apt sources: written (temp file + rename) as
/// `sources.list.d/hangar.sources` (deb822) or `hangar.list` (one-line), mode 0644, and the
/// base's Debian sources (`sources.list`, `sources.list.d/debian.sources`) removed. Returns
/// the path written, as seen in the image.
///
/// # Errors
/// `/etc/apt` cannot be written.
pub fn keep(paths: &Paths, text: &str) -> Result<PathBuf, InstallError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path, source| InstallError::Io {
        path: path.to_path_buf(),
        source,
    };
    let parts = Path::new("/etc/apt/sources.list.d");
    let name = file_name(text);
    let dir = paths.at(parts);
    std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
    let dest = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))?;
    let replaced = std::iter::once(paths.at(Path::new("/etc/apt/sources.list")))
        .chain(REPLACED.iter().map(|n| dir.join(n)));
    for old in replaced {
        match std::fs::remove_file(&old) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&old, e)),
        }
    }
    Ok(parts.join(name))
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

    #[test]
    fn the_image_keeps_the_file_only_when_asked_and_without_credentials() {
        use crate::args::BuildArgs;
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let off = BuildArgs::from_pairs(&[]);
        let on = BuildArgs::from_pairs(&[(IN_IMAGE, "true")]);
        assert_eq!(to_keep(&off, &p).unwrap(), None);
        let e = to_keep(&on, &p).unwrap_err().to_string();
        assert!(
            e.contains(IN_IMAGE) && e.contains("--apt-sources FILE"),
            "{e}"
        );
        let bad = BuildArgs::from_pairs(&[(IN_IMAGE, "yes")]);
        assert!(
            to_keep(&bad, &p)
                .unwrap_err()
                .to_string()
                .contains("`true` or `false`")
        );

        let secret = dir.path().join("run/secrets/apt-sources");
        std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
        std::fs::write(
            &secret,
            "deb https://me:s3cret@mirror.corp/debian bookworm main\n",
        )
        .unwrap();
        let e = to_keep(&on, &p).unwrap_err().to_string();
        assert!(e.contains("line(s) 1 ") && !e.contains("s3cret"), "{e}");

        let etc = dir.path().join("etc/apt");
        std::fs::create_dir_all(etc.join("sources.list.d")).unwrap();
        std::fs::write(
            etc.join("sources.list"),
            "deb http://deb.debian.org/debian bookworm main\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("sources.list.d/debian.sources"),
            "URIs: http://deb.debian.org/debian\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("sources.list.d/mssql.list"),
            "deb https://packages.example/ bookworm main\n",
        )
        .unwrap();
        let corp = "deb http://mirror.corp/debian bookworm main\n";
        std::fs::write(&secret, corp).unwrap();
        let text = to_keep(&on, &p).unwrap().unwrap();
        assert_eq!(
            keep(&p, &text).unwrap(),
            Path::new("/etc/apt/sources.list.d/hangar.list")
        );
        let mut names: Vec<String> = std::fs::read_dir(etc.join("sources.list.d"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["hangar.list", "mssql.list"]);
        assert!(!etc.join("sources.list").exists());
        assert_eq!(
            std::fs::read_to_string(etc.join("sources.list.d/hangar.list")).unwrap(),
            corp
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(etc.join("sources.list.d/hangar.list"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }
}

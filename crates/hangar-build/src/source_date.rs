//! The default `SOURCE_DATE_EPOCH` of a build: the last commit time of the folder the build is
//! made from (the `--extend` project, else `--context-files`, else the folder of `hangar.toml`)
//! when that folder is in a git repository, so that rebuilding the same commit gives the same
//! timestamps without the user setting anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::options::{BuildOptions, Origin};

/// The folder whose git history dates the build, if the options name one.
#[must_use]
pub fn source_dir(o: &BuildOptions, config: Option<&Path>) -> Option<PathBuf> {
    let config_dir = || {
        config.map(|c| {
            c.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), ToOwned::to_owned)
        })
    };
    if let Some(extend) = &o.extend {
        return Some(match (&o.project, &extend.origin) {
            (Some(p), _) => p.value.clone(),
            (None, Origin::File { .. }) => config_dir().unwrap_or_else(|| PathBuf::from(".")),
            (None, _) => PathBuf::from("."),
        });
    }
    o.context_files
        .as_ref()
        .map(|c| c.value.clone())
        .or_else(config_dir)
}

/// Reads the time of the last commit.
pub trait CommitTime {
    /// Seconds since the epoch of the last commit of the repository holding `dir`, or `None`
    /// when `dir` is in no repository (or git is not installed).
    fn last_commit(&self, dir: &Path) -> Option<u64>;
}

/// `git -C DIR log -1 --format=%ct`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Git;

impl CommitTime for Git {
    fn last_commit(&self, dir: &Path) -> Option<u64> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["log", "-1", "--format=%ct"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }
}

/// The build's `SOURCE_DATE_EPOCH`: the one given (`--source-date-epoch` or the variable),
/// else the last commit time of `dir`.
#[must_use]
pub fn resolve(given: Option<String>, dir: Option<&Path>, git: &dyn CommitTime) -> Option<String> {
    given
        .filter(|s| !s.trim().is_empty())
        .or_else(|| dir.and_then(|d| git.last_commit(d)).map(|t| t.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{RawOptions, Sourced};

    struct Fixed(Option<u64>);
    impl CommitTime for Fixed {
        fn last_commit(&self, _: &Path) -> Option<u64> {
            self.0
        }
    }

    #[test]
    fn given_beats_git_and_git_is_asked_only_with_a_folder() {
        let d = Path::new("/p");
        assert_eq!(
            resolve(Some("5".into()), Some(d), &Fixed(Some(9))).as_deref(),
            Some("5")
        );
        assert_eq!(
            resolve(None, Some(d), &Fixed(Some(9))).as_deref(),
            Some("9")
        );
        assert_eq!(
            resolve(Some(" ".into()), Some(d), &Fixed(Some(9))).as_deref(),
            Some("9")
        );
        assert_eq!(resolve(None, None, &Fixed(Some(9))), None);
        assert_eq!(resolve(None, Some(d), &Fixed(None)), None);
    }

    #[test]
    fn the_folder_is_the_project_then_the_context_files_then_the_config() {
        let mut o = RawOptions::default().into_layer(crate::options::Layer::Flag, None);
        assert_eq!(source_dir(&o, None), None);
        assert_eq!(
            source_dir(&o, Some(Path::new("site/hangar.toml"))),
            Some(PathBuf::from("site"))
        );
        o.context_files = Some(Sourced {
            value: PathBuf::from("wheels"),
            origin: Origin::Flag("--context-files".into()),
        });
        assert_eq!(source_dir(&o, None), Some(PathBuf::from("wheels")));
        o.extend = Some(Sourced {
            value: crate::options::ExtendImage("apache/airflow:3.3.2".into()),
            origin: Origin::Flag("--extend".into()),
        });
        assert_eq!(source_dir(&o, None), Some(PathBuf::from(".")));
        o.project = Some(Sourced {
            value: PathBuf::from("proj"),
            origin: Origin::Flag("--project".into()),
        });
        assert_eq!(source_dir(&o, None), Some(PathBuf::from("proj")));
    }

    #[test]
    fn a_folder_outside_any_repository_has_none() {
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(Git.last_commit(plain.path()), None);
    }
}

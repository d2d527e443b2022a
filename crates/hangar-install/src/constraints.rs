//! Constraints: by reference (upstream's GitHub URL template), by location (URL or a file in
//! the build stage, typically under `/docker-context-files`), or explicitly none.

use std::path::{Path, PathBuf};

use hangar_buildargs::CONSTRAINTS_NONE;

use crate::InstallError;
use crate::exec::{Cmd, Exec};

/// Where the constraints come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraints {
    Url(String),
    File(PathBuf),
    /// `AIRFLOW_CONSTRAINTS_LOCATION=none`: install unconstrained, on purpose.
    None,
}

/// Inputs of the constraints resolution.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub location: &'a str,
    pub reference: &'a str,
    pub repo: &'a str,
    pub airflow_version: &'a str,
    pub python: &'a str,
    /// `Some(branch)` when Airflow comes from a GitHub branch archive.
    pub github_branch: Option<&'a str>,
}

/// The default reference: `constraints-VERSION`, or the branch's constraints branch for
/// GitHub archives (`main` → `constraints-main`, `v2-10-test` → `constraints-2-10`).
pub fn default_reference(version: &str, github_branch: Option<&str>) -> String {
    if let Some(branch) = github_branch {
        let b = branch.strip_prefix('v').unwrap_or(branch);
        let b = b
            .strip_suffix("-test")
            .or_else(|| b.strip_suffix("-stable"))
            .unwrap_or(b);
        return format!("constraints-{b}");
    }
    if version.is_empty() {
        "constraints-main".to_owned()
    } else {
        format!("constraints-{version}")
    }
}

/// Resolves the constraints source from the build args.
pub fn resolve(i: Inputs<'_>) -> Constraints {
    let loc = i.location.trim();
    if loc == CONSTRAINTS_NONE {
        return Constraints::None;
    }
    if loc.is_empty() {
        let reference = if i.reference.is_empty() {
            default_reference(i.airflow_version, i.github_branch)
        } else {
            i.reference.to_owned()
        };
        return Constraints::Url(format!(
            "https://raw.githubusercontent.com/{}/{reference}/constraints-{}.txt",
            i.repo, i.python
        ));
    }
    if let Some(path) = loc.strip_prefix("file://") {
        return Constraints::File(PathBuf::from(path));
    }
    if loc.starts_with("http://") || loc.starts_with("https://") {
        return Constraints::Url(loc.to_owned());
    }
    Constraints::File(PathBuf::from(loc))
}

/// The download command: the venv's Python fetches the URL (no curl needed in the base).
pub fn download_cmd(python: &Path, url: &str, dest: &Path, env: &[(String, String)]) -> Cmd {
    const SCRIPT: &str = "import sys, urllib.request\n\
        with urllib.request.urlopen(sys.argv[1], timeout=60) as r:\n    data = r.read()\n\
        open(sys.argv[2], 'wb').write(data)\n";
    Cmd::new(&python.display().to_string())
        .arg("-c")
        .arg(SCRIPT)
        .arg(url)
        .arg(dest.display().to_string())
        .envs(env)
}

/// Puts the effective constraints at `dest` (`~airflow/constraints.txt`). Returns whether a
/// constraints file is in force. An unreachable or missing file is an error, never a silent
/// unconstrained install.
pub fn fetch(
    exec: &mut dyn Exec,
    c: &Constraints,
    python: &Path,
    dest: &Path,
    env: &[(String, String)],
) -> Result<bool, InstallError> {
    let io = |e: std::io::Error| InstallError::Io {
        path: dest.to_path_buf(),
        source: e,
    };
    match c {
        Constraints::None => Ok(false),
        Constraints::File(src) => {
            if !src.is_file() {
                return Err(InstallError::ConstraintsMissing { path: src.clone() });
            }
            std::fs::copy(src, dest).map_err(io)?;
            Ok(true)
        }
        Constraints::Url(url) => {
            let tmp = dest.with_extension("txt.part");
            let done = exec
                .run(&download_cmd(python, url, &tmp, env))
                .map_err(|e| InstallError::Spawn {
                    program: python.display().to_string(),
                    source: e,
                })?;
            if done.code != 0 {
                let _ = std::fs::remove_file(&tmp);
                return Err(InstallError::ConstraintsUnreachable {
                    url: hangar_buildargs::mask_credentials(url),
                });
            }
            std::fs::rename(&tmp, dest).map_err(io)?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Finished, Recorder};

    fn inputs<'a>(location: &'a str, reference: &'a str) -> Inputs<'a> {
        Inputs {
            location,
            reference,
            repo: "apache/airflow",
            airflow_version: "3.3.2",
            python: "3.12",
            github_branch: None,
        }
    }

    #[test]
    fn resolves_reference_location_and_none() {
        assert_eq!(
            resolve(inputs("", "")),
            Constraints::Url("https://raw.githubusercontent.com/apache/airflow/constraints-3.3.2/constraints-3.12.txt".into())
        );
        assert_eq!(
            resolve(inputs("", "constraints-main")),
            Constraints::Url("https://raw.githubusercontent.com/apache/airflow/constraints-main/constraints-3.12.txt".into())
        );
        assert_eq!(resolve(inputs("none", "x")), Constraints::None);
        assert_eq!(
            resolve(inputs("/docker-context-files/c.txt", "")),
            Constraints::File("/docker-context-files/c.txt".into())
        );
        assert_eq!(
            resolve(inputs("file:///tmp/c.txt", "")),
            Constraints::File("/tmp/c.txt".into())
        );
        assert_eq!(
            resolve(inputs("https://h/c.txt", "")),
            Constraints::Url("https://h/c.txt".into())
        );
        assert_eq!(default_reference("", None), "constraints-main");
        assert_eq!(
            default_reference("3.3.2", Some("v2-10-test")),
            "constraints-2-10"
        );
        assert_eq!(default_reference("3.3.2", Some("main")), "constraints-main");
    }

    #[test]
    fn download_failure_is_an_error_naming_the_url_and_fixes() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("constraints.txt");
        let mut rec = Recorder::default();
        rec.replies.push_back(Finished {
            code: 1,
            stdout: String::new(),
        });
        let c = Constraints::Url("https://u:pw@h/c.txt".into());
        let err = fetch(&mut rec, &c, Path::new("/venv/bin/python"), &dest, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("https://u:***@h/c.txt"), "{err}");
        assert!(!err.contains("pw@"), "{err}");
        assert!(
            err.contains("AIRFLOW_CONSTRAINTS_LOCATION") && err.contains("none"),
            "{err}"
        );
        assert!(!dest.exists());
        let cmd = &rec.commands[0];
        assert_eq!(cmd.program, "/venv/bin/python");
        assert_eq!(cmd.args[2], "https://u:pw@h/c.txt");
        assert_eq!(
            cmd.args[3],
            dir.path()
                .join("constraints.txt.part")
                .display()
                .to_string()
        );
    }

    #[test]
    fn file_constraints_are_copied_and_missing_ones_fail() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("c.txt");
        std::fs::write(&src, "pendulum==3.0.0\n").unwrap();
        let dest = dir.path().join("constraints.txt");
        let mut rec = Recorder::default();
        assert!(
            fetch(
                &mut rec,
                &Constraints::File(src),
                Path::new("p"),
                &dest,
                &[]
            )
            .unwrap()
        );
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "pendulum==3.0.0\n");
        let err = fetch(
            &mut rec,
            &Constraints::File(dir.path().join("nope.txt")),
            Path::new("p"),
            &dest,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("nope.txt") && err.contains("DOCKER_CONTEXT_FILES"),
            "{err}"
        );
        assert!(!fetch(&mut rec, &Constraints::None, Path::new("p"), &dest, &[]).unwrap());
        assert!(rec.commands.is_empty());
    }
}

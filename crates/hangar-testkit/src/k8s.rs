//! Offline validation of Kubernetes manifests against the API's JSON schemas.
//!
//! [`validator`] returns a cached virtualenv with `kubernetes-validate` from PyPI, which ships
//! the JSON schemas of several Kubernetes versions (each also as a strict variant that rejects
//! unknown fields) and needs no cluster. [`Validator::validate`] runs it on manifest files and
//! returns its report; [`Report::problems`] lists every resource that did not pass, including
//! those it found no schema for (which the tool itself only warns about, exiting 0).
//!
//! ```no_run
//! let v = hangar_testkit::k8s::validator();
//! let report = v.validate(&[std::path::Path::new("deploy/kubernetes/worker.yaml")], &["1.33"]);
//! assert!(report.problems().is_empty(), "{}", report.output);
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `kubernetes-validate` release the tests pin. It ships the schemas of Kubernetes 1.33 to
/// 1.37.
pub const KUBERNETES_VALIDATE: &str = "1.37.0";

/// The oldest and the newest Kubernetes versions whose schemas that release ships.
pub const KUBERNETES_VERSIONS: [&str; 2] = ["1.33", "1.37"];

/// A ready virtualenv with `kubernetes-validate` installed.
#[derive(Debug, Clone)]
pub struct Validator {
    root: PathBuf,
}

/// What one run of `kubernetes-validate` said.
#[derive(Debug, Clone)]
pub struct Report {
    /// Its exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Its stdout and stderr, one line per resource and version.
    pub output: String,
}

impl Report {
    /// The lines that are not a pass (`ERROR`, `WARN` for a kind without a schema, `FATAL`,
    /// tracebacks), plus a line for a non-zero exit code.
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .output
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("INFO "))
            .map(str::to_owned)
            .collect();
        if self.code != Some(0) {
            problems.push(format!("exit code {:?}", self.code));
        }
        problems
    }

    /// The number of resources that passed (`INFO ... passed for resource ...` lines).
    pub fn passed(&self) -> usize {
        self.output
            .lines()
            .filter(|l| l.starts_with("INFO ") && l.contains(" passed for resource "))
            .count()
    }
}

impl Validator {
    /// The venv's `kubernetes-validate` script.
    pub fn program(&self) -> PathBuf {
        self.root.join("bin/kubernetes-validate")
    }

    /// Validates every document of every file strictly (unknown fields are errors) against
    /// the schemas of each of `versions` (e.g. `"1.33"`).
    pub fn validate(&self, files: &[&Path], versions: &[&str]) -> Report {
        let mut cmd = Command::new(self.program());
        cmd.arg("--strict");
        for v in versions {
            cmd.args(["-k", v]);
        }
        cmd.args(files);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.program().display()));
        Report {
            code: out.status.code(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
}

/// Returns the cached venv with `kubernetes-validate==KUBERNETES_VALIDATE`, made on first use
/// (`cache_dir("k8s-tools")`).
///
/// Panics with the command that installs what is missing when Python's `venv` module or PyPI
/// is unavailable.
pub fn validator() -> Validator {
    let requirement = format!("kubernetes-validate=={KUBERNETES_VALIDATE}");
    let root = crate::venvs::cached_venv(
        "k8s-tools",
        &format!("kubernetes-validate-{KUBERNETES_VALIDATE}"),
        &[&requirement],
        holds_validator,
    );
    Validator { root }
}

/// True when the venv at `root` has the script and the pinned release's dist-info.
fn holds_validator(root: &Path) -> bool {
    if !root.join("bin/kubernetes-validate").is_file() {
        return false;
    }
    std::fs::read_dir(root.join("lib")).is_ok_and(|dirs| {
        dirs.filter_map(Result::ok).any(|py| {
            py.path()
                .join("site-packages")
                .join(format!(
                    "kubernetes_validate-{KUBERNETES_VALIDATE}.dist-info"
                ))
                .is_dir()
        })
    })
}

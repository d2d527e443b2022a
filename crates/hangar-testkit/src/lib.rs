//! Test support for hangar's integration tests: real servers on loopback, cached Airflow
//! virtualenvs, a throwaway MIT KDC and cached base images.
//!
//! Nothing here is mocked: every helper starts or installs the real thing. A missing system
//! dependency is a test failure that names the command installing it, never a silent skip.

#![allow(clippy::print_stdout, clippy::print_stderr)] // tests report progress on the terminal
#![allow(clippy::missing_panics_doc)]

pub mod airflow;
pub mod certs;
pub mod daemon;
pub mod docker;
pub mod images;
pub mod k8s;
pub mod kdc;
pub mod qemu;
pub mod servers;
pub mod service_images;
pub mod venvs;

use std::path::PathBuf;
use std::process::{Command, Output};

/// Finds `program` on `PATH` or in the given extra directories, or panics with the `apt-get`
/// command that installs `package`.
pub fn require_program(program: &str, package: &str, extra_dirs: &[&str]) -> PathBuf {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path_var)
        .chain(extra_dirs.iter().map(PathBuf::from))
        .collect::<Vec<_>>();
    for dir in dirs {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{program}` is required by this test and was not found. Install it with: \
         apt-get update && apt-get install -y {package}"
    );
}

/// A directory under the workspace's cache (`$HANGAR_TEST_CACHE`, default
/// `~/.cache/hangar-tests`) that survives between test runs, for expensive artefacts such as
/// Airflow virtualenvs and base images.
pub fn cache_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("HANGAR_TEST_CACHE").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            PathBuf::from(home).join(".cache/hangar-tests")
        },
        PathBuf::from,
    );
    let dir = base.join(name);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create test cache dir {}: {e}", dir.display()));
    dir
}

/// Runs a one-off command to completion (stdin closed, output captured) and returns its
/// output, panicking with its status, stdout and stderr when it cannot start or fails.
pub fn run_checked(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

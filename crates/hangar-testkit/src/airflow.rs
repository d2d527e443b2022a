//! Cached virtualenvs of real Apache Airflow from PyPI.
//!
//! [`venv`] returns a virtualenv with `apache-airflow[postgres]==<version>` installed by pip
//! into `cache_dir("airflow-venvs")`. The first call builds it (about 45 s with a warm pip
//! cache); later calls, also from other test processes, reuse it.
//!
//! A virtualenv cannot be moved (its scripts name its interpreter by absolute path), so it is
//! built in a uniquely named directory `<key>.build-<nonce>` and published by atomically
//! renaming a symlink `<key>` onto it. A half-made venv is therefore never visible under
//! `<key>`, and builders in concurrent test processes are serialised with a lock file.
//!
//! The venv is created with Debian's `/usr/bin/python3` (not a pyenv shim on `PATH`).
//!
//! ```no_run
//! let af = hangar_testkit::airflow::venv(hangar_testkit::airflow::AIRFLOW_3);
//! assert!(af.airflow().is_file());
//! let path = af.path_with_bin(); // put the venv's bin first on PATH
//! # let _ = path;
//! ```

use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The Airflow 3 release the tests pin (latest 3.x on PyPI when written).
pub const AIRFLOW_3: &str = "3.3.2";
/// The Airflow 2 release the tests pin.
pub const AIRFLOW_2: &str = "2.10.5";

/// The pip the venvs are upgraded to before Airflow is installed (pinned, like everything the
/// tests install from PyPI).
const PIP_VERSION: &str = "25.1.1";

/// The interpreter used to create the venvs.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// A ready virtualenv with Apache Airflow installed.
#[derive(Debug, Clone)]
pub struct AirflowVenv {
    root: PathBuf,
    version: String,
}

impl AirflowVenv {
    /// The venv's root directory (what `VIRTUAL_ENV` would be).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The installed `apache-airflow` version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The venv's `bin` directory.
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// The venv's `python`.
    pub fn python(&self) -> PathBuf {
        self.bin_dir().join("python")
    }

    /// The venv's `airflow` script.
    pub fn airflow(&self) -> PathBuf {
        self.bin_dir().join("airflow")
    }

    /// The venv's `lib/pythonX.Y` directory name, e.g. `python3.11`.
    pub fn python_dir_name(&self) -> String {
        let lib = self.root.join("lib");
        let entries =
            fs::read_dir(&lib).unwrap_or_else(|e| panic!("cannot list {}: {e}", lib.display()));
        entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("python3."))
            .unwrap_or_else(|| panic!("no python3.* directory in {}", lib.display()))
    }

    /// The venv's `site-packages` directory.
    pub fn site_packages(&self) -> PathBuf {
        self.root
            .join("lib")
            .join(self.python_dir_name())
            .join("site-packages")
    }

    /// `PATH` with the venv's `bin` first, then the current `PATH`.
    pub fn path_with_bin(&self) -> OsString {
        let mut dirs = vec![self.bin_dir()];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs).expect("PATH entries contain no ':'")
    }
}

/// Returns the cached venv with `apache-airflow[postgres]==version`, building it on first use.
///
/// Panics with an actionable message when Python's `venv` module or PyPI is unavailable.
pub fn venv(version: &str) -> AirflowVenv {
    let base = crate::cache_dir("airflow-venvs");
    let key = format!("{version}-postgres");
    let published = base.join(&key);
    if let Some(v) = ready(&published, version) {
        return v;
    }
    let lock_path = base.join(format!("{key}.lock"));
    let lock = File::create(&lock_path)
        .unwrap_or_else(|e| panic!("cannot create lock file {}: {e}", lock_path.display()));
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("cannot lock {}: {e}", lock_path.display()));
    // Another process may have finished while we waited for the lock.
    if let Some(v) = ready(&published, version) {
        return v;
    }
    assert!(
        Path::new(SYSTEM_PYTHON).is_file(),
        "{SYSTEM_PYTHON} is required to build the Airflow test venv. Install it with: \
         apt-get update && apt-get install -y python3 python3-venv python3-pip"
    );
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let build = base.join(format!("{key}.build-{}-{nonce}", std::process::id()));
    run(
        Command::new(SYSTEM_PYTHON)
            .arg("-m")
            .arg("venv")
            .arg(&build),
        "python3 -m venv",
    );
    let py = build.join("bin/python");
    run(
        Command::new(&py)
            .args(["-m", "pip", "install", "-q"])
            .arg(format!("pip=={PIP_VERSION}")),
        "pip install pip",
    );
    run(
        Command::new(&py)
            .args(["-m", "pip", "install", "-q"])
            .arg(format!("apache-airflow[postgres]=={version}")),
        "pip install apache-airflow",
    );
    // Publish: a symlink renamed over `<key>` is atomic.
    let tmp_link = base.join(format!("{key}.link-{}", std::process::id()));
    let _ = fs::remove_file(&tmp_link);
    std::os::unix::fs::symlink(&build, &tmp_link)
        .unwrap_or_else(|e| panic!("cannot create symlink {}: {e}", tmp_link.display()));
    fs::rename(&tmp_link, &published)
        .unwrap_or_else(|e| panic!("cannot publish {}: {e}", published.display()));
    ready(&published, version).unwrap_or_else(|| {
        panic!(
            "the venv at {} was built but apache-airflow {version} is not in it",
            build.display()
        )
    })
}

/// The venv at `published` when it exists and holds `apache_airflow-<version>.dist-info`.
fn ready(published: &Path, version: &str) -> Option<AirflowVenv> {
    let root = fs::canonicalize(published).ok()?;
    let v = AirflowVenv {
        root,
        version: version.to_owned(),
    };
    if !v.airflow().is_file() {
        return None;
    }
    let lib = v.root.join("lib");
    let found = fs::read_dir(lib).ok()?.filter_map(Result::ok).any(|py| {
        py.path()
            .join("site-packages")
            .join(format!("apache_airflow-{version}.dist-info"))
            .is_dir()
    });
    found.then_some(v)
}

/// Runs a pip or venv step; PyPI must be reachable for the pip ones.
fn run(cmd: &mut Command, what: &str) {
    crate::run_checked(&format!("`{what}` (PyPI must be reachable)"), cmd);
}

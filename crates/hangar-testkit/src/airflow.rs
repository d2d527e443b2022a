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
use std::fs;
use std::path::{Path, PathBuf};

/// The Airflow 3 release the tests pin (latest 3.x on PyPI when written).
pub const AIRFLOW_3: &str = "3.3.2";
/// The Airflow 2 release the tests pin.
pub const AIRFLOW_2: &str = "2.10.5";

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
    let requirement = format!("apache-airflow[postgres]=={version}");
    let root = crate::venvs::cached_venv(
        "airflow-venvs",
        &format!("{version}-postgres"),
        &[&requirement],
        |root| holds_airflow(root, version),
    );
    AirflowVenv {
        root,
        version: version.to_owned(),
    }
}

/// True when the venv at `root` has the `airflow` script and `apache_airflow-<version>.dist-info`.
fn holds_airflow(root: &Path, version: &str) -> bool {
    if !root.join("bin/airflow").is_file() {
        return false;
    }
    fs::read_dir(root.join("lib")).is_ok_and(|dirs| {
        dirs.filter_map(Result::ok).any(|py| {
            py.path()
                .join("site-packages")
                .join(format!("apache_airflow-{version}.dist-info"))
                .is_dir()
        })
    })
}

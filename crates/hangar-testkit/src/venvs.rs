//! Cached Python virtualenvs for tests: made once per key with Debian's python3 and pinned
//! packages from PyPI, then reused by every later run.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// Debian's interpreter, which every cached venv is made with.
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// The pip every cached venv installs first, so resolution does not change under the tests.
const PIP_VERSION: &str = "25.1.1";

/// The venv `<cache>/<key>` (see [`crate::cache_dir`]), made on first use with
/// `python3 -m venv` and `pip install` of `packages` (pinned requirement strings); it is
/// reused when `ready(root)` holds.
///
/// A venv cannot be moved (its scripts name its interpreter by absolute path), so it is made
/// in a uniquely named directory and published by renaming a symlink onto the key, under an
/// exclusive lock: a half-made venv is never used, and concurrent first runs make one venv.
///
/// Panics with an actionable message when python3's `venv` module or PyPI is unavailable, and
/// when the venv it made does not satisfy `ready`.
pub fn cached_venv(
    cache: &str,
    key: &str,
    packages: &[&str],
    ready: impl Fn(&Path) -> bool,
) -> PathBuf {
    let base = crate::cache_dir(cache);
    let published = base.join(key);
    let usable = || fs::canonicalize(&published).ok().filter(|root| ready(root));
    if let Some(root) = usable() {
        return root;
    }
    let lock_path = base.join(format!("{key}.lock"));
    let lock = File::create(&lock_path)
        .unwrap_or_else(|e| panic!("cannot create lock file {}: {e}", lock_path.display()));
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("cannot lock {}: {e}", lock_path.display()));
    // Another process may have finished while we waited for the lock.
    if let Some(root) = usable() {
        return root;
    }
    assert!(
        Path::new(SYSTEM_PYTHON).is_file(),
        "{SYSTEM_PYTHON} is required to make the test venv {key}. Install it with: \
         apt-get update && apt-get install -y python3 python3-venv python3-pip"
    );
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let build = base.join(format!("{key}.build-{}-{nonce}", std::process::id()));
    run(
        Command::new(SYSTEM_PYTHON).args(["-m", "venv"]).arg(&build),
        "python3 -m venv",
    );
    let pip = || {
        let mut c = Command::new(build.join("bin/python"));
        c.args(["-m", "pip", "install", "-q", "--disable-pip-version-check"]);
        c
    };
    run(pip().arg(format!("pip=={PIP_VERSION}")), "pip install pip");
    run(
        pip().args(packages),
        &format!("pip install {}", packages.join(" ")),
    );
    assert!(
        ready(&build),
        "the venv at {} was made but does not hold {}",
        build.display(),
        packages.join(" ")
    );
    // Publish: a symlink renamed over `<key>` is atomic.
    let link = base.join(format!("{key}.link-{}-{nonce}", std::process::id()));
    std::os::unix::fs::symlink(&build, &link)
        .unwrap_or_else(|e| panic!("cannot create symlink {}: {e}", link.display()));
    fs::rename(&link, &published)
        .unwrap_or_else(|e| panic!("cannot publish {}: {e}", published.display()));
    build
}

/// Runs a venv or pip step; PyPI must be reachable for the pip ones.
fn run(cmd: &mut Command, what: &str) {
    crate::run_checked(&format!("`{what}` (PyPI must be reachable)"), cmd);
}

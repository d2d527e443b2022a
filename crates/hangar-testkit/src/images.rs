//! Real image builds for tests: buildah, podman and `hangar build` in a container store of
//! their own (overlay, see [`storage_conf`]) with chroot isolation, a cached Debian base image
//! made by `hangar base` (debootstrap), constraints files generated
//! from a host virtualenv (the upstream ones live on GitHub, unreachable here), and cleanup of
//! what the tests created.
//!
//! ```no_run
//! hangar_testkit::images::ensure_base_image();
//! let constraints = hangar_testkit::images::constraints_file("3.3.2", "postgres,celery,redis");
//! let out = hangar_testkit::images::podman().args(["images"]).output().unwrap();
//! # let _ = (constraints, out);
//! ```

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

use crate::{cache_dir, require_program};

/// The cached base image: Debian bookworm minbase with python3, venv, pip, ca-certificates.
pub const BASE_IMAGE: &str = "localhost/python-base:bookworm";
/// The Python `major.minor` of [`BASE_IMAGE`] (Debian bookworm's python3).
pub const BASE_PYTHON: &str = "3.11";
/// The host's CA bundle: pip inside a build step reaches PyPI only with it.
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

const SBIN: &[&str] = &["/usr/sbin", "/sbin"];

/// Writes `body` to `path` unless it already holds exactly that (temp file + rename).
fn publish(path: &Path, body: &str) {
    if fs::read_to_string(path).ok().as_deref() == Some(body) {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, body).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("publish {}: {e}", path.display()));
}

/// The `storage.conf` of the tests' container store, for `CONTAINERS_STORAGE_CONF`: the
/// overlay driver (native overlayfs as root, about twice as fast as vfs for Airflow builds),
/// see [`private_store`].
pub fn storage_conf() -> PathBuf {
    private_store("images", "overlay")
}

/// Writes the `storage.conf` of a container store of its own named `name`, with `driver`, and
/// returns its path for `CONTAINERS_STORAGE_CONF`: the graph root under the test cache (podman's
/// state database lives there too), the run root `/run/hangar-<name>`. buildah, podman and
/// `hangar build` all read it, so they share the store's images, and nothing a user's or
/// another tool's store holds (a driver recorded earlier, podman's state database) can change
/// which driver they use.
pub fn private_store(name: &str, driver: &str) -> PathBuf {
    let dir = cache_dir(name);
    let runroot = PathBuf::from(format!("/run/hangar-{name}")); // podman wants a short path
    fs::create_dir_all(&runroot).expect("create the store's run root");
    let conf = dir.join("storage.conf");
    let body = format!(
        "[storage]\ndriver = \"{driver}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
        dir.join(format!("{driver}-store")).display(),
        runroot.display()
    );
    publish(&conf, &body);
    conf
}

/// `buildah` on the tests' store, [`storage_conf`] (fails the test with the install command
/// when missing).
pub fn buildah() -> Command {
    let program = require_program("buildah", "buildah", SBIN);
    let mut c = Command::new(program);
    c.env("CONTAINERS_STORAGE_CONF", storage_conf());
    c
}

/// `podman` on the tests' store, [`storage_conf`], with a `containers.conf` that works here
/// (runc, no ulimits, no pids limit). Its state database lives under the store's graph root.
/// Use `run --rm --runtime runc --network host`, see [`podman_run`].
pub fn podman() -> Command {
    let program = require_program("podman", "podman", SBIN);
    require_program("runc", "runc", SBIN);
    let conf = cache_dir("images").join("containers.conf");
    publish(
        &conf,
        "[containers]\ndefault_ulimits = []\npids_limit = 0\n",
    );
    let mut c = Command::new(program);
    c.env("CONTAINERS_CONF", conf)
        .env("CONTAINERS_STORAGE_CONF", storage_conf());
    c
}

/// `podman run --rm --runtime runc --network host [extra…] IMAGE [args…]`, captured.
pub fn podman_run(image: &str, extra: &[&str], args: &[&str]) -> Output {
    podman()
        .args(["run", "--rm", "--runtime", "runc", "--network", "host"])
        .args(extra)
        .arg(image)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podman")
}

/// Serialises image builds of one test process: the machine has two cores and vfs builds
/// copy whole filesystems, so parallel builds only slow each other down.
pub fn build_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// True when `buildah images` lists `name` (e.g. `localhost/python-base:bookworm`).
pub fn image_exists(name: &str) -> bool {
    let out = buildah()
        .args(["images", "--format", "{{.Name}}:{{.Tag}}"])
        .output()
        .expect("run buildah images");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == name)
}

/// The Debian mirror of this machine: the first `URIs:` of `debian.sources`, read at run time.
pub fn debian_mirror() -> String {
    let sources = "/etc/apt/sources.list.d/debian.sources";
    let text = fs::read_to_string(sources).unwrap_or_else(|e| panic!("cannot read {sources}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `URIs:` line in {sources}"))
        .to_owned()
}

/// Makes [`BASE_IMAGE`] with `hangar base` (debootstrap from this machine's Debian mirror)
/// unless `buildah images` already lists it (about a minute and 300 MB the first time).
/// Serialised across test processes with a lock file.
pub fn ensure_base_image() {
    if image_exists(BASE_IMAGE) {
        return;
    }
    require_program("debootstrap", "debootstrap", SBIN);
    let dir = cache_dir("images");
    let lock = File::create(dir.join("base.lock")).expect("create base image lock");
    nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map(|guard| {
            if !image_exists(BASE_IMAGE) {
                build_base_image();
            }
            drop(guard);
        })
        .unwrap_or_else(|(_, e)| panic!("cannot lock {}: {e}", dir.join("base.lock").display()));
}

/// The hangar binary of the test run: `target/<profile>/hangar`, beside the `deps/` folder of
/// the running test executable (cargo builds it for the `hangar` crate's integration tests,
/// the only ones that make images).
pub fn hangar_exe() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let hangar = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("hangar"))
        .expect("target/<profile>/ above the test executable");
    assert!(
        hangar.is_file(),
        "{} is missing: run image tests through `cargo test -p hangar`, which builds it",
        hangar.display()
    );
    hangar
}

fn build_base_image() {
    check(
        Command::new(hangar_exe())
            .env("CONTAINERS_STORAGE_CONF", storage_conf())
            .env("BUILDAH_ISOLATION", "chroot")
            .args([
                "base",
                "--engine",
                "buildah",
                "--progress",
                "plain",
                "--mirror",
            ])
            .arg(debian_mirror())
            .args(["--tag", BASE_IMAGE])
            .stdin(Stdio::null()),
        "hangar base (the test kit's base image)",
    );
}

/// A Rust build image for the Dockerfile's `hangar-from-build` stage (`RUST_IMAGE`), since no
/// `rust:` image can be pulled here: [`BASE_IMAGE`] with Debian's gcc and libc headers, and
/// this host's Rust toolchain (rustc, cargo, the x86_64 standard library) in /usr/local/rust.
pub const RUST_IMAGE: &str = "localhost/rust-base:bookworm";

/// Makes [`RUST_IMAGE`] once (cached like the base image).
pub fn ensure_rust_image() {
    if image_exists(RUST_IMAGE) {
        return;
    }
    ensure_base_image();
    let dir = cache_dir("images");
    let lock = File::create(dir.join("rust.lock")).expect("create Rust image lock");
    let guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("cannot lock {}: {e}", dir.join("rust.lock").display()));
    if !image_exists(RUST_IMAGE) {
        build_rust_image();
    }
    drop(guard);
}

fn build_rust_image() {
    let sysroot = stdout_of(
        Command::new("rustc").args(["--print", "sysroot"]),
        "rustc --print sysroot (the tests run under cargo, so rustc is on PATH)",
    );
    let ctr = stdout_of(
        buildah().args(["from", "--pull-never", BASE_IMAGE]),
        "buildah from the base image",
    );
    check(
        buildah()
            .args(["run", "--isolation", "chroot", &ctr, "--"])
            .args([
                "sh",
                "-c",
                "apt-get update -q && apt-get install -y -q --no-install-recommends gcc \
                 libc6-dev && rm -rf /var/lib/apt/lists/*",
            ]),
        "apt-get install gcc in the Rust image",
    );
    let mnt = stdout_of(buildah().args(["mount", &ctr]), "buildah mount");
    let target = "lib/rustlib/x86_64-unknown-linux-gnu";
    check(
        Command::new("sh").args([
            "-c",
            "set -eu; mkdir -p \"$2/usr/local/rust/bin\" \"$2/usr/local/rust/lib/rustlib\"; \
                 cp -a \"$1/bin/rustc\" \"$1/bin/cargo\" \"$2/usr/local/rust/bin/\"; \
                 cp -a \"$1\"/lib/*.so* \"$2/usr/local/rust/lib/\"; \
                 cp -a \"$1/$3\" \"$2/usr/local/rust/lib/rustlib/\"",
            "sh",
            &sysroot,
            &mnt,
            target,
        ]),
        "copy the Rust toolchain into the image",
    );
    check(
        buildah().args([
            "config",
            "--env",
            "PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env",
            "CARGO_HOME=/usr/local/cargo",
            &ctr,
        ]),
        "buildah config of the Rust image",
    );
    check(
        buildah().args(["commit", "--rm", &ctr, RUST_IMAGE]),
        "buildah commit of the Rust image",
    );
}

/// `buildah run --isolation chroot CTR -- CMD…` (no ENTRYPOINT applied).
pub fn run_in_container(ctr: &str, cmd: &[&str]) -> Output {
    buildah()
        .args(["run", "--isolation", "chroot", ctr, "--"])
        .args(cmd)
        .output()
        .expect("buildah run")
}

/// Runs `cmd` in a working container of `image` (no ENTRYPOINT applied), then removes it.
pub fn run_in_image(image: &str, cmd: &[&str]) -> Output {
    let ctr = stdout_of(buildah().args(["from", image]), "buildah from");
    let out = run_in_container(&ctr, cmd);
    let _ = buildah().args(["rm", &ctr]).output();
    out
}

/// A constraints file for `apache-airflow[extras]==version` on this host's Python (the same
/// `major.minor` as [`BASE_IMAGE`]): `pip freeze` of a cached host virtualenv, without the
/// `apache-airflow` line itself. Upstream's files are on GitHub, which tests cannot reach.
pub fn constraints_file(version: &str, extras: &str) -> PathBuf {
    let dir = cache_dir("image-constraints");
    let key = format!("{version}-{}", extras.replace(',', "_"));
    let published = dir.join(format!("constraints-{key}.txt"));
    if published.is_file() {
        return published;
    }
    let lock = File::create(dir.join(format!("{key}.lock"))).expect("create constraints lock");
    let guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("cannot lock constraints for {key}: {e}"));
    if !published.is_file() {
        let venv = tempfile::Builder::new()
            .prefix("venv-")
            .tempdir_in(&dir)
            .expect("venv temp dir");
        check(
            Command::new("/usr/bin/python3")
                .args(["-m", "venv"])
                .arg(venv.path()),
            "create a host venv",
        );
        let pip = venv.path().join("bin/pip");
        check(
            Command::new(&pip)
                .args(["install", "-q", "--disable-pip-version-check"])
                .arg(format!("apache-airflow[{extras}]=={version}")),
            "pip install Airflow into the host venv (needs PyPI)",
        );
        let frozen = stdout_of(
            Command::new(&pip).args(["freeze", "--exclude-editable"]),
            "pip freeze",
        );
        let body: String = frozen
            .lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("apache-airflow=="))
            .map(|l| format!("{l}\n"))
            .collect();
        publish(&published, &body);
    }
    drop(guard);
    published
}

/// The `apache-airflow` wheel of `version` from PyPI (`pip download`, no dependencies), cached
/// under the test cache: an Airflow distribution for builds from local sources.
pub fn airflow_wheel(version: &str) -> PathBuf {
    let dir = cache_dir("airflow-wheels");
    let name = format!("apache_airflow-{version}-py3-none-any.whl");
    let wheel = dir.join(&name);
    if wheel.is_file() {
        return wheel;
    }
    let tmp = tempfile::Builder::new()
        .prefix("download-")
        .tempdir_in(&dir)
        .expect("download temp dir");
    check(
        Command::new("/usr/bin/python3")
            .args([
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary",
                ":all:",
            ])
            .args(["--disable-pip-version-check", "-d"])
            .arg(tmp.path())
            .arg(format!("apache-airflow=={version}")),
        "pip download the Airflow wheel (needs PyPI; apt-get install -y python3-pip)",
    );
    fs::rename(tmp.path().join(&name), &wheel)
        .unwrap_or_else(|e| panic!("pip download did not leave {name}: {e}"));
    wheel
}

/// Writes a CA bundle: the host's bundle with `marker` as a comment line before it (PEM
/// parsers ignore text outside certificates), so tests can look for it in image layers.
pub fn marked_ca_bundle(dir: &Path, marker: &str) -> PathBuf {
    let host = fs::read_to_string(HOST_CA_BUNDLE).unwrap_or_else(|e| {
        panic!("cannot read {HOST_CA_BUNDLE}: {e}; apt-get install -y ca-certificates")
    });
    let path = dir.join("ca-bundle.pem");
    fs::write(&path, format!("# {marker}\n{host}")).expect("write CA bundle");
    path
}

/// Removes a tagged image when dropped (and the dangling layers of this process's builds
/// with [`prune_dangling`]).
#[derive(Debug)]
pub struct ImageGuard {
    pub name: String,
}

impl ImageGuard {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
        }
    }
}

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = buildah()
            .args(["rmi", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Removes untagged (dangling) images, the layer cache of `--layers` builds. The cached base
/// image is tagged and stays; working containers are left alone (the tests' builds use
/// `--force-rm`, and a concurrent build keeps its own).
pub fn prune_dangling() {
    let _ = buildah()
        .args(["rmi", "--prune"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// An image's config as JSON text (`buildah inspect --type image`).
pub fn inspect(image: &str) -> String {
    stdout_of(
        buildah().args(["inspect", "--type", "image", image]),
        "buildah inspect",
    )
}

/// Runs `cmd` and panics with its output when it fails.
pub fn check(cmd: &mut Command, what: &str) {
    crate::run_checked(what, cmd);
}

/// Runs `cmd` and returns its trimmed stdout, panicking when it fails.
pub fn stdout_of(cmd: &mut Command, what: &str) -> String {
    let out = crate::run_checked(what, cmd);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

//! The hangar wheel: built with maturin, installed with pip into a fresh venv, and run.
//!
//! maturin and uv come from PyPI at pinned versions into a venv cached under
//! `cache_dir("wheel-tools")`. The wheel is built from the repository's `pyproject.toml` with the
//! dev profile (releases use `maturin build --release`) into its own cargo target directory,
//! `target/wheel`, so it neither waits on nor invalidates the test build; a second run reuses
//! that directory and only relinks. Installing the wheel needs no network.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hangar_testkit::venvs::SYSTEM_PYTHON;

use super::build_frontend::{clean_env, text};

/// The maturin that builds the wheel (pinned, like everything the tests install from PyPI).
const MATURIN_VERSION: &str = "1.16.0";
/// The uv whose `uv tool install` is checked next to pip's.
const UV_VERSION: &str = "0.13.9";
/// The newest glibc the wheel's platform tag may name: Debian 12's.
const NEWEST_GLIBC_MINOR: u32 = 36;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[test]
fn wheel_installs_with_pip_and_uv_and_runs() {
    let tools = tools_venv();
    let work = tempfile::tempdir().unwrap();
    let wheel = build_wheel(&tools, &work.path().join("wheels"));
    check_wheel_name(&wheel);

    // pip, into a fresh venv.
    let venv = work.path().join("venv");
    run(
        Command::new(SYSTEM_PYTHON).args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--no-index", "--disable-pip-version-check", "-q"])
            .arg(&wheel),
        "pip install <wheel>",
    );
    let hangar = venv.join("bin/hangar");
    assert!(hangar.is_file(), "pip installed no {}", hangar.display());
    check_metadata(&venv.join("bin/python"));
    check_links_like_test_binary(&hangar);
    check_runs(&hangar, work.path());

    // uv tool install, with its own tool and cache directories and this machine's Python.
    let uv = work.path().join("uv");
    run(
        Command::new(tools.join("bin/uv"))
            .args(["tool", "install", "--offline", "--python", SYSTEM_PYTHON])
            .arg(&wheel)
            .env("UV_TOOL_DIR", uv.join("tools"))
            .env("UV_TOOL_BIN_DIR", uv.join("bin"))
            .env("UV_CACHE_DIR", uv.join("cache"))
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env_remove("VIRTUAL_ENV"),
        "uv tool install <wheel>",
    );
    check_runs(&uv.join("bin/hangar"), work.path());
}

/// The cached venv holding the pinned maturin and uv, made on first use.
fn tools_venv() -> PathBuf {
    let maturin = format!("maturin=={MATURIN_VERSION}");
    let uv = format!("uv=={UV_VERSION}");
    hangar_testkit::venvs::cached_venv(
        "wheel-tools",
        &format!("maturin-{MATURIN_VERSION}-uv-{UV_VERSION}"),
        &[&maturin, &uv],
        |root| root.join("bin/maturin").is_file() && root.join("bin/uv").is_file(),
    )
}

/// Builds the wheel into `out` and returns its path.
fn build_wheel(tools: &Path, out: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("wheel");
    run(
        Command::new(tools.join("bin/maturin"))
            .args(["build", "--profile", "dev", "--strip", "--locked"])
            .arg("--target-dir")
            .arg(&target)
            .arg("--out")
            .arg(out)
            .current_dir(&root)
            .env_remove("CARGO_TARGET_DIR"),
        "maturin build",
    );
    let wheels: Vec<PathBuf> = fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    assert_eq!(wheels.len(), 1, "expected one wheel in {}", out.display());
    wheels.into_iter().next().unwrap()
}

/// `hangar-<version>-py3-none-manylinux_2_NN_<arch>.whl`, with a glibc no newer than Debian 12's.
fn check_wheel_name(wheel: &Path) {
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let arch = std::env::consts::ARCH;
    let glibc = name
        .strip_prefix(&format!("hangar-{VERSION}-py3-none-manylinux_2_"))
        .and_then(|rest| rest.strip_suffix(&format!("_{arch}.whl")))
        .and_then(|minor| minor.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("unexpected wheel name {name}"));
    assert!(
        glibc <= NEWEST_GLIBC_MINOR,
        "the wheel needs glibc 2.{glibc}, newer than Debian 12's 2.{NEWEST_GLIBC_MINOR}: {name}"
    );
}

/// The installed distribution's metadata: Cargo's description, the licence and Python range.
fn check_metadata(python: &Path) {
    let out = run(
        Command::new(python).args([
            "-c",
            "import importlib.metadata as m; print(m.distribution('hangar').read_text('METADATA'))",
        ]),
        "read the installed METADATA",
    );
    let metadata = text(&out.stdout);
    for line in [
        "Name: hangar".to_owned(),
        format!("Version: {VERSION}"),
        format!("Summary: {}", env!("CARGO_PKG_DESCRIPTION")),
        "License-Expression: Apache-2.0".to_owned(),
        "Requires-Python: >=3.9".to_owned(),
        "Classifier: Programming Language :: Rust".to_owned(),
    ] {
        assert!(
            metadata.lines().any(|l| l == line),
            "no `{line}` in METADATA:\n{metadata}"
        );
    }
}

/// The wheel's binary needs at load time exactly the libraries the test binary needs, which
/// `linkage` holds to glibc.
fn check_links_like_test_binary(binary: &Path) {
    let wheel = needed(binary);
    assert!(
        wheel.iter().any(|n| n == "libc.so.6"),
        "expected a dynamically linked glibc binary, NEEDED = {wheel:?}"
    );
    assert_eq!(
        wheel,
        needed(Path::new(env!("CARGO_BIN_EXE_hangar"))),
        "the wheel's hangar links other libraries than the tested binary"
    );
}

/// The sorted `NEEDED` entries of `binary`'s dynamic section.
fn needed(binary: &Path) -> Vec<String> {
    let readelf = hangar_testkit::require_program("readelf", "binutils", &[]);
    let out = run(
        Command::new(readelf)
            .args(["--dynamic", "--wide"])
            .arg(binary),
        "readelf",
    );
    let mut libs: Vec<String> = text(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split('[').nth(1)?.split(']').next()?.to_owned()))
        .collect();
    libs.sort();
    libs
}

/// `hangar --version`, and a buildah dry run in a fresh directory that prints the engine
/// command, puts the installed binary into the context and runs no engine (a fake `buildah`
/// first on `PATH` records any call).
fn check_runs(hangar: &Path, work: &Path) {
    let out = run(Command::new(hangar).arg("--version"), "hangar --version");
    assert_eq!(text(&out.stdout).trim(), format!("hangar {VERSION}"));

    let dir = tempfile::tempdir_in(work).unwrap();
    let bin = dir.path().join("fakebin");
    fs::create_dir(&bin).unwrap();
    let called = dir.path().join("buildah-called");
    let fake = bin.join("buildah");
    fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 1\n", called.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();

    let mut cmd = Command::new(hangar);
    clean_env(&mut cmd);
    let out = run(
        cmd.args(["build", "--dry-run", "--engine", "buildah"])
            .args(["-t", "my/airflow:wheel"])
            .current_dir(dir.path())
            .env("PATH", path),
        "hangar build --dry-run --engine buildah",
    );
    let stdout = text(&out.stdout);
    let command = stdout
        .lines()
        .find_map(|l| l.strip_prefix("command: "))
        .unwrap_or_else(|| panic!("no command line in:\n{stdout}"));
    assert!(command.starts_with("buildah bud "), "{stdout}");
    assert!(command.contains("-t my/airflow:wheel"), "{stdout}");
    let installed = fs::canonicalize(hangar).unwrap();
    assert!(
        stdout.contains(&format!(".hangar/amd64/hangar <- {}", installed.display())),
        "the context must carry the installed binary:\n{stdout}"
    );
    assert!(
        !called.exists(),
        "a dry run ran buildah: {}",
        fs::read_to_string(&called).unwrap_or_default()
    );
}

/// Runs `cmd` with stdin closed; its output is shown only when it fails.
fn run(cmd: &mut Command, what: &str) -> Output {
    hangar_testkit::run_checked(what, cmd.stdin(std::process::Stdio::null()))
}

//! `hangar build` through the binary, with no engine run: exact engine command lines in
//! `--dry-run`, option precedence, and validation before any engine runs (fast tier). Real
//! builds of a tiny image are in `build_real`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) const HANGAR: &str = env!("CARGO_BIN_EXE_hangar");

/// `hangar build` run in `dir` with none of the caller's hangar/buildah settings.
pub(crate) fn hangar_build(dir: &Path) -> Command {
    let mut cmd = Command::new(HANGAR);
    cmd.arg("build").current_dir(dir);
    clean_env(&mut cmd);
    cmd
}

/// Removes the caller's hangar, buildah and reproducibility settings from `cmd`.
pub(crate) fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("HANGAR_")
            || k.starts_with("BUILDAH_")
            || k == "SOURCE_DATE_EPOCH"
            || k == "STORAGE_DRIVER"
        {
            cmd.env_remove(k);
        }
    }
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn command_line(out: &Output) -> String {
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "hangar failed: {}\n{stdout}",
        text(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("command: "))
        .unwrap_or_else(|| panic!("no command line in:\n{stdout}"))
        .to_owned()
}

const COMMON_ARGS: [&str; 7] = [
    "--dry-run",
    "--python",
    "3.12",
    "--install-airflow-version",
    "3.1.0",
    "-t",
    "my/airflow:3.1.0",
];

/// `SOURCE_DATE_EPOCH` set by the dry-run tests: a fixed creation date and, for buildah and
/// podman, `--timestamp`.
const EPOCH: &str = "1700000000";

const EXPECTED_BUILD_ARGS: &str = "--build-arg AIRFLOW_IMAGE_DATE_CREATED=2023-11-14T22:13:20Z \
    --build-arg AIRFLOW_INSTALLATION_METHOD=apache-airflow \
    --build-arg AIRFLOW_VERSION=3.1.0 --build-arg HANGAR_BINARY_SOURCE=context \
    --build-arg PYTHON_BASE_IMAGE=python:3.12-slim-bookworm --build-arg PYTHON_MAJOR_MINOR_VERSION=3.12 \
    --build-arg SOURCE_DATE_EPOCH=1700000000";

const EXPECTED_TAIL: &str = "--iidfile '<work>/image-id' -t my/airflow:3.1.0 -f '<work>/context/Dockerfile' '<work>/context'";

/// `hangar build --dry-run` for `engine` with the common arguments, with `path` as `PATH`
/// when given.
fn dry_run(engine: &str, path: Option<&Path>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hangar_build(dir.path());
    cmd.env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["--engine", engine])
        .args(COMMON_ARGS);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.output().unwrap()
}

/// The engine command `hangar build --dry-run` prints for `engine` with the common arguments.
fn dry_run_command(engine: &str) -> String {
    command_line(&dry_run(engine, None))
}

/// A directory holding a fake `docker` client: `docker buildx version` answers when
/// `buildx`, `docker --version` prints `version`.
fn fake_docker_client(dir: &Path, buildx: bool, version: &str) -> PathBuf {
    let bin = dir.join("docker-bin");
    fs::create_dir_all(&bin).unwrap();
    let p = bin.join("docker");
    fs::write(
        &p,
        format!(
            "#!/bin/sh
             case \"$1\" in
             buildx) exit {} ;;
             --version) echo '{version}' ;;
             *) exit 1 ;;
             esac
",
            if buildx { 0 } else { 1 }
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn dry_run_buildah_command_is_exact() {
    assert_eq!(
        dry_run_command("buildah"),
        format!(
            "buildah bud --layers --force-rm --format docker --timestamp {EPOCH} {EXPECTED_BUILD_ARGS} {EXPECTED_TAIL}"
        )
    );
}

#[test]
fn dry_run_podman_command_is_exact() {
    assert_eq!(
        dry_run_command("podman"),
        format!(
            "podman build --layers --force-rm --format docker --timestamp {EPOCH} {EXPECTED_BUILD_ARGS} {EXPECTED_TAIL}"
        )
    );
}

#[test]
fn dry_run_docker_buildx_command_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_docker_client(dir.path(), true, "Docker version 28.2.2, build e6534b4");
    let out = dry_run("docker", Some(&bin));
    assert!(
        text(&out.stdout).starts_with("engine: docker (docker buildx build; flag --engine)\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        command_line(&out),
        format!(
            "docker buildx build --load --progress=plain {EXPECTED_BUILD_ARGS} {EXPECTED_TAIL}"
        )
    );
}

/// A client older than 23.0 without buildx (Debian's docker.io) builds with the daemon's
/// embedded BuildKit: `DOCKER_BUILDKIT=1 docker build`, no `--load`, plain `--secret id=`.
#[test]
fn dry_run_docker_embedded_buildkit_command_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_docker_client(
        dir.path(),
        false,
        "Docker version 20.10.24+dfsg1, build 297e128",
    );
    let out = dry_run("docker", Some(&bin));
    assert!(
        text(&out.stdout)
            .starts_with("engine: docker (docker build, embedded BuildKit; flag --engine)\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        command_line(&out),
        format!(
            "DOCKER_BUILDKIT=1 docker build --progress=plain {EXPECTED_BUILD_ARGS} {EXPECTED_TAIL}"
        )
    );
}

/// A client from 23.0 on without buildx cannot build: the error names both ways out.
#[test]
fn docker_client_that_cannot_build_names_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_docker_client(dir.path(), false, "Docker version 28.2.2, build e6534b4");
    let out = dry_run("docker", Some(&bin));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [
        "Docker version 28.2.2",
        "docker-buildx-plugin",
        "apt-get install docker.io",
    ] {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    }

    let out = dry_run("docker", Some(Path::new("/nonexistent")));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no working `docker` client") && stderr.contains("docker.io"),
        "{stderr}"
    );
}

#[test]
fn dry_run_shows_engine_settings_secrets_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("corp-ca.pem");
    fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let files = dir.path().join("files");
    fs::create_dir(&files).unwrap();
    let out = hangar_build(dir.path())
        .env("HANGAR_ENGINE", "buildah")
        .env("HANGAR_STORAGE_DRIVER", "vfs")
        .env("BUILDAH_ISOLATION", "chroot")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "--dry-run",
            "--ca-bundle",
            "corp-ca.pem",
            "--context-files",
            "files",
        ])
        .args([
            "--engine-arg",
            "--jobs=2",
            "--target",
            "airflow-build-image",
        ])
        .output()
        .unwrap();
    let ca_abs = ca.display().to_string();
    assert_eq!(
        command_line(&out),
        format!(
            "buildah --storage-driver vfs bud --layers --force-rm --format docker --isolation chroot \
             --timestamp 1700000000 --build-arg AIRFLOW_IMAGE_DATE_CREATED=2023-11-14T22:13:20Z \
             --build-arg DOCKER_CONTEXT_FILES=docker-context-files \
             --build-arg HANGAR_BINARY_SOURCE=context --build-arg SOURCE_DATE_EPOCH=1700000000 \
             --secret id=hangar-ca,src={ca_abs} \
             --iidfile '<work>/image-id' --target airflow-build-image --jobs=2 \
             -f '<work>/context/Dockerfile' '<work>/context'"
        )
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("engine: buildah (environment variable HANGAR_ENGINE)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("hangar-ca <- {ca_abs}  (flag --ca-bundle)")),
        "{stdout}"
    );
    assert!(
        stdout.contains("docker-context-files/ <- files"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(".hangar/amd64/hangar <- {HANGAR}")),
        "{stdout}"
    );
    // The CA bundle's content never appears, only its path.
    assert!(!stdout.contains("MIIBfake"), "{stdout}");
}

/// Index URLs with a token are secrets: the command line mounts them from the work directory
/// (never the context), the description names them, and the token is printed nowhere.
#[test]
fn index_urls_are_secrets_and_their_token_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = hangar_build(dir.path())
        .env("HANGAR_ENGINE", "buildah")
        .env("HANGAR_PIP_EXTRA_INDEX_URL", "https://extra.example/simple")
        .args([
            "--dry-run",
            "--pip-index-url",
            "https://__token__:tok-9f3a@pypi.corp.example/simple",
        ])
        .output()
        .unwrap();
    let line = command_line(&out);
    assert!(
        line.contains(
            "--secret 'id=pip-index-url,src=<work>/secrets/pip-index-url' \
             --secret 'id=pip-extra-index-url,src=<work>/secrets/pip-extra-index-url'"
        ),
        "{line}"
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !all.contains("tok-9f3a") && !all.contains("extra.example"),
        "{all}"
    );
    assert!(
        all.contains("pip-index-url <- written by hangar, not shown  (flag --pip-index-url)"),
        "{all}"
    );
    assert!(
        all.contains(
            "pip-extra-index-url <- written by hangar, not shown  (environment variable HANGAR_PIP_EXTRA_INDEX_URL)"
        ),
        "{all}"
    );
}

/// flag > env > file > default, shown per build arg with its origin.
#[test]
fn precedence_flag_over_env_over_file_over_default() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("hangar.toml"),
        r#"
engine = "podman"
python = "3.10"
extras = "celery"
additional-python-deps = "rich"
additional-runtime-apt-deps = "vim"
tag = ["from-file:1"]

[build-args]
AIRFLOW_UID = "50001"
"#,
    )
    .unwrap();
    let out = hangar_build(dir.path())
        .env("HANGAR_PYTHON", "3.11")
        .env("HANGAR_EXTRAS", "postgres")
        .env("HANGAR_ENGINE", "buildah")
        .args(["--dry-run", "--python", "3.12"])
        .output()
        .unwrap();
    let cmd = command_line(&out);
    let stdout = text(&out.stdout);
    // Flag beats env and file.
    assert!(
        cmd.contains("--build-arg PYTHON_MAJOR_MINOR_VERSION=3.12"),
        "{cmd}"
    );
    assert!(
        stdout.contains("PYTHON_MAJOR_MINOR_VERSION  = \"3.12\"  (flag --python)"),
        "{stdout}"
    );
    // Env beats file.
    assert!(cmd.starts_with("buildah bud"), "{cmd}");
    assert!(cmd.contains("--build-arg AIRFLOW_EXTRAS=postgres"), "{cmd}");
    assert!(
        stdout.contains("(environment variable HANGAR_EXTRAS)"),
        "{stdout}"
    );
    // File beats default.
    assert!(
        cmd.contains("--build-arg ADDITIONAL_PYTHON_DEPS=rich"),
        "{cmd}"
    );
    assert!(cmd.contains("--build-arg AIRFLOW_UID=50001"), "{cmd}");
    assert!(cmd.contains("-t from-file:1"), "{cmd}");
    assert!(
        stdout.contains("\"rich\"  (`additional-python-deps` in hangar.toml)"),
        "{stdout}"
    );
    // Defaults: nothing set anywhere is left to the Dockerfile (no build arg at all).
    assert!(!cmd.contains("AIRFLOW_VERSION="), "{cmd}");
    assert!(!cmd.contains("INSTALL_MYSQL_CLIENT="), "{cmd}");

    // An explicit --config wins over ./hangar.toml, and HANGAR_CONFIG names it too.
    let other = dir.path().join("other.toml");
    fs::write(&other, "python = \"3.9\"\n").unwrap();
    let out = hangar_build(dir.path())
        .env("HANGAR_CONFIG", &other)
        .args(["--dry-run", "--engine", "buildah"])
        .output()
        .unwrap();
    let cmd = command_line(&out);
    assert!(cmd.contains("PYTHON_MAJOR_MINOR_VERSION=3.9"), "{cmd}");
    assert!(!cmd.contains("ADDITIONAL_PYTHON_DEPS"), "{cmd}");
}

/// A directory with fake `buildah`, `podman` and `docker` that record any call.
fn recording_engines(dir: &Path) -> (PathBuf, PathBuf) {
    let bin = dir.join("fakebin");
    fs::create_dir_all(&bin).unwrap();
    let record = dir.join("engine-calls");
    for name in ["buildah", "podman", "docker"] {
        let p = bin.join(name);
        fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\nexit 0\n",
                record.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    (bin, record)
}

#[test]
fn invalid_inputs_fail_before_any_engine_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, record) = recording_engines(dir.path());
    fs::create_dir(dir.path().join("empty")).unwrap();
    let pip_token =
        "ADDITIONAL_PYTHON_DEPS=--extra-index-url https://bob:s3cret@pypi.corp/simple rich";

    // Control: with a valid input, auto-detection does run the (fake) engines.
    let out = hangar_build(dir.path())
        .env("PATH", &bin)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        record.exists(),
        "the fake engines must be reachable for this test to mean anything"
    );
    // docker comes first when its daemon answers (here through DOCKER_HOST), then how its
    // client builds is detected.
    assert_eq!(
        fs::read_to_string(&record).unwrap(),
        "docker version --format {{.Server.Version}}\ndocker buildx version\n"
    );
    assert!(
        text(&out.stdout).starts_with(
            "engine: docker (docker buildx build; default: auto-detected)\ncommand: docker buildx build"
        ),
        "{}",
        text(&out.stdout)
    );
    fs::remove_file(&record).unwrap();
    // Without docker, podman is next.
    fs::remove_file(bin.join("docker")).unwrap();
    let out = hangar_build(dir.path())
        .env("PATH", &bin)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).starts_with("engine: podman"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(fs::read_to_string(&record).unwrap(), "podman --version\n");
    fs::remove_file(&record).unwrap();
    let out = hangar_build(dir.path())
        .env("PATH", "/nonexistent")
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no container engine found"),
        "{}",
        text(&out.stderr)
    );

    fs::write(
        dir.path().join("corp-login.list"),
        "deb http://mirror.corp/debian bookworm main\ndeb https://bob:s3cret@mirror.corp/x bookworm main\n",
    )
    .unwrap();
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (vec!["--engine", "kaniko"], vec![], &["--engine", "kaniko"]),
        (
            vec![],
            vec![("HANGAR_ENGINE", "kaniko")],
            &["HANGAR_ENGINE", "kaniko"],
        ),
        (
            vec!["--install-airflow-version", "latest"],
            vec![],
            &["AIRFLOW_VERSION", "latest", "--install-airflow-version"],
        ),
        (
            vec!["--additional-extras", "postgres;rm -rf /"],
            vec![],
            &["ADDITIONAL_AIRFLOW_EXTRAS", "--additional-extras"],
        ),
        (vec!["--python", "3"], vec![], &["--python", "3.12"]),
        (
            vec!["--context-files", "/nonexistent/wheels"],
            vec![],
            &["/nonexistent/wheels", "--context-files"],
        ),
        (
            vec!["--add-local-pip-wheels", "--context-files", "empty"],
            vec![],
            &["empty", ".whl"],
        ),
        (
            vec!["--constraints-location", "constraints-missing.txt"],
            vec![],
            &["constraints-missing.txt", "--constraints-location"],
        ),
        (
            vec!["--ca-bundle", "missing-ca.pem"],
            vec![],
            &["missing-ca.pem", "--ca-bundle"],
        ),
        (
            vec!["--build-arg", pip_token],
            vec![],
            &["ADDITIONAL_PYTHON_DEPS", "--pip-conf"],
        ),
        (
            vec!["--build-arg", "NOEQUALS"],
            vec![],
            &["NOEQUALS", "NAME=VALUE"],
        ),
        (
            vec!["--sbom", "/nonexistent/sbom.json"],
            vec![],
            &["--sbom /nonexistent/sbom.json", "does not exist"],
        ),
        (
            vec![
                "--install-airflow-version",
                "3.1.0",
                "--airflow-sources",
                "https://x.org/a.tar.gz",
            ],
            vec![],
            &["--install-airflow-version", "--airflow-sources"],
        ),
        (vec!["--config", "nope.toml"], vec![], &["nope.toml"]),
        (
            vec!["--apt-sources-in-image"],
            vec![],
            &["--apt-sources-in-image needs --apt-sources FILE"],
        ),
        (
            vec!["--apt-sources", "corp-login.list", "--apt-sources-in-image"],
            vec![],
            &["corp-login.list", "line(s) 2 look like a credential"],
        ),
    ];
    for (args, env, needles) in cases {
        let mut cmd = hangar_build(dir.path());
        cmd.env("PATH", &bin).args(&args);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        for n in needles {
            assert!(
                stderr.contains(n),
                "{args:?} {env:?}: {n:?} not in {stderr}"
            );
        }
        assert!(
            !stderr.contains("s3cret"),
            "a credential was printed: {stderr}"
        );
        assert!(
            !record.exists(),
            "{args:?} {env:?} started an engine: {}",
            fs::read_to_string(&record).unwrap()
        );
    }

    // An unknown hangar.toml key is refused with its line.
    fs::write(dir.path().join("hangar.toml"), "pyhton = \"3.12\"\n").unwrap();
    let out = hangar_build(dir.path()).env("PATH", &bin).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("unknown field `pyhton`") && stderr.contains("hangar.toml"),
        "{stderr}"
    );
    assert!(!record.exists());
}

//! `hangar build` through the binary: exact engine command lines in `--dry-run`, option
//! precedence, validation before any engine runs, and real buildah builds of a tiny image
//! (success with plain progress, failure with the failing step and nothing tagged).
//!
//! The real builds use buildah with the storage driver and isolation chosen by the
//! environment (`STORAGE_DRIVER=vfs`, `BUILDAH_ISOLATION=chroot`), the way CI runs them, and
//! a `FROM scratch` base holding a static busybox.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use hangar_testkit::require_program;

const HANGAR: &str = env!("CARGO_BIN_EXE_hangar");

/// `hangar build` run in `dir` with none of the caller's hangar/buildah settings.
fn hangar_build(dir: &Path) -> Command {
    let mut cmd = Command::new(HANGAR);
    cmd.arg("build").current_dir(dir);
    clean_env(&mut cmd);
    cmd
}

/// Removes the caller's hangar, buildah and reproducibility settings from `cmd`.
fn clean_env(cmd: &mut Command) {
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

fn text(b: &[u8]) -> String {
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
    --build-arg PYTHON_BASE_IMAGE=python:3.12-slim-bookworm --build-arg PYTHON_MAJOR_MINOR_VERSION=3.12";

const EXPECTED_TAIL: &str = "--iidfile '<work>/image-id' -t my/airflow:3.1.0 -f '<work>/context/Dockerfile' '<work>/context'";

/// The engine command `hangar build --dry-run` prints for `engine` with the common arguments.
fn dry_run_command(engine: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = hangar_build(dir.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["--engine", engine])
        .args(COMMON_ARGS)
        .output()
        .unwrap();
    command_line(&out)
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
fn dry_run_docker_command_is_exact() {
    assert_eq!(
        dry_run_command("docker"),
        format!(
            "docker buildx build --load --progress=plain {EXPECTED_BUILD_ARGS} {EXPECTED_TAIL}"
        )
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
             --build-arg HANGAR_BINARY_SOURCE=context --secret id=hangar-ca,src={ca_abs} \
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
        stdout.contains(&format!(".hangar/hangar <- {HANGAR}")),
        "{stdout}"
    );
    // The CA bundle's content never appears, only its path.
    assert!(!stdout.contains("MIIBfake"), "{stdout}");
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
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        record.exists(),
        "the fake engines must be reachable for this test to mean anything"
    );
    // docker buildx comes first when it works (a daemon answers).
    assert_eq!(
        fs::read_to_string(&record).unwrap(),
        "docker buildx version\ndocker version --format {{.Server.Version}}\n"
    );
    assert!(
        text(&out.stdout)
            .starts_with("engine: docker (default: auto-detected)\ncommand: docker buildx build")
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

// ---------------------------------------------------------------------------------------
// Real builds with buildah.

const BASE: &str = "localhost/hangar-frontend-busybox:latest";
static BUILDAH: Mutex<()> = Mutex::new(());

fn buildah(args: &[&str]) -> Output {
    Command::new("buildah")
        .args(args)
        .env("STORAGE_DRIVER", "vfs")
        .output()
        .unwrap()
}

fn buildah_ok(args: &[&str]) -> String {
    let out = buildah(args);
    assert!(
        out.status.success(),
        "buildah {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

fn image_exists(name: &str) -> bool {
    buildah(&["inspect", "--type", "image", name])
        .status
        .success()
}

/// A `FROM scratch` image holding a static busybox, made once and cached in buildah's store.
fn busybox_base() {
    require_program("buildah", "buildah", &[]);
    let busybox = require_program("busybox", "busybox-static", &["/bin"]);
    let out = Command::new("file").arg(&busybox).output();
    if let Ok(out) = out {
        assert!(
            text(&out.stdout).contains("statically linked"),
            "{} is not static: apt-get install -y busybox-static",
            busybox.display()
        );
    }
    if image_exists(BASE) {
        return;
    }
    let ctr = buildah_ok(&["from", "scratch"]);
    let mnt = PathBuf::from(buildah_ok(&["mount", &ctr]));
    fs::create_dir_all(mnt.join("bin")).unwrap();
    fs::create_dir_all(mnt.join("tmp")).unwrap();
    fs::copy(&busybox, mnt.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "echo", "cat", "test", "grep", "wc", "true", "false", "ls",
    ] {
        std::os::unix::fs::symlink("busybox", mnt.join("bin").join(applet)).unwrap();
    }
    buildah_ok(&["umount", &ctr]);
    buildah_ok(&["config", "--env", "PATH=/bin", &ctr]);
    buildah_ok(&["commit", "--rm", &ctr, BASE]);
}

/// Working containers left in buildah's store that were made from `BASE` or from an image
/// whose history mentions `marker` (a text unique to one test's Containerfile).
fn leftover_containers(marker: &str) -> Vec<String> {
    let list = buildah_ok(&[
        "containers",
        "--format",
        "{{.ContainerName}}\t{{.ImageName}}\t{{.ImageID}}",
    ]);
    list.lines()
        .filter(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let (image_name, image_id) = (
                f.get(1).copied().unwrap_or(""),
                f.get(2).copied().unwrap_or(""),
            );
            image_name.contains("hangar-frontend-busybox")
                || text(&buildah(&["inspect", "--type", "image", image_id]).stdout).contains(marker)
        })
        .map(str::to_owned)
        .collect()
}

/// Reads files of an image through a mounted working container.
fn read_image_files(image: &str, paths: &[&str]) -> Vec<Option<String>> {
    let ctr = buildah_ok(&["from", image]);
    let mnt = PathBuf::from(buildah_ok(&["mount", &ctr]));
    let found = paths
        .iter()
        .map(|p| fs::read_to_string(mnt.join(p.trim_start_matches('/'))).ok())
        .collect();
    buildah_ok(&["umount", &ctr]);
    buildah_ok(&["rm", &ctr]);
    found
}

fn real_build(dir: &Path, engine: &str) -> Command {
    let mut cmd = hangar_build(dir);
    cmd.env("STORAGE_DRIVER", "vfs")
        .env("BUILDAH_ISOLATION", "chroot")
        .env("TMPDIR", dir.join("tmp"));
    fs::create_dir_all(dir.join("tmp")).unwrap();
    cmd.args(["--engine", engine, "--progress", "plain"]);
    cmd
}

#[test]
fn real_buildah_build_streams_progress_uses_secrets_and_tags() {
    let _lock = BUILDAH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    busybox_base();
    let dir = tempfile::tempdir().unwrap();
    let tag = "localhost/hangar-frontend-ok:test";
    let _ = buildah(&["rmi", "-f", tag]);
    fs::write(
        dir.path().join("Containerfile"),
        format!(
            "FROM {BASE}\n\
             ARG GREETING=unset\n\
             ARG HANGAR_BINARY_SOURCE\n\
             COPY .hangar/hangar /hangar-copy\n\
             COPY docker-context-files/ /ctx/\n\
             RUN echo \"$GREETING from $HANGAR_BINARY_SOURCE\" > /greeting\n\
             RUN --mount=type=secret,id=hangar-ca grep -c 'BEGIN CERTIFICATE' /run/secrets/hangar-ca > /ca-count\n"
        ),
    )
    .unwrap();
    let files = dir.path().join("files");
    fs::create_dir(&files).unwrap();
    fs::write(files.join("requirements.txt"), "rich\n").unwrap();
    let ca = dir.path().join("ca.pem");
    fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nSECRETCONTENT\n-----END CERTIFICATE-----\n",
    )
    .unwrap();

    let out = real_build(dir.path(), "buildah")
        .args([
            "--dockerfile",
            "Containerfile",
            "--context-files",
            "files",
            "--ca-bundle",
            "ca.pem",
        ])
        .args(["--build-arg", "GREETING=hello world", "-t", tag])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The exact command first, then plain prefixed engine lines with the steps.
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "hangar: running: buildah bud --layers --force-rm --format docker --isolation chroot"
        ),
        "{stderr}"
    );
    assert!(first.contains("--secret id=hangar-ca,src="), "{first}");
    assert!(
        stderr.contains("] STEP 1/7: FROM localhost/hangar-frontend-busybox"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("[buildah 00:") && l.contains("STEP 6/7: RUN echo")),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRETCONTENT"), "{stderr}");
    let image_id = text(&out.stdout).trim().to_owned();
    assert!(
        image_id.starts_with("sha256:") || image_id.len() >= 12,
        "stdout: {image_id}"
    );
    assert!(stderr.contains(&format!("tagged {tag}")), "{stderr}");
    assert!(image_exists(tag), "the image is tagged");

    let files = read_image_files(
        tag,
        &[
            "/greeting",
            "/ca-count",
            "/ctx/requirements.txt",
            "/run/secrets/hangar-ca",
            "/hangar-copy",
        ],
    );
    assert_eq!(files[0].as_deref(), Some("hello world from context\n"));
    assert_eq!(
        files[1].as_deref(),
        Some("1\n"),
        "the CA bundle reached the RUN step as a secret"
    );
    assert_eq!(files[2].as_deref(), Some("rich\n"));
    assert_eq!(files[3], None, "the secret is not in the image");
    // The temporary context is gone.
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    buildah_ok(&["rmi", tag]);
}

#[test]
fn real_buildah_failure_shows_the_step_and_tags_nothing() {
    let _lock = BUILDAH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    busybox_base();
    let dir = tempfile::tempdir().unwrap();
    let tag = "localhost/hangar-frontend-fail:test";
    let _ = buildah(&["rmi", "-f", tag]);
    fs::write(
        dir.path().join("Containerfile"),
        format!(
            "FROM {BASE}\n\
             RUN echo first step works > /first\n\
             RUN echo about-to-fail && exit 7\n\
             RUN echo never reached > /never\n"
        ),
    )
    .unwrap();
    let out = real_build(dir.path(), "buildah")
        .args(["--dockerfile", "Containerfile", "-t", tag])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failing step: STEP 3/4: RUN echo about-to-fail && exit 7"),
        "{stderr}"
    );
    assert!(stderr.contains("  | about-to-fail"), "{stderr}");
    assert!(stderr.contains("No image was tagged"), "{stderr}");
    assert!(!image_exists(tag), "a failed build must tag nothing");
    assert_eq!(
        leftover_containers("first step works"),
        Vec::<String>::new(),
        "working containers are removed"
    );
    assert_eq!(
        fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "the temporary context is removed"
    );
}

/// On a terminal (`script` gives the build a pseudo-terminal) `--progress auto` shows a live
/// line with the elapsed time and the current step instead of the plain prefixed lines.
#[test]
fn real_buildah_build_on_a_terminal_shows_a_live_view() {
    let _lock = BUILDAH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let script = require_program("script", "bsdutils", &[]);
    busybox_base();
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Containerfile"),
        format!("FROM {BASE}\nRUN echo live-view-step && sleep 1\n"),
    )
    .unwrap();
    fs::create_dir_all(dir.path().join("tmp")).unwrap();
    let mut cmd = Command::new(script);
    clean_env(&mut cmd);
    let out = cmd
        .args([
            "-qec",
            "\"$HANGAR\" build --engine buildah --dockerfile Containerfile",
            "/dev/null",
        ])
        .current_dir(dir.path())
        .env("HANGAR", HANGAR)
        .env("STORAGE_DRIVER", "vfs")
        .env("BUILDAH_ISOLATION", "chroot")
        .env("TMPDIR", dir.path().join("tmp"))
        .output()
        .unwrap();
    let all = text(&out.stdout);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("\u{1b}[2K"),
        "the live line is redrawn in place: {all:?}"
    );
    assert!(
        all.contains("] STEP 2/2: RUN echo live-view-step && sleep 1"),
        "{all:?}"
    );
    assert!(all.contains("[00:00:0"), "elapsed time is shown: {all:?}");
    assert!(
        !all.contains("[buildah 00:"),
        "no plain lines on a terminal: {all:?}"
    );
    let id = all.lines().last().unwrap_or_default().trim().to_owned();
    if id.starts_with("sha256:") {
        let _ = buildah(&["rmi", &id]);
    }
}

/// SIGTERM to hangar stops the engine, tags nothing, removes the temporary context and exits
/// with 128+15.
#[test]
fn real_buildah_build_stopped_by_sigterm_cleans_up() {
    use std::io::{BufRead, BufReader};
    let _lock = BUILDAH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    busybox_base();
    let dir = tempfile::tempdir().unwrap();
    let tag = "localhost/hangar-frontend-interrupted:test";
    let _ = buildah(&["rmi", "-f", tag]);
    fs::write(
        dir.path().join("Containerfile"),
        format!("FROM {BASE}\nRUN echo long-step-started && busybox sleep 60\n"),
    )
    .unwrap();
    let mut child = real_build(dir.path(), "buildah")
        .args(["--dockerfile", "Containerfile", "-t", tag])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.ends_with("] long-step-started") {
            let pid = i32::try_from(child.id()).unwrap();
            assert!(
                Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status()
                    .unwrap()
                    .success()
            );
        }
    }
    let status = child.wait().unwrap();
    let all = seen.join("\n");
    assert!(all.contains("long-step-started"), "{all}");
    assert_eq!(status.code(), Some(143), "{all}");
    assert!(all.contains("interrupted by SIGTERM"), "{all}");
    assert!(!image_exists(tag), "an interrupted build tags nothing");
    assert_eq!(
        leftover_containers("long-step-started"),
        Vec::<String>::new(),
        "working containers are removed"
    );
    assert_eq!(
        fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "the temporary context is removed"
    );
}

/// The podman command line builds for real too (same storage as buildah here).
#[test]
fn real_podman_build_tags_the_image() {
    let _lock = BUILDAH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    require_program("podman", "podman", &[]);
    busybox_base();
    let dir = tempfile::tempdir().unwrap();
    let tag = "localhost/hangar-frontend-podman:test";
    let _ = buildah(&["rmi", "-f", tag]);
    fs::write(
        dir.path().join("Containerfile"),
        format!("FROM {BASE}\nARG HANGAR_BINARY_SOURCE\nRUN echo built-by-podman-$HANGAR_BINARY_SOURCE > /engine\n"),
    )
    .unwrap();
    let out = real_build(dir.path(), "podman")
        .args(["--dockerfile", "Containerfile", "-t", tag])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.starts_with(
            "hangar: running: podman build --layers --force-rm --format docker --isolation chroot"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("[podman 00:"), "{stderr}");
    let files = read_image_files(tag, &["/engine"]);
    assert_eq!(files[0].as_deref(), Some("built-by-podman-context\n"));
    buildah_ok(&["rmi", tag]);
}

/// The context layout the Dockerfile relies on: a local Airflow source tree lands at
/// `AIRFLOW_SOURCES_TO` (= `AIRFLOW_INSTALLATION_METHOD`), a local constraints file and the
/// context files are reachable under `/docker-context-files` through `DOCKER_CONTEXT_FILES`.
#[test]
fn real_buildah_build_sees_sources_constraints_and_context_files() {
    let _lock = BUILDAH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    busybox_base();
    let dir = tempfile::tempdir().unwrap();
    let tag = "localhost/hangar-frontend-layout:test";
    let _ = buildah(&["rmi", "-f", tag]);
    fs::write(
        dir.path().join("Containerfile"),
        format!(
            "FROM {BASE}\n\
             ARG AIRFLOW_SOURCES_FROM=Containerfile\n\
             ARG AIRFLOW_SOURCES_TO=/Containerfile\n\
             ARG DOCKER_CONTEXT_FILES=Containerfile\n\
             ARG AIRFLOW_INSTALLATION_METHOD=apache-airflow\n\
             ARG AIRFLOW_CONSTRAINTS_LOCATION=\n\
             COPY ${{AIRFLOW_SOURCES_FROM}} ${{AIRFLOW_SOURCES_TO}}\n\
             RUN --mount=type=bind,source=${{DOCKER_CONTEXT_FILES}},target=/docker-context-files \
                 cat $AIRFLOW_CONSTRAINTS_LOCATION /docker-context-files/wheels/marker > /seen \
                 && cat $AIRFLOW_INSTALLATION_METHOD/pyproject.toml >> /seen\n"
        ),
    )
    .unwrap();
    let sources = dir.path().join("airflow-src");
    fs::create_dir_all(sources.join("airflow")).unwrap();
    fs::write(sources.join("pyproject.toml"), "name = 'apache-airflow'\n").unwrap();
    let files = dir.path().join("files/wheels");
    fs::create_dir_all(&files).unwrap();
    fs::write(files.join("marker"), "context-file\n").unwrap();
    fs::write(dir.path().join("constraints-3.12.txt"), "rich==13.9.4\n").unwrap();

    let out = real_build(dir.path(), "buildah")
        .args([
            "--dockerfile",
            "Containerfile",
            "--airflow-sources",
            "airflow-src",
        ])
        .args([
            "--context-files",
            "files",
            "--constraints-location",
            "constraints-3.12.txt",
        ])
        .args(["-t", tag])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    for arg in [
        "--build-arg AIRFLOW_CONSTRAINTS_LOCATION=/docker-context-files/constraints-3.12.txt",
        "--build-arg AIRFLOW_INSTALLATION_METHOD=/opt/airflow-sources",
        "--build-arg AIRFLOW_SOURCES_FROM=airflow-sources",
        "--build-arg AIRFLOW_SOURCES_TO=/opt/airflow-sources",
        "--build-arg DOCKER_CONTEXT_FILES=docker-context-files",
    ] {
        assert!(first.contains(arg), "{arg} missing in {first}");
    }
    let seen = read_image_files(tag, &["/seen"]);
    assert_eq!(
        seen[0].as_deref(),
        Some("rich==13.9.4\ncontext-file\nname = 'apache-airflow'\n")
    );
    buildah_ok(&["rmi", tag]);
}

/// hangar's own Dockerfile, built up to the stage that provides `/entrypoint`: the binary
/// comes from the build context (`HANGAR_BINARY_SOURCE=context`) and is the running hangar.
#[test]
fn real_buildah_build_of_the_embedded_dockerfile_uses_this_hangar() {
    let _lock = BUILDAH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    busybox_base();
    let dir = tempfile::tempdir().unwrap();
    let tag = "localhost/hangar-frontend-bin:test";
    let _ = buildah(&["rmi", "-f", tag]);
    let out = real_build(dir.path(), "buildah")
        .args([
            "--target",
            "hangar-bin",
            "--python-base-image",
            BASE,
            "-t",
            tag,
        ])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("COPY --chmod=0755 .hangar/hangar /hangar"),
        "{stderr}"
    );
    let ctr = buildah_ok(&["from", tag]);
    let mnt = PathBuf::from(buildah_ok(&["mount", &ctr]));
    let in_image = fs::read(mnt.join("hangar")).unwrap();
    buildah_ok(&["umount", &ctr]);
    buildah_ok(&["rm", &ctr]);
    assert!(
        in_image == fs::read(HANGAR).unwrap(),
        "the image holds a copy of the running hangar"
    );
    buildah_ok(&["rmi", tag]);
}

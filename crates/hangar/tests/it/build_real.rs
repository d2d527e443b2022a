//! Real `hangar build` runs with buildah (and podman) of a tiny image: success with plain
//! progress, failure with the failing step and nothing tagged, the live view, SIGTERM
//! clean-up, secrets and the context layout.
//!
//! The builds use buildah and podman with a storage of their own (`CONTAINERS_STORAGE_CONF`:
//! vfs under the test cache, so neither tool's earlier state on the machine picks the driver),
//! chroot isolation (`BUILDAH_ISOLATION=chroot`) and a `FROM scratch` base holding a static
//! busybox.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use hangar_testkit::require_program;

use crate::build_frontend::{HANGAR, clean_env, hangar_build, text};

const BASE: &str = "localhost/hangar-frontend-busybox:latest";
static BUILDAH: Mutex<()> = Mutex::new(());

/// These tests' own vfs store, shared by buildah and podman.
fn storage_conf() -> PathBuf {
    hangar_testkit::images::private_store("build-real", "vfs")
}

fn buildah(args: &[&str]) -> Output {
    Command::new("buildah")
        .args(args)
        .env("CONTAINERS_STORAGE_CONF", storage_conf())
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
    cmd.env("CONTAINERS_STORAGE_CONF", storage_conf())
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
        .env("CONTAINERS_STORAGE_CONF", storage_conf())
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
        stderr.contains("COPY --chmod=0755 .hangar/${TARGETARCH}/hangar /hangar"),
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

//! Real `hangar build --engine docker` runs against a Docker daemon of the test's own
//! (Debian's dockerd, see `hangar_testkit::docker`) with Debian's client first on `PATH`,
//! which builds with the daemon's embedded BuildKit (`DOCKER_BUILDKIT=1 docker build`).
//!
//! Most images are tiny: a busybox base imported into the daemon (nothing can be pulled). The
//! real Airflow 3 image is built on the test kit's Debian base, copied from buildah's store,
//! and passes the checks the buildah-built image passes (`image_checks`). The daemon has no
//! bridge network, so RUN steps and containers get the host's (`--network=host`).

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use hangar_testkit::docker::Dockerd;
use hangar_testkit::images::{BASE_IMAGE, build_lock, ensure_base_image};

use crate::build_frontend::{hangar_build, text};
use crate::extend_checks::assert_seed_extend_examples_docker;
use crate::extend_route::{Guard, Hangar, Secrets, assert_extend_route};
use crate::image_checks::{self, Airflow3, assert_airflow3_image};
use crate::layer_checks::{REBUILD_DEPS, assert_additional_layer};

const BASE: &str = "hangar-test/busybox:latest";
const SECRET_MARKER: &str = "SECRETMARKER4d1e";

/// `hangar build` in `dir` against `daemon`, with Debian's client first on `PATH` and the
/// temporary context under `dir/tmp`.
pub(crate) fn docker_build(dir: &Path, daemon: &Dockerd) -> Command {
    let tmp = dir.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    let mut cmd = hangar_build(dir);
    cmd.env("DOCKER_HOST", daemon.host())
        .env("PATH", daemon.path_with_debian_client())
        .env("TMPDIR", &tmp)
        .env_remove("DOCKER_BUILDKIT");
    cmd
}

fn assert_context_removed(dir: &Path) {
    assert_eq!(
        fs::read_dir(dir.join("tmp")).unwrap().count(),
        0,
        "the temporary context is removed"
    );
}

fn stderr_of(out: &Output) -> String {
    text(&out.stderr)
}

#[test]
fn docker_build_with_embedded_buildkit_uses_the_secret_and_build_arg_and_tags() {
    let daemon = Dockerd::start();
    daemon.import_busybox(BASE);
    let dir = tempfile::tempdir().unwrap();
    let tag = "hangar-test/docker-ok:1";
    fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {BASE}\n\
             ARG GREETING=unset\n\
             ARG HANGAR_BINARY_SOURCE\n\
             RUN echo \"$GREETING from $HANGAR_BINARY_SOURCE\" > /greeting\n\
             RUN --mount=type=secret,id=hangar-ca grep -c 'BEGIN CERTIFICATE' /run/secrets/hangar-ca > /secret-seen \
                 && wc -c < /run/secrets/hangar-ca >> /secret-seen\n\
             CMD [\"cat\", \"/greeting\", \"/secret-seen\"]\n"
        ),
    )
    .unwrap();
    // The marker is only in the secret file: not in the Dockerfile, whose steps are in the
    // output and in the history.
    let ca = format!("-----BEGIN CERTIFICATE-----\n{SECRET_MARKER}\n-----END CERTIFICATE-----\n");
    fs::write(dir.path().join("ca.pem"), &ca).unwrap();

    let out = docker_build(dir.path(), &daemon)
        .args(["--engine", "docker", "--progress", "plain"])
        .args(["--dockerfile", "Dockerfile", "--ca-bundle", "ca.pem"])
        .args(["--build-arg", "GREETING=hello docker", "-t", tag])
        .arg("--engine-arg=--network=host")
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}\n{}", daemon.log());
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("hangar: running: DOCKER_BUILDKIT=1 docker build --progress=plain "),
        "{stderr}"
    );
    assert!(first.contains("--secret id=hangar-ca,src="), "{first}");
    assert!(!first.contains("--load"), "{first}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("[docker 00:") && l.contains("RUN echo \"hello docker")),
        "the steps are streamed: {stderr}"
    );
    assert!(!stderr.contains(SECRET_MARKER), "{stderr}");
    let image_id = text(&out.stdout).trim().to_owned();
    assert!(image_id.starts_with("sha256:"), "stdout: {image_id}");
    assert!(stderr.contains(&format!("tagged {tag}")), "{stderr}");
    assert_eq!(
        daemon.docker_ok(&["image", "inspect", "--format", "{{.Id}}", tag]),
        image_id,
        "the tag names the built image"
    );

    let shown = daemon.docker_ok(&["run", "--rm", "--network", "host", tag]);
    assert_eq!(
        shown,
        format!("hello docker from context\n1\n{}", ca.len()),
        "the build arg reached the RUN step and the secret was readable there"
    );
    let leftover = daemon.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        tag,
        "cat",
        "/run/secrets/hangar-ca",
    ]);
    assert!(
        !leftover.status.success() && !text(&leftover.stdout).contains(SECRET_MARKER),
        "the secret file is not in the image: {}",
        text(&leftover.stdout)
    );

    // The secret's content is in no layer, nor in the history.
    let saved = dir.path().join("saved.tar");
    daemon.docker_ok(&["save", "-o", &saved.to_string_lossy(), tag]);
    let bytes = fs::read(&saved).unwrap();
    assert!(bytes.len() > 100_000, "docker save wrote the layers");
    assert!(
        !bytes
            .windows(SECRET_MARKER.len())
            .any(|w| w == SECRET_MARKER.as_bytes()),
        "the secret's content is in a layer"
    );
    let history = daemon.docker_ok(&["history", "--no-trunc", tag]);
    assert!(!history.contains(SECRET_MARKER), "{history}");
    assert_context_removed(dir.path());
}

#[test]
fn docker_build_failure_names_the_step_and_tags_nothing() {
    let daemon = Dockerd::start();
    daemon.import_busybox(BASE);
    let dir = tempfile::tempdir().unwrap();
    let tag = "hangar-test/docker-fail:1";
    fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {BASE}\n\
             RUN echo first step works > /first\n\
             RUN echo about-to-fail && exit 7\n\
             RUN echo never reached > /never\n"
        ),
    )
    .unwrap();
    let out = docker_build(dir.path(), &daemon)
        .args(["--engine", "docker", "--progress", "plain"])
        .args(["--dockerfile", "Dockerfile", "-t", tag])
        .arg("--engine-arg=--network=host")
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("failing step: [3/4] RUN echo about-to-fail && exit 7"),
        "{stderr}"
    );
    assert!(stderr.contains("about-to-fail"), "{stderr}");
    assert!(stderr.contains("No image was tagged"), "{stderr}");
    assert!(!daemon.image_exists(tag), "a failed build must tag nothing");
    assert_context_removed(dir.path());
}

#[test]
fn dry_run_shows_the_detected_docker_client() {
    let daemon = Dockerd::start();
    let dir = tempfile::tempdir().unwrap();
    // `auto` picks docker: its daemon answers through DOCKER_HOST.
    for engine in ["auto", "docker"] {
        let mut cmd = docker_build(dir.path(), &daemon);
        if engine == "docker" {
            cmd.args(["--engine", engine]);
        }
        let out = cmd.args(["--dry-run", "-t", "x:1"]).output().unwrap();
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{engine}: {}", stderr_of(&out));
        let mut lines = stdout.lines();
        let origin = if engine == "auto" {
            "default: auto-detected"
        } else {
            "flag --engine"
        };
        assert_eq!(
            lines.next(),
            Some(format!("engine: docker (docker build, embedded BuildKit; {origin})").as_str()),
            "{stdout}"
        );
        let command = lines.next().unwrap_or_default();
        assert!(
            command.starts_with("command: DOCKER_BUILDKIT=1 docker build --progress=plain "),
            "{stdout}"
        );
        assert!(command.ends_with("'<work>/context'"), "{stdout}");
    }
}

/// Airflow 3 built by BuildKit: `hangar build --engine docker`, then a plain `docker build`
/// of the repository's Dockerfile with `--build-arg`s and the CA bundle secret (only
/// ADDITIONAL_PYTHON_DEPS differs, so the Airflow layer is shared and the additional layer is
/// small). Both images pass every check the buildah-built image passes.
#[test]
fn airflow3_image_built_by_buildkit_with_hangar_build_and_plain_docker_build() {
    let _lock = build_lock();
    ensure_base_image();
    let inputs = Airflow3::new();
    let daemon = Dockerd::start();
    daemon.load_from_buildah(BASE_IMAGE);

    let name = "hangar-test/airflow3-docker:1";
    let image = daemon.image_guard(name);
    let out = docker_build(inputs.dir.path(), &daemon)
        .args(["--engine", "docker"])
        .args(inputs.hangar_args(name))
        .arg("--engine-arg=--network=host")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hangar build failed:\n{}\n{}",
        stderr_of(&out),
        daemon.log()
    );
    assert_context_removed(inputs.dir.path());
    assert_airflow3_image(&daemon, name, "6.1", inputs.dir.path());

    let plain = "hangar-test/airflow3-docker-plain:1";
    let plain_image = daemon.image_guard(plain);
    let ctx = inputs.plain_context();
    let out = daemon
        .client()
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "--progress", "plain", "--network", "host"])
        .args(inputs.ca_secret())
        .args(inputs.plain_build_args(REBUILD_DEPS))
        .args(["-t", plain, "-f"])
        .arg(ctx.join("Dockerfile"))
        .arg(&ctx)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "plain docker build failed:\n{}",
        image_checks::text(&out)
    );
    assert_airflow3_image(&daemon, plain, "6.0", inputs.dir.path());
    assert_additional_layer(&daemon, name, plain, inputs.dir.path());
    assert_seed_extend_examples_docker(&daemon, name, &inputs.ca);
    let h = Hangar {
        engine_name: "docker",
        env: vec![
            ("DOCKER_HOST".into(), daemon.host().into()),
            ("PATH".into(), daemon.path_with_debian_client()),
        ],
        build_extra: vec!["--engine-arg=--network=host".into()],
        image_exists: &|t: &str| {
            daemon
                .client()
                .args(["image", "inspect", t])
                .output()
                .is_ok_and(|o| o.status.success())
        },
    };
    assert_extend_route(
        &h,
        &daemon,
        name,
        &Secrets {
            ca: &inputs.ca,
            pip_conf: &inputs.pip_conf,
        },
        "hangar-test/airflow3-docker",
        &|t: &str| -> Guard<'_> { Box::new(daemon.image_guard(t)) },
    );
    drop((image, plain_image));
}

//! Real production-image builds: buildah (the test kit's overlay store, chroot isolation) on a
//! Debian base made with debootstrap, real Airflow from PyPI, images run with podman + runc.
//!
//! Builds are serialised (two cores) and every test removes the
//! images and layers it created. A build takes minutes: these are the slowest tests of the
//! workspace. Needs: buildah podman runc debootstrap (apt), PyPI and the Debian mirror.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use hangar_testkit::images::{
    self, BASE_PYTHON, ImageGuard, build_lock, buildah, constraints_file, ensure_base_image,
    image_exists, marked_ca_bundle, podman_run, prune_dangling,
};

use crate::extend_checks::assert_seed_extend_examples_buildah;
use crate::extend_route::{Guard, Hangar, Secrets, assert_extend_route};
use crate::image_checks::{
    Airflow3, CA_MARKER, EXTRAS, Podman, assert_airflow3_image, assert_base_facts, fact, facts,
    hangar_base_args, plain_build_args, plain_context, text,
};
use crate::layer_checks::{REBUILD_DEPS, assert_additional_layer};
use crate::sbom::{assert_sbom_matches, assert_spdx_matches, hangar_sbom};
use crate::verify::assert_verify_good_and_bad;

/// `hangar build` with buildah on the test kit's store, chroot isolation, the test machine's
/// CA bundle and `args`.
pub(crate) fn hangar_build(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hangar"))
        .env("BUILDAH_ISOLATION", "chroot")
        .env("CONTAINERS_STORAGE_CONF", images::storage_conf())
        .args(["build", "--engine", "buildah"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run hangar build")
}

fn tag(name: &str) -> String {
    format!("localhost/hangar-test-{name}:{}", std::process::id())
}

/// `buildah bud` of the plain context `ctx` (layers cached, docker format) with the CA bundle
/// `ca` as the `hangar-ca` secret, then `args` (build args, `--target`), tagging `tag`.
fn buildah_bud(ctx: &Path, ca: &Path, args: &[String], tag: &str) -> Output {
    buildah()
        .args([
            "bud",
            "--isolation",
            "chroot",
            "--layers",
            "--force-rm",
            "--format",
            "docker",
        ])
        .arg("--secret")
        .arg(format!("id=hangar-ca,src={}", ca.display()))
        .args(args)
        .args(["-t", tag, "-f"])
        .arg(ctx.join("Dockerfile"))
        .arg(ctx)
        .stdin(Stdio::null())
        .output()
        .expect("run buildah bud")
}

fn assert_not_tagged(name: &str, out: &Output) {
    assert!(!out.status.success(), "build should fail:\n{}", text(out));
    assert!(!image_exists(name), "a failed build tagged {name}");
}

/// Airflow 3: `hangar build` with extra runtime apt and Python deps and no MySQL client, run
/// through the entrypoint; secrets stay out; the build stage had the compilers the final image
/// lacks; a plain buildah build of the same Dockerfile gives a working image.
#[test]
fn airflow3_image_built_with_hangar_build_and_plain_buildah() {
    let _lock = build_lock();
    ensure_base_image();
    let inputs = Airflow3::new();
    let name = tag("af3");
    let _image = ImageGuard::new(&name);

    let spdx = inputs.dir.path().join("af3.spdx.json");
    let mut args = inputs.hangar_args(&name);
    args.extend(["--sbom", spdx.to_str().unwrap(), "--sbom-format", "spdx"].map(str::to_owned));
    let out = hangar_build(&args);
    assert!(out.status.success(), "hangar build failed:\n{}", text(&out));
    let image_id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_spdx_matches(&name, &image_id, &spdx);
    assert!(
        text(&out).contains("DAG check passed: 0 DAG(s) in /opt/airflow/dags"),
        "{}",
        text(&out)
    );
    assert_airflow3_image(&Podman, &name, "6.1", inputs.dir.path());
    assert_verify_good_and_bad(&name, "3.3.2");

    // The same Dockerfile through buildah directly with --build-args (no front end): a context
    // with the Dockerfile, the hangar binary and the constraints. Only ADDITIONAL_PYTHON_DEPS
    // differs, so the Airflow layer is reused and the additional layer is small.
    let ctx = inputs.plain_context();
    let plain = tag("af3-plain");
    let _plain_image = ImageGuard::new(&plain);
    let plain_args = inputs.plain_build_args(REBUILD_DEPS);
    let out = buildah_bud(&ctx, &inputs.ca, &plain_args, &plain);
    assert!(
        out.status.success(),
        "plain buildah build failed:\n{}",
        text(&out)
    );
    let run = podman_run(
        &plain,
        &[],
        &[
            "bash",
            "-c",
            "airflow version; pip show cowsay | grep ^Version",
        ],
    );
    let plain_out = text(&run);
    assert!(
        run.status.success() && plain_out.contains("3.3.2") && plain_out.contains("Version: 6.0"),
        "{plain_out}"
    );
    assert_additional_layer(&Podman, &name, &plain, inputs.dir.path());
    assert_seed_extend_examples_buildah(&Podman, &name, &inputs.ca);
    let h = Hangar {
        engine_name: "buildah",
        env: vec![
            ("BUILDAH_ISOLATION".into(), "chroot".into()),
            (
                "CONTAINERS_STORAGE_CONF".into(),
                images::storage_conf().into(),
            ),
        ],
        build_extra: Vec::new(),
        image_exists: &image_exists,
    };
    assert_extend_route(
        &h,
        &Podman,
        &name,
        &Secrets {
            ca: &inputs.ca,
            pip_conf: &inputs.pip_conf,
        },
        &name,
        &|t: &str| -> Guard<'_> { Box::new(ImageGuard::new(t)) },
    );

    // The build stage had the compilers the final image lacks.
    let stage = tag("af3-build-stage");
    let _stage_image = ImageGuard::new(&stage);
    let mut stage_args = plain_args;
    stage_args.extend(["--target".to_owned(), "airflow-build-image".to_owned()]);
    let out = buildah_bud(&ctx, &inputs.ca, &stage_args, &stage);
    assert!(
        out.status.success(),
        "build stage build failed:\n{}",
        text(&out)
    );
    let which = images::run_in_image(
        &stage,
        &["sh", "-c", "for c in gcc cc make; do command -v $c; done"],
    );
    let which = text(&which);
    for c in ["/usr/bin/gcc", "/usr/bin/cc", "/usr/bin/make"] {
        assert!(
            which.contains(c),
            "{c} missing from the build stage:\n{which}"
        );
    }

    drop((_image, _plain_image, _stage_image));
    prune_dangling();
}

/// Airflow 2.10 from a local wheel (`--airflow-sources`): `hangar build` with the MySQL client
/// left at its default (installed), checked through the entrypoint.
#[test]
fn airflow2_image_built_from_a_local_wheel_with_hangar_build() {
    let _lock = build_lock();
    ensure_base_image();
    let version = hangar_testkit::airflow::AIRFLOW_2;
    let constraints = constraints_file(version, EXTRAS);
    let wheel = images::airflow_wheel(version);
    let dir = tempfile::tempdir().unwrap();
    let ca = marked_ca_bundle(dir.path(), CA_MARKER);
    let name = tag("af2");
    let _image = ImageGuard::new(&name);
    let sbom = dir.path().join("sbom.cdx.json");
    // The final image keeps these sources (one-line form) in place of the base's.
    let apt_sources = dir.path().join("corp.list");
    let apt_line = format!("deb {} bookworm main\n", images::debian_mirror());
    std::fs::write(&apt_sources, &apt_line).unwrap();
    let mut args = hangar_base_args(&ca);
    args.extend(
        [
            "--apt-sources",
            apt_sources.to_str().unwrap(),
            "--apt-sources-in-image",
            "--airflow-sources",
            wheel.to_str().unwrap(),
            "--extras",
            EXTRAS,
            "--constraints-location",
            constraints.to_str().unwrap(),
            // The seed's corporate example's forms: `ADDITIONAL_*_ENV_VARS` and commands
            // starting with `&&` (`sh -eu` fails the build if the variable is not set).
            "--build-arg",
            "ADDITIONAL_DEV_ENV_VARS=HANGAR_SEED_EULA=Y",
            "--build-arg",
            r#"ADDITIONAL_DEV_APT_COMMAND=&& test "$HANGAR_SEED_EULA" = Y"#,
            "--build-arg",
            "ADDITIONAL_RUNTIME_ENV_VARS=HANGAR_SEED_EULA=Y",
            "--build-arg",
            r#"ADDITIONAL_RUNTIME_APT_COMMAND=&& test "$HANGAR_SEED_EULA" = Y && echo "$HANGAR_SEED_EULA" > /etc/hangar-seed-eula"#,
            "--sbom",
            sbom.to_str().unwrap(),
            "-t",
            &name,
        ]
        .map(str::to_owned),
    );
    let out = hangar_build(&args);
    assert!(out.status.success(), "hangar build failed:\n{}", text(&out));
    assert!(
        text(&out).contains("build arg ADDITIONAL_RUNTIME_ENV_VARS (from flag --build-arg ADDITIONAL_RUNTIME_ENV_VARS) is a legacy name"),
        "{}",
        text(&out)
    );
    // The build's SBOM names the image it printed, and `hangar sbom` on it agrees.
    let image_id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_sbom_matches(&name, &image_id, &sbom);
    let again = dir.path().join("again.cdx.json");
    hangar_sbom("podman", "cyclonedx", &name, &again);
    assert_sbom_matches(&name, &image_id, &again);
    let spdx = dir.path().join("image.spdx.json");
    hangar_sbom("buildah", "spdx", &name, &spdx);
    assert_spdx_matches(&name, &image_id, &spdx);
    let run = images::run_in_image(&name, &["cat", "/etc/hangar-seed-eula"]);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout).trim(),
        "Y",
        "{}",
        text(&run)
    );
    assert_kept_apt_sources(&name, &apt_line);
    let config = images::inspect(&name);
    assert!(
        config.contains(&format!(
            r#""org.opencontainers.image.version": "{version}""#
        )),
        "the label names the wheel's version:\n{config}"
    );
    let pointer = sbom.file_name().unwrap().to_string_lossy();
    assert!(
        config.contains(&format!(r#""io.hangar.sbom": "{pointer}""#)),
        "the image does not point to its SBOM:\n{config}"
    );
    let facts = facts(&Podman, &name);
    assert_base_facts(&facts, version);
    assert_eq!(fact(&facts, "mariadb"), "yes");
    // `airflow ARGS` straight through the entrypoint (no shell).
    let run = podman_run(&name, &[], &["airflow", "version"]);
    let direct = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(direct.lines().last(), Some(version), "{}", text(&run));
    assert_check_dags_on_airflow2(&name, dir.path());
    drop(_image);
    prune_dangling();
}

/// `--apt-sources-in-image`: `image` has `apt_line` as `sources.list.d/hangar.list` and no
/// other Debian sources, and apt as root reads its packages from there.
fn assert_kept_apt_sources(image: &str, apt_line: &str) {
    let run = podman_run(
        image,
        &["--user", "0", "--entrypoint", "sh"],
        &[
            "-c",
            "ls /etc/apt/sources.list.d; test -e /etc/apt/sources.list || echo no-sources-list; \
             cat /etc/apt/sources.list.d/hangar.list; apt-get update",
        ],
    );
    let out = text(&run);
    assert!(run.status.success(), "{out}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("hangar.list"), "{out}");
    assert_eq!(lines.next(), Some("no-sources-list"), "{out}");
    assert_eq!(lines.next(), Some(apt_line.trim_end()), "{out}");
    let mirror = apt_line.split_whitespace().nth(1).unwrap();
    let fetched: Vec<&str> = lines.filter(|l| l.contains(" bookworm")).collect();
    assert!(
        !fetched.is_empty() && fetched.iter().all(|l| l.contains(mirror)),
        "apt-get update read other sources than {mirror}:\n{out}"
    );
}

/// `hangar check-dags` with the Airflow 2 of `image`: the example DAG `hangar new` writes
/// imports, a file importing a missing module fails naming it.
fn assert_check_dags_on_airflow2(image: &str, dir: &Path) {
    let project = dir.join("project");
    let new = Command::new(env!("CARGO_BIN_EXE_hangar"))
        .arg("new")
        .arg(&project)
        .output()
        .unwrap();
    assert!(new.status.success(), "{}", text(&new));
    let check = |folder: &Path| {
        Command::new(env!("CARGO_BIN_EXE_hangar"))
            .env("BUILDAH_ISOLATION", "chroot")
            .env("CONTAINERS_STORAGE_CONF", images::storage_conf())
            .args(["check-dags", "--engine", "buildah", image])
            .arg(folder)
            .output()
            .unwrap()
    };
    let good = check(&project.join("dags"));
    assert!(good.status.success(), "{}", text(&good));
    let listed = String::from_utf8_lossy(&good.stdout).into_owned();
    assert!(
        listed.contains("example_hangar\texample_dag.py"),
        "{}",
        text(&good)
    );
    std::fs::write(
        project.join("dags/missing.py"),
        "from airflow import DAG\nimport hangar_nope\n",
    )
    .unwrap();
    let bad = check(&project.join("dags"));
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let all = text(&bad);
    assert!(
        all.contains("missing.py:") && all.contains("No module named 'hangar_nope'"),
        "{all}"
    );
}

/// For users without hangar: a plain build of the repository with HANGAR_BINARY_SOURCE=build
/// compiles hangar in RUST_IMAGE (here a local image with this host's toolchain, reaching the
/// crate registry through the CA bundle secret), and the binary it makes runs.
#[test]
fn plain_build_compiles_hangar_from_the_repository() {
    let _lock = build_lock();
    images::ensure_rust_image();
    let dir = tempfile::tempdir().unwrap();
    let ca = marked_ca_bundle(dir.path(), CA_MARKER);
    let name = tag("hangar-bin");
    let _image = ImageGuard::new(&name);
    // The repository itself is the context, as in `docker build .`.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let args = [
        "--pull-never".to_owned(),
        "--build-arg".to_owned(),
        "HANGAR_BINARY_SOURCE=build".to_owned(),
        "--build-arg".to_owned(),
        format!("RUST_IMAGE={}", images::RUST_IMAGE),
        "--target".to_owned(),
        "hangar-bin".to_owned(),
    ];
    let out = buildah_bud(&repo, &ca, &args, &name);
    assert!(out.status.success(), "build failed:\n{}", text(&out));
    let version = images::run_in_image(&name, &["/hangar", "--version"]);
    assert!(version.status.success(), "{}", text(&version));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("hangar {}", env!("CARGO_PKG_VERSION"))
    );
    drop(_image);
    prune_dangling();
}

/// Bad inputs: a malformed extra is refused by `hangar build` before any engine runs; an
/// Airflow version that does not exist fails at the install step naming the arg, and so do
/// constraints that cannot be downloaded; a missing context folder fails. None of them tags
/// an image.
#[test]
fn bad_inputs_fail_clearly_and_tag_nothing() {
    let _lock = build_lock();
    ensure_base_image();
    let dir = tempfile::tempdir().unwrap();
    let ca = marked_ca_bundle(dir.path(), CA_MARKER);
    let bad = tag("bad");
    let mut args = hangar_base_args(&ca);
    args.extend(["--extras", "postgres;rm -rf /", "-t", &bad].map(str::to_owned));
    let out = hangar_build(&args);
    assert_not_tagged(&bad, &out);
    assert!(
        text(&out).contains("AIRFLOW_EXTRAS") || text(&out).contains("--extras"),
        "{}",
        text(&out)
    );

    // --apt-sources replaces the base's Debian sources: a mirror nobody serves fails the
    // first apt step, naming it (no cache, so the step runs).
    let port = hangar_testkit::servers::free_port();
    let sources = dir.path().join("corp.list");
    std::fs::write(
        &sources,
        format!("deb http://127.0.0.1:{port}/debian bookworm main\n"),
    )
    .unwrap();
    let mut args = hangar_base_args(&ca);
    args.extend(
        [
            "--apt-sources",
            sources.to_str().unwrap(),
            "--engine-arg",
            "--no-cache",
            "--target",
            "airflow-build-image",
            "-t",
            &bad,
        ]
        .map(str::to_owned),
    );
    let out = hangar_build(&args);
    assert_not_tagged(&bad, &out);
    assert!(
        text(&out).contains(&format!("127.0.0.1:{port}")) && text(&out).contains("dev apt step"),
        "{}",
        text(&out)
    );

    let ctx = plain_context(dir.path(), None);
    let plain_build = |extra: &[&str]| {
        let mut args = plain_build_args(&[
            format!("AIRFLOW_EXTRAS={EXTRAS}"),
            "AIRFLOW_CONSTRAINTS_LOCATION=none".to_owned(),
        ]);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        buildah_bud(&ctx, &ca, &args, &bad)
    };
    let out = plain_build(&["--build-arg", "AIRFLOW_VERSION=3.99.0"]);
    assert_not_tagged(&bad, &out);
    let msg = text(&out);
    assert!(
        msg.contains("installing Airflow failed") && msg.contains("AIRFLOW_VERSION=\"3.99.0\""),
        "{msg}"
    );

    // Constraints that cannot be downloaded stop the build; no unconstrained install.
    let port = hangar_testkit::servers::free_port();
    let unreachable = format!("http://127.0.0.1:{port}/constraints-{BASE_PYTHON}.txt");
    let out = plain_build(&[
        "--build-arg",
        "AIRFLOW_VERSION=3.3.2",
        "--build-arg",
        &format!("AIRFLOW_CONSTRAINTS_LOCATION={unreachable}"),
    ]);
    assert_not_tagged(&bad, &out);
    let msg = text(&out);
    assert!(
        msg.contains(&format!(
            "cannot download the constraints file {unreachable}"
        )) && msg.contains("AIRFLOW_CONSTRAINTS_LOCATION"),
        "{msg}"
    );

    let out = plain_build(&[
        "--build-arg",
        "AIRFLOW_VERSION=3.3.2",
        "--build-arg",
        "DOCKER_CONTEXT_FILES=no-such-folder",
        "--build-arg",
        "INSTALL_DISTRIBUTIONS_FROM_CONTEXT=true",
    ]);
    assert_not_tagged(&bad, &out);
    assert!(text(&out).contains("no-such-folder"), "{}", text(&out));

    let out = plain_build(&[
        "--build-arg",
        "AIRFLOW_VERSION=3.3.2",
        "--build-arg",
        "INSTALL_DISTRIBUTIONS_FROM_CONTEXT=true",
        "--build-arg",
        "DOCKER_CONTEXT_FILES=docker-context-files",
    ]);
    assert_not_tagged(&bad, &out);
    assert!(
        text(&out).contains("holds no .whl or .tar.gz"),
        "{}",
        text(&out)
    );
    prune_dangling();
}

//! Real production-image builds: buildah (the test kit's overlay store, chroot isolation) on a
//! Debian base made with debootstrap, real Airflow from PyPI, images run with podman + runc.
//!
//! Builds are serialised (two cores) and every test removes the
//! images and layers it created. A build takes minutes: these are the slowest tests of the
//! workspace. Needs: buildah podman runc debootstrap (apt), PyPI and the Debian mirror.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use hangar_testkit::images::{
    self, BASE_IMAGE, BASE_PYTHON, ImageGuard, build_lock, buildah, constraints_file,
    ensure_base_image, image_exists, marked_ca_bundle, podman_run, prune_dangling,
};

const EXTRAS: &str = "postgres,celery,redis";
/// The Airflow 3 image's extras: `mysql` is asked for but INSTALL_MYSQL_CLIENT=false must drop
/// it (else pip would build mysqlclient without its headers, or MySQLdb would be importable).
const EXTRAS_WITH_MYSQL: &str = "postgres,celery,redis,mysql";
const CA_MARKER: &str = "hangar-test-ca-marker-5d1e0c";
const PIP_MARKER: &str = "hangar-test-pipconf-marker-a93b77";

fn hangar() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hangar"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `hangar build` with buildah on the test kit's store, chroot isolation and the test
/// machine's CA bundle.
fn hangar_build(ca: &Path, args: &[&str]) -> Output {
    let ca = ca.display().to_string();
    hangar()
        .env("BUILDAH_ISOLATION", "chroot")
        .env("CONTAINERS_STORAGE_CONF", images::storage_conf())
        .args(["build", "--engine", "buildah", "--progress", "plain"])
        .args([
            "--python",
            BASE_PYTHON,
            "--python-base-image",
            BASE_IMAGE,
            "--ca-bundle",
            &ca,
        ])
        .args(["--build-arg", "INSTALL_MSSQL_CLIENT=false"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run hangar build")
}

fn tag(name: &str) -> String {
    format!("localhost/hangar-test-{name}:{}", std::process::id())
}

/// The shell script run through the entrypoint (`bash -c`) as the default user: prints one
/// `key=value` line per fact the tests assert on.
const FACTS: &str = r#"
echo "uid=$(id -u) gid=$(id -g)"
echo "python=$(python --version 2>&1)"
echo "bash=$(bash --version | head -n 1)"
echo "airflow=$(airflow version 2>/dev/null | tail -n 1)"
if pip check >/dev/null 2>&1; then echo "pipcheck=ok"; else echo "pipcheck=FAILED"; pip check; fi
for c in gcc cc make; do if command -v "$c" >/dev/null; then echo "compiler=$c"; fi; done
if command -v tree >/dev/null; then echo "tree=yes"; fi
if python -c 'import cowsay' 2>/dev/null; then echo "cowsay=yes"; fi
if python -c 'import MySQLdb' 2>/dev/null; then echo "mysqldb=yes"; fi
if command -v mariadb >/dev/null || command -v mysql >/dev/null; then echo "mariadb=yes"; fi
if command -v psql >/dev/null; then echo "psql=yes"; fi
echo "pwd=$(pwd) home=$AIRFLOW_HOME venv=$VIRTUAL_ENV setsid=$DUMB_INIT_SETSID"
echo "dirs=$(stat -c '%u:%g:%a' "$AIRFLOW_HOME/dags" "$AIRFLOW_HOME/logs" "$AIRFLOW_HOME/plugins" | tr '\n' ' ')"
echo "passwd=$(stat -c '%a' /etc/passwd)"
echo "venvperm=$(stat -c '%u:%g:%a' "$VIRTUAL_ENV/bin/airflow" "$VIRTUAL_ENV" | tr '\n' ' ')"
echo "constraints=$(grep -c '==' "$HOME/constraints.txt")"
echo "entrypoint=$(readlink /entrypoint) hangar=$(stat -c '%F' /usr/local/bin/hangar)"
"#;

fn fact<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= line in:\n{out}"))
}

/// True when `needle` occurs in `file` (streamed, so multi-GB archives are fine).
fn file_contains(file: &Path, needle: &[u8]) -> bool {
    let mut f = std::fs::File::open(file).expect("open archive");
    let mut buf = vec![0u8; 8 << 20];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = f.read(&mut buf).expect("read archive");
        if n == 0 {
            return false;
        }
        carry.extend_from_slice(&buf[..n]);
        if carry.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        let keep = needle.len().min(carry.len());
        carry.drain(..carry.len() - keep);
    }
}

/// Asserts the final image's layers (uncompressed) and history hold neither marker.
fn assert_no_secrets(image: &str, dir: &Path) {
    let archive = dir.join("image.tar");
    images::check(
        buildah()
            .args(["push", "--disable-compression", image])
            .arg(format!("docker-archive:{}", archive.display())),
        "export the image",
    );
    for marker in [CA_MARKER, PIP_MARKER] {
        assert!(
            !file_contains(&archive, marker.as_bytes()),
            "{marker} found in the image's layers"
        );
    }
    let config = images::inspect(image);
    assert!(
        !config.contains(CA_MARKER) && !config.contains(PIP_MARKER),
        "marker in the image config/history"
    );
    assert!(
        !config.contains("hangar-ca,src") && !config.contains("PIP_CONFIG_FILE"),
        "secret plumbing in config:\n{config}"
    );
    std::fs::remove_file(&archive).ok();
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
    let constraints = constraints_file(hangar_testkit::airflow::AIRFLOW_3, EXTRAS);
    let dir = tempfile::tempdir().unwrap();
    let ca = marked_ca_bundle(dir.path(), CA_MARKER);
    let pip_conf = dir.path().join("pip.conf");
    std::fs::write(
        &pip_conf,
        format!("[global]\ntimeout = 60\n# {PIP_MARKER}\n"),
    )
    .unwrap();
    let name = tag("af3");
    let _image = ImageGuard::new(&name);

    let out = hangar_build(
        &ca,
        &[
            "--install-airflow-version",
            hangar_testkit::airflow::AIRFLOW_3,
            "--extras",
            EXTRAS_WITH_MYSQL,
            "--disable-mysql-client-installation",
            "--additional-runtime-apt-deps",
            "tree",
            "--additional-python-deps",
            "cowsay==6.1",
            "--constraints-location",
            constraints.to_str().unwrap(),
            "--pip-conf",
            pip_conf.to_str().unwrap(),
            "--build-arg",
            "COMMIT_SHA=0123abc",
            "-t",
            &name,
        ],
    );
    assert!(out.status.success(), "hangar build failed:\n{}", text(&out));

    // Image config: user, entrypoint, env, labels.
    let config = images::inspect(&name);
    for needle in [
        r#""User": "50000""#,
        r#""/entrypoint""#,
        "DUMB_INIT_SETSID=1",
        "VIRTUAL_ENV=/home/airflow/.local",
        "PATH=/home/airflow/.local/bin:",
        r#""org.opencontainers.image.version": "3.3.2""#,
        r#""org.apache.airflow.python.version": "3.11""#,
        r#""org.opencontainers.image.revision": "0123abc""#,
        r#""org.opencontainers.image.source": "https://github.com/apache/airflow""#,
        r#""WorkingDir": "/opt/airflow""#,
    ] {
        assert!(
            config.contains(needle),
            "{needle} missing from the image config:\n{config}"
        );
    }
    assert!(
        !config.contains(r#""org.opencontainers.image.created": """#),
        "created label empty"
    );

    // One run through the entrypoint as the default user.
    let run = podman_run(&name, &[], &["bash", "-c", FACTS]);
    let facts = text(&run);
    assert!(run.status.success(), "facts run failed:\n{facts}");
    assert_eq!(fact(&facts, "uid"), "50000 gid=0");
    assert_eq!(fact(&facts, "python"), "Python 3.11.2");
    assert!(
        fact(&facts, "bash").starts_with("GNU bash, version 5."),
        "{facts}"
    );
    assert_eq!(fact(&facts, "airflow"), "3.3.2");
    assert_eq!(fact(&facts, "pipcheck"), "ok");
    assert!(
        !facts.contains("compiler="),
        "compilers in the final image:\n{facts}"
    );
    assert_eq!(fact(&facts, "tree"), "yes");
    assert_eq!(fact(&facts, "cowsay"), "yes");
    assert!(
        !facts.contains("mysqldb=yes") && !facts.contains("mariadb=yes"),
        "MySQL left in:\n{facts}"
    );
    assert_eq!(fact(&facts, "psql"), "yes");
    assert_eq!(
        fact(&facts, "pwd"),
        "/opt/airflow home=/opt/airflow venv=/home/airflow/.local setsid=1"
    );
    assert_eq!(fact(&facts, "dirs"), "50000:0:775 50000:0:775 50000:0:775 ");
    assert_eq!(fact(&facts, "passwd"), "664");
    assert_eq!(fact(&facts, "venvperm"), "50000:0:775 50000:0:775 ");
    assert!(
        fact(&facts, "constraints").parse::<u32>().unwrap() > 50,
        "{facts}"
    );
    assert_eq!(
        fact(&facts, "entrypoint"),
        "/usr/local/bin/hangar hangar=regular file"
    );

    // An arbitrary UID in group 0 without a passwd entry of podman's: the entrypoint appends
    // one (name `default`) and sets HOME. `python` is dispatched straight to the venv's.
    let run = podman_run(
        &name,
        &["--user", "12345:0", "--passwd=false"],
        &[
            "python",
            "-c",
            "import os, pwd, airflow; e = pwd.getpwuid(os.getuid()); \
             print(f'user={e.pw_name}:{e.pw_uid}:{e.pw_gid}:{e.pw_dir} gid={os.getgid()} \
             home={os.environ[\"HOME\"]}'); print('airflow=' + airflow.__version__)",
        ],
    );
    let out12345 = text(&run);
    assert!(
        run.status.success(),
        "arbitrary uid run failed:\n{out12345}"
    );
    assert_eq!(
        fact(&out12345, "user"),
        "default:12345:0:/home/airflow gid=0 home=/home/airflow",
        "{out12345}"
    );
    assert_eq!(fact(&out12345, "airflow"), "3.3.2");

    assert_no_secrets(&name, dir.path());

    // The same Dockerfile through buildah directly with --build-args (no front end): a context
    // with the Dockerfile, the hangar binary and the constraints. Only ADDITIONAL_PYTHON_DEPS
    // differs, so the Airflow layer is reused.
    let ctx = dir.path().join("plain");
    std::fs::create_dir_all(ctx.join(".hangar")).unwrap();
    std::fs::create_dir_all(ctx.join("docker-context-files")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../Dockerfile"),
        ctx.join("Dockerfile"),
    )
    .unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_hangar"), ctx.join(".hangar/hangar")).unwrap();
    // Same file name and args as hangar passed, so the cached layers match.
    let constraints_name = constraints
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    std::fs::copy(
        &constraints,
        ctx.join("docker-context-files").join(&constraints_name),
    )
    .unwrap();
    let plain = tag("af3-plain");
    let _plain_image = ImageGuard::new(&plain);
    let plain_build = |extra: &[&str], t: &str| {
        let mut c = buildah();
        c.args([
            "bud",
            "--isolation",
            "chroot",
            "--layers",
            "--force-rm",
            "--format",
            "docker",
        ])
        .arg("--secret")
        .arg(format!("id=hangar-ca,src={}", ca.display()));
        for kv in [
            "HANGAR_BINARY_SOURCE=context".to_owned(),
            format!("PYTHON_BASE_IMAGE={BASE_IMAGE}"),
            format!("PYTHON_MAJOR_MINOR_VERSION={BASE_PYTHON}"),
            "AIRFLOW_VERSION=3.3.2".to_owned(),
            format!("AIRFLOW_EXTRAS={EXTRAS_WITH_MYSQL}"),
            "INSTALL_MYSQL_CLIENT=false".to_owned(),
            "INSTALL_MSSQL_CLIENT=false".to_owned(),
            "ADDITIONAL_RUNTIME_APT_DEPS=tree".to_owned(),
            "DOCKER_CONTEXT_FILES=docker-context-files".to_owned(),
            "AIRFLOW_INSTALLATION_METHOD=apache-airflow".to_owned(),
            format!("AIRFLOW_CONSTRAINTS_LOCATION=/docker-context-files/{constraints_name}"),
        ] {
            c.arg("--build-arg").arg(kv);
        }
        c.args(extra)
            .args(["-t", t, "-f"])
            .arg(ctx.join("Dockerfile"))
            .arg(&ctx)
            .stdin(Stdio::null());
        c.output().expect("run buildah bud")
    };
    let out = plain_build(
        &["--build-arg", "ADDITIONAL_PYTHON_DEPS=cowsay==6.0"],
        &plain,
    );
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

    // The build stage had the compilers the final image lacks.
    let stage = tag("af3-build-stage");
    let _stage_image = ImageGuard::new(&stage);
    let out = plain_build(
        &[
            "--build-arg",
            "ADDITIONAL_PYTHON_DEPS=cowsay==6.0",
            "--target",
            "airflow-build-image",
        ],
        &stage,
    );
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
    let out = hangar_build(
        &ca,
        &[
            "--airflow-sources",
            wheel.to_str().unwrap(),
            "--extras",
            EXTRAS,
            "--constraints-location",
            constraints.to_str().unwrap(),
            "-t",
            &name,
        ],
    );
    assert!(out.status.success(), "hangar build failed:\n{}", text(&out));
    let config = images::inspect(&name);
    assert!(
        config.contains(&format!(
            r#""org.opencontainers.image.version": "{version}""#
        )),
        "the label names the wheel's version:\n{config}"
    );
    let run = podman_run(&name, &[], &["bash", "-c", FACTS]);
    let facts = text(&run);
    assert!(run.status.success(), "{facts}");
    assert_eq!(fact(&facts, "uid"), "50000 gid=0");
    assert_eq!(fact(&facts, "airflow"), version);
    assert_eq!(fact(&facts, "pipcheck"), "ok");
    assert!(
        !facts.contains("compiler="),
        "compilers in the final image:\n{facts}"
    );
    assert_eq!(fact(&facts, "mariadb"), "yes");
    // `airflow ARGS` straight through the entrypoint (no shell).
    let run = podman_run(&name, &[], &["airflow", "version"]);
    let direct = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(direct.lines().last(), Some(version), "{}", text(&run));
    drop(_image);
    prune_dangling();
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
    let out = buildah()
        .args([
            "bud",
            "--isolation",
            "chroot",
            "--layers",
            "--force-rm",
            "--pull-never",
            "--format",
            "docker",
        ])
        .arg("--secret")
        .arg(format!("id=hangar-ca,src={}", ca.display()))
        .args(["--build-arg", "HANGAR_BINARY_SOURCE=build"])
        .arg("--build-arg")
        .arg(format!("RUST_IMAGE={}", images::RUST_IMAGE))
        .args(["--target", "hangar-bin", "-t", &name, "-f"])
        .arg(repo.join("Dockerfile"))
        .arg(&repo)
        .stdin(Stdio::null())
        .output()
        .expect("run buildah bud");
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
    let out = hangar_build(&ca, &["--extras", "postgres;rm -rf /", "-t", &bad]);
    assert_not_tagged(&bad, &out);
    assert!(
        text(&out).contains("AIRFLOW_EXTRAS") || text(&out).contains("--extras"),
        "{}",
        text(&out)
    );

    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(ctx.join(".hangar")).unwrap();
    std::fs::create_dir_all(ctx.join("docker-context-files")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../Dockerfile"),
        ctx.join("Dockerfile"),
    )
    .unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_hangar"), ctx.join(".hangar/hangar")).unwrap();
    let plain_build = |extra: &[&str]| {
        let mut c = buildah();
        c.args([
            "bud",
            "--isolation",
            "chroot",
            "--layers",
            "--force-rm",
            "--format",
            "docker",
        ])
        .arg("--secret")
        .arg(format!("id=hangar-ca,src={}", ca.display()));
        for kv in [
            "HANGAR_BINARY_SOURCE=context".to_owned(),
            format!("PYTHON_BASE_IMAGE={BASE_IMAGE}"),
            format!("PYTHON_MAJOR_MINOR_VERSION={BASE_PYTHON}"),
            format!("AIRFLOW_EXTRAS={EXTRAS}"),
            "INSTALL_MYSQL_CLIENT=false".to_owned(),
            "INSTALL_MSSQL_CLIENT=false".to_owned(),
            "AIRFLOW_CONSTRAINTS_LOCATION=none".to_owned(),
        ] {
            c.arg("--build-arg").arg(kv);
        }
        c.args(extra)
            .args(["-t", &bad, "-f"])
            .arg(ctx.join("Dockerfile"))
            .arg(&ctx)
            .stdin(Stdio::null());
        c.output().expect("run buildah bud")
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

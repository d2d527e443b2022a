//! Checks of a built Airflow image shared by the buildah/podman and Docker tests, and the
//! inputs of the Airflow 3 image both engines build (build arguments, secret files with
//! markers, the context of a plain engine build without hangar).
//!
//! An [`Engine`] says how to run a container of an image and how to export its layers; the
//! checks are the same whichever engine built the image.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use hangar_testkit::docker::Dockerd;
use hangar_testkit::images::{
    self, BASE_IMAGE, BASE_PYTHON, buildah, constraints_file, marked_ca_bundle, podman_run,
};

pub(crate) const EXTRAS: &str = "postgres,celery,redis";
/// The Airflow 3 image's extras: `mysql` is asked for but INSTALL_MYSQL_CLIENT=false must drop
/// it (else pip would build mysqlclient without its headers, or MySQLdb would be importable);
/// `uv` (in hangar's default extras) puts uv in the venv, for extensions that `uv pip install`.
pub(crate) const EXTRAS_WITH_MYSQL: &str = "postgres,celery,redis,mysql,uv";
pub(crate) const CA_MARKER: &str = "hangar-test-ca-marker-5d1e0c";
const PIP_MARKER: &str = "hangar-test-pipconf-marker-a93b77";
const NETRC_MARKER: &str = "hangar-test-netrc-marker-41c2d8";
const PYPIRC_MARKER: &str = "hangar-test-pypirc-marker-7e05b1";
const PIPRC_MARKER: &str = "hangar-test-piprc-marker-c39a4f";
/// The token of the `--pip-index-url` the Airflow 3 builds install through (PyPI ignores it).
const INDEX_MARKER: &str = "hangar-test-index-token-0b8e62";
const APT_MARKER: &str = "hangar-test-apt-sources-marker-e4f190";
/// Every marker planted in a credential input of the Airflow 3 builds.
const MARKERS: [&str; 7] = [
    CA_MARKER,
    PIP_MARKER,
    NETRC_MARKER,
    PYPIRC_MARKER,
    PIPRC_MARKER,
    INDEX_MARKER,
    APT_MARKER,
];
/// The revision label the Airflow 3 builds set (`COMMIT_SHA`).
const COMMIT_SHA: &str = "0123abc";
/// The creation date a plain build passes (`hangar build` sets the build time).
const DATE_CREATED: &str = "2026-01-02T03:04:05Z";

/// The stdout and stderr of a command, for assertions and failure messages.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the shell `script` through the entrypoint of `image` as its user and checks that it
/// succeeds and prints each of `lines` as a whole line.
pub(crate) fn assert_script_prints(
    engine: &impl Engine,
    image: &str,
    script: &str,
    lines: &[&str],
) {
    let run = engine.run(image, None, &["bash", "-c", script]);
    let out = text(&run);
    assert!(run.status.success(), "{out}");
    for want in lines {
        assert!(out.lines().any(|l| l == *want), "no {want} in:\n{out}");
    }
}

/// How a test runs containers of an image and reads what the image holds.
pub(crate) trait Engine {
    /// Runs `args` through the image's entrypoint (`--rm`, host network), as the image's
    /// user or as `user` (`UID:GID`) with no passwd entry made by the engine; captured.
    fn run(&self, image: &str, user: Option<&str>, args: &[&str]) -> Output;
    /// Writes the image's layers, uncompressed, as one archive at `archive`.
    fn export(&self, image: &str, archive: &Path);
    /// The image's config and history as text.
    fn inspect(&self, image: &str) -> String;
}

/// Images in the test kit's buildah store, run with podman + runc.
pub(crate) struct Podman;

impl Engine for Podman {
    fn run(&self, image: &str, user: Option<&str>, args: &[&str]) -> Output {
        match user {
            // podman writes a passwd entry for an unknown UID unless told not to.
            Some(user) => podman_run(image, &["--user", user, "--passwd=false"], args),
            None => podman_run(image, &[], args),
        }
    }

    fn export(&self, image: &str, archive: &Path) {
        images::check(
            buildah()
                .args(["push", "--disable-compression", image])
                .arg(format!("docker-archive:{}", archive.display())),
            "export the image",
        );
    }

    fn inspect(&self, image: &str) -> String {
        images::inspect(image)
    }
}

/// Images in a test's own Docker daemon.
impl Engine for Dockerd {
    fn run(&self, image: &str, user: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = self.client();
        cmd.args(["run", "--rm", "--network", "host"]);
        if let Some(user) = user {
            cmd.args(["--user", user]);
        }
        cmd.arg(image).args(args).output().expect("run docker run")
    }

    fn export(&self, image: &str, archive: &Path) {
        self.docker_ok(&["save", "-o", &archive.to_string_lossy(), image]);
    }

    fn inspect(&self, image: &str) -> String {
        let config = self.docker_ok(&["image", "inspect", image]);
        let history = self.docker_ok(&["history", "--no-trunc", image]);
        format!("{config}\n{history}")
    }
}

/// The shell script run through the entrypoint (`bash -c`) as the default user: prints one
/// `key=value` line per fact the tests assert on.
pub(crate) const FACTS: &str = r#"
echo "uid=$(id -u) gid=$(id -g)"
echo "python=$(python --version 2>&1)"
echo "bash=$(bash --version | head -n 1)"
echo "airflow=$(airflow version 2>/dev/null | tail -n 1)"
if pip check >/dev/null 2>&1; then echo "pipcheck=ok"; else echo "pipcheck=FAILED"; pip check; fi
for c in gcc cc make; do if command -v "$c" >/dev/null; then echo "compiler=$c"; fi; done
if command -v tree >/dev/null; then echo "tree=yes"; fi
echo "cowsay=$(python -c 'import cowsay, importlib.metadata as m; print(m.version("cowsay"))' 2>/dev/null || echo no)"
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

/// The value of the `key=` line of `out`.
pub(crate) fn fact<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= line in:\n{out}"))
}

/// Runs [`FACTS`] through the entrypoint as the image's user and returns its output.
pub(crate) fn facts(engine: &impl Engine, image: &str) -> String {
    let run = engine.run(image, None, &["bash", "-c", FACTS]);
    let facts = text(&run);
    assert!(run.status.success(), "facts run failed:\n{facts}");
    facts
}

/// Facts every image must show: the airflow user in group 0, Airflow `version`, a clean
/// `pip check`, no compilers.
pub(crate) fn assert_base_facts(facts: &str, version: &str) {
    assert_eq!(fact(facts, "uid"), "50000 gid=0");
    assert_eq!(fact(facts, "airflow"), version);
    assert_eq!(fact(facts, "pipcheck"), "ok");
    assert!(
        !facts.contains("compiler="),
        "compilers in the final image:\n{facts}"
    );
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

/// Asserts the image's layers (uncompressed) and its config and history hold no marker of
/// [`MARKERS`] nor the secrets' plumbing; the archive is written in `dir` and removed.
#[allow(clippy::print_stderr)]
pub(crate) fn assert_no_secrets(engine: &impl Engine, image: &str, dir: &Path) {
    let archive = dir.join("image.tar");
    engine.export(image, &archive);
    let layers = archive_layers(&archive);
    for marker in MARKERS {
        assert!(
            !file_contains(&archive, marker.as_bytes()),
            "{marker} found in the image's layers"
        );
    }
    std::fs::remove_file(&archive).ok();
    let config = engine.inspect(image);
    for marker in MARKERS {
        assert!(
            !config.contains(marker),
            "{marker} in the image config/history"
        );
    }
    assert!(
        !config.contains("hangar-ca,src") && !config.contains("PIP_CONFIG_FILE"),
        "secret plumbing in config:\n{config}"
    );
    let history = config.matches("created_by").count() + config.matches("CreatedBy").count();
    eprintln!(
        "marker scan of {image}: {} markers in {layers} layers, the config and {history} history entries: 0 hits",
        MARKERS.len()
    );
}

/// The number of layer tarballs of a docker-archive (its `manifest.json`'s `Layers`).
fn archive_layers(archive: &Path) -> usize {
    let out = std::process::Command::new("tar")
        .arg("-xOf")
        .arg(archive)
        .arg("manifest.json")
        .output()
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    manifest[0]["Layers"].as_array().map_or(0, Vec::len)
}

/// Every check of the Airflow 3 image built from [`Airflow3`]'s inputs with
/// `ADDITIONAL_PYTHON_DEPS=cowsay==<cowsay>`: its config, one run through the entrypoint as
/// the image's user, one as an arbitrary UID, and no secret in any layer.
pub(crate) fn assert_airflow3_image(engine: &impl Engine, image: &str, cowsay: &str, dir: &Path) {
    let config = engine.inspect(image);
    for needle in [
        r#""User": "50000""#,
        r#""/entrypoint""#,
        "DUMB_INIT_SETSID=1",
        "VIRTUAL_ENV=/home/airflow/.local",
        "PATH=/home/airflow/.local/bin:",
        r#""org.opencontainers.image.version": "3.3.2""#,
        r#""org.apache.airflow.python.version": "3.11""#,
        &format!(r#""org.opencontainers.image.revision": "{COMMIT_SHA}""#),
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
        "created label empty:\n{config}"
    );

    let facts = facts(engine, image);
    assert_base_facts(&facts, "3.3.2");
    assert_eq!(fact(&facts, "python"), "Python 3.11.2");
    assert!(
        fact(&facts, "bash").starts_with("GNU bash, version 5."),
        "{facts}"
    );
    assert_eq!(fact(&facts, "tree"), "yes");
    assert_eq!(fact(&facts, "cowsay"), cowsay, "{facts}");
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

    // An arbitrary UID in group 0 without a passwd entry: the entrypoint appends one (name
    // `default`) and sets HOME. `python` is dispatched straight to the venv's.
    let run = engine.run(
        image,
        Some("12345:0"),
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

    assert_no_secrets(engine, image, dir);
}

/// The arguments of `hangar build` every image test passes after the engine: the test kit's
/// base image and its Python, the marked CA bundle, no MSSQL client.
pub(crate) fn hangar_base_args(ca: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["--progress", "plain", "--python", BASE_PYTHON]
        .into_iter()
        .map(str::to_owned)
        .collect();
    args.extend([
        "--python-base-image".to_owned(),
        BASE_IMAGE.to_owned(),
        "--ca-bundle".to_owned(),
        ca.display().to_string(),
        "--build-arg".to_owned(),
        "INSTALL_MSSQL_CLIENT=false".to_owned(),
    ]);
    args
}

/// A context for a plain engine build of the repository's Dockerfile with
/// `HANGAR_BINARY_SOURCE=context`, in `dir/plain`: the Dockerfile, this hangar binary as
/// `.hangar/<arch>/hangar` and `docker-context-files/` (holding `constraints` when given).
pub(crate) fn plain_context(dir: &Path, constraints: Option<&Path>) -> PathBuf {
    let ctx = dir.join("plain");
    std::fs::create_dir_all(ctx.join(".hangar")).unwrap();
    std::fs::create_dir_all(ctx.join("docker-context-files")).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../Dockerfile"),
        ctx.join("Dockerfile"),
    )
    .unwrap();
    // The Dockerfile takes the binary of the target architecture, this machine's.
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    std::fs::create_dir_all(ctx.join(".hangar").join(arch)).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_hangar"),
        ctx.join(".hangar").join(arch).join("hangar"),
    )
    .unwrap();
    if let Some(constraints) = constraints {
        std::fs::copy(
            constraints,
            ctx.join("docker-context-files")
                .join(constraints.file_name().unwrap()),
        )
        .unwrap();
    }
    ctx
}

/// `--build-arg` pairs of every plain build: the hangar binary from the context, the test
/// kit's base image and Python, no MySQL or MSSQL client, then `more`.
pub(crate) fn plain_build_args(more: &[String]) -> Vec<String> {
    [
        "HANGAR_BINARY_SOURCE=context".to_owned(),
        format!("PYTHON_BASE_IMAGE={BASE_IMAGE}"),
        format!("PYTHON_MAJOR_MINOR_VERSION={BASE_PYTHON}"),
        "INSTALL_MYSQL_CLIENT=false".to_owned(),
        "INSTALL_MSSQL_CLIENT=false".to_owned(),
    ]
    .iter()
    .chain(more)
    .flat_map(|kv| ["--build-arg".to_owned(), kv.clone()])
    .collect()
}

/// The Airflow 3 image both engines build: Airflow 3.3.2 with [`EXTRAS_WITH_MYSQL`] and the
/// MySQL client disabled, `tree` as a runtime apt package, `cowsay` as an additional Python
/// dependency, generated constraints, a marked CA bundle and a marked `pip.conf`.
/// `http://host/path` as `http://host:80/path` (the same mirror, told apart in apt's output).
fn with_port(url: &str) -> String {
    match url.strip_prefix("http://").and_then(|r| r.split_once('/')) {
        Some((host, path)) if !host.contains(':') => format!("http://{host}:80/{path}"),
        _ => url.to_owned(),
    }
}

pub(crate) struct Airflow3 {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) ca: PathBuf,
    pub(crate) pip_conf: PathBuf,
    pub(crate) constraints: PathBuf,
    /// A marked `.netrc` (for a host the build never reaches).
    netrc: PathBuf,
    /// Marked apt sources: this machine's Debian mirror with its port spelled out.
    apt_sources: PathBuf,
    /// The context files folder: the seed's `.pypirc` and a `.piprc`, both marked.
    context_files: PathBuf,
}

impl Airflow3 {
    pub(crate) fn new() -> Self {
        let constraints = constraints_file(hangar_testkit::airflow::AIRFLOW_3, EXTRAS);
        let dir = tempfile::tempdir().unwrap();
        let ca = marked_ca_bundle(dir.path(), CA_MARKER);
        let pip_conf = dir.path().join("pip.conf");
        std::fs::write(
            &pip_conf,
            format!("[global]\ntimeout = 60\n# {PIP_MARKER}\n"),
        )
        .unwrap();
        let netrc = dir.path().join("netrc");
        std::fs::write(
            &netrc,
            format!("machine hangar-test.invalid login me password {NETRC_MARKER}\n"),
        )
        .unwrap();
        let apt_sources = dir.path().join("corp.sources");
        std::fs::write(
            &apt_sources,
            format!(
                "# {APT_MARKER}\nTypes: deb\nURIs: {}\nSuites: bookworm bookworm-updates\nComponents: main\n",
                with_port(&hangar_testkit::images::debian_mirror())
            ),
        )
        .unwrap();
        let context_files = dir.path().join("context-files");
        std::fs::create_dir_all(&context_files).unwrap();
        std::fs::write(
            context_files.join(".pypirc"),
            format!("[pypi]\nusername = __token__\npassword = {PYPIRC_MARKER}\n"),
        )
        .unwrap();
        std::fs::write(
            context_files.join(".piprc"),
            format!("[global]\ntimeout = 60\n# {PIPRC_MARKER}\n"),
        )
        .unwrap();
        Self {
            dir,
            ca,
            pip_conf,
            constraints,
            netrc,
            apt_sources,
            context_files,
        }
    }

    /// `hangar build` arguments after the engine, tagging `tag`, with
    /// `ADDITIONAL_PYTHON_DEPS=cowsay==6.1`.
    pub(crate) fn hangar_args(&self, tag: &str) -> Vec<String> {
        let mut args = hangar_base_args(&self.ca);
        args.extend(
            [
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
                self.constraints.to_str().unwrap(),
                "--pip-conf",
                self.pip_conf.to_str().unwrap(),
                "--netrc",
                self.netrc.to_str().unwrap(),
                "--apt-sources",
                self.apt_sources.to_str().unwrap(),
                "--context-files",
                self.context_files.to_str().unwrap(),
                "--pip-index-url",
                &format!("https://__token__:{INDEX_MARKER}@pypi.org/simple"),
                "--build-arg",
                &format!("COMMIT_SHA={COMMIT_SHA}"),
                // The customize route's DAG check: the image's (empty) dags folder, then the tag.
                "--check-dags",
                "-t",
                tag,
            ]
            .map(str::to_owned),
        );
        args
    }

    /// The context of a plain build of the same image (see [`plain_context`]), with the same
    /// context files, so an engine that keys layers on them reuses the Airflow layer.
    pub(crate) fn plain_context(&self) -> PathBuf {
        let ctx = plain_context(self.dir.path(), Some(&self.constraints));
        for name in [".pypirc", ".piprc"] {
            std::fs::copy(
                self.context_files.join(name),
                ctx.join("docker-context-files").join(name),
            )
            .unwrap();
        }
        ctx
    }

    /// `--build-arg` pairs of a plain build of the same image with
    /// `ADDITIONAL_PYTHON_DEPS=<additional>`: the arguments `hangar build` passes, with the same
    /// constraints file name, so an engine's cached Airflow layer matches.
    pub(crate) fn plain_build_args(&self, additional: &str) -> Vec<String> {
        let name = self.constraints.file_name().unwrap().to_str().unwrap();
        plain_build_args(&[
            "AIRFLOW_VERSION=3.3.2".to_owned(),
            format!("AIRFLOW_EXTRAS={EXTRAS_WITH_MYSQL}"),
            "ADDITIONAL_RUNTIME_APT_DEPS=tree".to_owned(),
            "DOCKER_CONTEXT_FILES=docker-context-files".to_owned(),
            "AIRFLOW_INSTALLATION_METHOD=apache-airflow".to_owned(),
            format!("AIRFLOW_CONSTRAINTS_LOCATION=/docker-context-files/{name}"),
            format!("ADDITIONAL_PYTHON_DEPS={additional}"),
            format!("COMMIT_SHA={COMMIT_SHA}"),
            format!("AIRFLOW_IMAGE_DATE_CREATED={DATE_CREATED}"),
        ])
    }

    /// `--secret` of the marked CA bundle for a plain build.
    pub(crate) fn ca_secret(&self) -> [String; 2] {
        [
            "--secret".to_owned(),
            format!("id=hangar-ca,src={}", self.ca.display()),
        ]
    }
}

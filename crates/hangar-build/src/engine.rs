//! The container engines hangar drives, their detection and their command lines.
//!
//! Command lines are built by pure functions of the build request and the paths of the
//! assembled context, so each engine's exact argv is unit-tested without running anything.
//! Detection asks the system only through [`Probe`], so every branch is unit-tested too.

mod docker;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use self::docker::{DEFAULT_SOCKET, DockerClient, DockerError, daemon_answers, detect_client};
use crate::options::ImageFormat;

/// A supported engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `docker buildx build` or `docker build` (BuildKit), as detected.
    Docker(DockerClient),
    /// `podman build`.
    Podman,
    /// `buildah bud`.
    Buildah,
}

impl Engine {
    /// The program run for this engine.
    #[must_use]
    pub fn program(self) -> &'static str {
        match self {
            Engine::Docker(_) => "docker",
            Engine::Podman => "podman",
            Engine::Buildah => "buildah",
        }
    }

    /// The Debian package that provides the engine.
    #[must_use]
    pub fn package_hint(self) -> &'static str {
        match self {
            Engine::Docker(client) => client.package_hint(),
            Engine::Podman => "podman (apt-get install podman)",
            Engine::Buildah => "buildah (apt-get install buildah)",
        }
    }

    /// The variables the engine's process gets on top of hangar's environment.
    #[must_use]
    pub fn environment(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Engine::Docker(client) => client.environment(),
            Engine::Podman | Engine::Buildah => &[],
        }
    }

    /// How the engine builds, when that varies (`docker build, embedded BuildKit`), for
    /// `--dry-run`.
    #[must_use]
    pub fn builder(self) -> Option<&'static str> {
        match self {
            Engine::Docker(client) => Some(client.describe()),
            Engine::Podman | Engine::Buildah => None,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// What detection asks of the system; behind a trait so detection is unit-tested.
pub trait Probe {
    /// True when `program args…` starts and exits with status 0.
    fn succeeds(&self, program: &str, args: &[&str]) -> bool;
    /// The standard output of `program args…` when it exits with status 0.
    fn output(&self, program: &str, args: &[&str]) -> Option<String>;
    /// A variable of hangar's environment.
    fn var(&self, name: &str) -> Option<OsString>;
    /// True when `path` exists (a socket, a file…).
    fn exists(&self, path: &Path) -> bool;
}

/// Runs the programs for real, with no input and output discarded.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemProbe;

impl Probe for SystemProbe {
    fn succeeds(&self, program: &str, args: &[&str]) -> bool {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn output(&self, program: &str, args: &[&str]) -> Option<String> {
        let out = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// Errors choosing an engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "no container engine found: tried docker buildx (with a running Docker daemon), podman and buildah. \
         Install one (e.g. apt-get install buildah) or name it with --engine"
    )]
    NoneFound,
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Picks the first working engine: docker with a daemon that answers (through `DOCKER_HOST`
/// or the default socket) and a client that builds, then podman, then buildah.
///
/// # Errors
/// None of them works.
pub fn detect(probe: &dyn Probe) -> Result<Engine, EngineError> {
    if daemon_answers(probe)
        && let Ok(client) = detect_client(probe)
    {
        return Ok(Engine::Docker(client));
    }
    if probe.succeeds("podman", &["--version"]) {
        return Ok(Engine::Podman);
    }
    if probe.succeeds("buildah", &["--version"]) {
        return Ok(Engine::Buildah);
    }
    Err(EngineError::NoneFound)
}

/// A build secret: a file the engine mounts into `RUN --mount=type=secret,id=…` steps only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretFile {
    pub id: String,
    pub src: PathBuf,
}

/// What the engine builds and how: everything on its command line except the engine itself
/// and the paths of the assembled context. A new engine setting is added here only; the
/// resolved plan carries this type and adds where each value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSpec {
    /// `NAME=VALUE` pairs in the order given.
    pub build_args: Vec<(String, String)>,
    pub secrets: Vec<SecretFile>,
    pub tags: Vec<String>,
    pub target: Option<String>,
    pub format: ImageFormat,
    /// Global `--storage-driver` for buildah and podman.
    pub storage_driver: Option<String>,
    /// `--platform` for every engine (`linux/arm64`; a comma list for docker buildx only).
    pub platform: Option<String>,
    /// `--isolation` for buildah and podman (from `BUILDAH_ISOLATION`).
    pub isolation: Option<String>,
    /// `--timestamp` for buildah and podman (from `SOURCE_DATE_EPOCH`).
    pub timestamp: Option<String>,
    /// Passed verbatim before the context path.
    pub engine_args: Vec<String>,
}

/// Everything an engine command line needs. Paths are those of the assembled context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub engine: Engine,
    pub spec: BuildSpec,
    pub dockerfile: PathBuf,
    pub iidfile: PathBuf,
    pub context: PathBuf,
}

/// The exact argv (program first) that runs the build.
#[must_use]
pub fn argv(inv: &Invocation) -> Vec<OsString> {
    let spec = &inv.spec;
    let mut a = program_argv(inv.engine, spec.storage_driver.as_deref());
    let mut push = |s: &str| a.push(s.into());
    match inv.engine {
        Engine::Buildah | Engine::Podman => {
            push(if inv.engine == Engine::Buildah {
                "bud"
            } else {
                "build"
            });
            push("--layers");
            // buildah keeps the working container of a failed step unless told otherwise.
            push("--force-rm");
            push("--format");
            push(spec.format.as_str());
            if let Some(isolation) = &spec.isolation {
                push("--isolation");
                push(isolation);
            }
            if let Some(ts) = &spec.timestamp {
                push("--timestamp");
                push(ts);
            }
        }
        Engine::Docker(DockerClient::Buildx) => {
            push("buildx");
            push("build");
            push("--load");
            push("--progress=plain");
        }
        // The image lands in the daemon's store by itself: there is no `--load`.
        Engine::Docker(DockerClient::Embedded) => {
            push("build");
            push("--progress=plain");
        }
    }
    if let Some(platform) = &spec.platform {
        push("--platform");
        push(platform);
    }
    for (k, v) in &spec.build_args {
        push("--build-arg");
        push(&format!("{k}={v}"));
    }
    for s in &spec.secrets {
        a.push("--secret".into());
        let mut secret = OsString::from(match inv.engine {
            // buildx picks `type=env` when a variable named like the id exists: be explicit.
            Engine::Docker(DockerClient::Buildx) => format!("type=file,id={},src=", s.id),
            Engine::Docker(DockerClient::Embedded) | Engine::Buildah | Engine::Podman => {
                format!("id={},src=", s.id)
            }
        });
        secret.push(&s.src);
        a.push(secret);
    }
    a.push("--iidfile".into());
    a.push(inv.iidfile.clone().into());
    if let Some(target) = &spec.target {
        a.push("--target".into());
        a.push(target.into());
    }
    for t in &spec.tags {
        a.push("-t".into());
        a.push(t.into());
    }
    a.extend(spec.engine_args.iter().map(OsString::from));
    a.push("-f".into());
    a.push(inv.dockerfile.clone().into());
    a.push(inv.context.clone().into());
    a
}

/// The engine's program and its global options: buildah's and podman's `--storage-driver`,
/// which go before the subcommand. Every command line hangar runs starts with these.
#[must_use]
pub fn program_argv(engine: Engine, storage_driver: Option<&str>) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![engine.program().into()];
    if let (Engine::Buildah | Engine::Podman, Some(d)) = (engine, storage_driver) {
        a.push("--storage-driver".into());
        a.push(d.into());
    }
    a
}

/// `ENGINE tag IMAGE NAME` (with buildah's and podman's `--storage-driver`).
#[must_use]
pub fn tag_argv(
    engine: Engine,
    storage_driver: Option<&str>,
    image: &str,
    name: &str,
) -> Vec<OsString> {
    let mut a = program_argv(engine, storage_driver);
    a.extend(["tag", image, name].map(OsString::from));
    a
}

/// The command line of `argv` run by `engine`, with the variables the engine gets in front
/// (`DOCKER_BUILDKIT=1 docker build …`), quoted to be pasted into a POSIX shell.
#[must_use]
pub fn command_line(engine: Engine, argv: &[OsString]) -> String {
    let mut line: String = engine
        .environment()
        .iter()
        .map(|(k, v)| format!("{k}={} ", shell_quote(v)))
        .collect();
    line.push_str(&shell_line(argv));
    line
}

/// Quotes an argv for display so it can be pasted into a POSIX shell.
#[must_use]
pub fn shell_line(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@%+{}".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    fn invocation(engine: Engine) -> Invocation {
        Invocation {
            engine,
            spec: BuildSpec {
                build_args: vec![
                    ("AIRFLOW_VERSION".into(), "3.1.0".into()),
                    ("ADDITIONAL_PYTHON_DEPS".into(), "rich httpx>=0.27".into()),
                ],
                secrets: vec![SecretFile {
                    id: "hangar-ca".into(),
                    src: "/etc/ssl/certs/ca-certificates.crt".into(),
                }],
                tags: vec!["my/airflow:3.1.0".into()],
                target: None,
                format: ImageFormat::Docker,
                storage_driver: None,
                platform: None,
                isolation: None,
                timestamp: None,
                engine_args: vec![],
            },
            dockerfile: "/w/context/Dockerfile".into(),
            iidfile: "/w/image-id".into(),
            context: "/w/context".into(),
        }
    }

    fn strings(a: &[OsString]) -> Vec<String> {
        a.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn buildah_argv() {
        let mut inv = invocation(Engine::Buildah);
        inv.spec.storage_driver = Some("vfs".into());
        inv.spec.isolation = Some("chroot".into());
        inv.spec.engine_args = vec!["--jobs".into(), "2".into()];
        assert_eq!(
            strings(&argv(&inv)),
            [
                "buildah",
                "--storage-driver",
                "vfs",
                "bud",
                "--layers",
                "--force-rm",
                "--format",
                "docker",
                "--isolation",
                "chroot",
                "--build-arg",
                "AIRFLOW_VERSION=3.1.0",
                "--build-arg",
                "ADDITIONAL_PYTHON_DEPS=rich httpx>=0.27",
                "--secret",
                "id=hangar-ca,src=/etc/ssl/certs/ca-certificates.crt",
                "--iidfile",
                "/w/image-id",
                "-t",
                "my/airflow:3.1.0",
                "--jobs",
                "2",
                "-f",
                "/w/context/Dockerfile",
                "/w/context",
            ]
        );
    }

    #[test]
    fn podman_argv() {
        let mut inv = invocation(Engine::Podman);
        inv.spec.format = ImageFormat::Oci;
        inv.spec.target = Some("airflow-build-image".into());
        inv.spec.timestamp = Some("1700000000".into());
        inv.spec.tags.push("second:tag".into());
        assert_eq!(
            strings(&argv(&inv)),
            [
                "podman",
                "build",
                "--layers",
                "--force-rm",
                "--format",
                "oci",
                "--timestamp",
                "1700000000",
                "--build-arg",
                "AIRFLOW_VERSION=3.1.0",
                "--build-arg",
                "ADDITIONAL_PYTHON_DEPS=rich httpx>=0.27",
                "--secret",
                "id=hangar-ca,src=/etc/ssl/certs/ca-certificates.crt",
                "--iidfile",
                "/w/image-id",
                "--target",
                "airflow-build-image",
                "-t",
                "my/airflow:3.1.0",
                "-t",
                "second:tag",
                "-f",
                "/w/context/Dockerfile",
                "/w/context",
            ]
        );
    }

    #[test]
    fn docker_buildx_argv() {
        let mut inv = invocation(Engine::Docker(DockerClient::Buildx));
        // Storage driver, isolation and format are buildah/podman settings.
        inv.spec.storage_driver = Some("vfs".into());
        inv.spec.isolation = Some("chroot".into());
        assert_eq!(
            strings(&argv(&inv)),
            [
                "docker",
                "buildx",
                "build",
                "--load",
                "--progress=plain",
                "--build-arg",
                "AIRFLOW_VERSION=3.1.0",
                "--build-arg",
                "ADDITIONAL_PYTHON_DEPS=rich httpx>=0.27",
                "--secret",
                "type=file,id=hangar-ca,src=/etc/ssl/certs/ca-certificates.crt",
                "--iidfile",
                "/w/image-id",
                "-t",
                "my/airflow:3.1.0",
                "-f",
                "/w/context/Dockerfile",
                "/w/context",
            ]
        );
    }

    #[test]
    fn docker_embedded_buildkit_argv() {
        let mut inv = invocation(Engine::Docker(DockerClient::Embedded));
        inv.spec.target = Some("airflow-build-image".into());
        inv.spec.engine_args = vec!["--network=host".into()];
        let a = argv(&inv);
        assert_eq!(
            strings(&a),
            [
                "docker",
                "build",
                "--progress=plain",
                "--build-arg",
                "AIRFLOW_VERSION=3.1.0",
                "--build-arg",
                "ADDITIONAL_PYTHON_DEPS=rich httpx>=0.27",
                "--secret",
                "id=hangar-ca,src=/etc/ssl/certs/ca-certificates.crt",
                "--iidfile",
                "/w/image-id",
                "--target",
                "airflow-build-image",
                "-t",
                "my/airflow:3.1.0",
                "--network=host",
                "-f",
                "/w/context/Dockerfile",
                "/w/context",
            ]
        );
        assert_eq!(inv.engine.environment(), [("DOCKER_BUILDKIT", "1")]);
        assert!(
            command_line(inv.engine, &a).starts_with(
                "DOCKER_BUILDKIT=1 docker build --progress=plain --build-arg AIRFLOW_VERSION=3.1.0 "
            ),
            "{}",
            command_line(inv.engine, &a)
        );
    }

    #[test]
    fn every_engine_takes_the_platform() {
        for (engine, value, after) in [
            (Engine::Buildah, "linux/arm64", "docker"),
            (Engine::Podman, "linux/arm64", "docker"),
            (
                Engine::Docker(DockerClient::Buildx),
                "linux/amd64,linux/arm64",
                "--progress=plain",
            ),
            (
                Engine::Docker(DockerClient::Embedded),
                "linux/arm64",
                "--progress=plain",
            ),
        ] {
            let mut inv = invocation(engine);
            inv.spec.platform = Some(value.into());
            let a = strings(&argv(&inv));
            let at = a
                .iter()
                .position(|s| s == "--platform")
                .expect("--platform");
            assert_eq!(a[at - 1], after, "{engine}: {a:?}");
            assert_eq!(a[at + 1], value, "{engine}: {a:?}");
            assert_eq!(a[at + 2], "--build-arg", "{engine}: {a:?}");
        }
        // No platform: the engine's native one, and no flag.
        let a = strings(&argv(&invocation(Engine::Buildah)));
        assert!(!a.contains(&"--platform".to_owned()), "{a:?}");
    }

    #[test]
    fn only_embedded_buildkit_sets_variables() {
        let a: Vec<OsString> = vec!["buildah".into(), "bud".into()];
        assert_eq!(command_line(Engine::Buildah, &a), "buildah bud");
        for e in [
            Engine::Buildah,
            Engine::Podman,
            Engine::Docker(DockerClient::Buildx),
        ] {
            assert!(e.environment().is_empty(), "{e}");
        }
        assert_eq!(
            Engine::Docker(DockerClient::Embedded).builder(),
            Some("docker build, embedded BuildKit")
        );
        assert_eq!(
            Engine::Docker(DockerClient::Buildx).builder(),
            Some("docker buildx build")
        );
        assert_eq!(Engine::Podman.builder(), None);
        assert!(
            Engine::Docker(DockerClient::Embedded)
                .package_hint()
                .contains("docker.io")
        );
    }

    #[test]
    fn shell_line_quotes_what_needs_it() {
        let a: Vec<OsString> = [
            "buildah",
            "--build-arg",
            "X=a b",
            "--build-arg",
            "Y=it's",
            "-t",
            "a/b:1",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            shell_line(&a),
            r"buildah --build-arg 'X=a b' --build-arg 'Y=it'\''s' -t a/b:1"
        );
    }

    /// Answers from a list: a call succeeds when it starts with one of `working`.
    pub(super) struct FakeProbe {
        working: Vec<&'static str>,
        outputs: BTreeMap<&'static str, &'static str>,
        vars: BTreeMap<&'static str, &'static str>,
        paths: Vec<&'static str>,
        calls: RefCell<Vec<String>>,
    }

    impl FakeProbe {
        pub(super) fn new(working: &[&'static str]) -> FakeProbe {
            FakeProbe {
                working: working.to_vec(),
                outputs: BTreeMap::new(),
                vars: BTreeMap::new(),
                paths: Vec::new(),
                calls: RefCell::default(),
            }
        }

        /// What a working `call` prints (nothing unless given).
        pub(super) fn with_output(mut self, call: &'static str, out: &'static str) -> FakeProbe {
            self.outputs.insert(call, out);
            self
        }

        pub(super) fn with_var(mut self, name: &'static str, value: &'static str) -> FakeProbe {
            self.vars.insert(name, value);
            self
        }

        pub(super) fn with_path(mut self, path: &'static str) -> FakeProbe {
            self.paths.push(path);
            self
        }

        /// The programs run so far, `program args…` each.
        pub(super) fn calls(&self) -> Vec<String> {
            self.calls.borrow().clone()
        }

        fn run(&self, program: &str, args: &[&str]) -> Option<String> {
            let call = format!("{program} {}", args.join(" "));
            let ok = self.working.iter().any(|w| call.starts_with(w));
            let out = ok.then(|| {
                self.outputs
                    .get(call.as_str())
                    .map_or_else(String::new, |o| (*o).to_owned())
            });
            self.calls.borrow_mut().push(call);
            out
        }
    }

    impl Probe for FakeProbe {
        fn succeeds(&self, program: &str, args: &[&str]) -> bool {
            self.run(program, args).is_some()
        }

        fn output(&self, program: &str, args: &[&str]) -> Option<String> {
            self.run(program, args)
        }

        fn var(&self, name: &str) -> Option<OsString> {
            self.vars.get(name).map(OsString::from)
        }

        fn exists(&self, path: &Path) -> bool {
            self.paths.iter().any(|p| Path::new(p) == path)
        }
    }

    const DEBIAN_CLIENT: &str = "Docker version 20.10.24+dfsg1, build 297e128";
    const DOCKER_28: &str = "Docker version 28.2.2, build e6534b4";

    #[test]
    fn detection_order() {
        let all = FakeProbe::new(&["docker", "podman", "buildah"])
            .with_var("DOCKER_HOST", "unix:///d/docker.sock");
        assert_eq!(detect(&all).unwrap(), Engine::Docker(DockerClient::Buildx));
        assert_eq!(
            all.calls(),
            [
                "docker version --format {{.Server.Version}}",
                "docker buildx version"
            ]
        );

        // A daemon on the default socket and Debian's client: the embedded BuildKit.
        let embedded = FakeProbe::new(&["docker version", "docker --version", "podman"])
            .with_output("docker --version", DEBIAN_CLIENT)
            .with_path(DEFAULT_SOCKET);
        assert_eq!(
            detect(&embedded).unwrap(),
            Engine::Docker(DockerClient::Embedded)
        );

        // A client that cannot build is skipped, as is a daemon that does not answer.
        let cannot_build = FakeProbe::new(&["docker version", "docker --version", "podman"])
            .with_output("docker --version", DOCKER_28)
            .with_path(DEFAULT_SOCKET);
        assert_eq!(detect(&cannot_build).unwrap(), Engine::Podman);
        let no_daemon = FakeProbe::new(&["docker buildx", "docker --version", "podman"])
            .with_var("DOCKER_HOST", "unix:///d/docker.sock");
        assert_eq!(detect(&no_daemon).unwrap(), Engine::Podman);

        // No daemon configured: docker is not even asked.
        let only_buildah = FakeProbe::new(&["docker", "buildah"]);
        assert_eq!(detect(&only_buildah).unwrap(), Engine::Buildah);
        assert_eq!(
            only_buildah.calls(),
            ["podman --version", "buildah --version"]
        );

        let none = FakeProbe::new(&[]);
        assert!(detect(&none).unwrap_err().to_string().contains("--engine"));
    }

    #[test]
    fn system_probe_reads_output_environment_and_paths() {
        assert_eq!(
            SystemProbe.output("echo", &["hello"]).as_deref(),
            Some("hello\n")
        );
        assert_eq!(SystemProbe.output("false", &[]), None);
        assert_eq!(SystemProbe.output("hangar-no-such-program", &[]), None);
        assert!(SystemProbe.var("PATH").is_some());
        assert!(SystemProbe.exists(Path::new("/")));
        assert!(!SystemProbe.exists(Path::new("/hangar-no-such-path")));
    }

    #[test]
    fn system_probe_runs_real_programs() {
        assert!(SystemProbe.succeeds("true", &[]));
        assert!(!SystemProbe.succeeds("false", &[]));
        assert!(!SystemProbe.succeeds("hangar-no-such-program", &[]));
    }
}

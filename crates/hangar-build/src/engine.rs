//! The container engines hangar drives, their detection and their command lines.
//!
//! Command lines are built by pure functions of the build request and the paths of the
//! assembled context, so each engine's exact argv is unit-tested without running anything.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::options::ImageFormat;

/// A supported engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `docker buildx build` (BuildKit).
    Docker,
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
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Buildah => "buildah",
        }
    }

    /// The Debian package that provides the engine.
    #[must_use]
    pub fn package_hint(self) -> &'static str {
        match self {
            Engine::Docker => "docker-ce-cli and docker-buildx-plugin (Docker's apt repository)",
            Engine::Podman => "podman (apt-get install podman)",
            Engine::Buildah => "buildah (apt-get install buildah)",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.program())
    }
}

/// Runs a program to see whether it works; behind a trait so detection is unit-tested.
pub trait Probe {
    /// True when `program args…` starts and exits with status 0.
    fn succeeds(&self, program: &str, args: &[&str]) -> bool;
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
}

/// Errors choosing an engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "no container engine found: tried docker buildx (with a running Docker daemon), podman and buildah. \
         Install one (e.g. apt-get install buildah) or name it with --engine"
    )]
    NoneFound,
}

/// Picks the first working engine: docker buildx with a reachable daemon, then podman, then
/// buildah.
///
/// # Errors
/// None of them works.
pub fn detect(probe: &dyn Probe) -> Result<Engine, EngineError> {
    if probe.succeeds("docker", &["buildx", "version"])
        && probe.succeeds("docker", &["version", "--format", "{{.Server.Version}}"])
    {
        return Ok(Engine::Docker);
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
    let mut a: Vec<OsString> = vec![inv.engine.program().into()];
    let mut push = |s: &str| a.push(s.into());
    match inv.engine {
        Engine::Buildah | Engine::Podman => {
            if let Some(driver) = &spec.storage_driver {
                push("--storage-driver");
                push(driver);
            }
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
        Engine::Docker => {
            push("buildx");
            push("build");
            push("--load");
            push("--progress=plain");
        }
    }
    for (k, v) in &spec.build_args {
        push("--build-arg");
        push(&format!("{k}={v}"));
    }
    for s in &spec.secrets {
        a.push("--secret".into());
        let mut secret = OsString::from(match inv.engine {
            // buildx picks `type=env` when a variable named like the id exists: be explicit.
            Engine::Docker => format!("type=file,id={},src=", s.id),
            Engine::Buildah | Engine::Podman => format!("id={},src=", s.id),
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
    fn docker_argv() {
        let mut inv = invocation(Engine::Docker);
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

    struct FakeProbe {
        working: Vec<&'static str>,
        calls: RefCell<Vec<String>>,
    }

    impl Probe for FakeProbe {
        fn succeeds(&self, program: &str, args: &[&str]) -> bool {
            let call = format!("{program} {}", args.join(" "));
            let ok = self.working.iter().any(|w| call.starts_with(w));
            self.calls.borrow_mut().push(call);
            ok
        }
    }

    #[test]
    fn detection_order() {
        let all = FakeProbe {
            working: vec!["docker", "podman", "buildah"],
            calls: RefCell::default(),
        };
        assert_eq!(detect(&all).unwrap(), Engine::Docker);

        // A docker client with buildx but no daemon is skipped.
        let no_daemon = FakeProbe {
            working: vec!["docker buildx", "podman", "buildah"],
            calls: RefCell::default(),
        };
        assert_eq!(detect(&no_daemon).unwrap(), Engine::Podman);

        let only_buildah = FakeProbe {
            working: vec!["buildah"],
            calls: RefCell::default(),
        };
        assert_eq!(detect(&only_buildah).unwrap(), Engine::Buildah);
        assert_eq!(
            only_buildah.calls.borrow().as_slice(),
            [
                "docker buildx version",
                "podman --version",
                "buildah --version"
            ]
        );

        let none = FakeProbe {
            working: vec![],
            calls: RefCell::default(),
        };
        assert!(detect(&none).unwrap_err().to_string().contains("--engine"));
    }

    #[test]
    fn system_probe_runs_real_programs() {
        assert!(SystemProbe.succeeds("true", &[]));
        assert!(!SystemProbe.succeeds("false", &[]));
        assert!(!SystemProbe.succeeds("hangar-no-such-program", &[]));
    }
}

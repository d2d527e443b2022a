//! Which `docker` client builds, and how: `docker buildx build --load` when the buildx
//! plugin answers, else `docker build` with `DOCKER_BUILDKIT=1`, which builds with the
//! daemon's embedded BuildKit on clients older than 23.0 (Debian 12's `docker.io` is 20.10).
//! From 23.0 on, `docker build` with BuildKit goes through buildx and refuses to run without
//! it, so such a client without the plugin cannot build here.

use std::fmt;
use std::path::Path;

use super::Probe;

/// The first client version whose `docker build` needs buildx for BuildKit.
const BUILDX_ONLY_FROM_MAJOR: u32 = 23;

/// The daemon's socket when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// How the `docker` client on `PATH` runs a BuildKit build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerClient {
    /// `docker buildx build --load`: the buildx plugin.
    Buildx,
    /// `DOCKER_BUILDKIT=1 docker build`: BuildKit embedded in the daemon, driven by a client
    /// that still has the switch.
    Embedded,
}

impl DockerClient {
    /// How the build runs, for `--dry-run`.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            DockerClient::Buildx => "docker buildx build",
            DockerClient::Embedded => "docker build, embedded BuildKit",
        }
    }

    /// The variables set in the client's environment.
    #[must_use]
    pub fn environment(self) -> &'static [(&'static str, &'static str)] {
        match self {
            DockerClient::Buildx => &[],
            DockerClient::Embedded => &[("DOCKER_BUILDKIT", "1")],
        }
    }

    /// What provides this client.
    #[must_use]
    pub fn package_hint(self) -> &'static str {
        match self {
            DockerClient::Buildx => {
                "docker-ce-cli and docker-buildx-plugin (Docker's apt repository)"
            }
            DockerClient::Embedded => "docker.io (apt-get install docker.io)",
        }
    }
}

impl fmt::Display for DockerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Why no `docker` client can build.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "no working `docker` client on PATH (`docker --version` fails). Install Debian's docker.io \
         (apt-get install docker.io), whose client builds with the daemon's embedded BuildKit, or \
         docker-ce-cli and docker-buildx-plugin from Docker's apt repository"
    )]
    NoClient,
    #[error(
        "the `docker` client on PATH ({version}) cannot build with BuildKit: it has no buildx plugin \
         (`docker buildx version` fails), and clients from {BUILDX_ONLY_FROM_MAJOR}.0 on run BuildKit \
         builds only through buildx. Install docker-buildx-plugin (Docker's apt repository), or put \
         a client that still builds with the daemon's embedded BuildKit first on PATH (Debian 12: \
         apt-get install docker.io, which installs /usr/bin/docker 20.10)"
    )]
    NoBuilder { version: String },
}

/// Finds how the `docker` client on `PATH` builds.
///
/// # Errors
/// There is no client, or it has neither buildx nor the embedded BuildKit switch.
pub fn detect_client(probe: &dyn Probe) -> Result<DockerClient, DockerError> {
    if probe.succeeds("docker", &["buildx", "version"]) {
        return Ok(DockerClient::Buildx);
    }
    let version = probe
        .output("docker", &["--version"])
        .ok_or(DockerError::NoClient)?;
    let version = version.trim().to_owned();
    match client_major(&version) {
        Some(major) if major < BUILDX_ONLY_FROM_MAJOR => Ok(DockerClient::Embedded),
        _ => Err(DockerError::NoBuilder { version }),
    }
}

/// True when a Docker daemon is configured (`DOCKER_HOST`, or the default socket exists) and
/// answers.
pub fn daemon_answers(probe: &dyn Probe) -> bool {
    let configured = probe.var("DOCKER_HOST").is_some_and(|h| !h.is_empty())
        || probe.exists(Path::new(DEFAULT_SOCKET));
    configured && probe.succeeds("docker", &["version", "--format", "{{.Server.Version}}"])
}

/// The major version in `docker --version` output (`Docker version 20.10.24+dfsg1, build …`);
/// `None` for anything else, such as podman's `docker` emulation.
fn client_major(version: &str) -> Option<u32> {
    let rest = version.strip_prefix("Docker version ")?;
    let major = rest.split(['.', ',', ' ']).next()?;
    major.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::FakeProbe;

    #[test]
    fn parses_client_versions() {
        assert_eq!(
            client_major("Docker version 20.10.24+dfsg1, build 297e128"),
            Some(20)
        );
        assert_eq!(
            client_major("Docker version 28.2.2, build e6534b4"),
            Some(28)
        );
        assert_eq!(client_major("podman version 4.3.1"), None);
        assert_eq!(client_major(""), None);
    }

    #[test]
    fn buildx_first() {
        let p = FakeProbe::new(&["docker buildx version", "docker --version"])
            .with_output("docker --version", "Docker version 20.10.24+dfsg1, build x");
        assert_eq!(detect_client(&p).unwrap(), DockerClient::Buildx);
        assert_eq!(p.calls(), ["docker buildx version"]);
    }

    #[test]
    fn old_client_without_buildx_uses_the_embedded_buildkit() {
        let p = FakeProbe::new(&["docker --version"]).with_output(
            "docker --version",
            "Docker version 20.10.24+dfsg1, build x\n",
        );
        assert_eq!(detect_client(&p).unwrap(), DockerClient::Embedded);
        assert_eq!(p.calls(), ["docker buildx version", "docker --version"]);
    }

    #[test]
    fn new_client_without_buildx_names_what_to_install() {
        let p = FakeProbe::new(&["docker --version"])
            .with_output("docker --version", "Docker version 28.2.2, build e6534b4");
        let msg = detect_client(&p).unwrap_err().to_string();
        for needle in ["Docker version 28.2.2", "docker-buildx-plugin", "docker.io"] {
            assert!(msg.contains(needle), "{needle:?} not in {msg}");
        }
        let unknown = FakeProbe::new(&["docker --version"]).with_output("docker --version", "?");
        assert!(matches!(
            detect_client(&unknown),
            Err(DockerError::NoBuilder { .. })
        ));
    }

    #[test]
    fn no_client_names_both_packages() {
        let p = FakeProbe::new(&[]);
        let err = detect_client(&p).unwrap_err();
        assert!(matches!(err, DockerError::NoClient));
        let msg = err.to_string();
        assert!(
            msg.contains("docker.io") && msg.contains("docker-buildx-plugin"),
            "{msg}"
        );
    }

    #[test]
    fn daemon_is_asked_only_when_configured() {
        let nothing = FakeProbe::new(&["docker"]);
        assert!(!daemon_answers(&nothing));
        assert!(nothing.calls().is_empty());

        let host = FakeProbe::new(&["docker"]).with_var("DOCKER_HOST", "unix:///d/docker.sock");
        assert!(daemon_answers(&host));
        assert_eq!(
            host.calls(),
            ["docker version --format {{.Server.Version}}"]
        );

        let empty_host = FakeProbe::new(&["docker"]).with_var("DOCKER_HOST", "");
        assert!(!daemon_answers(&empty_host));

        let socket = FakeProbe::new(&["docker"]).with_path(DEFAULT_SOCKET);
        assert!(daemon_answers(&socket));

        let silent = FakeProbe::new(&[]).with_path(DEFAULT_SOCKET);
        assert!(!daemon_answers(&silent));
    }
}

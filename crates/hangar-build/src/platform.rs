//! Target architectures: Docker's names (`amd64`, `arm64`), the `--platform` values engines
//! take, and which hangar binary goes into the build context for each target.
//!
//! The image's `/entrypoint` is the hangar binary from the context, so a binary that cannot run
//! on the target would give an image that cannot start: every binary's ELF header is read
//! before any engine runs ([`elf`]) and [`binaries::select`] refuses what does not fit.

pub mod binaries;
pub mod elf;
mod error;

use std::fmt;
use std::str::FromStr;

pub use self::binaries::{Binaries, HangarBinary, select};
pub use self::elf::{ElfError, Machine, read_machine};
pub use self::error::PlatformError;
use crate::engine::{DockerClient, Engine};
use crate::options::Origin;

/// A target architecture, in Docker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    /// Every architecture hangar builds for.
    pub const ALL: [Arch; 2] = [Arch::Amd64, Arch::Arm64];

    /// Docker's name (`TARGETARCH`, the `.hangar/<arch>/` folder of the context).
    #[must_use]
    pub fn docker_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The kernel's and Rust's name (`uname -m`).
    #[must_use]
    pub fn machine_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }

    /// The ELF header's `e_machine` of binaries for this architecture.
    #[must_use]
    pub fn e_machine(self) -> u16 {
        match self {
            Arch::Amd64 => 62,
            Arch::Arm64 => 183,
        }
    }

    /// The architecture of an ELF `e_machine`, when hangar builds for it.
    #[must_use]
    pub fn from_e_machine(machine: u16) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.e_machine() == machine)
    }

    /// `linux/<arch>`, as engines take it with `--platform`.
    #[must_use]
    pub fn platform(self) -> String {
        format!("linux/{}", self.docker_name())
    }

    /// The Rust target triple a binary for this architecture is built for.
    #[must_use]
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.docker_name())
    }
}

impl FromStr for Arch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|a| a.docker_name() == s)
            .ok_or_else(|| {
                let hint = match s {
                    "x86_64" | "x86-64" => " (Docker's name for x86_64 is amd64)",
                    "aarch64" | "arm64/v8" => " (Docker's name for aarch64 is arm64)",
                    _ => "",
                };
                format!("unknown architecture {s:?}{hint}: expected amd64 or arm64")
            })
    }
}

/// Parses a `--platform` value: `linux/amd64`, `linux/arm64` (`linux/arm64/v8` too), or a
/// comma list of them; no architecture twice.
///
/// # Errors
/// An empty list, another OS or architecture, or an architecture given twice.
pub fn parse_platforms(value: &str) -> Result<Vec<Arch>, String> {
    let mut archs = Vec::new();
    for item in value.split(',').map(str::trim) {
        if item.is_empty() {
            return Err("expected linux/amd64, linux/arm64 or a comma list of them".into());
        }
        let rest = item.strip_prefix("linux/").ok_or_else(|| {
            format!("{item:?} is not a Linux platform: expected linux/amd64 or linux/arm64")
        })?;
        let arch = match rest {
            "arm64/v8" => Arch::Arm64,
            other => other
                .parse::<Arch>()
                .map_err(|e| format!("in {item:?}: {e}"))?,
        };
        if archs.contains(&arch) {
            return Err(format!("{} is given twice", arch.platform()));
        }
        archs.push(arch);
    }
    Ok(archs)
}

/// The `--platform` value engines get for `archs` (`linux/amd64,linux/arm64`).
#[must_use]
pub fn platform_value(archs: &[Arch]) -> String {
    archs
        .iter()
        .map(|a| a.platform())
        .collect::<Vec<_>>()
        .join(",")
}

/// Refuses a list of platforms for the engines that build one platform at a time: only
/// `docker buildx build` takes a list.
///
/// # Errors
/// More than one platform for buildah, podman or `docker build` (embedded BuildKit).
pub fn check_engine(archs: &[Arch], origin: &Origin, engine: Engine) -> Result<(), PlatformError> {
    if archs.len() < 2 || engine == Engine::Docker(DockerClient::Buildx) {
        return Ok(());
    }
    let how = match engine {
        Engine::Docker(client) => client.describe(),
        Engine::Podman => "podman build",
        Engine::Buildah => "buildah bud",
    };
    Err(PlatformError::List {
        value: platform_value(archs),
        origin: origin.clone(),
        engine,
        how,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!("arm64".parse::<Arch>().unwrap(), Arch::Arm64);
        assert_eq!(Arch::Amd64.to_string(), "amd64");
        assert_eq!(Arch::Arm64.machine_name(), "aarch64");
        assert_eq!(Arch::from_e_machine(62), Some(Arch::Amd64));
        assert_eq!(Arch::from_e_machine(183), Some(Arch::Arm64));
        assert_eq!(Arch::from_e_machine(40), None);
        let err = "aarch64".parse::<Arch>().unwrap_err();
        assert!(err.contains("arm64"), "{err}");
    }

    #[test]
    fn platform_lists() {
        assert_eq!(parse_platforms("linux/arm64").unwrap(), [Arch::Arm64]);
        assert_eq!(
            parse_platforms("linux/amd64, linux/arm64/v8").unwrap(),
            [Arch::Amd64, Arch::Arm64]
        );
        assert_eq!(
            platform_value(&[Arch::Amd64, Arch::Arm64]),
            "linux/amd64,linux/arm64"
        );
        for bad in ["", "linux/arm64,", "arm64", "windows/amd64", "linux/s390x"] {
            assert!(parse_platforms(bad).is_err(), "{bad:?}");
        }
        let err = parse_platforms("linux/arm64,linux/arm64").unwrap_err();
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn only_buildx_takes_a_list() {
        let both = [Arch::Amd64, Arch::Arm64];
        let origin = Origin::Flag("--platform".into());
        assert!(check_engine(&both, &origin, Engine::Docker(DockerClient::Buildx)).is_ok());
        for engine in [
            Engine::Buildah,
            Engine::Podman,
            Engine::Docker(DockerClient::Embedded),
        ] {
            assert!(check_engine(&[Arch::Arm64], &origin, engine).is_ok());
            let msg = check_engine(&both, &origin, engine)
                .unwrap_err()
                .to_string();
            for needle in [
                "linux/amd64,linux/arm64",
                "flag --platform",
                "only docker buildx build",
            ] {
                assert!(msg.contains(needle), "{needle:?} not in {msg}");
            }
        }
        let msg = check_engine(&both, &origin, Engine::Docker(DockerClient::Embedded))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("docker (docker build, embedded BuildKit)"),
            "{msg}"
        );
    }
}

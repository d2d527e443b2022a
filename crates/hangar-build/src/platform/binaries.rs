//! Which hangar binary goes into the context for each target architecture: those given with
//! `--hangar-binary ARCH=PATH` (or a bare `PATH`, for its own ELF architecture), else the
//! running executable for its own architecture. Each is checked by its ELF header.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::elf::{Machine, read_machine};
use super::{Arch, PlatformError};
use crate::options::Origin;

/// A `--hangar-binary` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HangarBinary {
    /// The architecture it is given for; `None` for a bare path (its ELF header decides).
    pub arch: Option<Arch>,
    pub path: PathBuf,
}

impl FromStr for HangarBinary {
    type Err = String;

    /// `ARCH=PATH` when the text before the first `=` has no `/`, else a bare `PATH`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("expected ARCH=PATH (e.g. arm64=target/aarch64-unknown-linux-gnu/release/hangar) or PATH".into());
        }
        match s.split_once('=') {
            Some((arch, path)) if !arch.contains('/') => {
                let arch = arch.parse::<Arch>()?;
                if path.is_empty() {
                    return Err(format!("expected a path after {arch}="));
                }
                Ok(HangarBinary {
                    arch: Some(arch),
                    path: path.into(),
                })
            }
            _ => Ok(HangarBinary {
                arch: None,
                path: s.into(),
            }),
        }
    }
}

impl std::fmt::Display for HangarBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.arch {
            Some(a) => write!(f, "{a}={}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// The hangar binary of each target architecture, in target order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binaries(pub Vec<(Arch, PathBuf)>);

impl Binaries {
    /// The binaries, `(arch, path)`.
    pub fn iter(&self) -> impl Iterator<Item = &(Arch, PathBuf)> {
        self.0.iter()
    }
}

/// Picks and checks the binary of every target.
///
/// Every given binary is checked, needed or not: a file that is no ELF, one whose machine
/// differs from the architecture it was given for, or two for one architecture are refused.
/// The running executable (`running`) serves its own architecture when none was given for
/// it. With `required` (the Dockerfile copies hangar from the context), a target left without
/// a binary is refused; without it (the image compiles hangar), it is left out.
///
/// # Errors
/// As above; each error names the file, its architecture, the target and what to pass.
pub fn select(
    targets: &[Arch],
    given: &[HangarBinary],
    origin: &Origin,
    running: &Path,
    required: bool,
) -> Result<Binaries, PlatformError> {
    let mut found: Vec<(Arch, PathBuf)> = Vec::new();
    for b in given {
        let machine = read_machine(&b.path).map_err(|source| PlatformError::Elf {
            origin: origin.clone(),
            source,
        })?;
        let arch = match (machine, b.arch) {
            (Machine::Known(m), Some(a)) if m == a => a,
            (Machine::Known(m), None) => m,
            (found, Some(arch)) => {
                return Err(PlatformError::Mismatch {
                    path: b.path.clone(),
                    origin: origin.clone(),
                    found,
                    arch,
                });
            }
            (found @ Machine::Other(_), None) => {
                return Err(PlatformError::Unsupported {
                    path: b.path.clone(),
                    origin: origin.clone(),
                    found,
                });
            }
        };
        if let Some((_, first)) = found.iter().find(|(a, _)| *a == arch) {
            return Err(PlatformError::Twice {
                arch,
                origin: origin.clone(),
                first: first.clone(),
                second: b.path.clone(),
            });
        }
        found.push((arch, b.path.clone()));
    }
    let running_machine = read_machine(running);
    if let Ok(Machine::Known(arch)) = running_machine
        && !found.iter().any(|(a, _)| *a == arch)
    {
        found.push((arch, running.to_path_buf()));
    }

    let mut chosen = Vec::new();
    for &target in targets {
        match found.iter().find(|(a, _)| *a == target) {
            Some((_, path)) => chosen.push((target, path.clone())),
            None if required => {
                let mut have = match &running_machine {
                    Ok(m) => format!("the running hangar ({}) is {m}", running.display()),
                    Err(e) => format!("the running hangar cannot be used: {e}"),
                };
                for b in given {
                    have.push_str(&format!(", {} was given with {origin}", b.path.display()));
                }
                return Err(PlatformError::Missing { target, have });
            }
            None => {}
        }
    }
    Ok(Binaries(chosen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::elf::fake_header;

    fn flag() -> Origin {
        Origin::Flag("--hangar-binary".into())
    }

    #[test]
    fn parses_arch_and_path() {
        let b: HangarBinary = "arm64=/opt/hangar-arm64".parse().unwrap();
        assert_eq!(b.arch, Some(Arch::Arm64));
        assert_eq!(b.path, PathBuf::from("/opt/hangar-arm64"));
        assert_eq!(b.to_string(), "arm64=/opt/hangar-arm64");
        let bare: HangarBinary = "target/release/hangar".parse().unwrap();
        assert_eq!(bare.arch, None);
        // An `=` after a slash belongs to the path.
        let odd: HangarBinary = "./a=b/hangar".parse().unwrap();
        assert_eq!((odd.arch, odd.path), (None, PathBuf::from("./a=b/hangar")));
        for bad in ["", "arm64=", "aarch64=/x", "riscv64=/x"] {
            assert!(bad.parse::<HangarBinary>().is_err(), "{bad:?}");
        }
        let err = "x86_64=/x".parse::<HangarBinary>().unwrap_err();
        assert!(err.contains("amd64"), "{err}");
    }

    struct Files(tempfile::TempDir);

    impl Files {
        fn new() -> Files {
            Files(tempfile::tempdir().unwrap())
        }

        fn elf(&self, name: &str, machine: u16) -> PathBuf {
            let p = self.0.path().join(name);
            std::fs::write(&p, fake_header(machine)).unwrap();
            p
        }

        fn given(&self, spec: &str) -> HangarBinary {
            let (arch, name) = spec
                .split_once('=')
                .map_or((None, spec), |(a, n)| (Some(a), n));
            let path = self.0.path().join(name);
            HangarBinary {
                arch: arch.map(|a| a.parse().unwrap()),
                path,
            }
        }
    }

    #[test]
    fn the_running_binary_serves_its_own_architecture() {
        let f = Files::new();
        let running = f.elf("running", 62);
        let b = select(&[Arch::Amd64], &[], &flag(), &running, true).unwrap();
        assert_eq!(b.0, [(Arch::Amd64, running.clone())]);

        let arm = f.elf("arm", 183);
        let given = [f.given("arm64=arm")];
        let b = select(&[Arch::Amd64, Arch::Arm64], &given, &flag(), &running, true).unwrap();
        assert_eq!(
            b.0,
            [(Arch::Amd64, running.clone()), (Arch::Arm64, arm.clone())]
        );
        // A bare path serves its own architecture; a given one beats the running one.
        let other_amd = f.elf("amd", 62);
        let given = [f.given("amd"), f.given("arm")];
        let b = select(&[Arch::Amd64], &given, &flag(), &running, true).unwrap();
        assert_eq!(b.0, [(Arch::Amd64, other_amd)]);
    }

    #[test]
    fn a_target_without_a_binary_is_refused_unless_the_image_compiles_hangar() {
        let f = Files::new();
        let running = f.elf("running", 62);
        let err = select(&[Arch::Arm64], &[], &flag(), &running, true).unwrap_err();
        let msg = err.to_string();
        for needle in [
            "linux/arm64",
            "running",
            "x86_64 (amd64)",
            "--hangar-binary arm64=PATH",
            "aarch64-unknown-linux-gnu",
            "HANGAR_BINARY_SOURCE=build",
        ] {
            assert!(msg.contains(needle), "{needle:?} not in {msg}");
        }
        let b = select(&[Arch::Arm64], &[], &flag(), &running, false).unwrap();
        assert!(b.0.is_empty());
    }

    #[test]
    fn a_binary_for_another_machine_is_refused_naming_the_file() {
        let f = Files::new();
        let running = f.elf("running", 62);
        f.elf("x86", 62);
        let err = select(
            &[Arch::Arm64],
            &[f.given("arm64=x86")],
            &flag(),
            &running,
            true,
        )
        .unwrap_err();
        assert!(matches!(err, PlatformError::Mismatch { .. }), "{err}");
        let msg = err.to_string();
        for needle in [
            "x86 (from flag --hangar-binary)",
            "x86_64 (amd64)",
            "given for arm64",
            "linux/arm64",
            "--hangar-binary arm64=PATH",
        ] {
            assert!(msg.contains(needle), "{needle:?} not in {msg}");
        }
        // Checked even when not needed for the targets, and without a target requiring it.
        let err = select(
            &[Arch::Amd64],
            &[f.given("arm64=x86")],
            &flag(),
            &running,
            false,
        )
        .unwrap_err();
        assert!(matches!(err, PlatformError::Mismatch { .. }), "{err}");
    }

    #[test]
    fn not_elf_unknown_machine_and_duplicates_are_refused() {
        let f = Files::new();
        let running = f.elf("running", 62);
        std::fs::write(f.0.path().join("script"), "#!/bin/sh\n").unwrap();
        let err = select(
            &[Arch::Amd64],
            &[f.given("amd64=script")],
            &flag(),
            &running,
            true,
        )
        .unwrap_err();
        assert!(matches!(err, PlatformError::Elf { .. }), "{err}");
        assert!(err.to_string().contains("script is not an ELF"), "{err}");

        f.elf("armhf", 40);
        let err = select(&[Arch::Amd64], &[f.given("armhf")], &flag(), &running, true).unwrap_err();
        assert!(err.to_string().contains("ELF machine 40"), "{err}");
        let err = select(
            &[Arch::Arm64],
            &[f.given("arm64=armhf")],
            &flag(),
            &running,
            true,
        )
        .unwrap_err();
        assert!(matches!(err, PlatformError::Mismatch { .. }), "{err}");

        f.elf("a1", 183);
        f.elf("a2", 183);
        let err = select(
            &[Arch::Arm64],
            &[f.given("a1"), f.given("arm64=a2")],
            &flag(),
            &running,
            true,
        )
        .unwrap_err();
        assert!(matches!(err, PlatformError::Twice { .. }), "{err}");
    }
}

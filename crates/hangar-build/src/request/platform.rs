//! The target platforms (`--platform`) and the prebuilt hangar binaries (`--hangar-binary`):
//! their syntax is checked here; the binaries themselves are read once the engine is known
//! (see [`crate::prepare_binaries`]).

use super::error::{ResolveError, invalid};
use crate::options::{BuildOptions, Sourced};
use crate::platform::{self, Arch, HangarBinary};

/// What the plan builds for and with which binaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// The target architectures; `None`: the engine's native platform.
    pub platforms: Option<Sourced<Vec<Arch>>>,
    /// The binaries given with `--hangar-binary`.
    pub hangar_binaries: Option<Sourced<Vec<HangarBinary>>>,
}

pub(super) fn targets(o: &BuildOptions) -> Result<Targets, ResolveError> {
    let platforms = match &o.platform {
        Some(p) => Some(Sourced {
            value: platform::parse_platforms(&p.value).map_err(|reason| invalid(p, reason))?,
            origin: p.origin.clone(),
        }),
        None => None,
    };
    let hangar_binaries = match &o.hangar_binary {
        Some(b) => {
            let value = b
                .value
                .iter()
                .map(|v| {
                    v.parse::<HangarBinary>()
                        .map_err(|reason| ResolveError::Invalid {
                            origin: b.origin.clone(),
                            value: v.clone(),
                            reason,
                        })
                })
                .collect::<Result<_, _>>()?;
            Some(Sourced {
                value,
                origin: b.origin.clone(),
            })
        }
        None => None,
    };
    Ok(Targets {
        platforms,
        hangar_binaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{Origin, RawOptions};
    use crate::request::tests::flags;

    #[test]
    fn platforms_and_binaries_are_parsed_with_their_origin() {
        let t = targets(&flags(RawOptions {
            platform: Some("linux/amd64,linux/arm64".into()),
            hangar_binary: Some(vec!["arm64=/b/hangar".into(), "/c/hangar".into()]),
            ..RawOptions::default()
        }))
        .unwrap();
        let p = t.platforms.unwrap();
        assert_eq!(p.value, [Arch::Amd64, Arch::Arm64]);
        assert_eq!(p.origin, Origin::Flag("--platform".into()));
        let b = t.hangar_binaries.unwrap();
        assert_eq!(b.value[0].arch, Some(Arch::Arm64));
        assert_eq!(b.value[1].arch, None);
        assert_eq!(
            targets(&flags(RawOptions::default())).unwrap(),
            Targets::default()
        );
    }

    #[test]
    fn bad_values_name_their_origin() {
        let err = targets(&flags(RawOptions {
            platform: Some("linux/riscv64".into()),
            ..RawOptions::default()
        }))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--platform") && err.contains("riscv64"),
            "{err}"
        );
        let err = targets(&flags(RawOptions {
            hangar_binary: Some(vec!["aarch64=/x".into()]),
            ..RawOptions::default()
        }))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("--hangar-binary") && err.contains("arm64"),
            "{err}"
        );
    }
}

//! The one field of an ELF header hangar needs: `e_machine`, the architecture a binary runs
//! on. Read from the first 20 bytes; the byte order comes from `EI_DATA`.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::Arch;

const MAGIC: &[u8; 4] = b"\x7fELF";
/// `EI_DATA`: 1 little-endian, 2 big-endian.
const EI_DATA: usize = 5;
/// `e_machine` sits at the same offset in 32- and 64-bit headers.
const E_MACHINE: usize = 18;
const HEADER_LEN: usize = E_MACHINE + 2;

/// The machine an ELF binary is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    Known(Arch),
    /// Another `e_machine` (e.g. 40 for 32-bit ARM).
    Other(u16),
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Machine::Known(a) => write!(f, "{} ({a})", a.machine_name()),
            Machine::Other(m) => write!(f, "ELF machine {m}, which hangar does not build for"),
        }
    }
}

/// Errors reading an ELF header.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    #[error("cannot read the hangar binary {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{path} is not an ELF executable (no ELF header), so it cannot be an image's /entrypoint"
    )]
    NotElf { path: PathBuf },
}

/// The machine of an ELF header given as bytes; `None` when they are not one.
#[must_use]
pub fn machine_of(header: &[u8]) -> Option<Machine> {
    if header.len() < HEADER_LEN || &header[..4] != MAGIC {
        return None;
    }
    let bytes = [header[E_MACHINE], header[E_MACHINE + 1]];
    let machine = match header[EI_DATA] {
        1 => u16::from_le_bytes(bytes),
        2 => u16::from_be_bytes(bytes),
        _ => return None,
    };
    Some(Arch::from_e_machine(machine).map_or(Machine::Other(machine), Machine::Known))
}

/// The machine of the ELF binary at `path`.
///
/// # Errors
/// The file cannot be read, or it has no ELF header.
pub fn read_machine(path: &Path) -> Result<Machine, ElfError> {
    let read = |source| ElfError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut header = Vec::with_capacity(HEADER_LEN);
    File::open(path)
        .map_err(read)?
        .take(HEADER_LEN as u64)
        .read_to_end(&mut header)
        .map_err(read)?;
    machine_of(&header).ok_or_else(|| ElfError::NotElf {
        path: path.to_path_buf(),
    })
}

/// The first bytes of an ELF header for `e_machine`, little-endian: enough for
/// [`read_machine`], for tests.
#[must_use]
pub fn fake_header(e_machine: u16) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(MAGIC);
    h[4] = 2; // ELFCLASS64
    h[EI_DATA] = 1;
    h[6] = 1; // EV_CURRENT
    h[16] = 2; // ET_EXEC
    h[E_MACHINE..HEADER_LEN].copy_from_slice(&e_machine.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_machine() {
        assert_eq!(
            machine_of(&fake_header(62)),
            Some(Machine::Known(Arch::Amd64))
        );
        assert_eq!(
            machine_of(&fake_header(183)),
            Some(Machine::Known(Arch::Arm64))
        );
        assert_eq!(machine_of(&fake_header(40)), Some(Machine::Other(40)));
        let mut big = fake_header(0);
        big[EI_DATA] = 2;
        big[E_MACHINE..HEADER_LEN].copy_from_slice(&183u16.to_be_bytes());
        assert_eq!(machine_of(&big), Some(Machine::Known(Arch::Arm64)));
        let mut bad_order = fake_header(62);
        bad_order[EI_DATA] = 0;
        assert_eq!(machine_of(&bad_order), None);
        assert_eq!(machine_of(b"\x7fELF"), None);
        assert_eq!(machine_of(b"#!/bin/sh\necho not a binary\n"), None);
    }

    #[test]
    fn reads_files() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let err = read_machine(&script).unwrap_err();
        assert!(matches!(err, ElfError::NotElf { .. }), "{err}");
        assert!(err.to_string().contains("script"), "{err}");
        let err = read_machine(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(err, ElfError::Read { .. }), "{err}");
        // The test binary itself is an ELF for the machine it runs on.
        let me = std::env::current_exe().unwrap();
        let expected = match std::env::consts::ARCH {
            "x86_64" => Machine::Known(Arch::Amd64),
            "aarch64" => Machine::Known(Arch::Arm64),
            _ => return,
        };
        assert_eq!(read_machine(&me).unwrap(), expected);
    }
}

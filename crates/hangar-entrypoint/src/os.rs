//! The operating-system side effects of the entrypoint, behind a trait so unit tests can
//! observe them. [`RealSystem`] is the real thing (covered by the integration tests).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;

/// What the entrypoint asks of the OS (besides running commands, see [`crate::Runner`]).
pub trait System {
    /// Real user id of this process.
    fn uid(&self) -> u32;
    /// Real group id of this process.
    fn gid(&self) -> u32;
    /// Sets the file mode creation mask (inherited by every command started later).
    fn set_umask(&mut self, mask: u32);
    /// Reads a whole file.
    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// True when this process may write to `path` (`access(W_OK)`).
    fn is_writable(&self, path: &Path) -> bool;
    /// Appends `data` to `path` with one `write(2)` on an `O_APPEND` descriptor.
    fn append(&mut self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Names of the entries of a directory.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<OsString>>;
    /// True when `path` exists (following symlinks).
    fn exists(&self, path: &Path) -> bool;
    /// A terminating signal (TERM, INT, QUIT, HUP) that is pending for this process, if any.
    /// Lets a wait stop early when the container is being stopped.
    fn pending_stop_signal(&self) -> Option<i32>;
}

/// The real operating system.
#[derive(Debug, Default)]
pub struct RealSystem;

impl System for RealSystem {
    fn uid(&self) -> u32 {
        nix::unistd::getuid().as_raw()
    }

    fn gid(&self) -> u32 {
        nix::unistd::getgid().as_raw()
    }

    fn set_umask(&mut self, mask: u32) {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }

    fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn is_writable(&self, path: &Path) -> bool {
        nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
    }

    fn append(&mut self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
        // One write(2): with O_APPEND the kernel positions it at the end atomically, so a
        // concurrent appender cannot interleave with our line.
        let written = file.write(data)?;
        if written != data.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write ({written} of {} bytes)", data.len()),
            ));
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect()
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn pending_stop_signal(&self) -> Option<i32> {
        let mut raw = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigpending only writes the set we pass; on success it is initialised, and
        // sigismember only reads it.
        #[allow(unsafe_code)]
        unsafe {
            if libc::sigpending(raw.as_mut_ptr()) != 0 {
                return None;
            }
            let set = raw.assume_init();
            [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP]
                .into_iter()
                .find(|&s| libc::sigismember(&set, s) == 1)
        }
    }
}

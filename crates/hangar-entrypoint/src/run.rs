//! Running commands: every command the entrypoint starts (migrations, user creation, pip,
//! `_CMD` helpers, the final command) goes through a [`Runner`]; in production that is the
//! PID 1 [`Supervisor`](hangar_init::Supervisor), so signals are forwarded and zombies reaped
//! while hangar stays PID 1.

use std::ffi::OsString;
use std::time::Duration;

use hangar_init::{ChildSpec, Supervisor};

use crate::env::ChildEnv;
use crate::error::EntrypointError;

/// A command's environment is the [`ChildEnv`]: the entrypoint builds the supervisor's own
/// [`ChildSpec`] (`ChildSpec::new(program, args, &env)`), exactly what PID 1 runs.
impl From<&ChildEnv> for Vec<(OsString, OsString)> {
    fn from(env: &ChildEnv) -> Self {
        env.to_vec()
    }
}

/// Runs commands as children and reports their exit code (128+n when killed by signal n).
pub trait Runner {
    /// Runs `cmd` with inherited stdio.
    fn run(&mut self, cmd: &ChildSpec) -> Result<u8, EntrypointError>;
    /// Runs `cmd` capturing its stdout (stderr inherited).
    fn run_capture(&mut self, cmd: &ChildSpec) -> Result<(u8, Vec<u8>), EntrypointError>;
    /// Sleeps between attempts; returns the exit code to stop with when the container is
    /// being stopped (a TERM/INT/QUIT/HUP arrived).
    fn sleep(&mut self, duration: Duration) -> Result<Option<u8>, EntrypointError>;
}

impl Runner for Supervisor {
    fn run(&mut self, cmd: &ChildSpec) -> Result<u8, EntrypointError> {
        Supervisor::run(self, cmd)
            .map(|o| o.code)
            .map_err(|source| EntrypointError::Run {
                command: cmd.display(),
                source,
            })
    }

    fn run_capture(&mut self, cmd: &ChildSpec) -> Result<(u8, Vec<u8>), EntrypointError> {
        Supervisor::run_capture(self, cmd)
            .map(|(o, out)| (o.code, out))
            .map_err(|source| EntrypointError::Run {
                command: cmd.display(),
                source,
            })
    }

    fn sleep(&mut self, duration: Duration) -> Result<Option<u8>, EntrypointError> {
        Supervisor::sleep(self, duration)
            .map(|o| o.map(|o| o.code))
            .map_err(EntrypointError::Sleep)
    }
}

//! Running commands: every command the entrypoint starts (migrations, user creation, pip,
//! `_CMD` helpers, the final command) goes through a [`Runner`]; in production that is the
//! PID 1 [`Supervisor`](crate::init::Supervisor), so signals are forwarded and zombies reaped
//! while hangar stays PID 1.

use std::ffi::OsString;
use std::time::Duration;

use crate::env::ChildEnv;
use crate::error::EntrypointError;
use crate::init::{ChildSpec, Supervisor};

/// A command line and its complete environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Program (looked up on the child's `PATH` when it has no `/`).
    pub program: OsString,
    /// Arguments after the program.
    pub args: Vec<OsString>,
    /// The complete environment.
    pub env: Vec<(OsString, OsString)>,
}

impl Command {
    /// `program args...` with `env`.
    pub fn new<I, S>(program: impl Into<OsString>, args: I, env: &ChildEnv) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: env.to_vec(),
        }
    }

    /// The command line for messages (never contains secrets: callers do not pass any in
    /// arguments they print).
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Runs commands as children and reports their exit code (128+n when killed by signal n).
pub trait Runner {
    /// Runs `cmd` with inherited stdio.
    fn run(&mut self, cmd: &Command) -> Result<u8, EntrypointError>;
    /// Runs `cmd` capturing its stdout (stderr inherited).
    fn run_capture(&mut self, cmd: &Command) -> Result<(u8, Vec<u8>), EntrypointError>;
    /// Sleeps between attempts; returns the exit code to stop with when the container is
    /// being stopped (a TERM/INT/QUIT/HUP arrived).
    fn sleep(&mut self, duration: Duration) -> Result<Option<u8>, EntrypointError>;
}

fn spec(cmd: &Command) -> ChildSpec {
    ChildSpec {
        program: cmd.program.clone(),
        args: cmd.args.clone(),
        env: cmd.env.clone(),
    }
}

impl Runner for Supervisor {
    fn run(&mut self, cmd: &Command) -> Result<u8, EntrypointError> {
        Supervisor::run(self, &spec(cmd))
            .map(|o| o.code)
            .map_err(|e| EntrypointError::Internal(format!("cannot run `{}`: {e}", cmd.display())))
    }

    fn run_capture(&mut self, cmd: &Command) -> Result<(u8, Vec<u8>), EntrypointError> {
        Supervisor::run_capture(self, &spec(cmd))
            .map(|(o, out)| (o.code, out))
            .map_err(|e| EntrypointError::Internal(format!("cannot run `{}`: {e}", cmd.display())))
    }

    fn sleep(&mut self, duration: Duration) -> Result<Option<u8>, EntrypointError> {
        Supervisor::sleep(self, duration)
            .map(|o| o.map(|o| o.code))
            .map_err(|e| EntrypointError::Internal(format!("cannot wait: {e}")))
    }
}

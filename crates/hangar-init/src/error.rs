//! Errors of the init supervisor.

use std::io;

use hangar_exit::{ExitStatus, code};
use nix::errno::Errno;

/// What can go wrong while hangar acts as init.
///
/// A command that cannot be executed (missing program, no execute permission) is *not* an error:
/// it becomes an [`Outcome`](super::Outcome) with code 127 or 126, as in a shell.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// `DUMB_INIT_SETSID` holds something other than `0` or `1`.
    #[error(
        "DUMB_INIT_SETSID is set to `{value}`, which is not a valid value: set it to `1` (run the \
         command in its own session and signal its whole process group; the default) or `0` \
         (signal only the command itself, needed for Celery's warm shutdown)"
    )]
    InvalidSetsid {
        /// The offending value (lossily converted for display).
        value: String,
    },

    /// The command to run is empty.
    #[error("no command to run: pass the program and its arguments after `--`")]
    EmptyCommand,

    /// Blocking signals or opening the signal descriptor failed.
    #[error("cannot prepare signal handling ({what}): {source}")]
    Signals {
        /// The step that failed.
        what: &'static str,
        /// The system error.
        #[source]
        source: Errno,
    },

    /// Starting the command failed for a reason other than "not found" / "not executable".
    #[error(
        "cannot start `{program}`: {source}; check that the system has free processes and memory"
    )]
    Spawn {
        /// The program that was to be run.
        program: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Waiting for signals, children or output failed.
    #[error("cannot wait for the command `{program}` ({what}): {source}")]
    Wait {
        /// The program being supervised.
        program: String,
        /// The step that failed.
        what: &'static str,
        /// The system error.
        #[source]
        source: Errno,
    },
}

impl ExitStatus for InitError {
    /// A bad setting or an empty command is bad input (64); a failing system call is
    /// internal (70).
    fn exit_code(&self) -> u8 {
        match self {
            InitError::InvalidSetsid { .. } | InitError::EmptyCommand => code::BAD_INPUT,
            InitError::Signals { .. } | InitError::Spawn { .. } | InitError::Wait { .. } => {
                code::INTERNAL
            }
        }
    }
}

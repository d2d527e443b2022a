//! The entrypoint's error type and its documented exit codes.

use std::fmt;

/// Exit codes of `hangar entrypoint` and `hangar wait` for failures of hangar's own (the
/// command's own exit code is passed through otherwise). Documented in `docs/entrypoint.md`.
pub mod code {
    /// Upstream-compatible failures: GID is not 0, the DB/broker wait ran out of attempts,
    /// no admin password for `_AIRFLOW_WWW_USER_CREATE`.
    pub const FAILURE: u8 = 1;
    /// A variable holds a value hangar cannot use (malformed URL, non-numeric
    /// `CONNECTION_CHECK_*`, unknown `HANGAR_WAIT_FOR_DB`/`DUMB_INIT_SETSID` value).
    pub const BAD_INPUT: u8 = 64;
    /// The Airflow config file is not valid INI (same code as `hangar-config`).
    pub const CONFIG_PARSE: u8 = 65;
    /// The Airflow config file cannot be read (same code as `hangar-config`).
    pub const CONFIG_UNREADABLE: u8 = 66;
    /// hangar itself could not do something (start a process, read a directory).
    pub const INTERNAL: u8 = 70;
    /// A `*_CMD` variable's command failed (same code as `hangar-config`).
    pub const CMD_FAILED: u8 = 71;
    /// The database or broker answered but rejected us (wrong password, unknown user or
    /// database, not the expected protocol).
    pub const REJECTED: u8 = 77;
}

/// Everything that stops the entrypoint before the command runs.
#[derive(Debug, thiserror::Error)]
pub enum EntrypointError {
    /// The process runs with a GID other than 0 and a UID other than 50000.
    #[error(
        "the image must run with GID (group ID) 0 regardless of the UID; it runs as UID {uid} \
         with GID {gid}. Start the container with `--user {uid}:0` (compose/Kubernetes: \
         group 0). See https://airflow.apache.org/docs/docker-stack/entrypoint.html"
    )]
    WrongGid { uid: u32, gid: u32 },
    /// A variable's value cannot be used (`problem` may start with `VAR=value`).
    #[error("{}", if problem.starts_with(var.as_str()) { problem.clone() } else { format!("{var}: {problem}") })]
    BadInput { var: String, problem: String },
    /// A `_CMD` variable's command failed.
    #[error("{var}: the command failed ({status}); fix the command or set the value directly")]
    CmdFailed { var: String, status: String },
    /// The Airflow configuration could not be used; `code` comes from `hangar-config`.
    #[error("{message}")]
    Config { message: String, code: u8 },
    /// A wait ran out of attempts.
    #[error("{0}")]
    WaitExhausted(String),
    /// The server rejected our credentials or is not what the URL says.
    #[error("{0}")]
    Rejected(String),
    /// `_AIRFLOW_WWW_USER_CREATE` without a password.
    #[error(
        "Airflow admin password not set: _AIRFLOW_WWW_USER_CREATE is set but neither \
         _AIRFLOW_WWW_USER_PASSWORD nor _AIRFLOW_WWW_USER_PASSWORD_CMD gives a password"
    )]
    NoAdminPassword,
    /// A step that must succeed (pip install, pip check, db reset) failed with this code.
    #[error("{step} failed with exit code {code}")]
    StepFailed { step: String, code: u8 },
    /// A signal asked us to stop before the command started.
    #[error("stopped by signal {0} before the command started")]
    Signalled(i32),
    /// hangar could not do something itself.
    #[error("{0}")]
    Internal(String),
}

impl EntrypointError {
    /// The process exit code for this error (see [`code`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::WrongGid { .. } | Self::WaitExhausted(_) | Self::NoAdminPassword => code::FAILURE,
            Self::BadInput { .. } => code::BAD_INPUT,
            Self::CmdFailed { .. } => code::CMD_FAILED,
            Self::Config { code, .. } => *code,
            Self::Rejected(_) => code::REJECTED,
            Self::StepFailed { code, .. } => *code,
            Self::Signalled(n) => u8::try_from(128 + n).unwrap_or(code::FAILURE),
            Self::Internal(_) => code::INTERNAL,
        }
    }

    pub(crate) fn bad_input(var: &str, problem: impl fmt::Display) -> Self {
        Self::BadInput {
            var: var.to_owned(),
            problem: problem.to_string(),
        }
    }
}

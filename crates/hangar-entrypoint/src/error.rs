//! The entrypoint's error type and its documented exit codes.

use std::fmt;

use hangar_config::ConfigError;
use hangar_exit::ExitStatus;
/// Exit codes of `hangar entrypoint` and `hangar wait` for failures of hangar's own (the
/// command's own exit code is passed through otherwise). Documented in `docs/entrypoint.md`.
pub use hangar_exit::code;

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
    /// The Airflow configuration could not be used.
    #[error(transparent)]
    Config(ConfigError),
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
        ExitStatus::exit_code(self)
    }

    pub(crate) fn bad_input(var: &str, problem: impl fmt::Display) -> Self {
        Self::BadInput {
            var: var.to_owned(),
            problem: problem.to_string(),
        }
    }
}

impl From<ConfigError> for EntrypointError {
    /// A `_cmd` that failed is the entrypoint's own `CmdFailed`; every other configuration
    /// error is kept as it is, with its exit code.
    fn from(e: ConfigError) -> Self {
        match e {
            ConfigError::CmdFailed {
                source_name,
                status,
            } => Self::CmdFailed {
                var: source_name,
                status,
            },
            other => Self::Config(other),
        }
    }
}

impl ExitStatus for EntrypointError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::WrongGid { .. } | Self::WaitExhausted(_) | Self::NoAdminPassword => code::FAILURE,
            Self::BadInput { .. } => code::BAD_INPUT,
            Self::CmdFailed { .. } => code::CMD_FAILED,
            Self::Config(e) => e.exit_code(),
            Self::Rejected(_) => code::REJECTED,
            Self::StepFailed { code, .. } => *code,
            Self::Signalled(n) => code::signalled(*n),
            Self::Internal(_) => code::INTERNAL,
        }
    }
}

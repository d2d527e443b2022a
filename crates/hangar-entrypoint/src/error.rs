//! The entrypoint's error type and its documented exit codes.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use hangar_config::ConfigError;
use hangar_exit::ExitStatus;
use hangar_init::InitError;
use hangar_probe::dburl::UrlError;
use hangar_probe::migrations::MigrationsError;
use hangar_probe::probe::ProbeError;
use hangar_probe::target::TargetError;
use hangar_probe::wait::BudgetError;

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
    /// A `CONNECTION_CHECK_*` budget variable is not a number (the message names it).
    #[error("{0}")]
    Budget(#[from] BudgetError),
    /// A URL given to `hangar wait` cannot be waited for; `shown` is the URL, password masked.
    #[error("hangar wait: {shown}: {source}")]
    BadWaitUrl {
        shown: String,
        #[source]
        source: TargetError,
    },
    /// The metadata DB URL from `origin` is not a SQLAlchemy URL; `shown` is it, password masked.
    #[error(
        "{origin}: not a valid SQLAlchemy URL ({shown}): {source}. Expected e.g. \
         postgresql+psycopg2://user:password@host:5432/airflow"
    )]
    BadDbUrl {
        origin: String,
        shown: String,
        #[source]
        source: UrlError,
    },
    /// A configured URL parses but names nothing hangar can wait for; `what` names the service
    /// and its URL, password masked.
    #[error("{origin}: cannot wait for {what}: {source}")]
    CannotWaitFor {
        origin: String,
        what: String,
        #[source]
        source: TargetError,
    },
    /// The Airflow configuration could not be used.
    #[error(transparent)]
    Config(ConfigError),
    /// A probe wait ran out of attempts; `last` is the last attempt's error.
    #[error(
        "{what} is not ready: {describe} (from {origin}) did not answer within the budget \
         ({attempts} attempts in {:.1}s). Last error: {last}. Check that the server runs \
         and is reachable from this container, or raise CONNECTION_CHECK_MAX_COUNT / \
         CONNECTION_CHECK_SLEEP_TIME (0 disables the wait)",
        elapsed.as_secs_f64()
    )]
    NotReady {
        what: String,
        describe: String,
        origin: String,
        attempts: u32,
        elapsed: Duration,
        /// Boxed here and in `Rejected`: inline, it would make every `Result` of the crate large.
        #[source]
        last: Box<ProbeError>,
    },
    /// A check command ran out of attempts (the message holds its last output).
    #[error("{0}")]
    WaitExhausted(String),
    /// The server rejected our credentials or is not what the URL says.
    #[error(
        "{what} refused the connection: {describe} (from {origin}): {source}. Fix the \
         credentials or database name in {origin}; waiting longer would not help"
    )]
    Rejected {
        what: String,
        describe: String,
        origin: String,
        #[source]
        source: Box<ProbeError>,
    },
    /// The metadata DB was not migrated for the image's Airflow within the budget.
    #[error(
        "{what}: not done within the budget ({attempts} attempts in {:.1}s): {last}. Run the \
         migration (`airflow db migrate`: the init service or migration Job, or \
         _AIRFLOW_DB_MIGRATE=true on one component), or raise CONNECTION_CHECK_MAX_COUNT / \
         CONNECTION_CHECK_SLEEP_TIME",
        elapsed.as_secs_f64()
    )]
    NotMigrated {
        what: String,
        attempts: u32,
        elapsed: Duration,
        #[source]
        last: Box<ProbeError>,
    },
    /// The metadata DB is at a revision the image's Airflow does not know.
    #[error("{what}: {source}")]
    DbAhead {
        what: String,
        #[source]
        source: Box<ProbeError>,
    },
    /// The installed Airflow's migration files could not be read.
    #[error(transparent)]
    Migrations(Box<MigrationsError>),
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
    /// The supervisor could not run a command (not a missing or non-executable program:
    /// those are exit codes 127 and 126).
    #[error("cannot run `{command}`: {source}")]
    Run {
        command: String,
        #[source]
        source: InitError,
    },
    /// The supervisor could not sleep between attempts.
    #[error("cannot wait: {0}")]
    Sleep(#[source] InitError),
    /// A file hangar needs could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl EntrypointError {
    /// The process exit code for this error (see [`code`]).
    pub fn exit_code(&self) -> u8 {
        ExitStatus::exit_code(self)
    }

    /// A wait's outcome, said as the migration check it was: a wait for `--migrated` that
    /// ran out is "not migrated", not "did not answer"; a rejection for a revision the image
    /// does not know is "ahead", not "fix the credentials".
    pub(crate) fn about_migration(self) -> Self {
        use hangar_probe::probe::Reason;
        match self {
            Self::NotReady {
                what,
                attempts,
                elapsed,
                last,
                ..
            } if last.reason() == &Reason::Migration => Self::NotMigrated {
                what,
                attempts,
                elapsed,
                last,
            },
            Self::Rejected { what, source, .. } if source.reason() == &Reason::Migration => {
                Self::DbAhead { what, source }
            }
            other => other,
        }
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
            Self::WrongGid { .. }
            | Self::NotReady { .. }
            | Self::NotMigrated { .. }
            | Self::WaitExhausted(_)
            | Self::NoAdminPassword => code::FAILURE,
            Self::BadInput { .. }
            | Self::Budget(_)
            | Self::BadWaitUrl { .. }
            | Self::BadDbUrl { .. }
            | Self::CannotWaitFor { .. } => code::BAD_INPUT,
            Self::CmdFailed { .. } => code::CMD_FAILED,
            Self::Config(e) => e.exit_code(),
            Self::Rejected { .. } | Self::DbAhead { .. } => code::REJECTED,
            Self::Migrations(_) => code::NO_INPUT,
            Self::StepFailed { code, .. } => *code,
            Self::Signalled(n) => code::signalled(*n),
            Self::Run { .. } | Self::Sleep(_) | Self::Read { .. } => code::INTERNAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use hangar_probe::wait::Budget;

    use super::*;

    #[test]
    fn budget_errors_keep_their_message_and_cause() {
        let e = Budget::from_vars(Some("many"), None).unwrap_err();
        let msg = e.to_string();
        let err = EntrypointError::from(e);
        assert_eq!(err.to_string(), msg);
        assert!(msg.starts_with("CONNECTION_CHECK_MAX_COUNT="), "{msg}");
        assert_eq!(err.exit_code(), code::BAD_INPUT);
        assert!(
            err.source()
                .is_some_and(|s| s.downcast_ref::<BudgetError>().is_some())
        );
    }
}

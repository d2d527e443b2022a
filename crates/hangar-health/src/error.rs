//! Why a health check could not give an answer (as opposed to "not healthy", which is a
//! [`crate::job::Verdict`] or [`crate::http::Answer`]).

use hangar_config::ConfigError;
use hangar_entrypoint::error::EntrypointError;
use hangar_exit::{ExitStatus, code};
use hangar_probe::metadata::ReadError;

/// A health check that could not be made. Never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// Airflow's configuration could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The metadata database's URL could not be resolved or used.
    #[error(transparent)]
    Db(#[from] EntrypointError),
    /// The metadata database could not be read: the component is not known to be healthy.
    #[error("cannot read the jobs from the metadata database: {0}")]
    Read(#[from] ReadError),
    /// A threshold option is not a number.
    #[error("{option} = {value:?} is not a number of seconds: fix it in the Airflow configuration")]
    BadThreshold {
        /// `[section] key`.
        option: String,
        /// The value as configured.
        value: String,
    },
    /// `[core] hostname_callable` names a callable hangar cannot compute natively.
    #[error(
        "[core] hostname_callable = {0} cannot be computed without Python: pass the host name \
         with --hostname instead of --local"
    )]
    HostnameCallable(String),
    /// This host's name could not be read.
    #[error("cannot read this host's name: {0}")]
    Hostname(#[source] std::io::Error),
    /// A URL for the HTTP check that hangar cannot use.
    #[error("{url}: {problem}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it, and what to do.
        problem: String,
    },
}

impl ExitStatus for HealthError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Config(e) => e.exit_code(),
            Self::Db(e) => e.exit_code(),
            // No answer from the database is no proof of life: the probe fails.
            Self::Read(_) => code::FAILURE,
            Self::BadThreshold { .. }
            | Self::HostnameCallable(_)
            | Self::Hostname(_)
            | Self::BadUrl { .. } => code::BAD_INPUT,
        }
    }
}

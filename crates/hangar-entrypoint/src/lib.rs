//! The image's PID 1: Airflow's entrypoint contract, run under the `hangar-init` supervisor.
//!
//! [`contract::run`] performs upstream's entrypoint steps natively (no shell, no Python
//! before the command) and runs every command as a child of the PID 1
//! [`hangar_init::Supervisor`]. [`standalone::run`] is `hangar wait`.

pub mod airflow_install;
pub mod broker;
mod config;
pub mod contract;
pub mod db;
pub mod dispatch;
pub mod env;
pub mod error;
pub mod os;
pub mod quickstart;
pub mod run;
pub mod standalone;
pub mod user;
pub mod waiting;

#[cfg(test)]
mod testing;

use std::io::Write as _;

pub use env::ChildEnv;
pub use error::EntrypointError;

/// A progress message on stderr (never stdout: commands' stdout must stay clean).
pub(crate) fn info(msg: &str) {
    let _ = writeln!(std::io::stderr(), "hangar: {msg}");
}

/// A warning on stderr.
pub(crate) fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr(), "hangar: {msg}");
}

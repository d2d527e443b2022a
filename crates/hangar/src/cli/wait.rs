//! `hangar wait [--migrated] db | broker | URL...`: the entrypoint's readiness checks on their
//! own.

use std::process::ExitCode;

use hangar_entrypoint::os::RealSystem;
use hangar_entrypoint::{ChildEnv, standalone};
use hangar_init::{InitOptions, Supervisor};

use super::exit_error;

/// Wait until services accept connections (exit 0), for compose healthchecks and init
/// containers. Uses CONNECTION_CHECK_MAX_COUNT × CONNECTION_CHECK_SLEEP_TIME as the budget.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// What to wait for: `db` (Airflow's metadata database, from its configuration),
    /// `broker` (the Celery broker) or URLs (postgresql://, mysql://, redis://, amqp://,
    /// tcp://host:port, ...). Checked in order.
    #[arg(required = true, value_name = "db|broker|URL")]
    targets: Vec<String>,
    /// With `db`: also wait until the database is migrated to the head of the Airflow
    /// installed here (read from its migration files, no Python). Behind keeps waiting; a
    /// revision this Airflow does not know (a newer Airflow migrated it) fails at once.
    #[arg(long)]
    migrated: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = ChildEnv::from_process();
    // Only needed for `airflow db check` when the DB URL is a `_SECRET`.
    let mut supervisor = Supervisor::new(InitOptions { setsid: true }).map_err(exit_error)?;
    standalone::run(
        &args.targets,
        args.migrated,
        &env,
        &RealSystem,
        &mut supervisor,
    )
    .map_err(exit_error)?;
    Ok(ExitCode::SUCCESS)
}

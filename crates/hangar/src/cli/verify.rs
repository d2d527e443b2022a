//! `hangar verify IMAGE`: the production-image contract checked on an existing image.

use std::process::ExitCode;

use hangar_inspect::Runner;

use super::engine_args::EngineArgs;
use super::exit_error;

#[derive(Debug, clap::Args)]
#[command(
    about = "Check an image against the production-image contract; exit 1 when a check fails",
    after_help = "Checks: default user 50000 with GID 0; an arbitrary UID with GID 0 through the \
                  entrypoint; ENTRYPOINT; AIRFLOW_HOME, dags and logs group-writable; `airflow version`; \
                  `pip check`; no compilers or build-essential; no credential file, no password in ENV, \
                  nothing root-owned in the home. Also lists the layers and their sizes. The image is \
                  run through the engine; it needs /bin/sh."
)]
pub(crate) struct Args {
    /// The image, as the engine names it (a tag or an image ID).
    image: String,
    /// Print the report as JSON (for CI) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[allow(clippy::print_stdout)]
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runner = Runner {
        engine: args.engine.engine()?,
        storage_driver: args.engine.storage_driver,
        isolation: EngineArgs::isolation(),
    };
    let report = runner.verify(&args.image).map_err(exit_error)?;
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(hangar_exit::code::FAILURE)
    })
}

//! `hangar entrypoint` (also the binary's behaviour when started as `/entrypoint`).

use std::ffi::OsString;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The command to run (Airflow's entrypoint dispatch rules apply).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    run_multicall(args.args)
}

pub(crate) fn run_multicall(_args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`hangar entrypoint` is not available in this build yet")
}

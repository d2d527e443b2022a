//! `hangar entrypoint` (also the binary's behaviour when started as `/entrypoint`).

use std::ffi::OsString;
use std::process::ExitCode;

use hangar_entrypoint::os::RealSystem;
use hangar_entrypoint::{ChildEnv, contract};
use hangar_init::{InitOptions, Supervisor, setsid_from_env};

use super::exit_error;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The command to run (Airflow's entrypoint dispatch rules apply).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<OsString>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    run_multicall(args.args)
}

pub(crate) fn run_multicall(args: Vec<OsString>) -> anyhow::Result<ExitCode> {
    let env = ChildEnv::from_process();
    let setsid = setsid_from_env(env.get_os("DUMB_INIT_SETSID")).map_err(exit_error)?;
    let mut supervisor = Supervisor::new(InitOptions { setsid }).map_err(exit_error)?;
    let code = contract::run(&args, env, &mut RealSystem, &mut supervisor).map_err(exit_error)?;
    Ok(ExitCode::from(code))
}

//! `hangar init [--no-setsid] -- CMD ARGS...`: a standalone minimal init (a tini/dumb-init
//! replacement) for wrapper entrypoints. Honours `DUMB_INIT_SETSID` like `hangar entrypoint`.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Context;
use hangar_init::{ChildSpec, InitOptions, Supervisor, setsid_from_env};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The command runs with hangar's environment. hangar exits with its exit \
    code, 128+n when signal n killed it, 127 when it was not found and 126 when it could not be \
    executed."
)]
pub(crate) struct Args {
    /// Signal only the command, not its process group (same as DUMB_INIT_SETSID=0; needed for
    /// Celery's warm shutdown). Default: the command gets its own session and its whole process
    /// group is signalled (DUMB_INIT_SETSID=1).
    #[arg(long)]
    no_setsid: bool,

    /// The command to run and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    command: Vec<OsString>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let setsid = if args.no_setsid {
        false
    } else {
        setsid_from_env(std::env::var_os("DUMB_INIT_SETSID").as_deref())?
    };
    let mut command = args.command.into_iter();
    let program = command.next().context("no command given after `--`")?;
    let mut supervisor = Supervisor::new(InitOptions { setsid })?;
    let outcome = supervisor.run(&ChildSpec::inheriting_env(program, command.collect()))?;
    Ok(ExitCode::from(outcome.code))
}

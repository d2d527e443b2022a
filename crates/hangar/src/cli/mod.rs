//! One module per subcommand: its clap arguments and the function that runs it.
//! Each module owns its own file; `main.rs` only dispatches.

pub(crate) mod build;
pub(crate) mod entrypoint;
pub(crate) mod init;
pub(crate) mod install;
pub(crate) mod kerberos;
pub(crate) mod wait;

/// Exit code for an error that reached `main`. A module that wants a distinct code wraps
/// its error in [`ExitError`]; everything else exits 1.
pub(crate) fn exit_code_for(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<ExitError>())
        .map_or(1, |e| e.code)
}

/// An error that carries the exit code the process should end with.
#[derive(Debug)]
pub(crate) struct ExitError {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitError {}

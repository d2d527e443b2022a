//! One module per subcommand: its clap arguments and the function that runs it.
//! Each module owns its own file and is compiled only with its command's feature; `main.rs`
//! only dispatches.

#[cfg(feature = "base")]
pub(crate) mod base;
#[cfg(feature = "build")]
pub(crate) mod build;
#[cfg(feature = "build")]
pub(crate) mod check_dags;
#[cfg(feature = "download")]
pub(crate) mod download;
#[cfg(feature = "build")]
pub(crate) mod engine_args;
#[cfg(feature = "entrypoint")]
pub(crate) mod entrypoint;
#[cfg(feature = "health")]
pub(crate) mod health;
#[cfg(feature = "entrypoint")]
pub(crate) mod init;
#[cfg(feature = "install")]
pub(crate) mod install;
#[cfg(feature = "kerberos")]
pub(crate) mod kerberos;
#[cfg(feature = "new")]
pub(crate) mod new;
#[cfg(feature = "verify")]
pub(crate) mod sbom;
#[cfg(feature = "verify")]
pub(crate) mod verify;
#[cfg(feature = "entrypoint")]
pub(crate) mod wait;

#[cfg(any(
    test,
    feature = "entrypoint",
    feature = "health",
    feature = "kerberos",
    feature = "verify"
))]
use hangar_exit::ExitStatus;

/// Exit code for an error that reached `main`: that of the first [`ExitError`] in its chain,
/// else 1.
pub(crate) fn exit_code_for(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<ExitError>())
        .map_or(hangar_exit::code::FAILURE, |e| e.code)
}

/// An error that carries the exit code the process should end with, and the typed error it
/// came from (reachable with [`ExitError::cause`]).
#[derive(Debug)]
pub(crate) struct ExitError {
    code: u8,
    cause: Box<dyn std::error::Error + Send + Sync>,
}

impl ExitError {
    /// The typed error this exit came from.
    #[cfg(test)]
    pub(crate) fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.cause
    }
}

impl std::fmt::Display for ExitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The crates' messages already name their causes; printing the chain again would
        // repeat them.
        std::fmt::Display::fmt(&self.cause, f)
    }
}

impl std::error::Error for ExitError {}

/// Wraps a typed error with the exit code it maps to through [`ExitStatus`].
#[cfg(any(
    test,
    feature = "entrypoint",
    feature = "health",
    feature = "kerberos",
    feature = "verify"
))]
pub(crate) fn exit_error<E>(e: E) -> anyhow::Error
where
    E: ExitStatus + std::error::Error + Send + Sync + 'static,
{
    with_code(e.exit_code(), e)
}

/// Wraps an error with an explicit exit code (for errors whose code depends on the command).
#[cfg(any(
    test,
    feature = "build",
    feature = "entrypoint",
    feature = "health",
    feature = "kerberos"
))]
pub(crate) fn with_code<E>(code: u8, e: E) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    anyhow::Error::new(ExitError {
        code,
        cause: Box::new(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Inner;

    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("inner problem")
        }
    }

    impl std::error::Error for Inner {}

    impl ExitStatus for Inner {
        fn exit_code(&self) -> u8 {
            77
        }
    }

    #[test]
    fn the_code_and_the_typed_cause_survive_context() {
        let err = exit_error(Inner).context("while waiting");
        assert_eq!(exit_code_for(&err), 77);
        let exit = err
            .chain()
            .find_map(|c| c.downcast_ref::<ExitError>())
            .unwrap();
        assert!(exit.cause().downcast_ref::<Inner>().is_some());
        assert_eq!(format!("{err:#}"), "while waiting: inner problem");
    }

    #[test]
    fn other_errors_exit_1() {
        assert_eq!(exit_code_for(&anyhow::anyhow!("plain")), 1);
    }
}

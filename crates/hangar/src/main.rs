//! `hangar`: builds, starts and keeps authenticated production images of Apache Airflow.
//!
//! This binary only parses arguments and wires the library crates together. It is a
//! multi-call binary: started under the name `entrypoint` (as `/entrypoint` in the image)
//! it behaves exactly like `hangar entrypoint`.
//!
//! Each command is a cargo feature (`build`, `install`, `entrypoint` with `init` and `wait`,
//! `kerberos`, `new`; all by default), so that a build for one container carries only its command and
//! the crates behind it.

#![allow(clippy::print_stdout, clippy::print_stderr)] // the command-line front end prints its results

#[cfg(feature = "entrypoint")]
use std::ffi::OsString;
#[cfg(feature = "entrypoint")]
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Debug, Parser)]
#[command(name = "hangar", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a production Airflow image with Docker (buildx or embedded BuildKit), podman or buildah.
    #[cfg(feature = "build")]
    Build(cli::build::Args),
    /// Make the Python base image from Debian packages (debootstrap), with no registry.
    #[cfg(feature = "base")]
    Base(cli::base::Args),
    /// Fill a context-files folder for a build with no network: constraints, wheels, apt
    /// packages and their SHA256SUMS.
    #[cfg(feature = "download")]
    Download(cli::download::Args),
    /// Import every DAG file of an image with its own Airflow; fail naming each broken file.
    #[cfg(feature = "build")]
    CheckDags(cli::check_dags::Args),
    /// Run as the image's PID 1: prepare the environment, wait for services, run the command.
    #[cfg(feature = "entrypoint")]
    Entrypoint(cli::entrypoint::Args),
    /// Wait until the metadata database, the Celery broker or the given URLs accept connections.
    #[cfg(feature = "entrypoint")]
    Wait(cli::wait::Args),
    /// Exit 0 when a component is alive: its job's heartbeat (scheduler, triggerer,
    /// dag-processor) or its health endpoint (api-server, webserver). No Python.
    #[cfg(feature = "health")]
    Health(cli::health::Args),
    /// Run a command as a minimal init (PID 1): forward signals, reap zombies, pass exit codes.
    #[cfg(feature = "entrypoint")]
    Init(cli::init::Args),
    /// Keep a Kerberos ticket cache fresh from a keytab (sidecar), or check it.
    #[cfg(feature = "kerberos")]
    Kerberos(cli::kerberos::Args),
    /// Write a new Airflow image project (hangar.toml, requirements.txt, packages.txt, dags/, tests/).
    #[cfg(feature = "new")]
    New(cli::new::Args),
    /// Check an image (hangar-built or not) against the production-image contract: user,
    /// entrypoint, AIRFLOW_HOME, `pip check`, no compilers, no credentials; its layers' sizes.
    #[cfg(feature = "verify")]
    Verify(cli::verify::Args),
    /// Write the CycloneDX SBOM of an image: Debian and Python packages, the image digest.
    #[cfg(feature = "verify")]
    Sbom(cli::sbom::Args),
    /// Steps run inside the image build (called by the Dockerfile, not by hand).
    #[cfg(feature = "install")]
    #[command(hide = true)]
    Install(cli::install::Args),
}

fn main() -> ExitCode {
    #[cfg(feature = "entrypoint")]
    {
        let mut argv = std::env::args_os();
        let argv0 = argv.next().unwrap_or_default();
        if invoked_as_entrypoint(&argv0) {
            let args: Vec<OsString> = argv.collect();
            return finish(cli::entrypoint::run_multicall(args));
        }
    }
    let cli = Cli::parse();
    let result = match cli.command {
        #[cfg(feature = "build")]
        Command::Build(args) => cli::build::run(args),
        #[cfg(feature = "build")]
        Command::CheckDags(args) => cli::check_dags::run(args),
        #[cfg(feature = "base")]
        Command::Base(args) => cli::base::run(args),
        #[cfg(feature = "download")]
        Command::Download(args) => cli::download::run(args),
        #[cfg(feature = "entrypoint")]
        Command::Entrypoint(args) => cli::entrypoint::run(args),
        #[cfg(feature = "entrypoint")]
        Command::Wait(args) => cli::wait::run(args),
        #[cfg(feature = "health")]
        Command::Health(args) => cli::health::run(args),
        #[cfg(feature = "entrypoint")]
        Command::Init(args) => cli::init::run(args),
        #[cfg(feature = "kerberos")]
        Command::Kerberos(args) => cli::kerberos::run(args),
        #[cfg(feature = "install")]
        Command::Install(args) => cli::install::run(args),
        #[cfg(feature = "new")]
        Command::New(args) => cli::new::run(args),
        #[cfg(feature = "verify")]
        Command::Verify(args) => cli::verify::run(args),
        #[cfg(feature = "verify")]
        Command::Sbom(args) => cli::sbom::run(args),
    };
    finish(result)
}

/// True when the binary was started under the name `entrypoint` (e.g. `/entrypoint`).
#[cfg(feature = "entrypoint")]
fn invoked_as_entrypoint(argv0: &OsString) -> bool {
    Path::new(argv0)
        .file_name()
        .is_some_and(|name| name == "entrypoint")
}

/// Turns a command's result into the process exit code; errors go to stderr with their causes.
fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("hangar: error: {err:#}");
            }
            ExitCode::from(cli::exit_code_for(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "entrypoint")]
    fn multicall_name_is_recognised() {
        assert!(invoked_as_entrypoint(&OsString::from("/entrypoint")));
        assert!(invoked_as_entrypoint(&OsString::from("entrypoint")));
        assert!(!invoked_as_entrypoint(&OsString::from(
            "/usr/local/bin/hangar"
        )));
        assert!(!invoked_as_entrypoint(&OsString::from("/entrypoint.sh")));
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

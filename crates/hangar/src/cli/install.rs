//! `hangar install <step>`: the steps the root Dockerfile runs inside the image build. Build
//! args arrive as environment variables (`ARG` values are in the environment of `RUN`).

use std::process::ExitCode;

use hangar_install::apt::Stage;
use hangar_install::args::BuildArgs;
use hangar_install::exec::RealExec;
use hangar_install::steps::{self, Paths};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    step: Step,
}

#[derive(Debug, clap::Subcommand)]
enum Step {
    /// Install the apt packages of a stage (`dev` in the build stage, `runtime` in the final one).
    Apt {
        #[arg(value_enum)]
        stage: AptStage,
    },
    /// Create the venv, put the constraints in place and install Airflow.
    Airflow,
    /// Install ADDITIONAL_PYTHON_DEPS and the context requirements.txt; fix group permissions.
    Additional,
    /// Final stage: the airflow user, AIRFLOW_HOME, /etc/passwd permissions, /entrypoint.
    Finalize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AptStage {
    Dev,
    Runtime,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let build_args = BuildArgs::from_env();
    let paths = Paths::default();
    let mut exec = RealExec;
    match args.step {
        Step::Apt {
            stage: AptStage::Dev,
        } => steps::apt_step(&mut exec, &build_args, Stage::Dev, &paths)?,
        Step::Apt {
            stage: AptStage::Runtime,
        } => {
            steps::apt_step(&mut exec, &build_args, Stage::Runtime, &paths)?;
        }
        Step::Airflow => steps::airflow_step(&mut exec, &build_args, &paths)?,
        Step::Additional => steps::additional_step(&mut exec, &build_args, &paths)?,
        Step::Finalize => steps::finalize_step(&mut exec, &build_args, &paths)?,
    }
    Ok(ExitCode::SUCCESS)
}

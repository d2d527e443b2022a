//! `hangar install <step>`: the steps the root Dockerfile runs inside the image build. Build
//! args arrive as environment variables (`ARG` values are in the environment of `RUN`).

use std::path::PathBuf;
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
    Additional {
        /// Copy what the install changed in the airflow user's home to this folder, with the
        /// list of what it removed, for the final image's additional layer.
        #[arg(long, value_name = "DIR")]
        layer: Option<PathBuf>,
    },
    /// Final stage, after the additional layer: remove what the additional install removed.
    Removals,
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
        Step::Additional { layer } => {
            steps::additional_step(&mut exec, &build_args, &paths, layer.as_deref())?;
        }
        Step::Removals => {
            hangar_install::layer::apply_removals(&build_args.home())?;
        }
        Step::Finalize => steps::finalize_step(&mut exec, &build_args, &paths)?,
    }
    Ok(ExitCode::SUCCESS)
}

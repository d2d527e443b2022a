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
    /// Final stage, after the additional layer: remove what the additional install removed,
    /// and pin the installed Airflow in ~/constraints.txt.
    Settle,
    /// Final stage: the airflow user, AIRFLOW_HOME, /etc/passwd permissions, /entrypoint.
    Finalize,
    /// Extending an image, as root: apt-get install the packages of the project's packages.txt,
    /// then AIRFLOW_HOME's plugins/, include/ and dags/ owned by UID and group 0, group-writable.
    ExtendRoot {
        /// AIRFLOW_HOME of the base image.
        #[arg(long, value_name = "DIR")]
        airflow_home: PathBuf,
        /// The base image's user.
        #[arg(long, value_name = "UID")]
        uid: u32,
        /// Package names (hangar build passes packages.txt, already read and checked).
        packages: Vec<String>,
    },
    /// Extending an image, as the airflow user: the project's requirements.txt with the base
    /// image's Airflow pinned and its ~/constraints.txt when it has one.
    ExtendPython {
        /// The requirements file.
        #[arg(long, value_name = "FILE")]
        requirements: PathBuf,
        /// The base image's Airflow version (read from the image by hangar build).
        #[arg(long, value_name = "VERSION")]
        airflow_version: String,
    },
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
        Step::Settle => steps::settle_step(&build_args, &paths)?,
        Step::Finalize => steps::finalize_step(&mut exec, &build_args, &paths)?,
        Step::ExtendRoot {
            airflow_home,
            uid,
            packages,
        } => steps::extend_root_step(&mut exec, &packages, &airflow_home, uid, &paths)?,
        Step::ExtendPython {
            requirements,
            airflow_version,
        } => {
            let home = ["AIRFLOW_USER_HOME_DIR", "HOME"]
                .iter()
                .find_map(|k| std::env::var_os(k).filter(|v| !v.is_empty()))
                .map_or_else(|| PathBuf::from("/home/airflow"), PathBuf::from);
            let report =
                std::env::temp_dir().join(format!("hangar-pip-report-{}.json", std::process::id()));
            let x = steps::ExtendPython {
                requirements,
                airflow_version,
                home,
                report,
            };
            steps::extend_python_step(&mut exec, &x, &paths)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

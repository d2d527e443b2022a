//! `hangar download`: the folder an air-gapped build installs from.

use std::path::PathBuf;
use std::process::ExitCode;

use hangar_build::in_image::InImage;
use hangar_build::options::parse_build_arg;
use hangar_download::{DownloadError, Request};
use hangar_install::args::BuildArgs;

use super::engine_args::EngineArgs;
use super::with_code;

#[derive(Debug, clap::Args)]
#[command(
    about = "Fill a context-files folder for a build with no network: constraints, wheels, apt packages, SHA256SUMS",
    after_help = "Build from it with `hangar build --context-files DIR --add-local-pip-wheels` \
                  (its constraints.txt is then the default constraints). The build checks every \
                  file against DIR/SHA256SUMS and fails naming a changed, missing or unlisted \
                  one. pip runs on the host (apt-get install python3-pip) with its own \
                  configuration; --debs runs apt in a container of the base image. See \
                  docs/air-gapped.md."
)]
pub(crate) struct Args {
    /// Airflow release (AIRFLOW_VERSION).
    #[arg(long, visible_alias = "airflow-version", value_name = "VERSION")]
    install_airflow_version: Option<String>,
    /// The image's Python X.Y (PYTHON_MAJOR_MINOR_VERSION).
    #[arg(long, value_name = "X.Y")]
    python: Option<String>,
    /// Airflow extras, replacing the default list (AIRFLOW_EXTRAS).
    #[arg(long, value_name = "LIST")]
    extras: Option<String>,
    /// Extras added to the list (ADDITIONAL_AIRFLOW_EXTRAS).
    #[arg(long, value_name = "LIST")]
    additional_airflow_extras: Option<String>,
    /// More requirements, space-separated (ADDITIONAL_PYTHON_DEPS).
    #[arg(long, value_name = "REQS", allow_hyphen_values = true)]
    additional_python_deps: Option<String>,
    /// Constraints: a URL, a local file or `none` (copied to DIR/constraints.txt).
    #[arg(long, value_name = "URL|FILE|none")]
    constraints_location: Option<String>,
    /// Platform tag of the wheels (repeatable; default: manylinux tags of this machine's
    /// architecture up to glibc 2.36, Debian bookworm).
    #[arg(long = "platform", value_name = "TAG")]
    platforms: Vec<String>,
    /// Build arg the image will be built with, e.g. INSTALL_MYSQL_CLIENT=false (repeatable).
    #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = build_arg)]
    build_args: Vec<(String, String)>,
    /// Also download the apt packages of both stages, with their dependencies, into
    /// DIR/debs/dev and DIR/debs/runtime (needs --python-base-image).
    #[arg(long, requires = "python_base_image")]
    debs: bool,
    /// The base image the build will use (for --debs: its Debian release and packages).
    #[arg(long, value_name = "IMAGE")]
    python_base_image: Option<String>,
    /// The host Python whose pip downloads the wheels.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    host_python: PathBuf,
    /// The folder to fill (created when missing).
    #[arg(
        long,
        short = 'o',
        value_name = "DIR",
        default_value = "docker-context-files"
    )]
    output: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
}

fn build_arg(s: &str) -> Result<(String, String), String> {
    parse_build_arg(s)
}

impl Args {
    fn build_args(&self) -> BuildArgs {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in [
            ("AIRFLOW_VERSION", &self.install_airflow_version),
            ("PYTHON_MAJOR_MINOR_VERSION", &self.python),
            ("AIRFLOW_EXTRAS", &self.extras),
            ("ADDITIONAL_AIRFLOW_EXTRAS", &self.additional_airflow_extras),
            ("ADDITIONAL_PYTHON_DEPS", &self.additional_python_deps),
            ("AIRFLOW_CONSTRAINTS_LOCATION", &self.constraints_location),
        ] {
            if let Some(v) = value {
                pairs.push((name.to_owned(), v.clone()));
            }
        }
        // A --build-arg beats the flags, as in `hangar build`.
        pairs.extend(self.build_args.iter().cloned());
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        BuildArgs::from_pairs(&refs)
    }
}

#[allow(clippy::print_stderr)]
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let debs = match (&args.python_base_image, args.debs) {
        (Some(image), true) => Some(InImage {
            engine: args.engine.engine()?,
            storage_driver: args.engine.storage_driver.clone(),
            isolation: EngineArgs::isolation(),
            image: image.clone(),
            mounts: Vec::new(),
            argv: Vec::new(),
            user: Some("0".into()),
            env: Vec::new(),
        }),
        _ => None,
    };
    let req = Request {
        args: args.build_args(),
        output: args.output.clone(),
        platforms: args.platforms.clone(),
        host_python: args.host_python.clone(),
        debs,
    };
    let start = std::time::Instant::now();
    let report =
        hangar_download::download(&req, &mut |line| eprintln!("hangar: {line}")).map_err(|e| {
            match e {
                DownloadError::Input { .. } | DownloadError::NoWheel { .. } => {
                    with_code(hangar_exit::build::INVALID_INPUT, e)
                }
                other => anyhow::Error::new(other),
            }
        })?;
    for file in &report.unlisted {
        eprintln!(
            "hangar: warning: {} is in the folder but was not downloaded: a build from the \
             folder refuses it (remove it, or add it to the requirements and download again)",
            file.display()
        );
    }
    eprintln!(
        "hangar: {} wheels, {} + {} apt packages, {} MB in {}; {} lists {} files ({:.0} s)",
        report.wheels,
        report.debs_dev,
        report.debs_runtime,
        report.bytes / 1_000_000,
        args.output.display(),
        report.manifest.display(),
        report.listed,
        start.elapsed().as_secs_f64()
    );
    eprintln!(
        "hangar: build with: hangar build --context-files {} --add-local-pip-wheels ...",
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

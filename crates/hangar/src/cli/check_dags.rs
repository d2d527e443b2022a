//! `hangar check-dags IMAGE [DIR]`: the DAG check of `hangar build --check-dags`, on an image
//! that already exists: its own DAGs, or those of a host folder mounted read-only.

use std::path::PathBuf;
use std::process::ExitCode;

use hangar_build::check_dags;
use hangar_build::engine::SystemProbe;
use hangar_build::options::EngineChoice;

use super::with_code;

#[derive(Debug, clap::Args)]
#[command(
    about = "Import every DAG file with an image's own Airflow; exit 1 naming each file that fails",
    after_help = "Without DIR the image's [core] dags_folder is checked. Airflow's own CLI lists import \
                  errors but exits 0; this command does not."
)]
pub(crate) struct Args {
    /// The image, as the engine names it (a tag or an image ID).
    image: String,
    /// A host folder of DAGs to check instead of the image's own (mounted read-only).
    dir: Option<PathBuf>,
    /// Engine holding the image: auto, docker, podman or buildah.
    #[arg(long, env = "HANGAR_ENGINE", value_name = "ENGINE", default_value = "auto", value_parser = parse_engine)]
    engine: EngineChoice,
    /// Storage driver for buildah and podman.
    #[arg(long, env = "HANGAR_STORAGE_DRIVER", value_name = "DRIVER")]
    storage_driver: Option<String>,
}

fn parse_engine(s: &str) -> Result<EngineChoice, String> {
    s.parse()
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.dir
        && !dir.is_dir()
    {
        anyhow::bail!(
            "{} is not a folder of DAG files; give the folder (e.g. dags/) or no DIR to check the image's own DAGs",
            dir.display()
        );
    }
    let engine = hangar_build::choose_engine(args.engine, &SystemProbe)
        .map_err(|e| with_code(hangar_exit::build::INVALID_INPUT, e))?;
    let isolation = std::env::var("BUILDAH_ISOLATION")
        .ok()
        .filter(|s| !s.is_empty());
    let runner = check_dags::runner(engine, args.storage_driver, isolation);
    let report = check_dags::check(&runner, &args.image, args.dir.as_deref())?;
    eprintln!("hangar: {}", check_dags::summary(&report));
    for (id, file) in &report.dags {
        println!("{id}\t{file}");
    }
    Ok(ExitCode::SUCCESS)
}

//! `hangar check-dags IMAGE [DIR]`: the DAG check of `hangar build --check-dags`, on an image
//! that already exists: its own DAGs, or those of a host folder mounted read-only.

use std::path::PathBuf;
use std::process::ExitCode;

use hangar_build::check_dags;

use super::engine_args::EngineArgs;

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
    #[command(flatten)]
    engine: EngineArgs,
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
    let engine = args.engine.engine()?;
    let runner = check_dags::runner(engine, args.engine.storage_driver, EngineArgs::isolation());
    let report = check_dags::check(&runner, &args.image, args.dir.as_deref())?;
    eprintln!("hangar: {}", check_dags::summary(&report));
    for (id, file) in &report.dags {
        println!("{id}\t{file}");
    }
    Ok(ExitCode::SUCCESS)
}

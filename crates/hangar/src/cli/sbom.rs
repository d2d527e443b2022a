//! `hangar sbom IMAGE`: the SBOM (CycloneDX or SPDX) of an existing image; also
//! `hangar build --sbom`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use hangar_inspect::Runner;
use hangar_inspect::sbom::Format;

use super::engine_args::EngineArgs;
use super::exit_error;

#[derive(Debug, clap::Args)]
#[command(
    about = "Write the SBOM of an image (CycloneDX or SPDX): its Debian and Python packages and its digest",
    after_help = "Debian packages come from the image's dpkg status, Python packages from its own \
                  `python` (importlib.metadata), with the archive hashes the installer recorded. \
                  SOURCE_DATE_EPOCH, when set, is the document's timestamp."
)]
pub(crate) struct Args {
    /// The image, as the engine names it (a tag or an image ID).
    image: String,
    /// Write the SBOM to FILE (replaced whole, never half-written) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// cyclonedx (CycloneDX 1.5 JSON) or spdx (SPDX 2.3 JSON).
    #[arg(long, value_name = "FORMAT", default_value = "cyclonedx")]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runner = Runner {
        engine: args.engine.engine()?,
        storage_driver: args.engine.storage_driver,
        isolation: EngineArgs::isolation(),
    };
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok();
    write_sbom(
        &runner,
        &args.image,
        args.format,
        args.output.as_deref(),
        epoch.as_deref(),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The document's time: `epoch` (the build's `SOURCE_DATE_EPOCH`) when set, else now.
fn timestamp(epoch: Option<&str>) -> anyhow::Result<String> {
    let secs = match epoch {
        Some(s) if !s.trim().is_empty() => s.trim().parse().with_context(|| {
            format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds since 1970; set it to e.g. `git log -1 --format=%ct`")
        })?,
        _ => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    Ok(hangar_build::request::rfc3339(secs))
}

/// Writes the SBOM of `image` in `format` to `output` (temp file + rename) or standard
/// output, and says what it holds on standard error.
#[allow(clippy::print_stderr)]
pub(crate) fn write_sbom(
    runner: &Runner,
    image: &str,
    format: Format,
    output: Option<&Path>,
    epoch: Option<&str>,
) -> anyhow::Result<()> {
    let serial = hangar_inspect::new_serial().context("cannot draw a random SBOM serial number")?;
    let (bom, summary) = runner
        .sbom(image, format, &timestamp(epoch)?, &serial)
        .map_err(exit_error)?;
    let text = hangar_inspect::sbom::pretty(&bom);
    if let Some(why) = &summary.python_missing {
        eprintln!("hangar: warning: no Python packages in the SBOM of {image}: {why}");
    }
    match output {
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
        Some(path) => {
            write_atomically(path, text.as_bytes())?;
            eprintln!(
                "hangar: wrote the {format} SBOM of {image} to {} ({} Debian and {} Python packages)",
                path.display(),
                summary.debian,
                summary.python
            );
        }
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| {
        format!(
            "cannot write the SBOM in {}: check that the folder exists and is writable",
            dir.display()
        )
    })?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write the SBOM to {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {} with the SBOM", path.display()))?;
    Ok(())
}

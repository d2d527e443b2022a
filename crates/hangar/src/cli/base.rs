//! `hangar base`: the Python base image from Debian packages, for a site with no registry.

use std::path::PathBuf;
use std::process::ExitCode;

use hangar_base::{BaseError, DEFAULT_SUITE, RealSystem, Request};
use hangar_build::options::ProgressMode;

use super::engine_args::EngineArgs;
use super::with_code;

#[derive(Debug, clap::Args)]
#[command(
    about = "Make the Python base image from Debian packages (debootstrap), with no registry",
    after_help = "Needs root and debootstrap (apt-get install debootstrap). The image is Debian's \
                  minbase with python3, python3-venv, python3-pip and ca-certificates, added FROM \
                  scratch as one layer; build on it with `hangar build --python-base-image TAG \
                  --python X.Y` (the command is printed at the end). SOURCE_DATE_EPOCH, when set, \
                  is the image's timestamp with buildah and podman."
)]
pub(crate) struct Args {
    /// Debian release.
    #[arg(long, default_value = DEFAULT_SUITE, value_name = "CODENAME")]
    suite: String,
    /// Debian mirror to install from (default http://deb.debian.org/debian).
    #[arg(long, value_name = "URL", conflicts_with_all = ["snapshot", "apt_sources"])]
    mirror: Option<String>,
    /// Pin every package to a snapshot.debian.org date (YYYY-MM-DD or YYYYMMDDTHHMMSSZ).
    #[arg(long, value_name = "DATE", conflicts_with = "apt_sources")]
    snapshot: Option<String>,
    /// A corporate apt sources file: its first Debian URL is the mirror, and the image keeps
    /// it as its apt sources.
    #[arg(long, value_name = "FILE")]
    apt_sources: Option<PathBuf>,
    /// A package added to the base (repeatable).
    #[arg(long = "package", value_name = "PKG")]
    packages: Vec<String>,
    /// The image's tag (default localhost/hangar-python-base:<suite>).
    #[arg(long, short = 't', value_name = "TAG")]
    tag: Option<String>,
    /// Progress display: auto, plain or tty.
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = parse_progress)]
    progress: ProgressMode,
    #[command(flatten)]
    engine: EngineArgs,
}

fn parse_progress(s: &str) -> Result<ProgressMode, String> {
    s.parse()
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal as _;
    let tag = args
        .tag
        .unwrap_or_else(|| hangar_base::default_tag(&args.suite));
    let req = Request {
        suite: args.suite,
        mirror: args.mirror,
        snapshot: args.snapshot,
        apt_sources: args.apt_sources,
        packages: args.packages,
        tag: tag.clone(),
        engine: args.engine.engine()?,
        storage_driver: args.engine.storage_driver,
        isolation: EngineArgs::isolation(),
        timestamp: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .filter(|s| !s.trim().is_empty()),
    };
    let display = hangar_build::choose_display(args.progress, std::io::stderr().is_terminal());
    eprintln!(
        "hangar: making {tag} from Debian {} packages (debootstrap)",
        req.suite
    );
    let made = hangar_base::make(&req, &mut RealSystem, display).map_err(|e| match e {
        BaseError::Input { .. } | BaseError::NotRoot => {
            with_code(hangar_exit::build::INVALID_INPUT, e)
        }
        other => anyhow::Error::new(other),
    })?;
    eprintln!(
        "hangar: built base image {} tagged {tag} (Python {}); build on it with:\n  \
         hangar build --python-base-image {tag} --python {}",
        made.image_id, made.python, made.python
    );
    println!("{}", made.image_id);
    Ok(ExitCode::SUCCESS)
}

//! `hangar build`: the flags (named as breeze's), layering with `HANGAR_*` and `hangar.toml`,
//! and the calls into `hangar_build`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use hangar_build::BuildError;
use hangar_build::catalogue::SpecCatalogue;
use hangar_build::engine::SystemProbe;
use hangar_build::options::{
    self, EngineChoice, ImageFormat, ProgressMode, RawOptions, parse_build_arg,
};
use hangar_build::request::{self, EnvFacts};
use hangar_build::run::RunError;
use hangar_build::source_date;

use super::with_code;

/// Exit code for invalid input found before any engine ran.

#[derive(Debug, clap::Args)]
#[command(
    about = "Build a production Airflow image with Docker (buildx or embedded BuildKit), podman or buildah",
    after_help = "Every option can also come from a HANGAR_<OPTION> environment variable \
                  (e.g. HANGAR_PYTHON, HANGAR_INSTALL_AIRFLOW_VERSION) or a hangar.toml key \
                  (e.g. install-airflow-version = \"3.1.0\"). Precedence: flag > environment > \
                  file > default. See docs/build.md."
)]
pub(crate) struct Args {
    // Boxed: the flags are many, and the subcommand enum should stay small.
    #[command(flatten)]
    flags: Box<Flags>,
    /// After the build, write the image's SBOM (Debian and Python packages, the image digest)
    /// to FILE; `hangar sbom IMAGE` does the same for any image.
    #[cfg(feature = "verify")]
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    sbom: Option<PathBuf>,
    /// The format of --sbom: cyclonedx (CycloneDX 1.5 JSON) or spdx (SPDX 2.3 JSON).
    #[cfg(feature = "verify")]
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "cyclonedx",
        requires = "sbom",
        help_heading = "Output"
    )]
    sbom_format: hangar_inspect::sbom::Format,
    /// Where the SBOM will be published: the image's `io.hangar.sbom` label (default with
    /// --sbom: the SBOM's file name).
    #[cfg(feature = "verify")]
    #[arg(long, value_name = "URL", help_heading = "Output")]
    sbom_url: Option<String>,
    /// Timestamp of the image, its history and every file in its layers, and the mode of the
    /// venv's bytecode (hash-checked): seconds since 1970 (default: the last commit time when
    /// the --extend project, --context-files or hangar.toml folder is in a git repository).
    #[arg(
        long,
        env = "SOURCE_DATE_EPOCH",
        value_name = "SECONDS",
        help_heading = "Output"
    )]
    source_date_epoch: Option<String>,
}

#[derive(Debug, clap::Args)]
struct Flags {
    /// Python version X.Y (PYTHON_MAJOR_MINOR_VERSION; base image python:X.Y-slim-bookworm).
    #[arg(long, value_name = "X.Y", help_heading = "Airflow")]
    python: Option<String>,
    /// Base image with python3 (PYTHON_BASE_IMAGE); beats the --python default.
    #[arg(long, value_name = "IMAGE", help_heading = "Airflow")]
    python_base_image: Option<String>,
    /// Install this Airflow version from PyPI (AIRFLOW_VERSION).
    #[arg(long, value_name = "VERSION", help_heading = "Airflow")]
    install_airflow_version: Option<String>,
    /// Install this tag or branch of apache/airflow from its GitHub archive.
    #[arg(long, value_name = "REF", help_heading = "Airflow")]
    install_airflow_reference: Option<String>,
    /// Install Airflow from a local source tree, sdist or wheel, or from an archive URL.
    #[arg(long, value_name = "PATH|URL", help_heading = "Airflow")]
    airflow_sources: Option<String>,
    /// Airflow extras, replacing the default list (AIRFLOW_EXTRAS).
    #[arg(long, value_name = "LIST", help_heading = "Airflow")]
    extras: Option<String>,
    /// Extras added to the default list (ADDITIONAL_AIRFLOW_EXTRAS).
    #[arg(
        long,
        visible_alias = "additional-airflow-extras",
        value_name = "LIST",
        help_heading = "Airflow"
    )]
    additional_extras: Option<String>,
    /// Extra Python requirements, space separated (ADDITIONAL_PYTHON_DEPS).
    #[arg(
        long,
        value_name = "REQS",
        allow_hyphen_values = true,
        help_heading = "Airflow"
    )]
    additional_python_deps: Option<String>,
    /// Constraints: a URL, a local file (copied into the context) or `none`.
    #[arg(long, value_name = "URL|FILE|none", help_heading = "Airflow")]
    constraints_location: Option<String>,
    /// Leave out the MySQL client and the mysql extra (INSTALL_MYSQL_CLIENT=false).
    #[arg(long, help_heading = "Airflow")]
    disable_mysql_client_installation: bool,
    /// Do not pre-cache pip packages (AIRFLOW_PRE_CACHED_PIP_PACKAGES=false).
    #[arg(long, help_heading = "Airflow")]
    disable_pip_cache: bool,
    /// Install the wheels of --context-files without an index (air-gapped builds).
    #[arg(long, help_heading = "Airflow")]
    add_local_pip_wheels: bool,

    /// Extra apt packages of the build stage (ADDITIONAL_DEV_APT_DEPS).
    #[arg(long, value_name = "PKGS", help_heading = "System packages")]
    additional_dev_apt_deps: Option<String>,
    /// Extra apt packages of the final image (ADDITIONAL_RUNTIME_APT_DEPS).
    #[arg(long, value_name = "PKGS", help_heading = "System packages")]
    additional_runtime_apt_deps: Option<String>,
    /// Command run before the build stage's apt install (DEV_APT_COMMAND).
    #[arg(
        long,
        value_name = "CMD",
        allow_hyphen_values = true,
        help_heading = "System packages"
    )]
    dev_apt_command: Option<String>,
    /// Command run before the final stage's apt install (RUNTIME_APT_COMMAND).
    #[arg(
        long,
        value_name = "CMD",
        allow_hyphen_values = true,
        help_heading = "System packages"
    )]
    runtime_apt_command: Option<String>,

    /// CA bundle for apt and pip in the build stages, as a build secret (never in the image).
    #[arg(long, value_name = "FILE", help_heading = "Secrets and files")]
    ca_bundle: Option<PathBuf>,
    /// apt sources (one-line or deb822) read instead of the base image's Debian sources in the
    /// apt steps, as a build secret (never in the image).
    #[arg(long, value_name = "FILE", help_heading = "Secrets and files")]
    apt_sources: Option<PathBuf>,
    /// Keep the --apt-sources file as the final image's apt sources, for apt in images built
    /// FROM it (refused when the file holds a credential).
    #[arg(long, help_heading = "Secrets and files")]
    apt_sources_in_image: bool,
    /// pip.conf of a private index, as a build secret (never in the image).
    #[arg(long, value_name = "FILE", help_heading = "Secrets and files")]
    pip_conf: Option<PathBuf>,
    /// .netrc with index credentials, as a build secret (never in the image).
    #[arg(long, value_name = "FILE", help_heading = "Secrets and files")]
    netrc: Option<PathBuf>,
    /// Package index for pip and uv (may carry a token), as a build secret (never a build arg).
    #[arg(long, value_name = "URL", help_heading = "Secrets and files")]
    pip_index_url: Option<String>,
    /// Extra package indexes for pip and uv, space-separated, as a build secret.
    #[arg(long, value_name = "URLS", help_heading = "Secrets and files")]
    pip_extra_index_url: Option<String>,
    /// Folder copied to docker-context-files/ (wheels, constraints, requirements).
    #[arg(long, value_name = "DIR", help_heading = "Secrets and files")]
    context_files: Option<PathBuf>,

    /// Image name to tag the result with (repeatable).
    #[arg(long, short = 't', value_name = "NAME", help_heading = "Image")]
    tag: Vec<String>,
    /// Build arg passed as is (repeatable); beats values derived from options of lower precedence.
    #[arg(long = "build-arg", value_name = "NAME=VALUE", value_parser = build_arg, help_heading = "Image")]
    build_arg: Vec<(String, String)>,
    /// Stage to build (default: the final image).
    #[arg(long, value_name = "STAGE", help_heading = "Image")]
    target: Option<String>,
    /// Build this Dockerfile instead of hangar's own.
    #[arg(long, value_name = "FILE", help_heading = "Image")]
    dockerfile: Option<PathBuf>,
    /// Target platform: linux/amd64 or linux/arm64 (a comma list with docker buildx only).
    /// Default: the engine's native platform.
    #[arg(long, value_name = "PLATFORM", help_heading = "Image")]
    platform: Option<String>,
    /// Prebuilt hangar for a target architecture, ARCH=PATH (amd64, arm64) or a bare PATH
    /// for its own ELF architecture (repeatable). The running hangar serves its own architecture.
    #[arg(long, value_name = "ARCH=PATH", help_heading = "Image")]
    hangar_binary: Vec<String>,

    /// Engine: auto (docker when a daemon answers, then podman, then buildah), docker, podman or buildah.
    #[arg(long, value_name = "ENGINE", value_parser = parse_with::<EngineChoice>, help_heading = "Engine")]
    engine: Option<EngineChoice>,
    /// Argument passed verbatim to the engine's build command (repeatable).
    #[arg(
        long = "engine-arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "Engine"
    )]
    engine_arg: Vec<String>,
    /// Storage driver for buildah and podman (e.g. vfs).
    #[arg(long, value_name = "DRIVER", help_heading = "Engine")]
    storage_driver: Option<String>,
    /// Image format for buildah and podman: docker (default; keeps HEALTHCHECK) or oci.
    #[arg(long, value_name = "FORMAT", value_parser = parse_with::<ImageFormat>, help_heading = "Engine")]
    format: Option<ImageFormat>,
    /// Progress display: auto (live on a terminal), plain or tty.
    #[arg(long, value_name = "MODE", value_parser = parse_with::<ProgressMode>, help_heading = "Engine")]
    progress: Option<ProgressMode>,
    /// Print the engine command and the build args, build nothing.
    #[arg(long, help_heading = "Engine")]
    dry_run: bool,

    /// Build FROM this existing Airflow image (a hangar image or apache/airflow) and add the
    /// project: packages.txt, requirements.txt, plugins/, include/, dags/.
    #[arg(long, value_name = "IMAGE", help_heading = "Extend")]
    extend: Option<String>,
    /// The project folder of --extend (default: the folder of hangar.toml, else the current one).
    #[arg(long, value_name = "DIR", help_heading = "Extend")]
    project: Option<PathBuf>,
    /// Import every DAG file in the built image and tag nothing when one fails (default with --extend).
    #[arg(long, overrides_with = "no_check_dags", help_heading = "Extend")]
    check_dags: bool,
    /// Skip the DAG check of --extend.
    #[arg(long, overrides_with = "check_dags", help_heading = "Extend")]
    no_check_dags: bool,

    /// Configuration file (default: ./hangar.toml when present).
    #[arg(long, env = "HANGAR_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

fn build_arg(s: &str) -> Result<(String, String), String> {
    parse_build_arg(s)
}

fn parse_with<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

impl Flags {
    fn into_raw(self) -> (RawOptions, Option<PathBuf>, bool) {
        let flag = |b: bool| b.then_some(true);
        let raw = RawOptions {
            engine: self.engine,
            python: self.python,
            python_base_image: self.python_base_image,
            install_airflow_version: self.install_airflow_version,
            install_airflow_reference: self.install_airflow_reference,
            airflow_sources: self.airflow_sources,
            extras: self.extras,
            additional_extras: self.additional_extras,
            additional_python_deps: self.additional_python_deps,
            additional_dev_apt_deps: self.additional_dev_apt_deps,
            additional_runtime_apt_deps: self.additional_runtime_apt_deps,
            dev_apt_command: self.dev_apt_command,
            runtime_apt_command: self.runtime_apt_command,
            disable_mysql_client_installation: flag(self.disable_mysql_client_installation),
            disable_pip_cache: flag(self.disable_pip_cache),
            add_local_pip_wheels: flag(self.add_local_pip_wheels),
            constraints_location: self.constraints_location,
            ca_bundle: self.ca_bundle,
            apt_sources: self.apt_sources,
            apt_sources_in_image: flag(self.apt_sources_in_image),
            pip_conf: self.pip_conf,
            netrc: self.netrc,
            pip_index_url: self.pip_index_url,
            pip_extra_index_url: self.pip_extra_index_url,
            context_files: self.context_files,
            dockerfile: self.dockerfile,
            target: self.target,
            progress: self.progress,
            format: self.format,
            storage_driver: self.storage_driver,
            platform: self.platform,
            hangar_binary: (!self.hangar_binary.is_empty()).then_some(self.hangar_binary),
            tag: (!self.tag.is_empty()).then_some(self.tag),
            build_args: (!self.build_arg.is_empty()).then(|| self.build_arg.into_iter().collect()),
            engine_arg: (!self.engine_arg.is_empty()).then_some(self.engine_arg),
            extend: self.extend.map(options::ExtendImage),
            project: self.project,
            check_dags: match (self.check_dags, self.no_check_dags) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
        };
        (raw, self.config, self.dry_run)
    }
}

fn invalid_input<E: std::error::Error + Send + Sync + 'static>(err: E) -> anyhow::Error {
    with_code(hangar_exit::build::INVALID_INPUT, err)
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "verify")]
    let (sbom, format) = (args.sbom, args.sbom_format);
    let given_epoch = args.source_date_epoch;
    #[cfg_attr(not(feature = "verify"), allow(unused_mut))]
    let (mut flags, config, dry_run) = args.flags.into_raw();
    // The image points to its SBOM (a label, the last step: no cached layer is lost).
    #[cfg(feature = "verify")]
    if let Some(pointer) = args.sbom_url.clone().or_else(|| {
        sbom.as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
    }) {
        flags
            .build_args
            .get_or_insert_with(Default::default)
            .entry("AIRFLOW_IMAGE_SBOM".to_owned())
            .or_insert(pointer);
    }

    let config = config.or_else(|| {
        let default = PathBuf::from("hangar.toml");
        default.is_file().then_some(default)
    });
    let file = match &config {
        Some(path) => Some((
            options::read_file(path).map_err(invalid_input)?,
            path.as_path(),
        )),
        None => None,
    };
    let env = RawOptions::from_env(std::env::vars_os()).map_err(invalid_input)?;
    let opts = options::layered(flags, env, file);

    let epoch_dir = source_date::source_dir(&opts, config.as_deref());
    let source_date_epoch =
        source_date::resolve(given_epoch.clone(), epoch_dir.as_deref(), &source_date::Git);
    if let (None, Some(epoch), Some(dir)) = (&given_epoch, &source_date_epoch, &epoch_dir) {
        eprintln!(
            "hangar: SOURCE_DATE_EPOCH={epoch}: the last commit of {}",
            dir.display()
        );
    }
    let facts = EnvFacts {
        buildah_isolation: std::env::var("BUILDAH_ISOLATION").ok(),
        source_date_epoch,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let plan = request::resolve(&opts, &facts, &SpecCatalogue).map_err(invalid_input)?;
    for w in &plan.warnings {
        eprintln!("hangar: warning: {w}");
    }
    if plan.spec.timestamp.is_some() && plan.spec.format == ImageFormat::Docker {
        eprintln!(
            "hangar: note: with buildah and podman the docker format's config names the build's \
             working container, a random ID: pass --format oci for the same image ID on every \
             build of the same inputs"
        );
    }

    #[cfg(feature = "verify")]
    if let Some(path) = &sbom {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) || path.is_dir() {
            anyhow::bail!(with_code(
                hangar_exit::build::INVALID_INPUT,
                std::io::Error::other(format!(
                    "--sbom {}: the folder to write the SBOM in does not exist (or the path is a folder); create it or name a file in an existing folder",
                    path.display()
                ))
            ));
        }
    }
    let engine =
        hangar_build::choose_engine(plan.engine.value, &SystemProbe).map_err(invalid_input)?;
    let exe = std::env::current_exe()
        .context("cannot find the running hangar executable to copy into the build context")?;
    // Before any engine runs: an image whose /entrypoint cannot execute is never built.
    let binaries = hangar_build::prepare_binaries(&plan, engine, &exe).map_err(invalid_input)?;

    if dry_run {
        let mut out = std::io::stdout().lock();
        out.write_all(hangar_build::dry_run_report(&plan, engine, &binaries).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }

    let display = hangar_build::choose_display(plan.progress, std::io::stderr().is_terminal());
    let outcome = hangar_build::execute(&plan, engine, &binaries, display, &mut std::io::stderr())
        .map_err(|err| match &err {
            // Exit like a process killed by the signal (shells and CI expect 128+n).
            BuildError::Base(_) => invalid_input(err),
            BuildError::Run(RunError::Interrupted { signal, .. }) => {
                let code = hangar_exit::code::signalled(*signal as i32);
                with_code(code, err)
            }
            _ => anyhow::Error::new(err),
        })?;
    if outcome.tags.is_empty() {
        eprintln!("hangar: built image {}", outcome.image_id);
    } else {
        eprintln!(
            "hangar: built image {} tagged {}",
            outcome.image_id,
            outcome.tags.join(", ")
        );
    }
    #[cfg(feature = "verify")]
    if let Some(path) = &sbom {
        let runner = hangar_inspect::Runner {
            engine,
            storage_driver: plan.spec.storage_driver.clone(),
            isolation: plan.spec.isolation.clone(),
        };
        let epoch = facts.source_date_epoch.as_deref();
        super::sbom::write_sbom(&runner, &outcome.image_id, format, Some(path), epoch)
            .with_context(|| {
                format!(
                    "image {} was built, but its SBOM was not written; run `hangar sbom --format {} {} -o {}` once the cause is fixed",
                    outcome.image_id,
                    format.key(),
                    outcome.image_id,
                    path.display()
                )
            })?;
    }
    println!("{}", outcome.image_id);
    Ok(ExitCode::SUCCESS)
}

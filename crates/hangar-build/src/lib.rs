//! The build front end: options, validation, engine command lines and progress.
//!
//! The flow of `hangar build`:
//! 1. [`options`]: flags, `HANGAR_*` variables and `hangar.toml` are layered (flag > env >
//!    file > default), each value keeping its origin;
//! 2. [`request::resolve`]: the options become build args, secrets, tags and a context plan,
//!    validated before any engine runs;
//! 3. [`engine`]: the engine is chosen (or detected) and its argv built by a pure function;
//! 4. [`context::assemble`] prepares a temporary context and [`run::run`] streams the build;
//!    a failed build tags nothing (the engines tag at commit, after the last step).

pub mod catalogue;
pub mod check_dags;
pub mod context;
pub mod engine;
pub mod extend;
pub mod in_image;
pub mod options;
pub mod platform;
pub mod request;
pub mod run;
pub mod source_date;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::{Engine, EngineError, Probe};
use crate::options::{EngineChoice, Origin, ProgressMode};
use crate::platform::{Arch, Binaries, Machine, PlatformError};
use crate::request::Plan;
use crate::run::Display;

/// Errors of a build once its inputs are valid.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Context(#[from] context::ContextError),
    #[error(transparent)]
    Run(#[from] run::RunError),
    #[error(transparent)]
    Base(#[from] extend::base::BaseError),
    #[error("the image was built but its DAG check failed, so no image was tagged")]
    DagCheck(#[source] check_dags::CheckDagsError),
    #[error("the image {image} was built and checked but `{command}` failed: {stderr}")]
    Tag {
        image: String,
        command: String,
        stderr: String,
    },
    #[error(
        "the build succeeded but {engine} wrote no image ID to {path}: {source}. Check the engine version \
         (buildah >= 1.20, podman >= 3, docker buildx)"
    )]
    ImageId {
        engine: Engine,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The result of a successful build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub image_id: String,
    pub tags: Vec<String>,
}

/// The engine named by the options, or the first one that works; for docker, how its client
/// builds (buildx or the daemon's embedded BuildKit) is detected here, once.
///
/// # Errors
/// `auto` and no engine works, or docker and its client cannot build.
pub fn choose_engine(choice: EngineChoice, probe: &dyn Probe) -> Result<Engine, EngineError> {
    match choice {
        EngineChoice::Auto => engine::detect(probe),
        EngineChoice::Docker => Ok(Engine::Docker(engine::detect_client(probe)?)),
        EngineChoice::Podman => Ok(Engine::Podman),
        EngineChoice::Buildah => Ok(Engine::Buildah),
    }
}

/// The display for a progress mode; `stderr_is_terminal` decides `auto`.
#[must_use]
pub fn choose_display(mode: ProgressMode, stderr_is_terminal: bool) -> Display {
    match mode {
        ProgressMode::Plain => Display::Plain,
        ProgressMode::Tty => Display::Live,
        ProgressMode::Auto if stderr_is_terminal => Display::Live,
        ProgressMode::Auto => Display::Plain,
    }
}

/// Checks the plan's target platforms against the engine and picks the hangar binary of each
/// target (see [`platform::select`]); `running` is the running executable. Runs before any
/// engine does, for `--dry-run` too.
///
/// # Errors
/// A list of platforms for an engine that builds one at a time; a binary that is no ELF,
/// whose machine differs from the architecture it was given for, or a target without one.
pub fn prepare_binaries(
    plan: &Plan,
    engine: Engine,
    running: &Path,
) -> Result<Binaries, PlatformError> {
    let targets = match &plan.targets.platforms {
        Some(p) => {
            platform::check_engine(&p.value, &p.origin, engine)?;
            p.value.clone()
        }
        // The engine's native platform: the machine hangar runs on.
        None => match platform::read_machine(running) {
            Ok(Machine::Known(arch)) => vec![arch],
            _ => native_arch().into_iter().collect(),
        },
    };
    let (given, origin) = match &plan.targets.hangar_binaries {
        Some(b) => (b.value.as_slice(), b.origin.clone()),
        None => (&[][..], Origin::Flag("--hangar-binary".into())),
    };
    platform::select(
        &targets,
        given,
        &origin,
        running,
        plan.binary_from_context(),
    )
}

/// The architecture hangar was compiled for, when it builds images for it.
fn native_arch() -> Option<Arch> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Arch::Amd64),
        "aarch64" => Some(Arch::Arm64),
        _ => None,
    }
}

/// Placeholder for the temporary work directory in `--dry-run` output.
pub const DRY_RUN_WORK_DIR: &str = "<work>";

/// The `--dry-run` report: the exact command (with the temporary work directory shown as
/// `<work>`), the build args with their origins, the secrets and the context plan.
#[must_use]
pub fn dry_run_report(plan: &Plan, engine: Engine, binaries: &Binaries) -> String {
    let work = Path::new(DRY_RUN_WORK_DIR);
    let context = work.join("context");
    let extend_args = plan
        .extend
        .as_ref()
        .map(|x| extend::build_args(x, None))
        .unwrap_or_default();
    let (inv, _) = prepared_invocation(
        plan,
        engine,
        (
            &context.join("Dockerfile"),
            &context,
            &work.join("image-id"),
        ),
        extend_args,
    );
    let argv = engine::argv(&inv);
    let how = engine
        .builder()
        .map(|b| format!("{b}; "))
        .unwrap_or_default();
    let mut s = format!(
        "engine: {engine} ({how}{})\ncommand: {}\n",
        plan.engine.origin,
        engine::command_line(engine, &argv)
    );
    s.push_str(&plan.describe(binaries));
    if plan.check_dags {
        let _ = std::fmt::Write::write_fmt(
            &mut s,
            format_args!(
                "then: the DAG check in the built image, and only when it passes the tags: {}\n",
                if plan.spec.tags.is_empty() {
                    "(none)".to_owned()
                } else {
                    plan.spec.tags.join(", ")
                }
            ),
        );
    }
    s
}

/// Assembles the context (with `binaries`, from [`prepare_binaries`]), prints the exact command, runs the engine and reads the image ID.
/// Messages go to `log` (stderr in the program); the temporary context is removed at the end.
///
/// # Errors
/// The context cannot be assembled, the engine fails (the error carries the failing step and
/// the last lines), or no image ID was written.
pub fn execute(
    plan: &Plan,
    engine: Engine,
    binaries: &Binaries,
    display: Display,
    log: &mut dyn Write,
) -> Result<Outcome, BuildError> {
    let runner = check_dags::runner(
        engine,
        plan.spec.storage_driver.clone(),
        plan.spec.isolation.clone(),
    );
    let mut extend_args = Vec::new();
    if let Some(x) = &plan.extend {
        let facts = extend::base::read(&runner, &x.base.value)?;
        let _ = writeln!(
            log,
            "hangar: {}",
            extend::describe_base(&x.base.value, &facts)
        );
        extend_args = extend::build_args(x, Some(&facts));
    }
    let assembled = context::assemble(&plan.context, binaries)?;
    let (inv, tags) = prepared_invocation(
        plan,
        engine,
        (
            &assembled.dockerfile,
            &assembled.context,
            &assembled.iidfile,
        ),
        extend_args,
    );
    let argv = engine::argv(&inv);
    let _ = writeln!(
        log,
        "hangar: running: {}",
        engine::command_line(engine, &argv)
    );
    let _ = log.flush();
    run::run(engine, &argv, display)?;
    let image_id = std::fs::read_to_string(&assembled.iidfile)
        .map_err(|source| BuildError::ImageId {
            engine,
            path: assembled.iidfile.clone(),
            source,
        })?
        .trim()
        .to_owned();
    if plan.check_dags {
        let _ = writeln!(log, "hangar: checking the DAGs of {image_id}");
        let report = check_dags::check(&runner, &image_id, None).map_err(BuildError::DagCheck)?;
        let _ = writeln!(log, "hangar: {}", check_dags::summary(&report));
        for t in &tags {
            tag(engine, plan.spec.storage_driver.as_deref(), &image_id, t)?;
        }
    }
    Ok(Outcome {
        image_id,
        tags: plan.spec.tags.clone(),
    })
}

/// The engine invocation of `plan` at `paths` (Dockerfile, context, image-ID file) with the
/// extend route's build args added. With the DAG check the engine tags nothing: the tags are
/// taken out and returned, to follow a passed check.
fn prepared_invocation(
    plan: &Plan,
    engine: Engine,
    paths: (&Path, &Path, &Path),
    extend_args: Vec<(String, String)>,
) -> (engine::Invocation, Vec<String>) {
    let (dockerfile, context, iidfile) = paths;
    let mut inv = plan.invocation(engine, dockerfile, context, iidfile);
    inv.spec.build_args.extend(extend_args);
    // Generated secrets live in the work directory, beside (never in) the context.
    let work = context.parent().unwrap_or(context);
    inv.spec.secrets.extend(
        plan.context
            .generated_secrets
            .iter()
            .map(|g| engine::SecretFile {
                id: g.id.clone(),
                src: context::generated_secret_path(work, &g.id),
            }),
    );
    let deferred = if plan.check_dags {
        std::mem::take(&mut inv.spec.tags)
    } else {
        Vec::new()
    };
    (inv, deferred)
}

/// Tags `image` as `name` in the engine's store.
fn tag(
    engine: Engine,
    storage_driver: Option<&str>,
    image: &str,
    name: &str,
) -> Result<(), BuildError> {
    let argv = engine::tag_argv(engine, storage_driver, image, name);
    let command = engine::shell_line(&argv);
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(BuildError::Tag {
            image: image.to_owned(),
            command,
            stderr: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        }),
        Err(e) => Err(BuildError::Tag {
            image: image.to_owned(),
            command,
            stderr: e.to_string(),
        }),
    }
}

//! Turning the layered options into a build plan: the build args (each with where it came
//! from), the secrets, the tags and the context, all validated before any engine runs.
//!
//! [`resolve`] runs one step per concern, each in its own module; their order is the order in
//! which invalid input is reported.

mod airflow;
mod args;
mod context_files;
mod date;
mod describe;
mod error;
mod extend;
mod packages;
mod platform;
mod python;
mod secrets;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

pub use self::date::rfc3339;
pub use self::error::ResolveError;
pub use self::platform::Targets;
use crate::context::{ContextPlan, DockerfileSource, GeneratedSecret};
use crate::engine::{BuildSpec, Engine, Invocation};
use crate::extend::ExtendPlan;
use crate::options::{BuildOptions, EngineChoice, Origin, ProgressMode, Sourced};

/// Where a local Airflow source tree or distribution lands in the build stage.
pub const AIRFLOW_SOURCES_TO: &str = "/opt/airflow-sources";

/// Secret ids the Dockerfile mounts.
pub const SECRET_CA: &str = "hangar-ca";
pub const SECRET_PIP_CONF: &str = "pip-conf";
pub const SECRET_NETRC: &str = "netrc";
/// The secret holding `--apt-sources`.
pub const SECRET_APT_SOURCES: &str = "apt-sources";
/// The secret holding `--pip-index-url`.
pub const SECRET_INDEX_URL: &str = "pip-index-url";
/// The secret holding `--pip-extra-index-url` (space-separated URLs).
pub const SECRET_EXTRA_INDEX_URL: &str = "pip-extra-index-url";

/// What hangar knows about a build arg of its Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgStatus {
    Current,
    /// An older name; the text names its replacement.
    Legacy(String),
    /// Accepted but without effect today; the text says why.
    NoOp(String),
}

/// The catalogue of build args of the Dockerfile being built.
pub trait ArgCatalogue {
    /// `None` when the Dockerfile does not declare `name`.
    fn status(&self, name: &str) -> Option<ArgStatus>;
    /// Syntax check of one value; the error says what is wrong and how to fix it.
    ///
    /// # Errors
    /// The value is malformed.
    fn validate(&self, name: &str, value: &str) -> Result<(), String>;
    /// True when a value seems to carry a credential (a password in a URL, a token…).
    fn looks_like_credential(&self, value: &str) -> bool;
}

/// Facts read from the environment of the `hangar build` process (not `HANGAR_*` options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFacts {
    /// `BUILDAH_ISOLATION`, made explicit on buildah and podman command lines.
    pub buildah_isolation: Option<String>,
    /// `SOURCE_DATE_EPOCH`, passed as `--timestamp` to buildah and podman.
    pub source_date_epoch: Option<String>,
    /// The current time (seconds since the epoch), for the image's creation date when
    /// `SOURCE_DATE_EPOCH` is not set.
    pub now: u64,
}

/// A validated build, ready for an engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub engine: Sourced<EngineChoice>,
    /// What the engine's command line carries.
    pub spec: BuildSpec,
    /// Where the values of `spec` came from.
    pub sources: Sources,
    pub progress: ProgressMode,
    pub context: ContextPlan,
    /// The target platforms and the hangar binaries given for them.
    pub targets: Targets,
    /// Non-fatal findings (legacy or no-op build args…), shown before the build.
    pub warnings: Vec<String>,
    /// The extend route: the image built FROM and the project added to it.
    pub extend: Option<ExtendPlan>,
    /// Import every DAG file in the built image before tagging it.
    pub check_dags: bool,
}

/// Where each build arg and secret of a [`Plan`] came from, for `--dry-run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// By build-arg name.
    pub build_args: BTreeMap<String, Origin>,
    /// By secret id.
    pub secrets: BTreeMap<String, Origin>,
}

impl Sources {
    /// Records where each generated secret came from.
    fn generated(&mut self, generated: &[(GeneratedSecret, Origin)]) {
        for (g, origin) in generated {
            self.secrets.insert(g.id.clone(), origin.clone());
        }
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// Validates the options and resolves them into a [`Plan`].
///
/// # Errors
/// The first invalid input, named with its origin and the fix.
pub fn resolve(
    o: &BuildOptions,
    env: &EnvFacts,
    catalogue: &dyn ArgCatalogue,
) -> Result<Plan, ResolveError> {
    let extend = extend::extend(o)?;
    let check_dags = o.check_dags.as_ref().map_or(extend.is_some(), |c| c.value);
    if let Some((plan, warnings)) = extend {
        return resolve_extend(o, env, plan, warnings, check_dags);
    }
    let mut derived = args::Derived::default();
    python::python(o, &mut derived)?;
    let airflow_sources = airflow::airflow(o, &mut derived)?;
    packages::packages(o, &mut derived);
    secrets::apt_sources_in_image(o, &mut derived)?;
    let extra_context_files = context_files::context_files(o, &mut derived)?;
    date::image_date(o, env, &mut derived)?;
    args::hangar_binary(&mut derived);
    let args = args::merge(derived, &o.build_args)?;
    let mut warnings = args::check(&args, catalogue, o.dockerfile.is_none())?;
    warnings.extend(context_files::pypirc_warning(o));
    settings::check_engine_args(o, catalogue)?;
    let secrets = secrets::secrets(o)?;
    let generated = secrets::index_urls(o)?;
    let dockerfile = context_files::dockerfile(o)?;
    let tags = settings::tags(o)?;
    let targets = platform::targets(o)?;
    let (spec, mut sources) = settings::spec(o, env, args, secrets, tags, &targets);
    sources.generated(&generated);
    Ok(Plan {
        engine: settings::engine(o),
        spec,
        sources,
        progress: o.progress.as_ref().map_or(ProgressMode::Auto, |p| p.value),
        context: ContextPlan {
            dockerfile,
            context_files: o.context_files.as_ref().map(|c| c.value.clone()),
            extra_context_files,
            airflow_sources,
            generated_secrets: generated.iter().map(|(g, _)| g.clone()).collect(),
        },
        targets,
        warnings,
        extend: None,
        check_dags,
    })
}

/// The extend route: no build args of the customize route; those of the extend Dockerfile
/// are added once the base image has been read.
fn resolve_extend(
    o: &BuildOptions,
    env: &EnvFacts,
    plan: ExtendPlan,
    warnings: Vec<String>,
    check_dags: bool,
) -> Result<Plan, ResolveError> {
    let secrets = secrets::secrets(o)?;
    let generated = secrets::index_urls(o)?;
    let tags = settings::tags(o)?;
    let targets = platform::targets(o)?;
    let (spec, mut sources) = settings::spec(o, env, BTreeMap::new(), secrets, tags, &targets);
    sources.generated(&generated);
    Ok(Plan {
        engine: settings::engine(o),
        spec,
        sources,
        progress: o.progress.as_ref().map_or(ProgressMode::Auto, |p| p.value),
        context: ContextPlan {
            dockerfile: DockerfileSource::Extend(plan.project.clone()),
            context_files: None,
            extra_context_files: Vec::new(),
            airflow_sources: None,
            generated_secrets: generated.iter().map(|(g, _)| g.clone()).collect(),
        },
        targets,
        warnings,
        extend: Some(plan),
        check_dags,
    })
}

impl Plan {
    /// True when the Dockerfile copies hangar from the context (`HANGAR_BINARY_SOURCE=context`,
    /// hangar's default) rather than compiling it in a build stage.
    #[must_use]
    pub fn binary_from_context(&self) -> bool {
        self.extend.is_some()
            || self
                .spec
                .build_args
                .iter()
                .any(|(k, v)| k == "HANGAR_BINARY_SOURCE" && v == "context")
    }

    /// The engine invocation for this plan with the given context paths.
    #[must_use]
    pub fn invocation(
        &self,
        engine: Engine,
        dockerfile: &Path,
        context: &Path,
        iidfile: &Path,
    ) -> Invocation {
        Invocation {
            engine,
            spec: self.spec.clone(),
            dockerfile: dockerfile.to_path_buf(),
            iidfile: iidfile.to_path_buf(),
            context: context.to_path_buf(),
        }
    }
}

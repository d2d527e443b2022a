//! Turning the layered options into a build plan: the build args (each with where it came
//! from), the secrets, the tags and the context, all validated before any engine runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::context::{AIRFLOW_SOURCES_DIR, CONTEXT_FILES_DIR, ContextPlan, DockerfileSource};

/// Where a local Airflow source tree or distribution lands in the build stage.
pub const AIRFLOW_SOURCES_TO: &str = "/opt/airflow-sources";
use crate::engine::{Engine, Invocation, SecretFile};
use crate::options::{BuildOptions, EngineChoice, ImageFormat, Origin, ProgressMode, Sourced};

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

/// Formats seconds since the Unix epoch as RFC 3339 in UTC (`2023-11-14T22:13:20Z`).
#[must_use]
pub fn rfc3339(secs: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Secret ids the Dockerfile mounts.
pub const SECRET_CA: &str = "hangar-ca";
pub const SECRET_PIP_CONF: &str = "pip-conf";
pub const SECRET_NETRC: &str = "netrc";

/// A validated build, ready for an engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub engine: Sourced<EngineChoice>,
    pub build_args: BTreeMap<String, Sourced<String>>,
    pub secrets: Vec<(SecretFile, Origin)>,
    pub tags: Vec<String>,
    pub target: Option<String>,
    pub format: ImageFormat,
    pub storage_driver: Option<String>,
    pub isolation: Option<String>,
    pub timestamp: Option<String>,
    pub engine_args: Vec<String>,
    pub progress: ProgressMode,
    pub context: ContextPlan,
    /// Non-fatal findings (legacy or no-op build args…), shown before the build.
    pub warnings: Vec<String>,
}

/// Invalid input found before any engine runs.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("invalid value {value:?} for {origin}: {reason}")]
    Invalid {
        origin: Origin,
        value: String,
        reason: String,
    },
    #[error("{origin} needs {what}")]
    Needs { origin: Origin, what: String },
    #[error("{first} and {second} both choose what Airflow to install; give only one of them")]
    Conflict { first: Origin, second: Origin },
    #[error(
        "build arg {name} (from {origin}) seems to contain a credential. Build args are recorded in the \
         image history, so hangar refuses them. Put index credentials in a pip.conf passed with --pip-conf \
         (or a .netrc with --netrc); they reach the build as secrets and never the image"
    )]
    Credential { name: String, origin: Origin },
    #[error("{name}={value:?} from {origin} is invalid: {reason}")]
    BadArg {
        name: String,
        value: String,
        origin: Origin,
        reason: String,
    },
    #[error(
        "build arg {name} is set to {:?} by {} and to {:?} by {}; remove one of them",
        .sides.1, .sides.0, .sides.3, .sides.2
    )]
    ArgConflict {
        name: String,
        /// Origin and value of each side.
        sides: Box<(Origin, String, Origin, String)>,
    },
}

fn invalid(o: &Sourced<impl ToString>, reason: impl Into<String>) -> ResolveError {
    ResolveError::Invalid {
        origin: o.origin.clone(),
        value: o.value.to_string(),
        reason: reason.into(),
    }
}

fn invalid_path(o: &Sourced<PathBuf>, reason: impl Into<String>) -> ResolveError {
    ResolveError::Invalid {
        origin: o.origin.clone(),
        value: o.value.display().to_string(),
        reason: reason.into(),
    }
}

/// Rank of a layer: flags over environment over file over values hangar derives itself.
fn rank(o: &Origin) -> u8 {
    match o {
        Origin::Flag(_) => 3,
        Origin::Env(_) => 2,
        Origin::File { .. } => 1,
        Origin::Derived(_) => 0,
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// `3.10.5`, `v2.10.5` or `3.1.0rc1` → the version without a leading `v`.
fn version_like(reference: &str) -> Option<&str> {
    let v = reference.strip_prefix('v').unwrap_or(reference);
    let ok = v.starts_with(|c: char| c.is_ascii_digit())
        && v.contains('.')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    ok.then_some(v)
}

/// The version in the file name of an apache-airflow wheel or sdist
/// (`apache_airflow-2.10.5-py3-none-any.whl`, `apache-airflow-2.10.5.tar.gz`).
fn distribution_version(file_name: &str) -> Option<&str> {
    let rest = file_name
        .strip_prefix("apache_airflow-")
        .or_else(|| file_name.strip_prefix("apache-airflow-"))?;
    let v = if rest.ends_with(".whl") {
        rest.split('-').next()?
    } else {
        rest.strip_suffix(".tar.gz")
            .or_else(|| rest.strip_suffix(".zip"))?
    };
    version_like(v).filter(|_| !v.starts_with('v'))
}

/// Build args derived from the options, before the pass-through ones are merged in.
struct Derived(BTreeMap<String, Sourced<String>>);

impl Derived {
    fn set(&mut self, name: &str, value: impl Into<String>, origin: &Origin) {
        self.0.insert(
            name.to_owned(),
            Sourced {
                value: value.into(),
                origin: origin.clone(),
            },
        );
    }
}

/// Validates the options and resolves them into a [`Plan`].
///
/// # Errors
/// The first invalid input, named with its origin and the fix.
#[allow(clippy::too_many_lines)]
pub fn resolve(
    o: &BuildOptions,
    env: &EnvFacts,
    catalogue: &dyn ArgCatalogue,
) -> Result<Plan, ResolveError> {
    let mut d = Derived(BTreeMap::new());
    let mut extra_context_files = Vec::new();
    let mut airflow_sources = None;

    if let Some(p) = &o.python {
        let ok = p.value.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && (a.chars().chain(b.chars())).all(|c| c.is_ascii_digit())
        });
        if !ok {
            return Err(invalid(
                p,
                "expected a Python version MAJOR.MINOR, e.g. 3.12",
            ));
        }
        d.set("PYTHON_MAJOR_MINOR_VERSION", &p.value, &p.origin);
        if o.python_base_image.is_none() {
            d.set(
                "PYTHON_BASE_IMAGE",
                format!("python:{}-slim-bookworm", p.value),
                &p.origin,
            );
        }
    }
    if let Some(b) = &o.python_base_image {
        if b.value.trim().is_empty() || b.value.contains(char::is_whitespace) {
            return Err(invalid(
                b,
                "expected an image name such as python:3.12-slim-bookworm",
            ));
        }
        d.set("PYTHON_BASE_IMAGE", &b.value, &b.origin);
    }

    // What to install: at most one of version, reference, sources.
    let sources: Vec<&Origin> = [
        o.install_airflow_version.as_ref().map(|s| &s.origin),
        o.install_airflow_reference.as_ref().map(|s| &s.origin),
        o.airflow_sources.as_ref().map(|s| &s.origin),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let [first, second, ..] = sources.as_slice() {
        return Err(ResolveError::Conflict {
            first: (*first).clone(),
            second: (*second).clone(),
        });
    }
    if let Some(v) = &o.install_airflow_version {
        d.set("AIRFLOW_VERSION", &v.value, &v.origin);
        d.set("AIRFLOW_INSTALLATION_METHOD", "apache-airflow", &v.origin);
    }
    if let Some(r) = &o.install_airflow_reference {
        let ok = !r.value.is_empty()
            && r.value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
        if !ok {
            return Err(invalid(
                r,
                "expected a git tag or branch of Airflow, e.g. 3.1.0 or v2-10-stable",
            ));
        }
        let repo = o
            .build_args
            .get("AIRFLOW_REPO")
            .map_or("apache/airflow", |s| s.value.as_str());
        d.set(
            "AIRFLOW_INSTALLATION_METHOD",
            format!("https://github.com/{repo}/archive/{}.tar.gz", r.value),
            &r.origin,
        );
        match version_like(&r.value) {
            Some(v) => {
                d.set("AIRFLOW_VERSION", v, &r.origin);
                d.set(
                    "AIRFLOW_CONSTRAINTS_REFERENCE",
                    format!("constraints-{v}"),
                    &r.origin,
                );
            }
            None => d.set(
                "AIRFLOW_CONSTRAINTS_REFERENCE",
                "constraints-main",
                &r.origin,
            ),
        }
    }
    if let Some(s) = &o.airflow_sources {
        if is_url(&s.value) {
            d.set("AIRFLOW_INSTALLATION_METHOD", &s.value, &s.origin);
        } else {
            let path = Path::new(&s.value);
            let meta = std::fs::metadata(path).map_err(|e| {
                invalid(s, format!("cannot read it ({e}); give an Airflow source tree, sdist or wheel, or an https:// URL"))
            })?;
            if meta.is_dir() {
                if !path.join("pyproject.toml").is_file() && !path.join("setup.py").is_file() {
                    return Err(invalid(
                        s,
                        "this folder has no pyproject.toml or setup.py; point at the root of an Airflow source tree",
                    ));
                }
                d.set("AIRFLOW_INSTALLATION_METHOD", AIRFLOW_SOURCES_TO, &s.origin);
            } else {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !(name.ends_with(".whl") || name.ends_with(".tar.gz") || name.ends_with(".zip"))
                {
                    return Err(invalid(
                        s,
                        "expected a .whl, .tar.gz or .zip distribution of apache-airflow",
                    ));
                }
                d.set(
                    "AIRFLOW_INSTALLATION_METHOD",
                    format!("{AIRFLOW_SOURCES_TO}/{name}"),
                    &s.origin,
                );
                // The image's AIRFLOW_VERSION (env and label) is the distribution's own.
                if let Some(v) = distribution_version(&name) {
                    d.set("AIRFLOW_VERSION", v, &s.origin);
                }
            }
            airflow_sources = Some(path.to_path_buf());
            d.set("AIRFLOW_SOURCES_FROM", AIRFLOW_SOURCES_DIR, &s.origin);
            d.set("AIRFLOW_SOURCES_TO", AIRFLOW_SOURCES_TO, &s.origin);
        }
    }

    let direct = [
        (&o.extras, "AIRFLOW_EXTRAS"),
        (&o.additional_extras, "ADDITIONAL_AIRFLOW_EXTRAS"),
        (&o.additional_python_deps, "ADDITIONAL_PYTHON_DEPS"),
        (&o.additional_dev_apt_deps, "ADDITIONAL_DEV_APT_DEPS"),
        (
            &o.additional_runtime_apt_deps,
            "ADDITIONAL_RUNTIME_APT_DEPS",
        ),
        (&o.dev_apt_command, "DEV_APT_COMMAND"),
        (&o.runtime_apt_command, "RUNTIME_APT_COMMAND"),
    ];
    for (opt, name) in direct {
        if let Some(v) = opt {
            d.set(name, &v.value, &v.origin);
        }
    }
    // A switch set to false (e.g. to override a file from the environment) leaves the
    // Dockerfile's default in place.
    if let Some(b) = o
        .disable_mysql_client_installation
        .as_ref()
        .filter(|b| b.value)
    {
        d.set("INSTALL_MYSQL_CLIENT", "false", &b.origin);
    }
    if let Some(b) = o.disable_pip_cache.as_ref().filter(|b| b.value) {
        d.set("AIRFLOW_PRE_CACHED_PIP_PACKAGES", "false", &b.origin);
    }

    if let Some(cf) = &o.context_files
        && !cf.value.is_dir()
    {
        return Err(invalid_path(
            cf,
            "no such folder; give the folder holding your wheels, constraints or requirements files",
        ));
    }
    if let Some(w) = &o.add_local_pip_wheels
        && w.value
    {
        let Some(cf) = &o.context_files else {
            return Err(ResolveError::Needs {
                origin: w.origin.clone(),
                what: "--context-files DIR: the folder holding the .whl files to install".into(),
            });
        };
        if !contains_wheel(&cf.value) {
            return Err(invalid_path(
                cf,
                "--add-local-pip-wheels is set but this folder holds no .whl file; download them with \
                     `pip download -d DIR apache-airflow==VERSION` first",
            ));
        }
        d.set("INSTALL_DISTRIBUTIONS_FROM_CONTEXT", "true", &w.origin);
    }
    if let Some(c) = &o.constraints_location {
        let v = c.value.as_str();
        let value = if v == "none" || is_url(v) || v.starts_with(&format!("/{CONTEXT_FILES_DIR}/"))
        {
            v.to_owned()
        } else {
            let p = Path::new(v);
            if !p.is_file() {
                return Err(invalid(
                    c,
                    "not a URL and no such file; give an https:// URL, a local constraints file, \
                     /docker-context-files/<file> or `none`",
                ));
            }
            extra_context_files.push(p.to_path_buf());
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("/{CONTEXT_FILES_DIR}/{name}")
        };
        d.set("AIRFLOW_CONSTRAINTS_LOCATION", value, &c.origin);
    }

    if let Some(cf) = &o.context_files {
        d.set("DOCKER_CONTEXT_FILES", CONTEXT_FILES_DIR, &cf.origin);
    } else if let (Some(c), false) = (&o.constraints_location, extra_context_files.is_empty()) {
        d.set("DOCKER_CONTEXT_FILES", CONTEXT_FILES_DIR, &c.origin);
    }

    if o.dockerfile.is_none() {
        let (secs, origin) = match env.source_date_epoch.as_deref().map(str::parse::<u64>) {
            Some(Ok(secs)) => (secs, "set by hangar from SOURCE_DATE_EPOCH"),
            Some(Err(_)) => {
                return Err(ResolveError::Invalid {
                    origin: Origin::Env("SOURCE_DATE_EPOCH".into()),
                    value: env.source_date_epoch.clone().unwrap_or_default(),
                    reason: "expected seconds since 1970-01-01, e.g. $(git log -1 --format=%ct)"
                        .into(),
                });
            }
            None => (env.now, "set by hangar: the build time"),
        };
        d.set(
            "AIRFLOW_IMAGE_DATE_CREATED",
            rfc3339(secs),
            &Origin::Derived(origin.into()),
        );
    }

    let binary_origin =
        Origin::Derived("set by hangar: its own binary is in the build context".into());
    d.set("HANGAR_BINARY_SOURCE", "context", &binary_origin);

    // Merge the pass-through build args.
    let mut args = d.0;
    for (name, given) in &o.build_args {
        match args.get(name) {
            Some(derived) if derived.value != given.value => {
                let (dr, gr) = (rank(&derived.origin), rank(&given.origin));
                if gr == dr {
                    return Err(ResolveError::ArgConflict {
                        name: name.clone(),
                        sides: Box::new((
                            derived.origin.clone(),
                            derived.value.clone(),
                            given.origin.clone(),
                            given.value.clone(),
                        )),
                    });
                }
                if gr > dr {
                    args.insert(name.clone(), given.clone());
                }
            }
            _ => {
                args.insert(name.clone(), given.clone());
            }
        }
    }

    let embedded = o.dockerfile.is_none();
    let mut warnings = Vec::new();
    for (name, v) in &args {
        if catalogue.looks_like_credential(&v.value) {
            return Err(ResolveError::Credential {
                name: name.clone(),
                origin: v.origin.clone(),
            });
        }
        match catalogue.status(name) {
            Some(status) => {
                catalogue
                    .validate(name, &v.value)
                    .map_err(|reason| ResolveError::BadArg {
                        name: name.clone(),
                        value: v.value.clone(),
                        origin: v.origin.clone(),
                        reason,
                    })?;
                match status {
                    ArgStatus::Current => {}
                    ArgStatus::Legacy(by) => warnings.push(format!(
                        "build arg {name} (from {}) is a legacy name; it is honoured, but prefer {by}",
                        v.origin
                    )),
                    ArgStatus::NoOp(why) => warnings.push(format!(
                        "build arg {name} (from {}) has no effect: {why}",
                        v.origin
                    )),
                }
            }
            None if embedded => warnings.push(format!(
                "build arg {name} (from {}) is not declared by hangar's Dockerfile and will be ignored",
                v.origin
            )),
            None => {}
        }
    }

    if let Some(e) = &o.engine_arg
        && e.value.iter().any(|a| catalogue.looks_like_credential(a))
    {
        return Err(ResolveError::Invalid {
            origin: e.origin.clone(),
            value: "(not shown: it seems to contain a credential)".into(),
            reason: "engine arguments are printed and visible to every user of this machine; \
                         pass credentials as files with --pip-conf or --netrc"
                .into(),
        });
    }

    let mut secrets = Vec::new();
    for (opt, id) in [
        (&o.ca_bundle, SECRET_CA),
        (&o.pip_conf, SECRET_PIP_CONF),
        (&o.netrc, SECRET_NETRC),
    ] {
        let Some(p) = opt else { continue };
        let text =
            std::fs::read(&p.value).map_err(|e| invalid_path(p, format!("cannot read it: {e}")))?;
        if text.is_empty() {
            return Err(invalid_path(p, "the file is empty"));
        }
        if id == SECRET_CA
            && !text
                .windows(27)
                .any(|w| w == b"-----BEGIN CERTIFICATE-----")
        {
            return Err(invalid_path(
                p,
                "no PEM certificate in it; give a CA bundle such as /etc/ssl/certs/ca-certificates.crt",
            ));
        }
        let src = std::path::absolute(&p.value).unwrap_or_else(|_| p.value.clone());
        secrets.push((
            SecretFile {
                id: id.to_owned(),
                src,
            },
            p.origin.clone(),
        ));
    }

    let dockerfile = match &o.dockerfile {
        None => DockerfileSource::Embedded,
        Some(f) => {
            if !f.value.is_file() {
                return Err(invalid_path(
                    f,
                    "no such file; give the path of a Dockerfile",
                ));
            }
            DockerfileSource::File(f.value.clone())
        }
    };

    let tags = o.tag.as_ref().map(|t| t.value.clone()).unwrap_or_default();
    for t in &tags {
        if t.is_empty() || t.contains(char::is_whitespace) {
            let origin = o
                .tag
                .as_ref()
                .map_or(Origin::Flag("--tag".into()), |s| s.origin.clone());
            return Err(ResolveError::Invalid {
                origin,
                value: t.clone(),
                reason: "an image name has no spaces, e.g. my-registry/airflow:3.1.0".into(),
            });
        }
    }

    Ok(Plan {
        engine: o.engine.clone().unwrap_or(Sourced {
            value: EngineChoice::Auto,
            origin: Origin::Derived("default: auto-detected".into()),
        }),
        build_args: args,
        secrets,
        tags,
        target: o.target.as_ref().map(|t| t.value.clone()),
        format: o.format.as_ref().map_or(ImageFormat::Docker, |f| f.value),
        storage_driver: o.storage_driver.as_ref().map(|s| s.value.clone()),
        isolation: env.buildah_isolation.clone().filter(|s| !s.is_empty()),
        timestamp: env.source_date_epoch.clone().filter(|s| !s.is_empty()),
        engine_args: o
            .engine_arg
            .as_ref()
            .map(|e| e.value.clone())
            .unwrap_or_default(),
        progress: o.progress.as_ref().map_or(ProgressMode::Auto, |p| p.value),
        context: ContextPlan {
            dockerfile,
            context_files: o.context_files.as_ref().map(|c| c.value.clone()),
            extra_context_files,
            airflow_sources,
        },
        warnings,
    })
}

fn contains_wheel(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            contains_wheel(&p)
        } else {
            p.extension().is_some_and(|x| x == "whl")
        }
    })
}

impl Plan {
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
            build_args: self
                .build_args
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            secrets: self.secrets.iter().map(|(s, _)| s.clone()).collect(),
            tags: self.tags.clone(),
            target: self.target.clone(),
            format: self.format,
            storage_driver: self.storage_driver.clone(),
            isolation: self.isolation.clone(),
            timestamp: self.timestamp.clone(),
            engine_args: self.engine_args.clone(),
            dockerfile: dockerfile.to_path_buf(),
            iidfile: iidfile.to_path_buf(),
            context: context.to_path_buf(),
        }
    }

    /// A human-readable description for `--dry-run`: build args with their origins, secrets
    /// (paths only) and the context plan.
    #[must_use]
    pub fn describe(&self, hangar_exe: &Path) -> String {
        let mut s = String::from("build args:\n");
        let width = self.build_args.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &self.build_args {
            let _ = writeln!(s, "  {k:width$} = {:?}  ({})", v.value, v.origin);
        }
        s.push_str("secrets:\n");
        if self.secrets.is_empty() {
            s.push_str("  (none)\n");
        }
        for (sec, origin) in &self.secrets {
            let _ = writeln!(s, "  {} <- {}  ({origin})", sec.id, sec.src.display());
        }
        s.push_str("tags:\n");
        if self.tags.is_empty() {
            s.push_str("  (none: the image is known by its ID only)\n");
        }
        for t in &self.tags {
            let _ = writeln!(s, "  {t}");
        }
        s.push_str("context:\n");
        match &self.context.dockerfile {
            DockerfileSource::Embedded => s.push_str("  Dockerfile <- hangar's own Dockerfile\n"),
            DockerfileSource::File(p) => {
                let _ = writeln!(s, "  Dockerfile <- {}", p.display());
            }
        }
        let _ = writeln!(s, "  .hangar/hangar <- {}", hangar_exe.display());
        match &self.context.context_files {
            Some(p) => {
                let _ = writeln!(s, "  {CONTEXT_FILES_DIR}/ <- {}", p.display());
            }
            None => {
                let _ = writeln!(s, "  {CONTEXT_FILES_DIR}/ (empty)");
            }
        }
        for f in &self.context.extra_context_files {
            let _ = writeln!(s, "  {CONTEXT_FILES_DIR}/ <- {}", f.display());
        }
        if let Some(t) = &self.context.airflow_sources {
            let _ = writeln!(s, "  {AIRFLOW_SOURCES_DIR}/ <- {}", t.display());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{RawOptions, layered};

    /// A small stand-in catalogue for unit tests of the resolution rules; the real one is
    /// exercised through the binary's tests.
    struct TestCatalogue;
    impl ArgCatalogue for TestCatalogue {
        fn status(&self, name: &str) -> Option<ArgStatus> {
            match name {
                "AIRFLOW_WWW" => Some(ArgStatus::NoOp("the UI is always RBAC".into())),
                "AIRFLOW_INSTALL_VERSION" => Some(ArgStatus::Legacy("AIRFLOW_VERSION".into())),
                n if n.starts_with("AIRFLOW_")
                    || n.starts_with("PYTHON_")
                    || n.starts_with("ADDITIONAL_")
                    || n.starts_with("INSTALL_")
                    || n.ends_with("_APT_COMMAND")
                    || n == "HANGAR_BINARY_SOURCE"
                    || n == "DOCKER_CONTEXT_FILES" =>
                {
                    Some(ArgStatus::Current)
                }
                _ => None,
            }
        }
        fn validate(&self, name: &str, value: &str) -> Result<(), String> {
            if name == "AIRFLOW_VERSION" && !value.starts_with(|c: char| c.is_ascii_digit()) {
                return Err("expected a version such as 3.1.0".into());
            }
            Ok(())
        }
        fn looks_like_credential(&self, value: &str) -> bool {
            value.contains(":secret@")
        }
    }

    fn flags(raw: RawOptions) -> BuildOptions {
        layered(raw, RawOptions::default(), None)
    }

    fn arg(plan: &Plan, name: &str) -> Option<String> {
        plan.build_args.get(name).map(|s| s.value.clone())
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn creation_date_from_source_date_epoch_or_now() {
        let env = EnvFacts {
            source_date_epoch: Some("1700000000".into()),
            now: 5,
            ..EnvFacts::default()
        };
        let p = resolve(&flags(RawOptions::default()), &env, &TestCatalogue).unwrap();
        assert_eq!(
            arg(&p, "AIRFLOW_IMAGE_DATE_CREATED").as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(p.timestamp.as_deref(), Some("1700000000"));
        let env = EnvFacts {
            now: 86_400,
            ..EnvFacts::default()
        };
        let p = resolve(&flags(RawOptions::default()), &env, &TestCatalogue).unwrap();
        assert_eq!(
            arg(&p, "AIRFLOW_IMAGE_DATE_CREATED").as_deref(),
            Some("1970-01-02T00:00:00Z")
        );
        let env = EnvFacts {
            source_date_epoch: Some("yesterday".into()),
            ..EnvFacts::default()
        };
        let err = resolve(&flags(RawOptions::default()), &env, &TestCatalogue)
            .unwrap_err()
            .to_string();
        assert!(err.contains("SOURCE_DATE_EPOCH"), "{err}");
    }

    #[test]
    fn breeze_style_mapping() {
        let o = flags(RawOptions {
            python: Some("3.11".into()),
            install_airflow_version: Some("2.10.5".into()),
            additional_extras: Some("postgres,celery".into()),
            disable_mysql_client_installation: Some(true),
            disable_pip_cache: Some(true),
            ..RawOptions::default()
        });
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(
            arg(&p, "PYTHON_MAJOR_MINOR_VERSION").as_deref(),
            Some("3.11")
        );
        assert_eq!(
            arg(&p, "PYTHON_BASE_IMAGE").as_deref(),
            Some("python:3.11-slim-bookworm")
        );
        assert_eq!(arg(&p, "AIRFLOW_VERSION").as_deref(), Some("2.10.5"));
        assert_eq!(
            arg(&p, "AIRFLOW_INSTALLATION_METHOD").as_deref(),
            Some("apache-airflow")
        );
        assert_eq!(
            arg(&p, "ADDITIONAL_AIRFLOW_EXTRAS").as_deref(),
            Some("postgres,celery")
        );
        assert_eq!(arg(&p, "INSTALL_MYSQL_CLIENT").as_deref(), Some("false"));
        assert_eq!(
            arg(&p, "AIRFLOW_PRE_CACHED_PIP_PACKAGES").as_deref(),
            Some("false")
        );
        assert_eq!(arg(&p, "HANGAR_BINARY_SOURCE").as_deref(), Some("context"));
        assert_eq!(
            p.build_args["AIRFLOW_VERSION"].origin,
            Origin::Flag("--install-airflow-version".into())
        );
    }

    #[test]
    fn a_switch_set_to_false_keeps_the_default() {
        let file = RawOptions {
            disable_mysql_client_installation: Some(true),
            ..RawOptions::default()
        };
        let env =
            RawOptions::from_env([("HANGAR_DISABLE_MYSQL_CLIENT_INSTALLATION", "false")]).unwrap();
        let o = layered(
            RawOptions::default(),
            env,
            Some((file.clone(), Path::new("hangar.toml"))),
        );
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(arg(&p, "INSTALL_MYSQL_CLIENT"), None);
        let o = layered(
            RawOptions::default(),
            RawOptions::default(),
            Some((file, Path::new("hangar.toml"))),
        );
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(arg(&p, "INSTALL_MYSQL_CLIENT").as_deref(), Some("false"));
    }

    #[test]
    fn reference_installs_from_a_github_archive() {
        let o = flags(RawOptions {
            install_airflow_reference: Some("v2.10.5".into()),
            ..RawOptions::default()
        });
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(
            arg(&p, "AIRFLOW_INSTALLATION_METHOD").as_deref(),
            Some("https://github.com/apache/airflow/archive/v2.10.5.tar.gz")
        );
        assert_eq!(
            arg(&p, "AIRFLOW_CONSTRAINTS_REFERENCE").as_deref(),
            Some("constraints-2.10.5")
        );
        let o = flags(RawOptions {
            install_airflow_reference: Some("main".into()),
            ..RawOptions::default()
        });
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(
            arg(&p, "AIRFLOW_CONSTRAINTS_REFERENCE").as_deref(),
            Some("constraints-main")
        );
        assert_eq!(arg(&p, "AIRFLOW_VERSION"), None);
    }

    #[test]
    fn base_image_beats_the_python_default() {
        let o = flags(RawOptions {
            python: Some("3.12".into()),
            python_base_image: Some("localhost/python-base:bookworm".into()),
            ..RawOptions::default()
        });
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(
            arg(&p, "PYTHON_BASE_IMAGE").as_deref(),
            Some("localhost/python-base:bookworm")
        );
    }

    #[test]
    fn invalid_inputs_name_themselves() {
        let cases: Vec<(RawOptions, &str)> = vec![
            (
                RawOptions {
                    python: Some("3".into()),
                    ..RawOptions::default()
                },
                "--python",
            ),
            (
                RawOptions {
                    install_airflow_version: Some("latest".into()),
                    ..RawOptions::default()
                },
                "AIRFLOW_VERSION",
            ),
            (
                RawOptions {
                    install_airflow_version: Some("3.1.0".into()),
                    install_airflow_reference: Some("main".into()),
                    ..RawOptions::default()
                },
                "--install-airflow-reference",
            ),
            (
                RawOptions {
                    context_files: Some("/nonexistent/hangar-files".into()),
                    ..RawOptions::default()
                },
                "/nonexistent/hangar-files",
            ),
            (
                RawOptions {
                    add_local_pip_wheels: Some(true),
                    ..RawOptions::default()
                },
                "--context-files",
            ),
            (
                RawOptions {
                    constraints_location: Some("missing-constraints.txt".into()),
                    ..RawOptions::default()
                },
                "--constraints-location",
            ),
            (
                RawOptions {
                    engine_arg: Some(vec!["--build-arg=TOKEN=https://u:secret@idx".into()]),
                    ..RawOptions::default()
                },
                "--engine-arg",
            ),
            (
                RawOptions {
                    ca_bundle: Some("/nonexistent/ca.pem".into()),
                    ..RawOptions::default()
                },
                "--ca-bundle",
            ),
            (
                RawOptions {
                    build_args: Some(BTreeMap::from([(
                        "ADDITIONAL_PYTHON_DEPS".into(),
                        "--index-url https://u:secret@idx/simple pkg".into(),
                    )])),
                    ..RawOptions::default()
                },
                "--pip-conf",
            ),
        ];
        for (raw, needle) in cases {
            let err = resolve(&flags(raw.clone()), &EnvFacts::default(), &TestCatalogue)
                .expect_err(&format!("{raw:?} must be refused"))
                .to_string();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }

    #[test]
    fn ca_bundle_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "hello").unwrap();
        let o = flags(RawOptions {
            ca_bundle: Some(bad),
            ..RawOptions::default()
        });
        let err = resolve(&o, &EnvFacts::default(), &TestCatalogue)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no PEM certificate"), "{err}");

        let good = dir.path().join("ca.pem");
        std::fs::write(
            &good,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let o = flags(RawOptions {
            ca_bundle: Some(good.clone()),
            ..RawOptions::default()
        });
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(
            p.secrets[0].0,
            SecretFile {
                id: SECRET_CA.into(),
                src: good
            }
        );
    }

    #[test]
    fn pass_through_args_follow_layer_precedence() {
        // A file-level build arg loses to a flag-derived one…
        let file = RawOptions {
            build_args: Some(BTreeMap::from([(
                "AIRFLOW_VERSION".into(),
                "2.10.5".into(),
            )])),
            ..RawOptions::default()
        };
        let fl = RawOptions {
            install_airflow_version: Some("3.1.0".into()),
            ..RawOptions::default()
        };
        let o = layered(
            fl,
            RawOptions::default(),
            Some((file, Path::new("hangar.toml"))),
        );
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(arg(&p, "AIRFLOW_VERSION").as_deref(), Some("3.1.0"));
        // …a flag-level one beats a file-derived one…
        let file = RawOptions {
            install_airflow_version: Some("2.10.5".into()),
            ..RawOptions::default()
        };
        let fl = RawOptions {
            build_args: Some(BTreeMap::from([("AIRFLOW_VERSION".into(), "3.1.0".into())])),
            ..RawOptions::default()
        };
        let o = layered(
            fl,
            RawOptions::default(),
            Some((file, Path::new("hangar.toml"))),
        );
        let p = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(arg(&p, "AIRFLOW_VERSION").as_deref(), Some("3.1.0"));
        // …and two flags that disagree are an error.
        let fl = RawOptions {
            install_airflow_version: Some("2.10.5".into()),
            build_args: Some(BTreeMap::from([("AIRFLOW_VERSION".into(), "3.1.0".into())])),
            ..RawOptions::default()
        };
        let err = resolve(&flags(fl), &EnvFacts::default(), &TestCatalogue)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--install-airflow-version")
                && err.contains("--build-arg AIRFLOW_VERSION"),
            "{err}"
        );
    }

    #[test]
    fn warnings_for_legacy_noop_and_unknown_args() {
        let fl = RawOptions {
            build_args: Some(BTreeMap::from([
                ("AIRFLOW_WWW".into(), "www".into()),
                ("AIRFLOW_INSTALL_VERSION".into(), "==3.1.0".into()),
                ("MY_OWN".into(), "x".into()),
            ])),
            ..RawOptions::default()
        };
        let p = resolve(&flags(fl), &EnvFacts::default(), &TestCatalogue).unwrap();
        let w = p.warnings.join("\n");
        assert!(w.contains("AIRFLOW_WWW") && w.contains("no effect"), "{w}");
        assert!(
            w.contains("AIRFLOW_INSTALL_VERSION") && w.contains("prefer AIRFLOW_VERSION"),
            "{w}"
        );
        assert!(w.contains("MY_OWN") && w.contains("not declared"), "{w}");
    }

    #[test]
    fn a_local_wheel_is_installed_from_its_path_in_the_build_stage() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("apache_airflow-3.1.0-py3-none-any.whl");
        std::fs::write(&wheel, "PK").unwrap();
        let raw = RawOptions {
            airflow_sources: Some(wheel.display().to_string()),
            ..RawOptions::default()
        };
        let p = resolve(&flags(raw), &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(
            arg(&p, "AIRFLOW_INSTALLATION_METHOD").as_deref(),
            Some("/opt/airflow-sources/apache_airflow-3.1.0-py3-none-any.whl")
        );
        assert_eq!(
            arg(&p, "AIRFLOW_SOURCES_FROM").as_deref(),
            Some("airflow-sources")
        );
        assert_eq!(p.context.airflow_sources.as_deref(), Some(wheel.as_path()));
        assert_eq!(arg(&p, "AIRFLOW_VERSION").as_deref(), Some("3.1.0"));
        let txt = dir.path().join("airflow.txt");
        std::fs::write(&txt, "").unwrap();
        let raw = RawOptions {
            airflow_sources: Some(txt.display().to_string()),
            ..RawOptions::default()
        };
        let err = resolve(&flags(raw), &EnvFacts::default(), &TestCatalogue).unwrap_err();
        assert!(err.to_string().contains(".whl"), "{err}");
    }

    #[test]
    fn the_version_of_a_local_distribution_comes_from_its_file_name() {
        for (name, v) in [
            ("apache_airflow-2.10.5-py3-none-any.whl", Some("2.10.5")),
            ("apache_airflow-3.1.0rc1-py3-none-any.whl", Some("3.1.0rc1")),
            ("apache_airflow-2.10.5.tar.gz", Some("2.10.5")),
            ("apache-airflow-2.10.5.tar.gz", Some("2.10.5")),
            ("apache_airflow-3.0.0.zip", Some("3.0.0")),
            ("apache_airflow_core-3.0.0-py3-none-any.whl", None),
            ("airflow.whl", None),
            ("apache_airflow-main.tar.gz", None),
        ] {
            assert_eq!(distribution_version(name), v, "{name}");
        }
    }

    #[test]
    fn local_sources_and_constraints_go_into_the_context() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("airflow");
        std::fs::create_dir_all(&tree).unwrap();
        std::fs::write(tree.join("pyproject.toml"), "").unwrap();
        let constraints = dir.path().join("constraints-3.12.txt");
        std::fs::write(&constraints, "rich==13\n").unwrap();
        let raw = RawOptions {
            airflow_sources: Some(tree.display().to_string()),
            constraints_location: Some(constraints.display().to_string()),
            ..RawOptions::default()
        };
        let p = resolve(&flags(raw), &EnvFacts::default(), &TestCatalogue).unwrap();
        assert_eq!(p.context.airflow_sources.as_deref(), Some(tree.as_path()));
        assert_eq!(
            arg(&p, "AIRFLOW_INSTALLATION_METHOD").as_deref(),
            Some("/opt/airflow-sources")
        );
        assert_eq!(
            arg(&p, "DOCKER_CONTEXT_FILES").as_deref(),
            Some("docker-context-files")
        );
        assert_eq!(p.context.extra_context_files, [constraints]);
        assert_eq!(
            arg(&p, "AIRFLOW_CONSTRAINTS_LOCATION").as_deref(),
            Some("/docker-context-files/constraints-3.12.txt")
        );
        assert_eq!(
            arg(&p, "AIRFLOW_SOURCES_FROM").as_deref(),
            Some("airflow-sources")
        );
    }
}

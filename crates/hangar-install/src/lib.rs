//! Install logic run inside the image build (`hangar install <step>`): build args read with
//! their catalogue defaults, extras resolution, constraints, pip and apt command lines,
//! uv command lines and pip.conf translation, context-file installs and the final image's user
//! and permissions.

use std::path::PathBuf;

pub mod airflow_pin;
pub mod apt;
pub mod args;
pub mod constraints;
pub mod exec;
pub mod extras;
pub mod installer;
pub mod layer;
pub mod manifest;
pub mod pin;
pub mod pip;
pub mod source;
pub mod steps;
pub mod usersite;
pub mod uv;

/// An error of an in-build step. Every message names the build arg or file at fault and
/// what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("build arg {name} is invalid: {problem}; {fix}")]
    BadArg {
        name: &'static str,
        problem: String,
        fix: &'static str,
    },
    #[error(transparent)]
    Spec(#[from] hangar_buildargs::SpecError),
    #[error(
        "the base image's python3 is {got:?} but PYTHON_MAJOR_MINOR_VERSION is {wanted:?}; \
         set PYTHON_MAJOR_MINOR_VERSION to the base image's version or pick a PYTHON_BASE_IMAGE with Python {wanted}"
    )]
    PythonMismatch { wanted: String, got: String },
    #[error(
        "cannot download the constraints file {url}; set AIRFLOW_CONSTRAINTS_LOCATION to a reachable URL \
         or to a file under /docker-context-files (with DOCKER_CONTEXT_FILES), or to `none` to install without constraints"
    )]
    ConstraintsUnreachable { url: String },
    #[error(
        "constraints file {} not found in the build stage; put it in the folder given as DOCKER_CONTEXT_FILES \
         (mounted at /docker-context-files) or fix AIRFLOW_CONSTRAINTS_LOCATION", path.display()
    )]
    ConstraintsMissing { path: PathBuf },
    #[error(
        "INSTALL_DISTRIBUTIONS_FROM_CONTEXT (or AIRFLOW_LOCAL_PIP_WHEELS) is true but /docker-context-files holds no \
         .whl or .tar.gz; set DOCKER_CONTEXT_FILES to the folder with the wheels (e.g. from `pip download`)"
    )]
    NoContextDistributions,
    #[error("the context files do not match their manifest: {0}")]
    Manifest(#[from] manifest::ManifestError),
    #[error(
        "INSTALL_AIRFLOW_VIA_PIP is false and no apache-airflow distribution is in /docker-context-files; \
         add the Airflow wheel to DOCKER_CONTEXT_FILES or set INSTALL_AIRFLOW_VIA_PIP=true"
    )]
    NothingToInstall,
    #[error(
        "Airflow sources {} not found in the build stage; set AIRFLOW_SOURCES_FROM to the context path of the \
         source tree, sdist or wheel and AIRFLOW_SOURCES_TO to where it lands", path.display()
    )]
    SourcesMissing { path: PathBuf },
    #[error("{what} failed (exit code {code}) running `{command}`; {fix}")]
    Failed {
        what: String,
        command: String,
        code: i32,
        fix: String,
    },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    AirflowChange(#[from] pin::AirflowChange),
    #[error(
        "cannot read pip's dry-run report of requirements.txt: {0}; check that the base image's pip is 22.2 or newer"
    )]
    PipReport(String),
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
    #[error(transparent)]
    UserSite(#[from] usersite::UserSiteError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

//! The build args of hangar's root `Dockerfile`, the image's build contract: the catalogue
//! (name, default, stage, effect, status), the syntax check of each arg's value, and the
//! detection and masking of credentials passed where build args would record them.
//!
//! Both sides of the build use it: `hangar build` checks args before starting an engine, and
//! the in-build `hangar install` steps read their args with the catalogue's defaults.

mod catalogue;
mod credentials;
mod validate;

pub use catalogue::{
    BuildArg, CONSTRAINTS_NONE, DEFAULT_AIRFLOW_EXTRAS, DEFAULT_AIRFLOW_VERSION,
    DEFAULT_PYTHON_BASE_IMAGE, DEFAULT_PYTHON_VERSION, Stage, Status, catalogue, find,
};
pub use credentials::{
    PYPIRC_ONLY_WARNING, credential_lines, looks_like_credential, mask_credentials,
};
pub use validate::{InstallMethod, SpecError, parse_extras, parse_install_method, validate};

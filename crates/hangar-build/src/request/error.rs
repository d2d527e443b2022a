//! The error of request resolution and the helpers that name an invalid option.

use std::path::PathBuf;

use crate::options::{Origin, Sourced};

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
        "{option} belongs to the customize route and has no effect on an image built FROM another \
         ({extend}); remove it, or extend an image customized with it"
    )]
    NotWithExtend { option: Origin, extend: Origin },
    #[error(transparent)]
    Project(#[from] crate::extend::project::ProjectError),
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

/// `o` is invalid for `reason`.
pub(super) fn invalid(o: &Sourced<impl ToString>, reason: impl Into<String>) -> ResolveError {
    ResolveError::Invalid {
        origin: o.origin.clone(),
        value: o.value.to_string(),
        reason: reason.into(),
    }
}

/// The path `o` is invalid for `reason`.
pub(super) fn invalid_path(o: &Sourced<PathBuf>, reason: impl Into<String>) -> ResolveError {
    ResolveError::Invalid {
        origin: o.origin.clone(),
        value: o.value.display().to_string(),
        reason: reason.into(),
    }
}

//! Why `hangar verify` could not reach a verdict (a failed check is a verdict, not an error).

use hangar_build::engine::Engine;
use hangar_build::in_image::InImageError;

/// Errors verifying an image.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(
        "{engine} has no image {image}: {stderr}. Build or pull it first, or name it as `{engine} images` lists it"
    )]
    NoImage {
        engine: Engine,
        image: String,
        stderr: String,
    },
    #[error(
        "cannot read {engine}'s {what} output: {detail}. Check that {engine} works (`{engine} info`)"
    )]
    Unreadable {
        engine: Engine,
        what: String,
        detail: String,
    },
    #[error(
        "{image} did not run hangar's check script as {who} ({status}): {tail}. The image needs /bin/sh; \
         check that it starts with `{engine} run --rm --entrypoint sh {image} -c true`"
    )]
    NoShell {
        engine: Engine,
        image: String,
        who: &'static str,
        status: String,
        tail: String,
    },
    #[error(
        "{image} has neither dpkg's status ({status}) nor a `python` that lists packages: {detail}. \
         `hangar sbom` reads Debian-based images with Python"
    , status = crate::packages::DPKG_STATUS)]
    NoPackages { image: String, detail: String },
    #[error(transparent)]
    Run(#[from] InImageError),
}

impl hangar_exit::ExitStatus for VerifyError {
    /// 1 is a failed check; these say the verdict could not be reached at all.
    fn exit_code(&self) -> u8 {
        use hangar_exit::code;
        match self {
            VerifyError::Run(_) => code::UNAVAILABLE,
            VerifyError::NoImage { .. } => code::NO_INPUT,
            VerifyError::NoShell { .. } | VerifyError::NoPackages { .. } => code::DATA,
            VerifyError::Unreadable { .. } => code::INTERNAL,
        }
    }
}

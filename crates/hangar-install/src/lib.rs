//! Install logic run inside the image build (`hangar install <step>`): the build-arg
//! catalogue, extras resolution, constraints, pip and apt command lines, context-file
//! installs and the final image's user and permissions.

pub mod extras;
pub mod source;
pub mod spec;

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
}

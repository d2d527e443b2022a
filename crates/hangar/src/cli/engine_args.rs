//! The engine flags of the commands that work on an existing image (`check-dags`, `verify`).

use hangar_build::engine::{Engine, SystemProbe};
use hangar_build::options::EngineChoice;

use super::with_code;

#[derive(Debug, clap::Args)]
pub(crate) struct EngineArgs {
    /// Engine holding the image: auto, docker, podman or buildah.
    #[arg(long, env = "HANGAR_ENGINE", value_name = "ENGINE", default_value = "auto", value_parser = parse_engine)]
    engine: EngineChoice,
    /// Storage driver for buildah and podman.
    #[arg(long, env = "HANGAR_STORAGE_DRIVER", value_name = "DRIVER")]
    pub(crate) storage_driver: Option<String>,
}

fn parse_engine(s: &str) -> Result<EngineChoice, String> {
    s.parse()
}

impl EngineArgs {
    /// The engine chosen or detected (an error exits with the build's bad-input code).
    pub(crate) fn engine(&self) -> anyhow::Result<Engine> {
        hangar_build::choose_engine(self.engine, &SystemProbe)
            .map_err(|e| with_code(hangar_exit::build::INVALID_INPUT, e))
    }

    /// `buildah run --isolation`, from `BUILDAH_ISOLATION` as buildah itself reads it.
    pub(crate) fn isolation() -> Option<String> {
        std::env::var("BUILDAH_ISOLATION")
            .ok()
            .filter(|s| !s.is_empty())
    }
}

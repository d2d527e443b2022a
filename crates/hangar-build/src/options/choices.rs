//! The options that take one of a fixed set of values, parsed from flags, `HANGAR_*`
//! variables and `hangar.toml` alike.

use std::str::FromStr;

use serde::Deserialize;

/// The container engine to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineChoice {
    /// Detect: docker (when a daemon answers and the client can build), then podman, then buildah.
    Auto,
    Docker,
    Podman,
    Buildah,
}

impl FromStr for EngineChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "docker" | "buildx" => Ok(Self::Docker),
            "podman" => Ok(Self::Podman),
            "buildah" => Ok(Self::Buildah),
            _ => Err("expected one of: auto, docker, podman, buildah".into()),
        }
    }
}

/// How build progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProgressMode {
    /// A live view on a terminal, plain lines otherwise.
    Auto,
    /// Every engine line, prefixed with the elapsed time.
    Plain,
    /// The live view, even when stderr is not a terminal.
    Tty,
}

impl FromStr for ProgressMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "plain" => Ok(Self::Plain),
            "tty" => Ok(Self::Tty),
            _ => Err("expected one of: auto, plain, tty".into()),
        }
    }
}

/// The image format buildah and podman commit (docker buildx `--load` always gives docker's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageFormat {
    /// Docker schema 2: keeps `HEALTHCHECK`, `SHELL` and `ONBUILD`, like images built by Docker.
    Docker,
    /// OCI image format: drops those instructions with a warning.
    Oci,
}

impl ImageFormat {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Docker => "docker",
            ImageFormat::Oci => "oci",
        }
    }
}

impl FromStr for ImageFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "docker" => Ok(Self::Docker),
            "oci" => Ok(Self::Oci),
            _ => Err("expected one of: docker, oci".into()),
        }
    }
}

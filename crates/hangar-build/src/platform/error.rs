//! Why a target platform cannot be built: the refusals made before any engine runs.

use std::path::PathBuf;

use super::Arch;
use super::elf::{ElfError, Machine};
use crate::engine::Engine;
use crate::options::Origin;

/// What to pass when the context has no binary for `target`.
fn what_to_pass(target: Arch) -> String {
    let triple = target.rust_target();
    format!(
        "Pass --hangar-binary {target}=PATH with a hangar built for {triple} (e.g. cargo build \
         --release -p hangar --target {triple}), or let the image compile hangar with --build-arg \
         HANGAR_BINARY_SOURCE=build on a machine that can pull a Rust image (RUST_IMAGE)"
    )
}

/// A target platform that cannot be built, found before any engine runs.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "{source} (from {origin}). Pass --hangar-binary ARCH=PATH with a hangar executable built for that architecture"
    )]
    Elf {
        origin: Origin,
        #[source]
        source: ElfError,
    },
    #[error(
        "{} (from {origin}) is {found}, but it was given for {arch}: an image for {} would have an \
         /entrypoint that cannot execute. {}",
        .path.display(), .arch.platform(), what_to_pass(*.arch)
    )]
    Mismatch {
        path: PathBuf,
        origin: Origin,
        found: Machine,
        arch: Arch,
    },
    #[error(
        "{} (from {origin}) is {found}: hangar builds images for linux/amd64 and linux/arm64 only. \
         Pass --hangar-binary ARCH=PATH with a hangar built for one of them",
        .path.display()
    )]
    Unsupported {
        path: PathBuf,
        origin: Origin,
        found: Machine,
    },
    #[error(
        "two hangar binaries for {arch} (from {origin}): {} and {}; give one per architecture",
        .first.display(), .second.display()
    )]
    Twice {
        arch: Arch,
        origin: Origin,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("no hangar binary for the target {}: {have}. {}", .target.platform(), what_to_pass(*.target))]
    Missing { target: Arch, have: String },
    #[error(
        "--platform {value} (from {origin}) names several platforms, but {engine} ({how}) builds one \
         platform at a time; only docker buildx build (the buildx plugin) takes a list. Build each \
         platform on its own (--platform linux/amd64, then --platform linux/arm64)"
    )]
    List {
        value: String,
        origin: Origin,
        engine: Engine,
        how: &'static str,
    },
}

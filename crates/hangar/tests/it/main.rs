//! The `hangar` binary's integration tests, in one test binary so the suite links once.
//!
//! Modules that need real servers, a KDC, Airflow from PyPI, root or image builds are compiled
//! only with the `full-tests` feature (the full tier, `scripts/test`). The rest run in the fast
//! tier, `cargo test`, on any machine with a Rust toolchain.

#[cfg(feature = "full-tests")]
mod build_docker;
mod build_frontend;
#[cfg(feature = "full-tests")]
mod build_image;
#[cfg(feature = "full-tests")]
mod build_pip;
#[cfg(feature = "full-tests")]
mod build_platform;
#[cfg(feature = "full-tests")]
mod build_real;
#[cfg(feature = "full-tests")]
mod deploy_compose;
mod deploy_kubernetes;
#[cfg(feature = "full-tests")]
mod entrypoint;
#[cfg(feature = "full-tests")]
mod extend_checks;
#[cfg(feature = "full-tests")]
mod extend_route;
#[cfg(feature = "full-tests")]
mod health;
#[cfg(feature = "full-tests")]
mod image_checks;
#[cfg(feature = "full-tests")]
mod init;
#[cfg(feature = "full-tests")]
mod kerberos;
#[cfg(feature = "full-tests")]
mod layer_checks;
mod linkage;
mod new_project;
#[cfg(feature = "full-tests")]
mod offline;
mod readme;
#[cfg(feature = "full-tests")]
mod sbom;
#[cfg(feature = "full-tests")]
mod verify;
#[cfg(feature = "full-tests")]
mod wait;
#[cfg(feature = "full-tests")]
mod wheel;
mod yaml;

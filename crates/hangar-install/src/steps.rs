//! The `hangar install <step>` steps: each reads the build args, builds its command lines
//! with the pure functions of this crate and runs them through an [`Exec`]. Each step has its
//! own module; this one holds what they share: filesystem locations, running a command with a
//! named fix, the database-client flags and the pip settings every pip step applies.

use std::path::{Path, PathBuf};

use crate::InstallError;
use crate::args::BuildArgs;
use crate::exec::{Cmd, Exec};
use crate::extras::Clients;
use crate::pip::{self, InstallOpts, Secrets};

mod additional;
mod airflow;
mod apt;
mod finalize;

pub use additional::{additional_step, group_like_user};
pub use airflow::{airflow_step, context_distributions, is_airflow_distribution};
pub use apt::apt_step;
pub use finalize::{finalize_step, useradd_cmd};

/// Filesystem locations of a step; tests point them into a temp dir.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Filesystem root (`/` in a build).
    pub root: PathBuf,
    /// Where the engine mounts secrets.
    pub secrets: PathBuf,
    /// Where `DOCKER_CONTEXT_FILES` is mounted.
    pub context_files: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/"),
            secrets: PathBuf::from("/run/secrets"),
            context_files: PathBuf::from("/docker-context-files"),
        }
    }
}

impl Paths {
    fn at(&self, abs: &Path) -> PathBuf {
        self.root.join(abs.strip_prefix("/").unwrap_or(abs))
    }
}

fn run(exec: &mut dyn Exec, cmd: &Cmd, what: &str, fix: &str) -> Result<(), InstallError> {
    let done = exec.run(cmd).map_err(|e| InstallError::Spawn {
        program: cmd.program.clone(),
        source: e,
    })?;
    if done.code == 0 {
        Ok(())
    } else {
        Err(InstallError::Failed {
            what: what.to_owned(),
            command: cmd.display(),
            code: done.code,
            fix: fix.to_owned(),
        })
    }
}

fn clients(a: &BuildArgs) -> Result<Clients, InstallError> {
    Ok(Clients {
        mysql: a.flag("INSTALL_MYSQL_CLIENT")?,
        postgres: a.flag("INSTALL_POSTGRES_CLIENT")?,
        mssql: a.flag("INSTALL_MSSQL_CLIENT")?,
    })
}

fn pip_opts<'a>(a: &BuildArgs, constraints: Option<&'a Path>) -> InstallOpts<'a> {
    InstallOpts {
        extra_flags: a
            .get("ADDITIONAL_PIP_INSTALL_FLAGS")
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        constraints,
        ..Default::default()
    }
}

fn step_env(a: &BuildArgs, paths: &Paths) -> Vec<(String, String)> {
    let mut env = pip::base_env(a.get("CASS_DRIVER_BUILD_CONCURRENCY"));
    env.extend(Secrets::discover(&paths.secrets, &paths.context_files).env());
    env
}

fn with_env(cmd: Cmd, env: &[(String, String)]) -> Cmd {
    cmd.envs(env)
}

/// Fixtures of the step tests.
#[cfg(test)]
mod testing {
    use std::path::{Path, PathBuf};

    use super::Paths;
    use crate::exec::Finished;

    pub(super) fn paths(dir: &Path) -> Paths {
        Paths {
            root: dir.to_path_buf(),
            secrets: dir.join("run/secrets"),
            context_files: PathBuf::from("/docker-context-files"),
        }
    }

    pub(super) fn ok(stdout: &str) -> Finished {
        Finished {
            code: 0,
            stdout: stdout.to_owned(),
        }
    }
}

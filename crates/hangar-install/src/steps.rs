//! The `hangar install <step>` steps: each reads the build args, builds its command lines
//! with the pure functions of this crate and runs them through an [`Exec`]. Each step has its
//! own module; this one holds what they share: filesystem locations, running a command with a
//! named fix, the database-client flags, the pip settings every pip step applies and the
//! choice of installer (pip or uv).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::InstallError;
use crate::args::BuildArgs;
use crate::exec::{Cmd, Exec};
use crate::extras::Clients;
use crate::installer::Installer;
use crate::pip::{self, InstallOpts, Secrets};
use crate::uv;

mod additional;
mod airflow;
mod apt;
pub mod apt_sources;
mod extend;
mod finalize;
mod pypirc;
mod settle;

pub use additional::additional_step;
pub use airflow::{airflow_step, context_distributions, is_airflow_distribution};
pub use apt::{apt_step, stage_inputs};
pub use extend::{ExtendPython, PROJECT_FOLDERS, extend_python_step, extend_root_step};
pub use finalize::{finalize_step, useradd_cmd};
pub use settle::settle_step;

/// Filesystem locations of a step; tests point them into a temp dir.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Filesystem root (`/` in a build).
    pub root: PathBuf,
    /// Where the engine mounts secrets.
    pub secrets: PathBuf,
    /// Where `DOCKER_CONTEXT_FILES` is mounted.
    pub context_files: PathBuf,
    /// The download caches of pip and uv (a build cache mount, so never part of a layer).
    pub cache: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/"),
            secrets: PathBuf::from("/run/secrets"),
            context_files: PathBuf::from("/docker-context-files"),
            cache: PathBuf::from("/var/cache/hangar"),
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

/// True when the build installs from the context files (`INSTALL_DISTRIBUTIONS_FROM_CONTEXT`,
/// or its legacy name `AIRFLOW_LOCAL_PIP_WHEELS`).
fn from_context(a: &BuildArgs) -> Result<bool, InstallError> {
    Ok(a.flag("INSTALL_DISTRIBUTIONS_FROM_CONTEXT")? || a.flag("AIRFLOW_LOCAL_PIP_WHEELS")?)
}

/// The database clients the build args ask for (`INSTALL_*_CLIENT`).
///
/// # Errors
/// A flag is not `true` or `false`.
pub fn clients(a: &BuildArgs) -> Result<Clients, InstallError> {
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

/// The build stages' user's home, where upload tools read `.pypirc`.
const BUILD_HOME: &str = "/root";

/// [`pypirc::Pypirc::place`] for this step's paths.
fn place_pypirc(paths: &Paths) -> Result<pypirc::Pypirc, InstallError> {
    let secrets = Secrets::discover(&paths.secrets, &paths.context_files);
    pypirc::Pypirc::place(
        &paths.context_files,
        &paths.at(Path::new(BUILD_HOME)),
        &secrets,
    )
}

fn step_env(a: &BuildArgs, paths: &Paths) -> Vec<(String, String)> {
    let mut env = pip::base_env(a.get("CASS_DRIVER_BUILD_CONCURRENCY"));
    env.push((
        "PIP_CACHE_DIR".to_owned(),
        paths.cache.join("pip").display().to_string(),
    ));
    env.extend(Secrets::discover(&paths.secrets, &paths.context_files).env());
    env
}

/// The installer `AIRFLOW_USE_UV` asks for, and the environment to run it with. For uv, the
/// pinned release is first fetched with the venv's pip (same secrets and pip.conf) into the
/// cache folder, unless it is already there, and the pip.conf settings are translated for uv.
fn installer(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    paths: &Paths,
    env: &[(String, String)],
) -> Result<(Installer, Vec<(String, String)>), InstallError> {
    if !a.flag("AIRFLOW_USE_UV")? {
        return Ok((Installer::Pip, env.to_vec()));
    }
    let bin = uv::uv_bin(&paths.cache);
    if !paths.at(&bin).is_file() {
        // Air-gapped builds bring the pinned uv's wheel among the context files.
        let offline = from_context(a)?
            && airflow::context_distributions(&paths.at(&paths.context_files))
                .iter()
                .any(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(uv::is_pinned_uv_wheel)
                });
        run(
            exec,
            &with_env(
                uv::bootstrap_cmd(
                    &a.venv(),
                    &paths.cache,
                    offline.then_some(paths.context_files.as_path()),
                ),
                env,
            ),
            &format!("installing uv {}", uv::UV_VERSION),
            "the package index must serve uv (a private index needs a copy of it), or set AIRFLOW_USE_UV=false",
        )?;
    }
    let secrets = Secrets::discover(&paths.secrets, &paths.context_files);
    let conf = match &secrets.pip_conf {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| InstallError::Io {
            path: PathBuf::from(p),
            source: e,
        })?),
        None => None,
    };
    let mut env = env.to_vec();
    env.extend(uv::env(&secrets, conf.as_deref(), &paths.cache));
    Ok((Installer::Uv { bin }, env))
}

fn with_env(cmd: Cmd, env: &[(String, String)]) -> Cmd {
    cmd.envs(env)
}

/// Makes group permissions equal user permissions under `dir` (`chmod -R g=u`), so any UID in
/// group 0 can use and extend the venv.
fn group_like_user(dir: &Path) -> Result<(), InstallError> {
    let io = |p: &Path, e| InstallError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let meta = std::fs::symlink_metadata(dir).map_err(|e| io(dir, e))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.mode() & 0o7777;
    let user = (mode >> 6) & 0o7;
    let new = (mode & !0o070) | (user << 3);
    if new != mode {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(new))
            .map_err(|e| io(dir, e))?;
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            group_like_user(&entry.map_err(|e| io(dir, e))?.path())?;
        }
    }
    Ok(())
}

/// Fixtures of the step tests.
#[cfg(test)]
mod testing {
    use std::path::{Path, PathBuf};

    use super::Paths;
    use crate::exec::Finished;

    /// The paths of a step test under `dir`, with the `pyvenv.cfg` `python3 -m venv` would
    /// have written (the recorded commands do not run).
    pub(super) fn paths(dir: &Path) -> Paths {
        let venv = dir.join("home/airflow/.local");
        std::fs::create_dir_all(&venv).unwrap();
        std::fs::write(
            venv.join("pyvenv.cfg"),
            "home = /usr/bin\ninclude-system-site-packages = false\n",
        )
        .unwrap();
        Paths {
            root: dir.to_path_buf(),
            secrets: dir.join("run/secrets"),
            context_files: PathBuf::from("/docker-context-files"),
            cache: PathBuf::from("/var/cache/hangar"),
        }
    }

    pub(super) fn ok(stdout: &str) -> Finished {
        Finished {
            code: 0,
            stdout: stdout.to_owned(),
        }
    }
}

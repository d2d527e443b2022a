//! The package installer of the build stage: pip, or uv (`AIRFLOW_USE_UV`), with one set of
//! install options and the environment each of them needs.

use std::path::{Path, PathBuf};

use crate::exec::Cmd;
use crate::pip::{self, InstallOpts};
use crate::uv;

/// Which tool installs into the venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installer {
    /// The venv's own pip.
    Pip,
    /// uv at `bin`, installing into the venv with `uv pip … --python VENV/bin/python`.
    Uv { bin: PathBuf },
}

impl Installer {
    /// The tool's name in logs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Installer::Pip => "pip",
            Installer::Uv { .. } => "uv",
        }
    }

    /// Installs `reqs` into `venv`.
    pub fn install_cmd(&self, venv: &Path, reqs: &[String], o: &InstallOpts<'_>) -> Cmd {
        match self {
            Installer::Pip => pip::install_cmd(venv, reqs, o),
            Installer::Uv { bin } => uv::install_cmd(bin, venv, reqs, o),
        }
    }

    /// Installs the requirements file `file` into `venv`.
    pub fn requirements_cmd(&self, venv: &Path, file: &Path, o: &InstallOpts<'_>) -> Cmd {
        self.install_cmd(venv, &["-r".to_owned(), file.display().to_string()], o)
    }

    /// Checks that the installed distributions have compatible dependencies.
    pub fn check_cmd(&self, venv: &Path) -> Cmd {
        match self {
            Installer::Pip => pip::check_cmd(venv),
            Installer::Uv { bin } => uv::check_cmd(bin, venv),
        }
    }

    /// Prints the installed distributions as `name==version` lines.
    pub fn freeze_cmd(&self, venv: &Path) -> Cmd {
        match self {
            Installer::Pip => pip::freeze_cmd(venv),
            Installer::Uv { bin } => uv::freeze_cmd(bin, venv),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_installers_share_the_options() {
        let venv = Path::new("/home/airflow/.local");
        let uv = Installer::Uv {
            bin: PathBuf::from("/c/uv"),
        };
        let opts = InstallOpts {
            upgrade_only_if_needed: true,
            ..Default::default()
        };
        assert_eq!(
            Installer::Pip
                .install_cmd(venv, &["six".into()], &opts)
                .display(),
            "/home/airflow/.local/bin/python -m pip install --upgrade --upgrade-strategy only-if-needed six"
        );
        assert_eq!(
            uv.install_cmd(venv, &["six".into()], &opts).display(),
            "/c/uv pip install --python /home/airflow/.local/bin/python six"
        );
        assert_eq!(
            uv.requirements_cmd(venv, Path::new("/r.txt"), &InstallOpts::default())
                .display(),
            "/c/uv pip install --python /home/airflow/.local/bin/python -r /r.txt"
        );
        assert_eq!(
            Installer::Pip.check_cmd(venv).display(),
            "/home/airflow/.local/bin/python -m pip check"
        );
        assert_eq!((Installer::Pip.name(), uv.name()), ("pip", "uv"));
    }
}

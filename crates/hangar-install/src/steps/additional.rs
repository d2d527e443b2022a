//! `hangar install additional`: the requirements added on top of Airflow, then group
//! permissions equal to the user's on the venv.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::{Paths, installer, pip_opts, run, step_env, with_env};
use crate::InstallError;
use crate::args::BuildArgs;
use crate::exec::Exec;
use crate::pip::InstallOpts;

/// `hangar install additional`: `ADDITIONAL_PYTHON_DEPS` and the context `requirements.txt`,
/// then the installer's check and group permissions on the venv.
pub fn additional_step(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    paths: &Paths,
) -> Result<(), InstallError> {
    a.validate(&[
        "ADDITIONAL_PYTHON_DEPS",
        "ADDITIONAL_PIP_INSTALL_FLAGS",
        "AIRFLOW_USER_HOME_DIR",
        "AIRFLOW_USE_UV",
    ])?;
    let env = step_env(a, paths);
    let venv = a.venv();
    let deps: Vec<String> = a
        .get("ADDITIONAL_PYTHON_DEPS")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let req = paths.context_files.join("requirements.txt");
    if deps.is_empty() && !paths.at(&req).is_file() {
        return group_like_user(&paths.at(&a.home()));
    }
    let (tool, env) = installer(exec, a, paths, &env)?;
    if !deps.is_empty() {
        let opts = InstallOpts {
            upgrade_only_if_needed: true,
            ..pip_opts(a, None)
        };
        run(
            exec,
            &with_env(tool.install_cmd(&venv, &deps, &opts), &env),
            "installing ADDITIONAL_PYTHON_DEPS",
            "check the names and versions in ADDITIONAL_PYTHON_DEPS",
        )?;
    }
    if paths.at(&req).is_file() {
        run(
            exec,
            &with_env(tool.requirements_cmd(&venv, &req, &pip_opts(a, None)), &env),
            "installing the context requirements.txt",
            "check requirements.txt in DOCKER_CONTEXT_FILES",
        )?;
    }
    run(
        exec,
        &with_env(tool.check_cmd(&venv), &env),
        &format!("{} check", tool.name()),
        "fix the conflicting requirements listed above",
    )?;
    group_like_user(&paths.at(&a.home()))
}

/// Makes group permissions equal user permissions under `dir` (`chmod -R g=u`), so any UID in
/// group 0 can use and extend the venv.
pub fn group_like_user(dir: &Path) -> Result<(), InstallError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Cmd, Finished, Recorder};
    use crate::steps::testing::paths;

    #[test]
    fn additional_step_installs_deps_and_requirements() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        std::fs::create_dir_all(dir.path().join("docker-context-files")).unwrap();
        std::fs::write(
            dir.path().join("docker-context-files/requirements.txt"),
            "six\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("home/airflow/.local/bin")).unwrap();
        let f = dir.path().join("home/airflow/.local/bin/x");
        std::fs::write(&f, "").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o744)).unwrap();
        let a = BuildArgs::from_pairs(&[
            ("AIRFLOW_USE_UV", "false"),
            ("ADDITIONAL_PYTHON_DEPS", "six  pandas==2.1.2"),
        ]);
        let mut rec = Recorder::default();
        additional_step(&mut rec, &a, &p).unwrap();
        let shown: Vec<String> = rec.commands.iter().map(Cmd::display).collect();
        assert_eq!(
            shown,
            [
                "/home/airflow/.local/bin/python -m pip install --upgrade --upgrade-strategy only-if-needed six pandas==2.1.2",
                "/home/airflow/.local/bin/python -m pip install -r /docker-context-files/requirements.txt",
                "/home/airflow/.local/bin/python -m pip check",
            ]
        );
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o774);
    }

    #[test]
    fn additional_step_with_uv_reuses_the_cached_uv() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        std::fs::create_dir_all(dir.path().join("home/airflow")).unwrap();
        let uv = crate::uv::uv_bin(&p.cache);
        let uv_at = dir.path().join(uv.strip_prefix("/").unwrap());
        std::fs::create_dir_all(uv_at.parent().unwrap()).unwrap();
        std::fs::write(&uv_at, "").unwrap();
        let a = BuildArgs::from_pairs(&[("ADDITIONAL_PYTHON_DEPS", "six")]);
        let mut rec = Recorder::default();
        additional_step(&mut rec, &a, &p).unwrap();
        let shown: Vec<String> = rec.commands.iter().map(Cmd::display).collect();
        let uv = uv.display();
        assert_eq!(
            shown,
            [
                format!("{uv} pip install --python /home/airflow/.local/bin/python six"),
                format!("{uv} pip check --python /home/airflow/.local/bin/python"),
            ]
        );
        // Nothing to add: no installer is fetched and nothing runs.
        let mut rec = Recorder::default();
        additional_step(&mut rec, &BuildArgs::from_pairs(&[]), &p).unwrap();
        assert!(rec.commands.is_empty());
    }

    #[test]
    fn failing_command_names_step_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let a = BuildArgs::from_pairs(&[
            ("AIRFLOW_USE_UV", "false"),
            ("ADDITIONAL_PYTHON_DEPS", "nosuchpkg"),
        ]);
        let mut rec = Recorder::default();
        rec.replies.push_back(Finished {
            code: 1,
            stdout: String::new(),
        });
        let err = additional_step(&mut rec, &a, &paths(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ADDITIONAL_PYTHON_DEPS")
                && err.contains("exit code 1")
                && err.contains("nosuchpkg"),
            "{err}"
        );
    }
}

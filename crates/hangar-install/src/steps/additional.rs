//! `hangar install additional`: the requirements added on top of Airflow, with group
//! permissions equal to the user's, and what they changed in the airflow user's home exported
//! as a tree of its own for the final image's additional layer.

use std::path::Path;

use super::{Paths, group_like_user, installer, pip_opts, run, step_env, with_env};
use crate::InstallError;
use crate::args::BuildArgs;
use crate::exec::Exec;
use crate::layer::{self, Snapshot};
use crate::pip::InstallOpts;

/// `hangar install additional [--layer DIR]`: `ADDITIONAL_PYTHON_DEPS` and the context
/// `requirements.txt`, then the installer's check and group permissions. With `layer`, what
/// this changed in the airflow user's home is copied to that folder (created, empty when
/// nothing changed) with the list of what it removed.
pub fn additional_step(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    paths: &Paths,
    layer_out: Option<&Path>,
) -> Result<(), InstallError> {
    a.validate(&[
        "ADDITIONAL_PYTHON_DEPS",
        "ADDITIONAL_PIP_INSTALL_FLAGS",
        "AIRFLOW_USER_HOME_DIR",
        "AIRFLOW_USE_UV",
    ])?;
    let home = paths.at(&a.home());
    let before = match layer_out {
        Some(_) if home.is_dir() => Some(Snapshot::take(&home)?),
        _ => None,
    };
    let pypirc = super::place_pypirc(paths)?;
    install(exec, a, paths)?;
    drop(pypirc);
    group_like_user(&home)?;
    if let Some(out) = layer_out {
        let out = paths.at(out);
        let changes = match &before {
            Some(before) => before.changes(&Snapshot::take(&home)?)?,
            None => layer::Changes::default(),
        };
        layer::export(&home, &changes, &out)?;
        crate::exec::log(format_args!(
            "additional layer: {} new or changed, {} removed",
            changes.changed.len(),
            changes.removed.len()
        ));
    }
    Ok(())
}

fn install(exec: &mut dyn Exec, a: &BuildArgs, paths: &Paths) -> Result<(), InstallError> {
    let env = step_env(a, paths);
    let venv = a.venv();
    let deps: Vec<String> = a
        .get("ADDITIONAL_PYTHON_DEPS")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let req = paths.context_files.join("requirements.txt");
    if deps.is_empty() && !paths.at(&req).is_file() {
        return Ok(());
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
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

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
        additional_step(&mut rec, &a, &p, None).unwrap();
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
        additional_step(&mut rec, &a, &p, None).unwrap();
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
        additional_step(&mut rec, &BuildArgs::from_pairs(&[]), &p, None).unwrap();
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
        let err = additional_step(&mut rec, &a, &paths(dir.path()), None)
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

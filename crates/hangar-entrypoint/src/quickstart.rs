//! Quick-start variables: `_AIRFLOW_DB_MIGRATE` (and the deprecated `_AIRFLOW_DB_UPGRADE`),
//! `_AIRFLOW_WWW_USER_*`, `_PIP_ADDITIONAL_REQUIREMENTS`.

use std::path::{Path, PathBuf};

use hangar_config::AirflowConfig;
use hangar_init::ChildSpec;

use crate::env::ChildEnv;
use crate::error::EntrypointError;
use crate::os::System;
use crate::run::Runner;

/// Runs `airflow db migrate` when `_AIRFLOW_DB_MIGRATE` or `_AIRFLOW_DB_UPGRADE` is non-empty.
/// A failure is reported and ignored, as upstream does (`|| true`). Returns true when it ran.
pub fn migrate(runner: &mut dyn Runner, env: &ChildEnv) -> Result<bool, EntrypointError> {
    let upgrade = env.non_empty("_AIRFLOW_DB_UPGRADE").is_some();
    if env.non_empty("_AIRFLOW_DB_MIGRATE").is_none() && !upgrade {
        return Ok(false);
    }
    let cmd = ChildSpec::new("airflow", ["db", "migrate"], env);
    let code = runner.run(&cmd)?;
    if code != 0 {
        crate::warn(&format!(
            "`airflow db migrate` failed with exit code {code}; continuing as upstream does"
        ));
    }
    if upgrade {
        crate::warn(
            "warning: _AIRFLOW_DB_UPGRADE is deprecated; set _AIRFLOW_DB_MIGRATE, which does the same",
        );
    }
    Ok(true)
}

/// The installed `apache-airflow` version, read from its `.dist-info` directory name next to
/// the `airflow` found on `PATH` (or under `$AIRFLOW_USER_HOME_DIR/.local`), without starting
/// Python.
pub fn installed_airflow_version(sys: &dyn System, env: &ChildEnv) -> Option<String> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(path) = env.get_os("PATH") {
        for dir in std::env::split_paths(path) {
            if sys.exists(&dir.join("airflow"))
                && let Some(root) = dir.parent()
            {
                roots.push(root.to_owned());
            }
        }
    }
    roots.push(crate::user::airflow_home_dir(env).join(".local"));
    roots.iter().find_map(|root| version_under(sys, root))
}

fn version_under(sys: &dyn System, root: &Path) -> Option<String> {
    let lib = root.join("lib");
    for py in sys.list_dir(&lib).ok()? {
        let site = lib.join(&py).join("site-packages");
        let Ok(entries) = sys.list_dir(&site) else {
            continue;
        };
        for e in entries {
            let Some(name) = e.to_str() else { continue };
            if let Some(v) = name
                .strip_prefix("apache_airflow-")
                .and_then(|r| r.strip_suffix(".dist-info"))
                .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            {
                return Some(v.to_owned());
            }
        }
    }
    None
}

/// The values of `airflow users create`, with upstream's defaults (applied only when a
/// variable is unset; an empty value stays empty).
fn user_fields(env: &ChildEnv) -> [(&'static str, String); 5] {
    let get = |k: &str, d: &str| env.get(k).unwrap_or(d).to_owned();
    [
        ("--username", get("_AIRFLOW_WWW_USER_USERNAME", "admin")),
        ("--firstname", get("_AIRFLOW_WWW_USER_FIRSTNAME", "Airflow")),
        ("--lastname", get("_AIRFLOW_WWW_USER_LASTNAME", "Admin")),
        (
            "--email",
            get("_AIRFLOW_WWW_USER_EMAIL", "airflowadmin@example.com"),
        ),
        ("--role", get("_AIRFLOW_WWW_USER_ROLE", "Admin")),
    ]
}

/// Whether this Airflow manages users with FAB: on Airflow 3 only when `[core] auth_manager`
/// names `FabAuthManager`; on Airflow 2 always (FAB is its only user store).
pub fn uses_fab(
    cfg: &AirflowConfig,
    runner: &mut dyn Runner,
    env: &ChildEnv,
    version: Option<&str>,
) -> Result<(bool, String), EntrypointError> {
    let setting = crate::broker::setting(cfg, runner, env, "core", "auth_manager")?.map(|(v, _)| v);
    let major = version.and_then(|v| v.split('.').next()?.parse::<u32>().ok());
    Ok(match (major, setting) {
        (Some(m), _) if m < 3 => (true, format!("Airflow {}", version.unwrap_or("2"))),
        (_, Some(s)) => (
            s.contains("FabAuthManager"),
            format!("[core] auth_manager = {s}"),
        ),
        (_, None) => (
            false,
            "[core] auth_manager is not set (Airflow 3 defaults to SimpleAuthManager)".to_owned(),
        ),
    })
}

/// `_AIRFLOW_WWW_USER_CREATE`: takes the password from `_AIRFLOW_WWW_USER_PASSWORD_CMD` (run
/// with `sh -c`) or `_AIRFLOW_WWW_USER_PASSWORD`, removes both from `env` (no later command
/// sees them) and runs `airflow users create` when the auth manager is FAB. An existing user
/// ("already exists") is not an error, as upstream.
pub fn create_user(
    cfg: &AirflowConfig,
    sys: &dyn System,
    runner: &mut dyn Runner,
    env: &mut ChildEnv,
) -> Result<bool, EntrypointError> {
    if env.non_empty("_AIRFLOW_WWW_USER_CREATE").is_none() {
        return Ok(false);
    }
    let password = if let Some(script) = env.non_empty("_AIRFLOW_WWW_USER_PASSWORD_CMD") {
        let cmd = ChildSpec::new("sh", ["-c", script], env);
        let (code, out) = runner.run_capture(&cmd)?;
        if code != 0 {
            return Err(EntrypointError::CmdFailed {
                var: "_AIRFLOW_WWW_USER_PASSWORD_CMD".into(),
                status: format!("exit code {code}"),
            });
        }
        String::from_utf8_lossy(&out)
            .trim_end_matches('\n')
            .to_owned()
    } else {
        env.get("_AIRFLOW_WWW_USER_PASSWORD")
            .unwrap_or("")
            .to_owned()
    };
    env.remove("_AIRFLOW_WWW_USER_PASSWORD_CMD");
    env.remove("_AIRFLOW_WWW_USER_PASSWORD");
    if password.is_empty() {
        return Err(EntrypointError::NoAdminPassword);
    }
    let version = installed_airflow_version(sys, env);
    let (fab, why) = uses_fab(cfg, runner, env, version.as_deref())?;
    if !fab {
        crate::info(&format!(
            "skipping user creation as the auth manager is not FAB ({why})"
        ));
        return Ok(false);
    }
    let mut args: Vec<String> = vec!["users".into(), "create".into()];
    for (flag, value) in user_fields(env) {
        args.push(flag.into());
        args.push(value);
    }
    args.push("--password".into());
    args.push(password);
    let cmd = ChildSpec::new("airflow", args, env);
    let code = runner.run(&cmd)?;
    if code != 0 {
        crate::warn(&format!(
            "`airflow users create` failed with exit code {code} (an existing user is fine); \
             continuing as upstream does"
        ));
    }
    Ok(true)
}

/// `_PIP_ADDITIONAL_REQUIREMENTS`: a loud warning, `pip install` of the (word-split)
/// requirements with `apache-airflow==<installed>` pinned so pip cannot swap Airflow, then
/// `pip check`. A failure of either stops the entrypoint with pip's exit code.
pub fn pip_requirements(
    sys: &dyn System,
    runner: &mut dyn Runner,
    env: &ChildEnv,
) -> Result<bool, EntrypointError> {
    let Some(reqs) = env.non_empty("_PIP_ADDITIONAL_REQUIREMENTS") else {
        return Ok(false);
    };
    let words: Vec<&str> = reqs.split_whitespace().collect();
    if words.is_empty() {
        return Ok(false);
    }
    crate::warn(&format!(
        "!!!!!  Installing additional requirements: '{reqs}' !!!!!!!!!!!!\n\
         WARNING: _PIP_ADDITIONAL_REQUIREMENTS is a quick test/development feature. NEVER use \
         it in production: every container start reinstalls the packages and may change \
         versions. Build a custom image instead: \
         https://airflow.apache.org/docs/docker-stack/build.html"
    ));
    let mut args: Vec<String> = vec![
        "-m".into(),
        "pip".into(),
        "install".into(),
        "--root-user-action".into(),
        "ignore".into(),
    ];
    match installed_airflow_version(sys, env) {
        Some(v) => args.push(format!("apache-airflow=={v}")),
        None => crate::warn(
            "cannot find the installed apache-airflow version; pip may change Airflow itself",
        ),
    }
    args.extend(words.iter().map(|w| (*w).to_owned()));
    for (step, cmd) in [
        ("pip install", ChildSpec::new("python", args, env)),
        (
            "pip check",
            ChildSpec::new("python", ["-m", "pip", "check"], env),
        ),
    ] {
        let code = runner.run(&cmd)?;
        if code != 0 {
            return Err(EntrypointError::StepFailed {
                step: format!("{step} for _PIP_ADDITIONAL_REQUIREMENTS"),
                code,
            });
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeRunner, FakeSystem};

    fn venv_sys(version: &str) -> FakeSystem {
        let mut sys = FakeSystem::new(50000, 0);
        sys.existing.insert("/venv/bin/airflow".into());
        sys.dirs
            .insert("/venv/lib".into(), vec!["python3.11".into()]);
        sys.dirs.insert(
            "/venv/lib/python3.11/site-packages".into(),
            vec![
                "apache_airflow_core-9.9.9.dist-info".into(),
                format!("apache_airflow-{version}.dist-info").into(),
            ],
        );
        sys
    }

    #[test]
    fn version_from_dist_info() {
        let sys = venv_sys("3.3.2");
        let env = ChildEnv::from_pairs([("PATH", "/usr/bin:/venv/bin")]);
        assert_eq!(
            installed_airflow_version(&sys, &env).as_deref(),
            Some("3.3.2")
        );
        let env = ChildEnv::from_pairs([("PATH", "/usr/bin")]);
        assert_eq!(installed_airflow_version(&sys, &env), None);
    }

    #[test]
    fn migrate_and_deprecated_alias() {
        let mut r = FakeRunner::default();
        assert!(!migrate(&mut r, &ChildEnv::from_pairs([("_AIRFLOW_DB_MIGRATE", "")])).unwrap());
        assert!(
            migrate(
                &mut r,
                &ChildEnv::from_pairs([("_AIRFLOW_DB_UPGRADE", "1")])
            )
            .unwrap()
        );
        r.answers.push_back((3, vec![]));
        assert!(
            migrate(
                &mut r,
                &ChildEnv::from_pairs([("_AIRFLOW_DB_MIGRATE", "true")])
            )
            .unwrap()
        );
        assert_eq!(r.argv(), ["airflow db migrate", "airflow db migrate"]);
    }

    #[test]
    fn pip_pins_airflow_and_checks() {
        let sys = venv_sys("2.10.5");
        let env = ChildEnv::from_pairs([
            ("PATH", "/venv/bin"),
            ("_PIP_ADDITIONAL_REQUIREMENTS", " lxml  beautifulsoup4>=4 "),
        ]);
        let mut r = FakeRunner::default();
        assert!(pip_requirements(&sys, &mut r, &env).unwrap());
        assert_eq!(
            r.argv(),
            [
                "python -m pip install --root-user-action ignore apache-airflow==2.10.5 lxml beautifulsoup4>=4",
                "python -m pip check"
            ]
        );
        let mut r = FakeRunner::default();
        r.answers.push_back((0, vec![]));
        r.answers.push_back((1, vec![]));
        assert_eq!(
            pip_requirements(&sys, &mut r, &env)
                .unwrap_err()
                .exit_code(),
            1
        );
    }

    fn cfg(pairs: &[(&str, &str)]) -> (AirflowConfig, ChildEnv) {
        let mut all = vec![
            ("AIRFLOW_HOME", "/nonexistent-hangar-test"),
            ("PATH", "/venv/bin"),
        ];
        all.extend_from_slice(pairs);
        let env = ChildEnv::from_pairs(all.iter().copied());
        (AirflowConfig::load(&env.to_config_env()).unwrap(), env)
    }

    #[test]
    fn fab_detection_by_version_and_setting() {
        let fab = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager";
        let mut r = FakeRunner::default();
        let (c, e) = cfg(&[]);
        assert!(uses_fab(&c, &mut r, &e, Some("2.10.5")).unwrap().0);
        assert!(!uses_fab(&c, &mut r, &e, Some("3.3.2")).unwrap().0);
        let (c, e) = cfg(&[("AIRFLOW__CORE__AUTH_MANAGER", fab)]);
        assert!(uses_fab(&c, &mut r, &e, Some("3.3.2")).unwrap().0);
        let (c, e) = cfg(&[(
            "AIRFLOW__CORE__AUTH_MANAGER",
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        )]);
        assert!(!uses_fab(&c, &mut r, &e, Some("3.0.0")).unwrap().0);
        assert!(r.ran.is_empty(), "no Python start for a plain setting");
    }

    #[test]
    fn user_creation_uses_the_cmd_password_and_hides_both_variables() {
        let sys = venv_sys("3.3.2");
        let (c, mut env) = cfg(&[
            ("_AIRFLOW_WWW_USER_CREATE", "true"),
            ("_AIRFLOW_WWW_USER_PASSWORD", "from-var"),
            ("_AIRFLOW_WWW_USER_PASSWORD_CMD", "echo from-cmd"),
            ("_AIRFLOW_WWW_USER_EMAIL", ""),
            ("AIRFLOW__CORE__AUTH_MANAGER", "x.FabAuthManager"),
        ]);
        let mut r = FakeRunner::default();
        r.answers.push_back((0, b"from-cmd\n".to_vec()));
        assert!(create_user(&c, &sys, &mut r, &mut env).unwrap());
        assert_eq!(
            r.argv(),
            [
                "sh -c echo from-cmd",
                "airflow users create --username admin --firstname Airflow --lastname Admin \
                 --email  --role Admin --password from-cmd"
            ]
        );
        assert_eq!(env.get("_AIRFLOW_WWW_USER_PASSWORD"), None);
        assert_eq!(env.get("_AIRFLOW_WWW_USER_PASSWORD_CMD"), None);
        let users_create = &r.ran[1];
        assert!(
            !users_create
                .env
                .iter()
                .any(|(k, _)| k.to_string_lossy().contains("PASSWORD"))
        );
        // Airflow 3 without FAB: skipped, but the password is still removed.
        let (c, mut env) = cfg(&[
            ("_AIRFLOW_WWW_USER_CREATE", "true"),
            ("_AIRFLOW_WWW_USER_PASSWORD", "pw"),
        ]);
        let mut r = FakeRunner::default();
        assert!(!create_user(&c, &sys, &mut r, &mut env).unwrap());
        assert!(r.ran.is_empty());
        assert_eq!(env.get("_AIRFLOW_WWW_USER_PASSWORD"), None);
    }
}

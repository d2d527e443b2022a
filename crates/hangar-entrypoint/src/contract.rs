//! The entrypoint contract: the ordered steps between `docker run` and the command.
//!
//! 1. user and group duties ([`crate::user::prepare`]);
//! 2. budget (`CONNECTION_CHECK_*`) validated;
//! 3. for server commands: wait for the metadata DB; for sqlite create it (`airflow db migrate`)
//!    when missing, or reset it when `_AIRFLOW_DB_RESET=true`;
//!    With `HANGAR_WAIT_FOR_MIGRATIONS=true`, also wait until it is migrated for the image's
//!    Airflow, unless this container migrates it itself (step 4);
//! 4. `_AIRFLOW_DB_MIGRATE` / `_AIRFLOW_DB_UPGRADE`;
//! 5. `_AIRFLOW_WWW_USER_CREATE`;
//! 6. `_PIP_ADDITIONAL_REQUIREMENTS`;
//! 7. for `scheduler`, `celery worker|flower`, `worker`, `flower` with a Celery executor: wait
//!    for the broker;
//! 8. `_AIRFLOW_DB_MIGRATE=true` and no command: exit 0;
//! 9. run the command (bash / python / airflow) as the supervisor's child; its exit code is ours.

use std::ffi::OsString;

use hangar_init::ChildSpec;
use hangar_probe::target::Target;

use crate::config::LazyConfig;
use crate::db::{self, MetadataDb};
use crate::dispatch::Dispatch;
use crate::env::ChildEnv;
use crate::error::EntrypointError;
use crate::os::System;
use crate::run::Runner;
use crate::{broker, quickstart, user, waiting};

/// `HANGAR_WAIT_FOR_DB`: whether to wait for the metadata DB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitForDb {
    /// For the server commands only (default).
    Auto,
    /// For every command.
    Always,
    /// Never.
    Never,
}

impl WaitForDb {
    /// Parses `HANGAR_WAIT_FOR_DB` (`auto`, `always`, `never`; unset or empty = `auto`).
    pub fn from_env(env: &ChildEnv) -> Result<Self, EntrypointError> {
        match env.non_empty("HANGAR_WAIT_FOR_DB") {
            None | Some("auto") => Ok(Self::Auto),
            Some("always") => Ok(Self::Always),
            Some("never") => Ok(Self::Never),
            Some(_) => Err(EntrypointError::bad_input(
                "HANGAR_WAIT_FOR_DB",
                "expected `always`, `never` or `auto`",
            )),
        }
    }
}

/// `HANGAR_WAIT_FOR_MIGRATIONS`: `true` makes the components that wait for the metadata DB
/// also wait until it is migrated for this image's Airflow (unset, empty or `false`: no).
pub fn wait_for_migrations(env: &ChildEnv) -> Result<bool, EntrypointError> {
    match env.non_empty("HANGAR_WAIT_FOR_MIGRATIONS") {
        None => Ok(false),
        Some(v) => hangar_config::parse_bool(v).ok_or_else(|| {
            EntrypointError::bad_input(
                "HANGAR_WAIT_FOR_MIGRATIONS",
                format!("HANGAR_WAIT_FOR_MIGRATIONS={v:?} is not a boolean: use true or false"),
            )
        }),
    }
}

/// Runs the whole contract for `args` and returns the exit code of the process.
pub fn run(
    args: &[OsString],
    mut env: ChildEnv,
    sys: &mut dyn System,
    runner: &mut dyn Runner,
) -> Result<u8, EntrypointError> {
    let dispatch = Dispatch::parse(args);
    user::prepare(sys, &mut env)?;
    let budget = waiting::budget(&env)?;
    let wait_mode = WaitForDb::from_env(&env)?;
    let wait_for_migrations = wait_for_migrations(&env)?;
    let mut cfg = LazyConfig::default();
    let server = dispatch.component.is_some_and(|c| c.waits_for_db());

    let mut migrated = false;
    if wait_mode == WaitForDb::Always || (server && wait_mode == WaitForDb::Auto) {
        let mdb = db::resolve(cfg.get(&env)?)?;
        let sqlite = match &mdb {
            MetadataDb::Url { url, origin } => match db::target(url, origin)? {
                Target::SqliteFile { path } => Some(path),
                _ => None,
            },
            MetadataDb::Secret { .. } => None,
        };
        if !budget.is_disabled() {
            db::wait(sys, runner, &env, &mdb, &budget)?;
        }
        let migrates_itself = ["_AIRFLOW_DB_MIGRATE", "_AIRFLOW_DB_UPGRADE"]
            .iter()
            .any(|v| env.non_empty(v).is_some());
        if wait_for_migrations && !budget.is_disabled() {
            if migrates_itself || (server && sqlite.is_some()) {
                crate::info(
                    "HANGAR_WAIT_FOR_MIGRATIONS=true: not waiting, this container migrates the \
                     database itself",
                );
            } else {
                let installed = crate::airflow_install::find(&env, std::path::Path::new("/"))?;
                db::wait_migrated(sys, runner, &env, &mdb, &installed, &budget)?;
            }
        }
        // Creating (or resetting) the sqlite DB is for the components that use it, not for
        // every command `HANGAR_WAIT_FOR_DB=always` makes wait.
        if let Some(file) = sqlite.filter(|_| server) {
            migrated = db::prepare_sqlite(sys, runner, &env, &file)?;
        } else if server && db::reset_requested(&env)? {
            crate::warn(
                "_AIRFLOW_DB_RESET=true is ignored: hangar resets only a sqlite metadata \
                 database; use `airflow db reset` yourself for a server database",
            );
        }
    }

    if !migrated || env.non_empty("_AIRFLOW_DB_UPGRADE").is_some() {
        quickstart::migrate(runner, &env)?;
    }
    if env.non_empty("_AIRFLOW_WWW_USER_CREATE").is_some() {
        let cfg = cfg.get(&env)?;
        quickstart::create_user(cfg, sys, runner, &mut env)?;
    }
    quickstart::pip_requirements(sys, runner, &env)?;

    if dispatch.component.is_some_and(|c| c.waits_for_broker()) && !budget.is_disabled() {
        let cfg = cfg.get(&env)?;
        let executor = broker::executor(cfg, runner, &env)?;
        if broker::uses_celery(&executor) {
            match broker::target(cfg, runner, &env)? {
                Some((t, origin)) => {
                    waiting::wait(sys, "the Celery broker", &origin, &t, &budget)?;
                }
                None => crate::warn(
                    "The connection details to the broker could not be determined. \
                     Connectivity checks were skipped.",
                ),
            }
        }
    }

    if dispatch.is_bare_airflow() && env.get("_AIRFLOW_DB_MIGRATE") == Some("true") {
        crate::info("No commands passed and _AIRFLOW_DB_MIGRATE=true. Exiting with code 0.");
        return Ok(0);
    }

    let (program, args) = dispatch.command_line();
    runner.run(&ChildSpec::new(program, args, &env))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeRunner, FakeSystem};

    fn sys() -> FakeSystem {
        let mut s = FakeSystem::new(50000, 0);
        s.files.insert(
            "/etc/passwd".into(),
            b"airflow:x:50000:0::/home/airflow:/bin/bash\n".to_vec(),
        );
        s
    }

    fn run_with(
        args: &[&str],
        env: &[(&str, &str)],
        runner: &mut FakeRunner,
    ) -> Result<u8, EntrypointError> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let mut pairs = vec![("AIRFLOW_HOME", "/nonexistent-airflow-home")];
        pairs.extend_from_slice(env);
        run(
            &args,
            ChildEnv::from_pairs(pairs.iter().copied()),
            &mut sys(),
            runner,
        )
    }

    #[test]
    fn plain_commands_run_without_any_step() {
        let mut r = FakeRunner::default();
        r.answers.push_back((7, vec![]));
        assert_eq!(run_with(&["bash", "-c", "exit 7"], &[], &mut r).unwrap(), 7);
        assert_eq!(r.argv(), ["/bin/bash -c exit 7"]);
        let mut r = FakeRunner::default();
        run_with(&[], &[], &mut r).unwrap();
        assert_eq!(r.argv(), ["airflow"]);
        let mut r = FakeRunner::default();
        run_with(&["version"], &[], &mut r).unwrap();
        assert_eq!(r.argv(), ["airflow version"]);
    }

    #[test]
    fn migrate_true_without_command_exits_zero() {
        let mut r = FakeRunner::default();
        assert_eq!(
            run_with(&[], &[("_AIRFLOW_DB_MIGRATE", "true")], &mut r).unwrap(),
            0
        );
        assert_eq!(r.argv(), ["airflow db migrate"]);
        let mut r = FakeRunner::default();
        run_with(&["airflow"], &[("_AIRFLOW_DB_MIGRATE", "yes")], &mut r).unwrap();
        assert_eq!(r.argv(), ["airflow db migrate", "airflow"]);
    }

    #[test]
    fn bad_variables_have_their_own_exit_codes() {
        let mut r = FakeRunner::default();
        let e = run_with(&["bash"], &[("CONNECTION_CHECK_MAX_COUNT", "ten")], &mut r).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::code::BAD_INPUT);
        assert!(e.to_string().contains("CONNECTION_CHECK_MAX_COUNT"), "{e}");
        let e = run_with(&["bash"], &[("HANGAR_WAIT_FOR_DB", "sometimes")], &mut r).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::code::BAD_INPUT);
        assert!(r.ran.is_empty(), "nothing runs after bad input");
    }

    #[test]
    fn sqlite_scheduler_is_migrated_once() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let mut r = FakeRunner::default();
        let args: Vec<OsString> = ["scheduler"].iter().map(OsString::from).collect();
        let env = ChildEnv::from_pairs([("AIRFLOW_HOME", home), ("_AIRFLOW_DB_MIGRATE", "true")]);
        run(&args, env, &mut sys(), &mut r).unwrap();
        assert_eq!(r.argv(), ["airflow db migrate", "airflow scheduler"]);
    }

    #[test]
    fn always_waits_but_creates_sqlite_only_for_server_commands() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let env = || {
            ChildEnv::from_pairs([
                ("AIRFLOW_HOME", home),
                ("HANGAR_WAIT_FOR_DB", "always"),
                ("CONNECTION_CHECK_MAX_COUNT", "1"),
            ])
        };
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let mut r = FakeRunner::default();
        run(&args(&["bash", "-c", "true"]), env(), &mut sys(), &mut r).unwrap();
        assert_eq!(r.argv(), ["/bin/bash -c true"]);
        let mut r = FakeRunner::default();
        run(&args(&["triggerer"]), env(), &mut sys(), &mut r).unwrap();
        assert_eq!(r.argv(), ["airflow db migrate", "airflow triggerer"]);
    }
}

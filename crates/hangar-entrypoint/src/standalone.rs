//! `hangar wait db | broker | URL...`: the entrypoint's checks on their own, for compose
//! healthchecks and init containers. Same budget variables; Ok when everything is ready.

use hangar_probe::target::Target;

use crate::config::LazyConfig;
use crate::env::ChildEnv;
use crate::error::EntrypointError;
use crate::os::System;
use crate::run::Runner;
use crate::{broker, db, waiting};

/// One thing `hangar wait` waits for, parsed from its command line.
#[derive(Debug)]
pub enum WaitFor {
    /// `db`: the metadata database, from Airflow's configuration.
    Db,
    /// `broker`: the Celery broker, from Airflow's configuration.
    Broker,
    /// A URL; `shown` is how messages name it (password masked).
    Url { target: Target, shown: String },
}

impl WaitFor {
    /// Parses one argument: `db`, `broker`, or a URL hangar can probe.
    pub fn parse(item: &str) -> Result<Self, EntrypointError> {
        match item {
            "db" => Ok(Self::Db),
            "broker" => Ok(Self::Broker),
            url => {
                let shown = hangar_probe::dburl::redact(url);
                match Target::from_url(url) {
                    Ok(target) => Ok(Self::Url { target, shown }),
                    Err(source) => Err(EntrypointError::BadWaitUrl { shown, source }),
                }
            }
        }
    }

    /// True for the items whose address comes from Airflow's configuration.
    fn needs_config(&self) -> bool {
        matches!(self, Self::Db | Self::Broker)
    }
}

/// Waits for each item in turn: `db` (the metadata DB), `broker` (the Celery broker), or a
/// URL (`postgresql://…`, `mysql://…`, `redis://…`, `amqp://…`, `tcp://host:port`, …).
///
/// Every item is parsed, and the Airflow configuration loaded when an item needs it, before
/// anything is waited for, so a mistake is reported at once rather than after a long wait.
///
/// With `migrated`, `db` also waits until the database is migrated for the Airflow installed
/// here ([`db::wait_migrated`]).
pub fn run(
    items: &[String],
    migrated: bool,
    env: &ChildEnv,
    sys: &dyn System,
    runner: &mut dyn Runner,
) -> Result<(), EntrypointError> {
    let budget = waiting::budget(env)?;
    if items.is_empty() {
        return Err(EntrypointError::bad_input(
            "hangar wait",
            "nothing to wait for; give `db`, `broker` or URLs",
        ));
    }
    let targets = items
        .iter()
        .map(|item| WaitFor::parse(item))
        .collect::<Result<Vec<_>, _>>()?;
    if migrated && !targets.iter().any(|t| matches!(t, WaitFor::Db)) {
        return Err(EntrypointError::bad_input(
            "hangar wait --migrated",
            "--migrated is about the metadata database: give `db` too",
        ));
    }
    let installed = if migrated {
        Some(crate::airflow_install::find(
            env,
            std::path::Path::new("/"),
        )?)
    } else {
        None
    };
    if budget.is_disabled() {
        crate::info("CONNECTION_CHECK_MAX_COUNT=0: waiting is disabled");
        return Ok(());
    }
    let mut cfg = LazyConfig::default();
    if targets.iter().any(WaitFor::needs_config) {
        cfg.get(env)?;
    }
    for target in &targets {
        match target {
            WaitFor::Db => {
                let mdb = db::resolve(cfg.get(env)?)?;
                db::wait(sys, runner, env, &mdb, &budget)?;
                if let Some(installed) = &installed {
                    db::wait_migrated(sys, runner, env, &mdb, installed, &budget)?;
                }
            }
            WaitFor::Broker => {
                let Some((t, origin)) = broker::target(cfg.get(env)?, runner, env)? else {
                    return Err(EntrypointError::bad_input(
                        "AIRFLOW__CELERY__BROKER_URL",
                        "the broker's host and port cannot be determined from its URL",
                    ));
                };
                waiting::wait(sys, "the Celery broker", &origin, &t, &budget)?;
            }
            WaitFor::Url { target, shown } => {
                waiting::wait(sys, shown, "the command line", target, &budget)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use hangar_probe::target::TargetError;

    use super::*;
    use crate::error::code;
    use crate::testing::{FakeRunner, FakeSystem};

    #[test]
    fn items_parse_into_what_to_wait_for() {
        assert!(matches!(WaitFor::parse("db"), Ok(WaitFor::Db)));
        assert!(matches!(WaitFor::parse("broker"), Ok(WaitFor::Broker)));
        assert!(matches!(
            WaitFor::parse("tcp://127.0.0.1:5432"),
            Ok(WaitFor::Url { .. })
        ));
    }

    #[test]
    fn a_bad_url_is_reported_before_any_wait_with_its_cause() {
        // Nothing listens on the first URL: were it waited for, the test would take the
        // whole default budget.
        let items = [
            "tcp://127.0.0.1:1".to_owned(),
            "postgresql://u:Xyzzy@h:port/db".to_owned(),
        ];
        let sys = FakeSystem::new(0, 0);
        let err = run(
            &items,
            false,
            &ChildEnv::default(),
            &sys,
            &mut FakeRunner::default(),
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), code::BAD_INPUT);
        let msg = err.to_string();
        assert!(msg.starts_with("hangar wait: postgresql://u:"), "{msg}");
        assert!(!msg.contains("Xyzzy"), "{msg}");
        assert!(
            err.source()
                .is_some_and(|s| s.downcast_ref::<TargetError>().is_some()),
            "the parse error is kept as the cause"
        );
    }

    #[test]
    fn the_configuration_is_read_before_any_wait() {
        // A directory as the config file: unreadable. Nothing listens on the URL: were it
        // waited for first, the test would take the whole default budget.
        let env = ChildEnv::from_pairs([("AIRFLOW_CONFIG", "/")]);
        let sys = FakeSystem::new(0, 0);
        let items = ["tcp://127.0.0.1:1".to_owned(), "db".to_owned()];
        let err = run(&items, false, &env, &sys, &mut FakeRunner::default()).unwrap_err();
        assert!(
            matches!(
                err,
                EntrypointError::Config(hangar_config::ConfigError::Unreadable { .. })
            ),
            "{err}"
        );
    }

    #[test]
    fn a_disabled_budget_reads_no_configuration() {
        // The config file is a directory: loading it would fail.
        let env =
            ChildEnv::from_pairs([("CONNECTION_CHECK_MAX_COUNT", "0"), ("AIRFLOW_CONFIG", "/")]);
        let sys = FakeSystem::new(0, 0);
        let items = ["db".to_owned(), "broker".to_owned()];
        run(&items, false, &env, &sys, &mut FakeRunner::default()).unwrap();
    }

    #[test]
    fn migrated_needs_db_and_an_airflow_installation_before_any_wait() {
        let sys = FakeSystem::new(0, 0);
        let items = ["tcp://127.0.0.1:1".to_owned()];
        let err = run(
            &items,
            true,
            &ChildEnv::default(),
            &sys,
            &mut FakeRunner::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("give `db` too"), "{err}");
        assert_eq!(err.exit_code(), code::BAD_INPUT);
        // Nothing listens on the URL: were it waited for first, the test would take the whole
        // default budget.
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("versions");
        let env = ChildEnv::from_pairs([(
            crate::airflow_install::MIGRATIONS_VAR,
            missing.to_str().unwrap(),
        )]);
        let items = ["tcp://127.0.0.1:1".to_owned(), "db".to_owned()];
        let err = run(&items, true, &env, &sys, &mut FakeRunner::default()).unwrap_err();
        assert!(err.to_string().contains("is not a folder"), "{err}");
    }
}

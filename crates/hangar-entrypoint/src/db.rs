//! The metadata database: its URL resolved natively in Airflow's precedence, the wait for it,
//! and the sqlite database of quick-start setups.

use hangar_config::{AirflowConfig, ConfigError};
use hangar_init::ChildSpec;
use hangar_probe::dburl::DbUrl;
use hangar_probe::migrated::MigratedAttempt;
use hangar_probe::migrations::Migrations;
use hangar_probe::target::Target;
use hangar_probe::wait::Budget;

use crate::airflow_install::Installed;
use crate::env::ChildEnv;
use crate::error::EntrypointError;
use crate::os::System;
use crate::run::Runner;

/// The candidates for the metadata DB URL, in Airflow's order (`[core]` is the pre-2.3 name).
pub const SQL_ALCHEMY_CONN: &[(&str, &str)] = &[
    ("database", "sql_alchemy_conn"),
    ("core", "sql_alchemy_conn"),
];

/// Where the metadata DB is, as far as hangar can tell without Python.
#[derive(Debug)]
pub enum MetadataDb {
    /// A URL hangar parsed; `origin` names where it came from (never its value).
    Url { url: DbUrl, origin: String },
    /// The URL comes from a `_SECRET` variable or option: only Airflow's secrets backend can
    /// read it, so the wait falls back to `airflow db check`.
    Secret { origin: String },
}

/// Resolves the metadata DB URL: `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`, `_CMD`, `_SECRET`,
/// then the `[core]` names, then the config file, then `sqlite:///$AIRFLOW_HOME/airflow.db`.
pub fn resolve(cfg: &AirflowConfig) -> Result<MetadataDb, EntrypointError> {
    let (raw, origin) = match cfg.get_first(SQL_ALCHEMY_CONN) {
        Ok(Some(r)) => (r.value, r.source.to_string()),
        Ok(None) => (
            default_sqlite_url(cfg),
            "the default (no sql_alchemy_conn configured)".to_owned(),
        ),
        Err(ConfigError::NeedsSecretsBackend { source_name }) => {
            return Ok(MetadataDb::Secret {
                origin: source_name,
            });
        }
        Err(e) => return Err(EntrypointError::from(e)),
    };
    match DbUrl::parse(raw.trim()) {
        Ok(url) => Ok(MetadataDb::Url { url, origin }),
        Err(source) => Err(EntrypointError::BadDbUrl {
            origin,
            shown: hangar_probe::dburl::redact(&raw),
            source,
        }),
    }
}

/// `sqlite:///$AIRFLOW_HOME/airflow.db`.
pub fn default_sqlite_url(cfg: &AirflowConfig) -> String {
    format!("sqlite:///{}/airflow.db", cfg.airflow_home().display())
}

/// The probe target for a parsed metadata DB URL.
pub fn target(url: &DbUrl, origin: &str) -> Result<Target, EntrypointError> {
    Target::for_database(url).map_err(|source| EntrypointError::CannotWaitFor {
        origin: origin.to_owned(),
        what: url.redacted(),
        source,
    })
}

/// Waits for the metadata DB (native probe, or `airflow db check` for `_SECRET` URLs).
pub fn wait(
    sys: &dyn System,
    runner: &mut dyn Runner,
    env: &ChildEnv,
    db: &MetadataDb,
    budget: &Budget,
) -> Result<(), EntrypointError> {
    match db {
        MetadataDb::Url { url, origin } => {
            let t = target(url, origin)?;
            crate::waiting::wait(sys, "the metadata database", origin, &t, budget)
        }
        MetadataDb::Secret { origin } => {
            crate::info(&format!(
                "the metadata database URL comes from {origin}, which only Airflow's secrets \
                 backend can read; checking with `airflow db check` (slow: one Python start \
                 per attempt)"
            ));
            let cmd = ChildSpec::new("airflow", ["db", "check"], env);
            retry_command(sys, runner, &cmd, "the metadata database", budget).map(|_| ())
        }
    }
}

/// Waits until the metadata DB is migrated to the head of `installed`'s migration files
/// (`hangar wait db --migrated`, `HANGAR_WAIT_FOR_MIGRATIONS=true`): not migrated or behind
/// keeps waiting; a revision the image's Airflow does not know stops at once. A `_SECRET` URL
/// falls back to `airflow db check-migrations`.
pub fn wait_migrated(
    sys: &dyn System,
    runner: &mut dyn Runner,
    env: &ChildEnv,
    db: &MetadataDb,
    installed: &Installed,
    budget: &Budget,
) -> Result<(), EntrypointError> {
    let what = format!(
        "the metadata database's migration to Airflow {}",
        installed.version
    );
    match db {
        MetadataDb::Url { url, origin } => {
            let t = target(url, origin)?;
            let migrations = Migrations::read_dir(&installed.versions)
                .map_err(|e| EntrypointError::Migrations(Box::new(e)))?;
            let mut attempt = MigratedAttempt {
                target: &t,
                migrations: &migrations,
                airflow: &installed.version,
            };
            let describe = format!(
                "{} at the head {}",
                t.describe(),
                migrations.heads().join(", ")
            );
            crate::waiting::wait_until(sys, &what, origin, &describe, &mut attempt, budget)
                .map_err(EntrypointError::about_migration)
        }
        MetadataDb::Secret { origin } => {
            crate::info(&format!(
                "the metadata database URL comes from {origin}, which only Airflow's secrets \
                 backend can read; checking with `airflow db check-migrations` (slow: one \
                 Python start per attempt)"
            ));
            let cmd = ChildSpec::new("airflow", ["db", "check-migrations", "-t", "1"], env);
            retry_command(sys, runner, &cmd, &what, budget).map(|_| ())
        }
    }
}

/// Upstream's `run_check_with_retries`: up to `max_count` runs, `sleep` apart. Returns the
/// successful run's stdout.
pub fn retry_command(
    sys: &dyn System,
    runner: &mut dyn Runner,
    cmd: &ChildSpec,
    what: &str,
    budget: &Budget,
) -> Result<Vec<u8>, EntrypointError> {
    let mut last = (0u8, Vec::new());
    for attempt in 1..=budget.max_count.max(1) {
        let (code, out) = runner.run_capture(cmd)?;
        if code == 0 {
            return Ok(out);
        }
        last = (code, out);
        if attempt < budget.max_count {
            if let Some(sig) = sys.pending_stop_signal() {
                return Err(EntrypointError::Signalled(sig));
            }
            crate::info(&format!(
                "`{}` failed (exit {code}, attempt {attempt}/{}); retrying in {:.1}s",
                cmd.display(),
                budget.max_count,
                budget.sleep.as_secs_f64()
            ));
            if let Some(code) = runner.sleep(budget.sleep)? {
                return Err(EntrypointError::Signalled(i32::from(code) - 128));
            }
        }
    }
    Err(EntrypointError::WaitExhausted(format!(
        "{what} is not ready: maximum number of retries ({}) reached. Last check result: \
         `{}` exited {}:\n{}",
        budget.max_count,
        cmd.display(),
        last.0,
        String::from_utf8_lossy(&last.1).trim_end()
    )))
}

/// For sqlite (quick start): `airflow db reset --yes` when `_AIRFLOW_DB_RESET=true`, else
/// `airflow db migrate` when the file does not exist yet. Never destroys data unless asked.
/// Returns true when it migrated.
pub fn prepare_sqlite(
    sys: &dyn System,
    runner: &mut dyn Runner,
    env: &ChildEnv,
    file: &std::path::Path,
) -> Result<bool, EntrypointError> {
    if reset_requested(env)? {
        crate::warn(&format!(
            "_AIRFLOW_DB_RESET=true: resetting the sqlite metadata database {} (all its data is \
             deleted)",
            file.display()
        ));
        let cmd = ChildSpec::new("airflow", ["db", "reset", "--yes"], env);
        return step(runner, &cmd).map(|()| true);
    }
    if sys.exists(file) {
        return Ok(false);
    }
    crate::info(&format!(
        "the sqlite metadata database {} does not exist; creating it with `airflow db migrate`",
        file.display()
    ));
    let cmd = ChildSpec::new("airflow", ["db", "migrate"], env);
    step(runner, &cmd).map(|()| true)
}

/// `_AIRFLOW_DB_RESET`: `true` or unset/empty/`false`.
pub fn reset_requested(env: &ChildEnv) -> Result<bool, EntrypointError> {
    match env.non_empty("_AIRFLOW_DB_RESET") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(EntrypointError::bad_input(
            "_AIRFLOW_DB_RESET",
            "expected `true` or `false`",
        )),
    }
}

fn step(runner: &mut dyn Runner, cmd: &ChildSpec) -> Result<(), EntrypointError> {
    match runner.run(cmd)? {
        0 => Ok(()),
        code => Err(EntrypointError::StepFailed {
            step: format!("`{}`", cmd.display()),
            code,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeRunner, FakeSystem};
    use std::time::Duration;

    #[test]
    fn sqlite_is_created_only_when_missing() {
        let env = ChildEnv::default();
        let mut sys = FakeSystem::new(0, 0);
        let mut runner = FakeRunner::default();
        let f = std::path::Path::new("/opt/airflow/airflow.db");
        assert!(prepare_sqlite(&sys, &mut runner, &env, f).unwrap());
        assert_eq!(runner.argv(), ["airflow db migrate"]);
        sys.existing.insert(f.into());
        let mut runner = FakeRunner::default();
        assert!(!prepare_sqlite(&sys, &mut runner, &env, f).unwrap());
        assert!(runner.ran.is_empty(), "an existing DB is never touched");
    }

    #[test]
    fn reset_only_on_request() {
        let env = ChildEnv::from_pairs([("_AIRFLOW_DB_RESET", "true")]);
        let mut sys = FakeSystem::new(0, 0);
        sys.existing.insert("/db".into());
        let mut runner = FakeRunner::default();
        prepare_sqlite(&sys, &mut runner, &env, std::path::Path::new("/db")).unwrap();
        assert_eq!(runner.argv(), ["airflow db reset --yes"]);
        let bad = ChildEnv::from_pairs([("_AIRFLOW_DB_RESET", "yes please")]);
        assert_eq!(
            reset_requested(&bad).unwrap_err().exit_code(),
            crate::error::code::BAD_INPUT
        );
    }

    #[test]
    fn a_bad_url_names_its_origin_and_keeps_its_cause() {
        use std::error::Error as _;
        let env = ChildEnv::from_pairs([
            ("AIRFLOW_CONFIG", "/nonexistent/airflow.cfg"),
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "not a url"),
        ]);
        let cfg = AirflowConfig::load(&env.to_config_env()).unwrap();
        let err = resolve(&cfg).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::code::BAD_INPUT);
        let msg = err.to_string();
        assert!(
            msg.starts_with("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: not a valid SQLAlchemy URL"),
            "{msg}"
        );
        assert!(
            err.source()
                .is_some_and(|s| s.downcast_ref::<hangar_probe::dburl::UrlError>().is_some())
        );
    }

    #[test]
    fn retries_then_reports_the_last_output() {
        let sys = FakeSystem::new(0, 0);
        let mut runner = FakeRunner::default();
        runner
            .answers
            .extend([(1, b"no".to_vec()), (1, b"still no".to_vec())]);
        let budget = Budget {
            max_count: 2,
            sleep: Duration::from_millis(1),
        };
        let cmd = ChildSpec::new("airflow", ["db", "check"], &ChildEnv::default());
        let err =
            retry_command(&sys, &mut runner, &cmd, "the metadata database", &budget).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("still no"), "{err}");
        assert_eq!(runner.ran.len(), 2);
        let mut runner = FakeRunner::default();
        runner.answers.extend([(1, vec![]), (0, b"ok".to_vec())]);
        assert_eq!(
            retry_command(&sys, &mut runner, &cmd, "x", &budget).unwrap(),
            b"ok"
        );
    }
}

//! `alembic_version` read over the probe's own PostgreSQL connection, against a real server
//! migrated by real Airflow from PyPI: nothing before `airflow db migrate`, the head of the
//! installed Airflow's migration files after it.

use std::process::Command;
use std::time::Duration;

use hangar_probe::metadata::{ReadError, alembic_version};
use hangar_probe::migrations::{Migrations, Status};
use hangar_probe::probe::Kind;
use hangar_probe::target::Target;
use hangar_testkit::airflow::{AIRFLOW_3, venv};
use hangar_testkit::servers::{PgOptions, Postgres};

#[test]
fn a_database_migrated_by_airflow_is_at_the_head_of_its_migration_files() {
    let venv = venv(AIRFLOW_3);
    let graph =
        Migrations::read_dir(&venv.site_packages().join("airflow/migrations/versions")).unwrap();
    let pg = Postgres::start(PgOptions::default());
    let target = Target::from_url(&pg.url()).unwrap();
    let read = || alembic_version(&target, Duration::from_secs(10));

    let before = read().unwrap();
    assert_eq!(before, None, "a new database has no alembic_version table");
    assert_eq!(
        graph.status(&before.unwrap_or_default()),
        Status::NotMigrated
    );

    let home = tempfile::tempdir().unwrap();
    let out = Command::new(venv.airflow())
        .args(["db", "migrate"])
        .env("AIRFLOW_HOME", home.path())
        .env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", pg.url())
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "airflow db migrate failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let after = read()
        .unwrap()
        .expect("alembic_version after the migration");
    assert_eq!(
        after,
        graph.heads(),
        "the database is at the head of Airflow {AIRFLOW_3}"
    );
    assert_eq!(graph.status(&after), Status::Current);

    // Logging in is required: a wrong password is a rejection, not an empty answer.
    let wrong = Target::from_url(&pg.url_with("127.0.0.1", "wr0ng")).unwrap();
    let err = alembic_version(&wrong, Duration::from_secs(10)).unwrap_err();
    let ReadError::Server(probe) = &err else {
        panic!("a server error: {err}");
    };
    assert_eq!(probe.kind(), Kind::Rejected, "{err}");
    assert!(!err.to_string().contains("wr0ng"), "{err}");
}

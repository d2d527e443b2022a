//! The metadata reads on a SQLite file written by real Airflow: `alembic_version` after
//! `airflow db migrate`, and the scheduler's row in `job` while a real `airflow scheduler`
//! heartbeats into the file, compared with what Python's `sqlite3` reads, before and after the
//! scheduler is killed.

use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hangar_probe::metadata::{RunningJob, alembic_version, running_jobs};
use hangar_probe::migrations::Migrations;
use hangar_probe::target::Target;
use hangar_testkit::airflow::{AIRFLOW_3, AirflowVenv, venv};
use hangar_testkit::daemon::Daemon;

const TIMEOUT: Duration = Duration::from_secs(5);

/// The running scheduler jobs as Python's `sqlite3` reads them, heartbeat parsed by Python's
/// `datetime` as UTC (Airflow stores UTC): `[[hostname, epoch seconds or null], …]`.
const PYTHON_JOBS: &str = r#"
import json, sqlite3, sys
from datetime import datetime, timezone
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = c.execute(
    "SELECT hostname, latest_heartbeat FROM job WHERE job_type = 'SchedulerJob' "
    "AND state = 'running' ORDER BY latest_heartbeat DESC").fetchall()
out = []
for host, beat in rows:
    t = None if beat is None else datetime.fromisoformat(beat).replace(tzinfo=timezone.utc).timestamp()
    out.append([host, t])
json.dump(out, sys.stdout)
"#;

fn airflow(venv: &AirflowVenv, home: &Path, db: &Path) -> Command {
    let mut cmd = Command::new(venv.airflow());
    cmd.env("AIRFLOW_HOME", home)
        .env(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            format!("sqlite:///{}", db.display()),
        )
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
        .env("AIRFLOW__CORE__PARALLELISM", "2")
        .env("AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC", "1")
        .env("AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC", "1");
    cmd
}

fn python_jobs(db: &Path) -> Vec<(String, Option<f64>)> {
    let out = hangar_testkit::run_checked(
        "python3 (sqlite3)",
        Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(PYTHON_JOBS)
            .arg(db),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Ours and Python's, the same rows (heartbeats to the microsecond).
fn same_as_python(ours: &[RunningJob], db: &Path) {
    let python = python_jobs(db);
    assert_eq!(
        ours.len(),
        python.len(),
        "ours {ours:?}, Python's {python:?}"
    );
    for (o, (host, beat)) in ours.iter().zip(&python) {
        assert_eq!(&o.hostname, host);
        match (o.latest_heartbeat, beat) {
            (Some(t), Some(p)) => assert!((epoch(t) - p).abs() < 1e-5, "{o:?} vs {p}"),
            (None, None) => {}
            other => panic!("heartbeats differ: {other:?}"),
        }
    }
}

/// A read while the scheduler writes: without SQLite's locks, a read that meets a commit in
/// progress can find the file inconsistent and fail (a probe then fails once); the next one
/// reads the committed state. Fails the test when no read succeeds within 10 s.
fn while_written<T, E: std::fmt::Display>(read: impl Fn() -> Result<T, E>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match read() {
            Ok(v) => return v,
            Err(e) if Instant::now() > deadline => panic!("no consistent read within 10 s: {e}"),
            Err(_) => sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn a_real_schedulers_heartbeats_are_read_from_the_sqlite_file() {
    let venv = venv(AIRFLOW_3);
    let graph =
        Migrations::read_dir(&venv.site_packages().join("airflow/migrations/versions")).unwrap();
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("airflow.db");
    let target = Target::SqliteFile { path: db.clone() };

    assert_eq!(
        alembic_version(&target, TIMEOUT).unwrap(),
        None,
        "no file yet"
    );
    hangar_testkit::run_checked(
        "airflow db migrate",
        airflow(&venv, home.path(), &db).args(["db", "migrate"]),
    );
    let heads: Vec<String> = graph.heads().into_iter().map(str::to_owned).collect();
    assert_eq!(alembic_version(&target, TIMEOUT).unwrap(), Some(heads));
    assert_eq!(
        running_jobs(&target, "SchedulerJob", None, 0, TIMEOUT).unwrap(),
        Some(vec![]),
        "no scheduler has run yet"
    );

    let mut cmd = airflow(&venv, home.path(), &db);
    cmd.arg("scheduler");
    let mut scheduler = Daemon::spawn("airflow scheduler", cmd, &home.path().join("scheduler.log"));

    // Two heartbeats read in turn, the second newer: the scheduler writes while we read.
    let started = Instant::now();
    let mut first: Option<SystemTime> = None;
    let second = loop {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no two heartbeats within 180 s; scheduler log:\n{}",
            scheduler.log_tail()
        );
        assert!(
            scheduler.exited().is_none(),
            "the scheduler exited:\n{}",
            scheduler.log_tail()
        );
        // A read can meet a write in progress; the next one reads the committed state.
        if let Ok(Some(jobs)) = running_jobs(&target, "SchedulerJob", None, 1, TIMEOUT)
            && let Some(beat) = jobs.first().and_then(|j| j.latest_heartbeat)
        {
            match first {
                None => first = Some(beat),
                Some(f) if beat > f => break jobs,
                Some(_) => {}
            }
        }
        sleep(Duration::from_millis(200));
    };
    let age = SystemTime::now()
        .duration_since(second[0].latest_heartbeat.unwrap())
        .unwrap_or_default();
    assert!(age < Duration::from_secs(30), "heartbeat age {age:?}");
    let other =
        while_written(|| running_jobs(&target, "SchedulerJob", Some("no-such-host"), 0, TIMEOUT));
    assert_eq!(other, Some(vec![]), "the host filter");
    let host = second[0].hostname.clone();
    let on_host =
        while_written(|| running_jobs(&target, "SchedulerJob", Some(&host), 0, TIMEOUT)).unwrap();
    assert_eq!(on_host.len(), 1, "{on_host:?}");
    assert_eq!(
        while_written(|| running_jobs(&target, "TriggererJob", None, 0, TIMEOUT)),
        Some(vec![])
    );

    // Killed: the row stays `running` and its heartbeat stops; ours is still Python's.
    scheduler.kill();
    let after = running_jobs(&target, "SchedulerJob", None, 0, TIMEOUT)
        .unwrap()
        .unwrap();
    same_as_python(&after, &db);
    assert_eq!(after.len(), 1, "{after:?}");
    let last = after[0].latest_heartbeat.unwrap();
    assert!(last >= second[0].latest_heartbeat.unwrap());
    // Wait until the scheduler's last heartbeat is surely in the past, then read again.
    let still = loop {
        let jobs = running_jobs(&target, "SchedulerJob", None, 0, TIMEOUT)
            .unwrap()
            .unwrap();
        if SystemTime::now() > last + Duration::from_secs(2) {
            break jobs;
        }
        sleep(Duration::from_millis(200));
    };
    assert_eq!(still, after, "a killed scheduler writes nothing");
}

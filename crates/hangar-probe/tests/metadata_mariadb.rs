//! The metadata reads (`alembic_version`, `running_jobs`) over the probe's own MySQL
//! connection, against a real MariaDB server whose tables are made as Airflow 3 makes them on
//! MySQL: `latest_heartbeat` a `TIMESTAMP(6)` written in UTC by a session whose time zone is
//! `+00:00`. The heartbeats' ages must come out right whatever time zone the server gives the
//! reading session.

use std::process::Command;
use std::time::{Duration, SystemTime};

use hangar_probe::metadata::{ReadError, RunningJob, alembic_version, running_jobs};
use hangar_probe::probe::Kind;
use hangar_probe::target::Target;
use hangar_testkit::servers::{DEFAULT_PASSWORD, MariaDb, MariaDbOptions};

const TIMEOUT: Duration = Duration::from_secs(10);

/// The `job` table as Airflow 3's model creates it on MySQL (`UtcDateTime` is
/// `TIMESTAMP(fsp=6)` there), with `column_type` for the three times.
fn job_table(column_type: &str) -> String {
    format!(
        "CREATE TABLE job (\
           id INTEGER NOT NULL AUTO_INCREMENT, \
           dag_id VARCHAR(250), \
           state VARCHAR(20), \
           job_type VARCHAR(30), \
           start_date {column_type} NULL, \
           end_date {column_type} NULL, \
           latest_heartbeat {column_type} NULL, \
           executor_class VARCHAR(500), \
           hostname VARCHAR(500), \
           unixname VARCHAR(1000), \
           PRIMARY KEY (id)\
         ); \
         CREATE INDEX job_type_heart ON job (job_type, latest_heartbeat); \
         CREATE INDEX idx_job_state_heartbeat ON job (state, latest_heartbeat)"
    )
}

/// Jobs written the way Airflow writes them: its session sets `time_zone = '+00:00'` and
/// sends naive UTC times. (state, job_type, hostname, heartbeat seconds ago or NULL.)
const JOBS: &[(&str, &str, &str, Option<u32>)] = &[
    ("running", "SchedulerJob", "host-b", Some(20)),
    ("running", "SchedulerJob", "host-a", Some(5)),
    ("success", "SchedulerJob", "host-a", Some(1)),
    ("running", "TriggererJob", "host-a", Some(2)),
    ("running", "SchedulerJob", "host-c", None),
];

fn insert_jobs() -> String {
    let mut sql = String::from("SET time_zone = '+00:00'; ");
    for (state, job_type, host, ago) in JOBS {
        let beat = ago.map_or("NULL".to_owned(), |s| {
            format!("UTC_TIMESTAMP(6) - INTERVAL {s} SECOND")
        });
        sql.push_str(&format!(
            "INSERT INTO job (dag_id, state, job_type, start_date, latest_heartbeat, \
             executor_class, hostname, unixname) VALUES (NULL, '{state}', '{job_type}', \
             UTC_TIMESTAMP(6) - INTERVAL 60 SECOND, {beat}, 'LocalExecutor', '{host}', \
             'airflow'); "
        ));
    }
    sql
}

/// Runs SQL as MariaDB's root over the unix socket, in `database`.
fn root_sql(db: &MariaDb, database: &str, sql: &str) -> String {
    let client = hangar_testkit::require_program("mariadb", "mariadb-client", &[]);
    let out = hangar_testkit::run_checked(
        &format!("mariadb -e {sql:?}"),
        Command::new(client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", db.socket_path().display()))
            .args(["-u", "root", "-N", "-B", "-e", sql, database]),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The age of a heartbeat now, in seconds.
fn age(job: &RunningJob) -> f64 {
    let beat = job.latest_heartbeat.expect("a heartbeat");
    SystemTime::now()
        .duration_since(beat)
        .unwrap_or_else(|e| panic!("heartbeat {:?} in the future: {job:?}", e.duration()))
        .as_secs_f64()
}

/// Asserts the jobs are `(hostname, seconds ago)` as written, allowing `slack` seconds for
/// the time since they were written.
fn assert_jobs(jobs: &[RunningJob], want: &[(&str, Option<u32>)], slack: f64, what: &str) {
    let got: Vec<(&str, Option<f64>)> = jobs
        .iter()
        .map(|j| (j.hostname.as_str(), j.latest_heartbeat.map(|_| age(j))))
        .collect();
    let msg = format!("{what}: got {got:?}, want {want:?} (+ up to {slack} s)");
    assert_eq!(got.len(), want.len(), "{msg}");
    for ((host, age), (want_host, want_age)) in got.iter().zip(want) {
        assert_eq!(host, want_host, "{msg}");
        match (age, want_age) {
            (None, None) => {}
            (Some(a), Some(w)) => {
                let w = f64::from(*w);
                assert!(*a >= w - 0.5 && *a <= w + slack, "{msg}");
            }
            _ => panic!("{msg}"),
        }
    }
}

#[test]
fn alembic_version_and_running_jobs_read_from_mariadb() {
    let db = MariaDb::start(MariaDbOptions::default());
    let name = db.options().database.clone();
    let target = Target::from_url(&db.url()).unwrap();

    // Nothing migrated yet: neither table exists.
    assert_eq!(alembic_version(&target, TIMEOUT).unwrap(), None);
    let none = running_jobs(&target, "SchedulerJob", None, 1, TIMEOUT).unwrap();
    assert_eq!(none, None, "no job table");

    // alembic's own table: empty while a migration runs, then one row.
    root_sql(
        &db,
        &name,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, \
         CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
    );
    assert_eq!(alembic_version(&target, TIMEOUT).unwrap(), Some(vec![]));
    root_sql(
        &db,
        &name,
        "INSERT INTO alembic_version VALUES ('d2f4e1b3c5a7')",
    );
    assert_eq!(
        alembic_version(&target, TIMEOUT).unwrap(),
        Some(vec!["d2f4e1b3c5a7".to_owned()])
    );

    root_sql(&db, &name, &job_table("TIMESTAMP(6)"));
    assert_eq!(
        running_jobs(&target, "SchedulerJob", None, 1, TIMEOUT).unwrap(),
        Some(vec![]),
        "an empty job table"
    );
    root_sql(&db, &name, &insert_jobs());

    // Seconds allowed between writing the rows and each read.
    let slack = 5.0;
    let all = |t: &Target| running_jobs(t, "SchedulerJob", None, 0, TIMEOUT).unwrap();
    let every = [("host-a", Some(5)), ("host-b", Some(20)), ("host-c", None)];
    // Running SchedulerJobs only, the most recent heartbeat first; MySQL sorts NULL last.
    assert_jobs(
        &all(&target).unwrap(),
        &every,
        slack,
        "all running schedulers",
    );
    let one = running_jobs(&target, "SchedulerJob", None, 1, TIMEOUT).unwrap();
    assert_jobs(&one.unwrap(), &every[..1], slack, "--limit 1");
    let on_b = running_jobs(&target, "SchedulerJob", Some("host-b"), 1, TIMEOUT).unwrap();
    assert_jobs(&on_b.unwrap(), &every[1..2], slack, "--hostname host-b");
    let nowhere = running_jobs(&target, "SchedulerJob", Some("host-z"), 1, TIMEOUT).unwrap();
    assert_eq!(nowhere, Some(vec![]), "--hostname host-z");
    let trig = running_jobs(&target, "TriggererJob", None, 1, TIMEOUT).unwrap();
    assert_jobs(&trig.unwrap(), &[("host-a", Some(2))], slack, "triggerers");

    // The server's time zone is not UTC: the stored instants, and so the ages, stay the same.
    for zone in ["+05:00", "-03:30"] {
        root_sql(&db, &name, &format!("SET GLOBAL time_zone = '{zone}'"));
        let session = root_sql(&db, &name, "SELECT @@session.time_zone");
        assert_eq!(session, zone, "new sessions get the server's zone");
        assert_jobs(
            &all(&target).unwrap(),
            &every,
            slack,
            &format!("server time zone {zone}"),
        );
    }
}

#[test]
fn a_wrong_password_is_rejected_without_showing_it() {
    let db = MariaDb::start(MariaDbOptions::default());
    let wrong = "wr0ng-Pa55";
    let target = Target::from_url(&db.url_with("mysql+mysqldb", wrong)).unwrap();
    for err in [
        alembic_version(&target, TIMEOUT).unwrap_err(),
        running_jobs(&target, "SchedulerJob", None, 1, TIMEOUT).unwrap_err(),
    ] {
        let ReadError::Server(probe) = &err else {
            panic!("a server error: {err}");
        };
        assert_eq!(probe.kind(), Kind::Rejected, "{err}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(wrong), "the password is shown: {shown}");
        assert!(
            !shown.contains(DEFAULT_PASSWORD),
            "a password is shown: {shown}"
        );
    }
}

/// A `DATETIME(6)` heartbeat (no time zone of its own) holds UTC too, as Airflow writes every
/// time; Airflow reads it back as UTC whatever the server's zone. hangar must too.
#[test]
fn a_datetime_heartbeat_is_utc_whatever_the_server_time_zone() {
    let db = MariaDb::start(MariaDbOptions::default());
    let name = db.options().database.clone();
    let target = Target::from_url(&db.url()).unwrap();
    root_sql(&db, &name, &job_table("DATETIME(6)"));
    root_sql(&db, &name, &insert_jobs());
    let every = [("host-a", Some(5)), ("host-b", Some(20)), ("host-c", None)];
    for zone in ["+00:00", "+05:00", "-03:30"] {
        root_sql(&db, &name, &format!("SET GLOBAL time_zone = '{zone}'"));
        let jobs = running_jobs(&target, "SchedulerJob", None, 0, TIMEOUT).unwrap();
        assert_jobs(
            &jobs.unwrap(),
            &every,
            5.0,
            &format!("DATETIME(6), server time zone {zone}"),
        );
    }
}

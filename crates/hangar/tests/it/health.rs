//! `hangar health` and `hangar wait db --migrated` against real Airflow metadata databases.
//!
//! Every check runs hangar and real Airflow 3 (the cached venv from PyPI) on the same
//! PostgreSQL database and compares their answers: `hangar wait db --migrated` with the
//! database before, during and after `airflow db migrate` and at revisions set by SQL, and
//! `hangar health scheduler|triggerer` with `airflow jobs check` while a real `airflow
//! scheduler` (and `airflow triggerer`) runs, after it is killed, and after it stops cleanly;
//! `hangar health api-server` with a real `airflow api-server` up and gone.
//! Run with `cargo test -p hangar --features full-tests --test it health::`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hangar_testkit::airflow::{self, AirflowVenv};
use hangar_testkit::daemon::Daemon;
use hangar_testkit::servers::{PgOptions, Postgres, free_port};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_hangar");

/// The scheduler's and triggerer's threshold in these tests, in seconds: short, so that a
/// killed component turns stale quickly, and still far above their one-second heartbeat.
const THRESHOLD: f64 = 8.0;

/// A PostgreSQL database, the Airflow 3 venv and an `AIRFLOW_HOME` for both tools.
struct Setup {
    pg: Postgres,
    venv: AirflowVenv,
    home: TempDir,
    psql: PathBuf,
    worker_log_port: u16,
    trigger_log_port: u16,
}

impl Setup {
    fn new() -> Setup {
        let psql = hangar_testkit::require_program(
            "psql",
            "postgresql-client",
            &["/usr/lib/postgresql/15/bin"],
        );
        let venv = airflow::venv(airflow::AIRFLOW_3);
        let pg = Postgres::start(PgOptions::default());
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("airflow-home/dags")).unwrap();
        Setup {
            pg,
            venv,
            home,
            psql,
            worker_log_port: free_port(),
            trigger_log_port: free_port(),
        }
    }

    /// `program` with only this setup's Airflow configuration in its environment.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("AIRFLOW")
                || k.starts_with("_AIRFLOW")
                || k.starts_with("CONNECTION_CHECK")
                || k.starts_with("HANGAR_")
                || k == "PYTHONPATH"
                || k == "VIRTUAL_ENV"
            {
                cmd.env_remove(&*k);
            }
        }
        let home = self.home.path().join("airflow-home");
        let secs = THRESHOLD.to_string();
        cmd.env("PATH", self.venv.path_with_bin())
            .env("VIRTUAL_ENV", self.venv.root())
            .env("AIRFLOW_HOME", &home)
            .env("AIRFLOW__CORE__DAGS_FOLDER", home.join("dags"))
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "false")
            .env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", self.pg.url())
            .env("AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC", "1")
            .env(
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD",
                &secs,
            )
            .env("AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC", "1")
            .env(
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD",
                &secs,
            )
            .env(
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
                self.worker_log_port.to_string(),
            )
            .env(
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
                self.trigger_log_port.to_string(),
            )
            .current_dir(self.home.path())
            .stdin(Stdio::null());
        cmd
    }

    fn airflow(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(&self.venv.airflow());
        cmd.args(args);
        cmd
    }

    fn hangar(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(Path::new(BIN));
        cmd.args(args);
        cmd
    }

    /// `airflow db migrate`, which must succeed.
    fn migrate(&self) {
        hangar_testkit::run_checked("airflow db migrate", &mut self.airflow(&["db", "migrate"]));
    }

    /// One SQL statement as the superuser over the unix socket; the rows, `|`-separated.
    fn sql(&self, statement: &str) -> String {
        let out = hangar_testkit::run_checked(
            &format!("psql -c {statement:?}"),
            Command::new(&self.psql)
                .arg("-h")
                .arg(self.pg.socket_dir())
                .args(["-p", &self.pg.port().to_string()])
                .args(["-U", "postgres", "-d", &self.pg.options().database])
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", statement]),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The newest running job of `job_type` as (id, hostname, seconds since its heartbeat,
    /// seconds between its start and its heartbeat).
    fn newest_running(&self, job_type: &str) -> Option<(i64, String, f64, f64)> {
        let row = self.sql(&format!(
            "SELECT id, hostname, EXTRACT(EPOCH FROM now() - latest_heartbeat), \
             EXTRACT(EPOCH FROM latest_heartbeat - start_date) FROM job \
             WHERE job_type = '{job_type}' AND state = 'running' \
             ORDER BY latest_heartbeat DESC LIMIT 1"
        ));
        let f: Vec<&str> = row.split('|').collect();
        (f.len() == 4).then(|| {
            (
                f[0].parse().unwrap(),
                f[1].to_owned(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
    }

    /// Starts `airflow <component> --skip-serve-logs` and waits until a job of `job_type`
    /// newer than `after` has beaten at least once after its start and beats still.
    fn start(&self, component: &str, job_type: &str, after: i64) -> (Daemon, i64, String) {
        let log = self.home.path().join(format!("{component}-{after}.log"));
        let mut d = Daemon::spawn(
            component,
            self.airflow(&[component, "--skip-serve-logs"]),
            &log,
        );
        let deadline = Instant::now() + Duration::from_secs(150);
        let (id, host) = loop {
            if let Some(st) = d.exited() {
                panic!("airflow {component} exited early ({st}); {}", d.log_tail());
            }
            let newest = self.newest_running(job_type);
            if let Some((id, host, age, beat)) = &newest
                && *id > after
                && *age < 3.0
                && *beat > 0.5
            {
                break (*id, host.clone());
            }
            assert!(
                Instant::now() < deadline,
                "no heartbeat of a new {job_type} within 150 s (newest running: {newest:?}); {}",
                d.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        (d, id, host)
    }
}

/// Calls `f` every 200 ms until it gives a value, panicking after `timeout` with `context()`.
fn poll<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} within {timeout:?}; {}",
            context()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A command's exit code and its whole output, for comparisons and messages.
struct Answer {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Answer {
    fn of(cmd: &mut Command) -> Answer {
        let o: Output = cmd.output().expect("the command runs");
        Answer {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    fn text(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// Runs `hangar health <component> <args>` and `airflow jobs check --job-type <job_type>
/// <args>` and asserts that both answer `healthy`, hangar with `needle` in its line.
fn both_say(
    s: &Setup,
    situation: &str,
    (component, job_type): (&str, &str),
    args: &[&str],
    healthy: bool,
    needle: &str,
) -> (Answer, Answer) {
    let mut h = vec!["health", component];
    h.extend_from_slice(args);
    let mut a = vec!["jobs", "check", "--job-type", job_type];
    a.extend_from_slice(args);
    let ours = Answer::of(&mut s.hangar(&h));
    let theirs = Answer::of(&mut s.airflow(&a));
    let msg = format!(
        "{situation}: expected both {}\n=== hangar {}\n{}\n=== airflow {}\n{}",
        if healthy { "healthy" } else { "unhealthy" },
        h.join(" "),
        ours.text(),
        a.join(" "),
        theirs.text()
    );
    assert_eq!(theirs.ok(), healthy, "Airflow's answer: {msg}");
    assert_eq!(ours.ok(), healthy, "hangar's answer: {msg}");
    if !healthy {
        assert_eq!(ours.code, Some(1), "{msg}");
    }
    let line = if healthy { &ours.stdout } else { &ours.stderr };
    assert!(
        line.contains(needle),
        "hangar's line lacks {needle:?}: {msg}"
    );
    (ours, theirs)
}

const SCHEDULER: (&str, &str) = ("scheduler", "SchedulerJob");
const TRIGGERER: (&str, &str) = ("triggerer", "TriggererJob");

/// The number after `was ` in hangar's "not alive" line: the heartbeat's age in seconds.
fn age_in(line: &str) -> f64 {
    let rest = line
        .split_once(" was ")
        .unwrap_or_else(|| panic!("no age in {line:?}"))
        .1;
    rest.split_once(" s ago")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no age in {line:?}"))
}

#[test]
fn health_agrees_with_airflow_jobs_check_on_a_real_scheduler() {
    let s = Setup::new();
    s.migrate();

    both_say(
        &s,
        "no scheduler ever ran",
        SCHEDULER,
        &[],
        false,
        "no running SchedulerJob in the metadata database",
    );

    // An api-server, a scheduler and a triggerer start side by side (their start-ups overlap).
    let api_port = free_port();
    let mut api = {
        let mut cmd = s.airflow(&["api-server", "--host", "127.0.0.1"]);
        cmd.args(["--port", &api_port.to_string()])
            .env("AIRFLOW__API__WORKERS", "1");
        Daemon::spawn("api-server", cmd, &s.home.path().join("api-server.log"))
    };
    let (sched, first, host) = s.start("scheduler", "SchedulerJob", 0);
    let (mut trig, _, _) = s.start("triggerer", "TriggererJob", 0);
    both_say(
        &s,
        "a running scheduler",
        SCHEDULER,
        &[],
        true,
        "alive: SchedulerJob on host",
    );
    both_say(
        &s,
        "a running triggerer",
        TRIGGERER,
        &[],
        true,
        "alive: TriggererJob on host",
    );
    trig.kill();
    api_server_health(&s, &mut api, api_port);
    both_say(
        &s,
        "the scheduler, with --local",
        SCHEDULER,
        &["--local"],
        true,
        &format!("on host {host}"),
    );
    both_say(
        &s,
        "the scheduler, with --hostname of the host it runs on",
        SCHEDULER,
        &["--hostname", &host],
        true,
        &format!("on host {host}"),
    );
    both_say(
        &s,
        "the scheduler runs on another host than the one asked for",
        SCHEDULER,
        &["--hostname", "some-other-host"],
        false,
        "no running SchedulerJob in the metadata database on host some-other-host",
    );

    // A clean stop (SIGTERM, as `docker stop`) ends the job: its row leaves `running`,
    // though its last heartbeat is recent. A long threshold for this check makes sure
    // only the state decides.
    sched.terminate();
    // The job's state is what matters; the process may linger after it (Airflow 3's handler
    // has been seen to hang in logging), and is killed with its group below either way.
    let state = poll(
        "end of the SIGTERMed scheduler's job",
        Duration::from_secs(60),
        || {
            let state = s.sql(&format!("SELECT state FROM job WHERE id = {first}"));
            (state != "running").then_some(state)
        },
        || sched.log_tail(),
    );
    let mut lenient = s.hangar(&["health", "scheduler"]);
    lenient.env(
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD",
        "600",
    );
    let ours = Answer::of(&mut lenient);
    let mut lenient = s.airflow(&["jobs", "check", "--job-type", "SchedulerJob"]);
    lenient.env(
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD",
        "600",
    );
    let theirs = Answer::of(&mut lenient);
    let msg = format!(
        "a scheduler stopped by SIGTERM (job state {state}):\n=== hangar\n{}\n=== airflow\n{}",
        ours.text(),
        theirs.text()
    );
    assert!(!theirs.ok() && ours.code == Some(1), "{msg}");
    assert!(
        ours.stderr
            .contains("no running SchedulerJob in the metadata database"),
        "{msg}"
    );
    drop(sched);

    // A killed scheduler (SIGKILL, as the OOM killer) leaves its row `running` with a
    // heartbeat that ages: alive until the threshold passes, then not.
    let (mut sched, second, _) = s.start("scheduler", "SchedulerJob", first);
    sched.kill();
    let start = Instant::now();
    // Its heartbeat was under 3 s old a moment ago: still alive (hangar answers in
    // milliseconds; Airflow's two-second start could already cross the threshold).
    let ours = Answer::of(&mut s.hangar(&["health", "scheduler"]));
    assert!(ours.ok(), "just killed: {}", ours.text());
    let flipped = poll(
        "unhealthy answer from airflow jobs check after SIGKILL",
        Duration::from_secs(90),
        || {
            let a = Answer::of(&mut s.airflow(&["jobs", "check", "--job-type", "SchedulerJob"]));
            (!a.ok()).then_some(a)
        },
        || format!("{:.1} s after SIGKILL", start.elapsed().as_secs_f64()),
    );
    let (id, _, before, _) = s
        .newest_running("SchedulerJob")
        .expect("the killed job's row");
    assert_eq!(id, second, "the killed job stays running in the job table");
    let ours = Answer::of(&mut s.hangar(&["health", "scheduler"]));
    let (_, _, after, _) = s.newest_running("SchedulerJob").unwrap();
    let msg = format!(
        "a killed scheduler, heartbeat {before:.1}–{after:.1} s old:\n=== hangar\n{}\n=== airflow\n{}",
        ours.text(),
        flipped.text()
    );
    assert_eq!(ours.code, Some(1), "{msg}");
    assert!(
        ours.stderr
            .contains("not alive: the last heartbeat of SchedulerJob on host"),
        "{msg}"
    );
    let age = age_in(&ours.stderr);
    assert!(
        age >= THRESHOLD && age >= before - 0.2 && age <= after + 0.2,
        "hangar's age {age} s is not the heartbeat's: {msg}"
    );
    assert!(
        ours.stderr.contains(&format!(
            "threshold {THRESHOLD} s, [scheduler] scheduler_health_check_threshold"
        )),
        "{msg}"
    );
}

/// The status code of `GET path` on 127.0.0.1:`port`, asked with a plain HTTP/1.0 request;
/// `None` when nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        conn,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// `hangar health api-server` against the real api-server while the scheduler runs, and
/// after the api-server is killed.
fn api_server_health(s: &Setup, api: &mut Daemon, port: u16) {
    const PATH: &str = "/api/v2/monitor/health";
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(st) = api.exited() {
            panic!("airflow api-server exited early ({st}); {}", api.log_tail());
        }
        if http_status(port, PATH) == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the api-server did not answer 200 on {PATH} within 120 s; {}",
            api.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let url = format!("http://127.0.0.1:{port}{PATH}");
    let ours = Answer::of(&mut s.hangar(&["health", "api-server", "--url", &url]));
    assert!(ours.ok(), "{}", ours.text());
    // The body is Airflow's own view, and it sees the scheduler alive too.
    assert!(
        ours.stdout.contains("HTTP 200")
            && ours.stdout.contains(r#""scheduler":{"status":"healthy""#),
        "{}",
        ours.text()
    );
    // Without --url: the port from Airflow's configuration.
    let mut by_port = s.hangar(&["health", "api-server"]);
    by_port.env("AIRFLOW__API__PORT", port.to_string());
    let ours = Answer::of(&mut by_port);
    assert!(ours.ok(), "{}", ours.text());
    api.kill();
    assert_eq!(http_status(port, PATH), None, "the api-server is gone");
    let ours = Answer::of(&mut s.hangar(&["health", "api-server", "--url", &url]));
    assert_eq!(ours.code, Some(1), "{}", ours.text());
    assert!(ours.stderr.contains("no answer"), "{}", ours.text());
}

/// `hangar wait db --migrated` with a small budget.
fn wait_migrated(s: &Setup, count: &str, sleep: &str) -> Command {
    let mut cmd = s.hangar(&["wait", "db", "--migrated"]);
    cmd.env("CONNECTION_CHECK_MAX_COUNT", count)
        .env("CONNECTION_CHECK_SLEEP_TIME", sleep);
    cmd
}

/// The revision Airflow records for `version` and the number of migrations from it to the
/// head, as Alembic (in the venv) counts them.
fn alembic_distance(s: &Setup, version: &str) -> (String, usize) {
    let script = format!(
        "import os, airflow\n\
         from alembic.script import ScriptDirectory\n\
         from airflow.utils.db import _REVISION_HEADS_MAP as m\n\
         d = ScriptDirectory(os.path.join(os.path.dirname(airflow.__file__), 'migrations'))\n\
         old = m['{version}']\n\
         print(old, len(list(d.iterate_revisions(d.get_current_head(), old))))\n"
    );
    let out = hangar_testkit::run_checked(
        "alembic's count of revisions",
        s.command(&s.venv.python()).args(["-c", &script]),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (rev, n) = text.trim().split_once(' ').expect("revision and count");
    (rev.to_owned(), n.parse().unwrap())
}

#[test]
fn wait_db_migrated_follows_airflow_db_migrate() {
    let s = Setup::new();

    // Never migrated: the budget runs out, naming the migration it waits for.
    let o = Answer::of(&mut wait_migrated(&s, "2", "0.2"));
    assert_eq!(o.code, Some(1), "{}", o.text());
    assert!(o.stderr.contains("not migrated yet"), "{}", o.text());

    // A wait started before `airflow db migrate` ends when the migration does.
    let log = s.home.path().join("wait.log");
    let mut waiting = Daemon::spawn("hangar wait", wait_migrated(&s, "600", "0.2"), &log);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    poll(
        "report that hangar keeps waiting for the migration",
        Duration::from_secs(30),
        || {
            let text = read_log();
            (text.contains("still waiting for") && text.contains("not migrated yet")).then_some(())
        },
        read_log,
    );
    assert!(waiting.exited().is_none(), "{}", waiting.log_tail());
    s.migrate();
    let status = waiting.wait_exit(Duration::from_secs(30));
    assert!(
        status.is_some_and(|st| st.success()),
        "{status:?}; {}",
        waiting.log_tail()
    );
    assert!(read_log().contains("is ready after"), "{}", read_log());
    let o = Answer::of(&mut wait_migrated(&s, "1", "0.2"));
    assert!(o.ok(), "at the head: {}", o.text());
    let airflow_says = Answer::of(&mut s.airflow(&["db", "check-migrations", "-t", "1"]));
    assert!(airflow_says.ok(), "{}", airflow_says.text());

    // A revision this Airflow does not know: migrated by a newer one. No waiting.
    s.sql("UPDATE alembic_version SET version_num = 'abcdef012345'");
    let start = Instant::now();
    let o = Answer::of(&mut wait_migrated(&s, "30", "1"));
    assert_eq!(o.code, Some(77), "{}", o.text());
    assert!(start.elapsed() < Duration::from_secs(10), "{}", o.text());
    assert!(
        o.stderr.contains("abcdef012345") && o.stderr.contains("ahead"),
        "{}",
        o.text()
    );
    let airflow_says = Answer::of(&mut s.airflow(&["db", "check-migrations", "-t", "1"]));
    assert!(!airflow_says.ok(), "{}", airflow_says.text());

    // Airflow 3.0.0's revision: behind by as many migrations as Alembic counts.
    let (old, n) = alembic_distance(&s, "3.0.0");
    s.sql(&format!("UPDATE alembic_version SET version_num = '{old}'"));
    let o = Answer::of(&mut wait_migrated(&s, "2", "0.2"));
    assert_eq!(o.code, Some(1), "{}", o.text());
    let want = format!(
        "behind Airflow {} by {n} revisions (at {old}",
        airflow::AIRFLOW_3
    );
    assert!(o.stderr.contains(&want), "expected {want:?}: {}", o.text());
    let airflow_says = Answer::of(&mut s.airflow(&["db", "check-migrations", "-t", "1"]));
    assert!(!airflow_says.ok(), "{}", airflow_says.text());
}

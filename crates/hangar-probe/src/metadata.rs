//! The two things hangar reads from Airflow's metadata database, on every backend Airflow
//! supports: the migration revisions (`alembic_version`) and the heartbeats of running jobs
//! (`job`). PostgreSQL and MySQL/MariaDB are queried over the probes' own connections
//! ([`crate::probe::query`]); a SQLite database file is read directly (`sqlite`, through
//! [`crate::sqlite_file`]), without the SQLite library or Python.

mod sqlite;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::probe::{ProbeError, Row, query};
use crate::target::Target;

/// Why the metadata database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The server could not be reached, logged in to, or queried.
    #[error(transparent)]
    Server(#[from] ProbeError),
    /// A SQLite database file that could not be read.
    #[error(transparent)]
    Sqlite(#[from] crate::sqlite_file::SqliteFileError),
    /// A table without a column Airflow gives it.
    #[error(
        "{what}: table {table} has no column {column}: check that this is Airflow's metadata \
         database"
    )]
    MissingColumn {
        /// The database, described without its password.
        what: String,
        /// The table.
        table: String,
        /// The column looked for.
        column: String,
    },
    /// An in-memory SQLite database lives in another process.
    #[error(
        "an in-memory SQLite database (sqlite://) exists only inside the process that opened \
         it, so it cannot be read from here: configure a database file or server"
    )]
    Memory,
    /// A heartbeat that is not a time.
    #[error("{what}: the job table's latest_heartbeat {value:?} is not a time hangar can read")]
    BadTime {
        /// The database, described without its password.
        what: String,
        /// The value as read.
        value: String,
    },
    /// A host name that cannot be put in a query as it is.
    #[error(
        "host name {0:?} has characters a host name cannot have (only letters, digits, `.`, `-`, \
         `_` and `:` are allowed)"
    )]
    BadHostname(String),
}

/// The revisions recorded in `alembic_version`, or `None` when the table does not exist (the
/// database was never migrated).
///
/// # Errors
/// The database cannot be read (see [`ReadError`]).
pub fn alembic_version(
    target: &Target,
    timeout: Duration,
) -> Result<Option<Vec<String>>, ReadError> {
    let rows = match target {
        Target::SqliteFile { path } => return sqlite::alembic_version(path),
        Target::SqliteMemory => return Err(ReadError::Memory),
        _ => query(target, "SELECT version_num FROM alembic_version", timeout)?,
    };
    Ok(rows.map(|rows| {
        rows.into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect()
    }))
}

/// A job of the kind asked for, in state `running`, as the `job` table records it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunningJob {
    /// The host the job runs on (Airflow's `hostname_callable`).
    pub hostname: String,
    /// The time of its last heartbeat; `None` when it never beat.
    pub latest_heartbeat: Option<SystemTime>,
}

/// The jobs of type `job_type` (`SchedulerJob`, `TriggererJob`, `DagProcessorJob`, …) whose
/// state is `running`, on `hostname` only when given, most recent heartbeat first, at most
/// `limit` of them (all with 0): the rows `airflow jobs check` looks at. `None` when the
/// database has no `job` table.
///
/// # Errors
/// The database cannot be read, a heartbeat is not a time, or the host name cannot be a host
/// name.
pub fn running_jobs(
    target: &Target,
    job_type: &str,
    hostname: Option<&str>,
    limit: usize,
    timeout: Duration,
) -> Result<Option<Vec<RunningJob>>, ReadError> {
    if let Some(h) = hostname.filter(|h| !is_hostname(h)) {
        return Err(ReadError::BadHostname(h.to_owned()));
    }
    let what = target.describe();
    match target {
        Target::SqliteFile { path } => sqlite::running_jobs(path, job_type, hostname, limit),
        Target::SqliteMemory => Err(ReadError::Memory),
        Target::Postgres { .. } | Target::Mysql { .. } => {
            let epoch = if matches!(target, Target::Postgres { .. }) {
                "EXTRACT(EPOCH FROM latest_heartbeat)"
            } else {
                // In a UTC session (see `probe::mysql`), TIMESTAMP and DATETIME columns alike.
                "UNIX_TIMESTAMP(latest_heartbeat)"
            };
            let on_host = hostname.map_or(String::new(), |h| format!(" AND hostname = '{h}'"));
            let limit = if limit == 0 {
                String::new()
            } else {
                format!(" LIMIT {limit}")
            };
            let job_type = sql_literal(job_type);
            let sql = format!(
                "SELECT hostname, {epoch} FROM job WHERE job_type = {job_type} AND state = \
                 'running'{on_host} ORDER BY latest_heartbeat DESC{limit}"
            );
            // The rows in the server's order, as `airflow jobs check` gets them (PostgreSQL
            // puts jobs that never beat first, MySQL last).
            let Some(rows) = query(target, &sql, timeout)? else {
                return Ok(None);
            };
            rows.into_iter()
                .map(|r| server_job(r, &what))
                .collect::<Result<Vec<_>, ReadError>>()
                .map(Some)
        }
        _ => Err(ReadError::Server(ProbeError::rejected(
            crate::probe::Reason::Unsupported,
            format!("{what} is not an Airflow metadata database"),
        ))),
    }
}

/// A row of (hostname, heartbeat as seconds since the epoch) from a server.
fn server_job(row: Row, what: &str) -> Result<RunningJob, ReadError> {
    let mut cols = row.into_iter();
    let hostname = cols.next().flatten().unwrap_or_default();
    let latest_heartbeat = match cols.next().flatten() {
        None => None,
        Some(v) => Some(epoch_seconds(&v).ok_or_else(|| ReadError::BadTime {
            what: what.to_owned(),
            value: v,
        })?),
    };
    Ok(RunningJob {
        hostname,
        latest_heartbeat,
    })
}

/// Host names as Airflow's `hostname_callable`s give them: safe inside a quoted SQL literal.
fn is_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// `s` as a single-quoted SQL literal; only called with Airflow's job type names.
fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''").replace('\\', "\\\\"))
}

/// `1764752101.123456` (seconds since the epoch, as the servers print them).
fn epoch_seconds(v: &str) -> Option<SystemTime> {
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| UNIX_EPOCH + Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn server_heartbeats_are_epoch_seconds() {
        assert_eq!(
            epoch_seconds("1764752101.25"),
            Some(at(1_764_752_101, 250_000_000))
        );
        assert_eq!(epoch_seconds("1764752101"), Some(at(1_764_752_101, 0)));
        assert_eq!(epoch_seconds("soon"), None);
        assert_eq!(epoch_seconds("-5"), None);
        let job = server_job(vec![Some("h1".into()), None], "db").unwrap();
        assert_eq!(job.latest_heartbeat, None, "a job that never beat");
        let err = server_job(vec![Some("h1".into()), Some("x".into())], "db").unwrap_err();
        assert!(err.to_string().contains("\"x\""), "{err}");
    }

    #[test]
    fn only_host_names_reach_a_query() {
        assert!(is_hostname("worker-1.example.com"));
        assert!(is_hostname("10.0.0.1"));
        assert!(!is_hostname(""));
        assert!(!is_hostname("a' OR '1'='1"));
        assert!(!is_hostname("a b"));
        assert_eq!(sql_literal("it's"), "'it''s'");
        assert_eq!(sql_literal("a\\"), "'a\\\\'");
    }
}

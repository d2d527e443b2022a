//! The metadata reads on a SQLite database file, through [`crate::sqlite_file`]: the rows are
//! read whole and filtered, ordered and limited here, as SQLite would for the servers' query.

use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{ReadError, RunningJob};
use crate::sqlite_file::{SqliteFileError, Table, Value, read_table};

/// Table `table` of the database at `path`; `None` when the table, or the file, does not exist
/// (SQLite creates the file on first connection, so a missing file is an empty database).
fn table(path: &Path, table: &str) -> Result<Option<Table>, ReadError> {
    match read_table(path, table) {
        Ok(t) => Ok(t),
        Err(SqliteFileError::Io { file, error, .. })
            if file == path && error.kind() == io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(ReadError::Sqlite(e)),
    }
}

/// The index of column `name` of `t`, or an error naming the table.
fn column(t: &Table, path: &Path, table: &str, name: &str) -> Result<usize, ReadError> {
    t.column(name).ok_or_else(|| ReadError::MissingColumn {
        what: format!("SQLite database {}", path.display()),
        table: table.to_owned(),
        column: name.to_owned(),
    })
}

/// `alembic_version`'s revisions, `None` without the table.
pub(super) fn alembic_version(path: &Path) -> Result<Option<Vec<String>>, ReadError> {
    let Some(t) = table(path, "alembic_version")? else {
        return Ok(None);
    };
    let col = column(&t, path, "alembic_version", "version_num")?;
    Ok(Some(
        t.rows
            .iter()
            .filter_map(|r| r[col].as_text().map(str::to_owned))
            .collect(),
    ))
}

/// The running jobs of `job_type` (on `hostname` when given), most recent heartbeat first and
/// never-beaten last (SQLite's `ORDER BY … DESC`), at most `limit` (all with 0).
pub(super) fn running_jobs(
    path: &Path,
    job_type: &str,
    hostname: Option<&str>,
    limit: usize,
) -> Result<Option<Vec<RunningJob>>, ReadError> {
    let Some(t) = table(path, "job")? else {
        return Ok(None);
    };
    let [c_type, c_state, c_host, c_beat] =
        ["job_type", "state", "hostname", "latest_heartbeat"].map(|c| column(&t, path, "job", c));
    let (c_type, c_state, c_host, c_beat) = (c_type?, c_state?, c_host?, c_beat?);
    let mut jobs = Vec::new();
    for row in &t.rows {
        let host = row[c_host].as_text().unwrap_or_default();
        if row[c_type].as_text() != Some(job_type)
            || row[c_state].as_text() != Some("running")
            || hostname.is_some_and(|h| h != host)
        {
            continue;
        }
        let latest_heartbeat = match &row[c_beat] {
            Value::Null => None,
            Value::Text(s) => Some(utc_text(s).ok_or_else(|| ReadError::BadTime {
                what: format!("SQLite database {}", path.display()),
                value: s.clone(),
            })?),
            other => {
                return Err(ReadError::BadTime {
                    what: format!("SQLite database {}", path.display()),
                    value: format!("{other:?}"),
                });
            }
        };
        jobs.push(RunningJob {
            hostname: host.to_owned(),
            latest_heartbeat,
        });
    }
    jobs.sort_by_key(|j| std::cmp::Reverse(j.latest_heartbeat));
    if limit > 0 {
        jobs.truncate(limit);
    }
    Ok(Some(jobs))
}

/// A time as SQLAlchemy stores a `DateTime` in SQLite, which Airflow's `UtcDateTime` has
/// converted to UTC first: `2026-12-03 12:40:01.123456`. Also taken: a `T` separator, no
/// fraction or a shorter one, and a `Z` or `+00:00` suffix; any other offset is refused.
fn utc_text(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let s = s
        .strip_suffix('Z')
        .or_else(|| s.strip_suffix("+00:00"))
        .unwrap_or(s);
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.splitn(3, '-');
    let (year, month, day) = (d.next()?, d.next()?, d.next()?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (hour, minute, second) = (t.next()?, t.next()?, t.next()?);
    let num = |v: &str, len: usize| -> Option<u32> {
        (v.len() == len && v.bytes().all(|b| b.is_ascii_digit()))
            .then(|| v.parse().ok())
            .flatten()
    };
    let (year, month, day) = (num(year, 4)?, num(month, 2)?, num(day, 2)?);
    let (hour, minute, second) = (num(hour, 2)?, num(minute, 2)?, num(second, 2)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
        || fraction.len() > 9
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u32>().ok()? * 10u32.pow(9 - u32::try_from(fraction.len()).ok()?)
    };
    let days = days_from_civil(year, month, day);
    let secs = u64::try_from(days).ok()? * 86_400
        + u64::from(hour) * 3600
        + u64::from(minute) * 60
        + u64::from(second);
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the date (proleptic Gregorian; negative before 1970).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn sqlalchemy_times_are_read_as_utc() {
        // date -u -d '2026-12-03 12:40:01' +%s
        assert_eq!(
            utc_text("2026-12-03 12:40:01.123456"),
            Some(at(1_796_301_601, 123_456_000))
        );
        assert_eq!(utc_text("2026-12-03T12:40:01Z"), Some(at(1_796_301_601, 0)));
        assert_eq!(
            utc_text("2026-12-03 12:40:01.5+00:00"),
            Some(at(1_796_301_601, 500_000_000))
        );
        assert_eq!(utc_text("1970-01-01 00:00:00"), Some(UNIX_EPOCH));
        assert_eq!(utc_text("2024-02-29 00:00:00"), Some(at(1_709_164_800, 0)));
        for bad in [
            "2023-02-29 00:00:00",
            "2026-13-01 00:00:00",
            "2026-12-03 24:00:00",
            "2026-12-03",
            "2026-12-03 12:40:01+02:00",
            "1969-12-31 23:59:59",
            "2026-12-03 12:40:01.1234567890",
            "soon",
        ] {
            assert_eq!(utc_text(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_missing_file_is_an_empty_database_and_a_foreign_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("airflow.db");
        assert_eq!(alembic_version(&missing).unwrap(), None);
        assert_eq!(
            running_jobs(&missing, "SchedulerJob", None, 1).unwrap(),
            None
        );
        let foreign = dir.path().join("notes.txt");
        std::fs::write(
            &foreign,
            b"not a database, just some text that is long enough",
        )
        .unwrap();
        let e = alembic_version(&foreign).unwrap_err();
        assert!(matches!(e, ReadError::Sqlite(_)), "{e:?}");
        assert!(e.to_string().contains("notes.txt"), "{e}");
    }
}

//! Is the metadata database migrated for the Airflow installed here? One attempt of
//! [`crate::wait::wait_with`]: `alembic_version` (read by [`crate::metadata`]) against the head
//! of the installed Airflow's migration files ([`crate::migrations`]).
//!
//! | The database | Attempt |
//! |---|---|
//! | at the head | ready |
//! | no `alembic_version` table, no revision, or behind by N revisions | not ready: keep waiting for the migration |
//! | at a revision this Airflow does not know (ahead: migrated by a newer Airflow) | rejected: waiting cannot help |
//! | unreachable, or refusing the login | as the readiness probe says |
//! | a SQLite file that does not exist yet | not migrated: keep waiting |
//! | a SQLite file cut short (being written) | not ready: read again |
//! | a SQLite file that cannot be read or is not Airflow's | rejected |

use std::time::Duration;

use crate::metadata::{ReadError, alembic_version};
use crate::migrations::{Migrations, Status};
use crate::probe::{Kind, ProbeError, Reason};
use crate::sqlite_file::SqliteFileError;
use crate::target::Target;
use crate::wait::Attempt;

/// One check that `target` is migrated to the head of `migrations`, the migration files of
/// Airflow `airflow` (its version, for messages).
#[derive(Debug, Clone, Copy)]
pub struct MigratedAttempt<'a> {
    /// The metadata database.
    pub target: &'a Target,
    /// The installed Airflow's migration graph.
    pub migrations: &'a Migrations,
    /// The installed Airflow's version, e.g. `3.3.2`.
    pub airflow: &'a str,
}

impl Attempt for MigratedAttempt<'_> {
    fn attempt(&mut self, timeout: Duration) -> Result<(), ProbeError> {
        let revisions = match alembic_version(self.target, timeout) {
            Ok(r) => r,
            Err(ReadError::Server(e)) => return Err(e),
            // A SQLite file caught mid-write can be read on the next attempt.
            Err(e @ ReadError::Sqlite(SqliteFileError::Truncated { .. })) => {
                return Err(ProbeError::new(
                    Kind::NotReady,
                    Reason::Migration,
                    e.to_string(),
                ));
            }
            Err(e) => {
                return Err(ProbeError::new(
                    Kind::Rejected,
                    Reason::Migration,
                    e.to_string(),
                ));
            }
        };
        verdict(
            self.migrations,
            self.airflow,
            &revisions.unwrap_or_default(),
        )
    }
}

/// What the revisions in `alembic_version` mean for an image with Airflow `airflow`.
fn verdict(migrations: &Migrations, airflow: &str, revisions: &[String]) -> Result<(), ProbeError> {
    let not_ready = |m: String| Err(ProbeError::new(Kind::NotReady, Reason::Migration, m));
    match migrations.status(revisions) {
        Status::Current => Ok(()),
        Status::NotMigrated => not_ready(format!(
            "the database is not migrated yet (no alembic_version): waiting for `airflow db \
             migrate` (Airflow {airflow})"
        )),
        Status::Behind { by } => not_ready(format!(
            "the database is behind Airflow {airflow} by {by} revision{} (at {}, head {}): \
             waiting for `airflow db migrate`",
            if by == 1 { "" } else { "s" },
            revisions.join(", "),
            migrations.heads().join(", ")
        )),
        Status::Unknown { revision } => Err(ProbeError::new(
            Kind::Rejected,
            Reason::Migration,
            format!(
                "the database is at revision {revision}, which Airflow {airflow} in this image \
                 does not know: it is ahead, migrated by a newer Airflow (or another \
                 installation). Run the image of the Airflow that migrated it, or downgrade the \
                 database with that Airflow's `airflow db downgrade`"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> Migrations {
        let p = |r: &str, d: &[&str]| (r.to_owned(), d.iter().map(|s| (*s).to_owned()).collect());
        Migrations::from_pairs([p("a", &[]), p("b", &["a"]), p("c", &["b"])])
    }

    fn revs(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_head_is_ready_and_anything_before_it_is_waited_for() {
        let g = graph();
        assert!(verdict(&g, "3.3.2", &revs(&["c"])).is_ok());
        let e = verdict(&g, "3.3.2", &revs(&["a"])).unwrap_err();
        assert_eq!((e.kind(), e.reason()), (Kind::NotReady, &Reason::Migration));
        assert!(
            e.message()
                .contains("behind Airflow 3.3.2 by 2 revisions (at a, head c)"),
            "{e}"
        );
        let e = verdict(&g, "3.3.2", &revs(&["b"])).unwrap_err();
        assert!(e.message().contains("by 1 revision (at b"), "{e}");
        let e = verdict(&g, "3.3.2", &[]).unwrap_err();
        assert_eq!(e.kind(), Kind::NotReady);
        assert!(e.message().contains("not migrated yet"), "{e}");
    }

    #[test]
    fn a_revision_from_a_newer_airflow_stops_the_wait() {
        let e = verdict(&graph(), "2.10.5", &revs(&["zz99"])).unwrap_err();
        assert_eq!((e.kind(), e.reason()), (Kind::Rejected, &Reason::Migration));
        assert!(e.message().contains("revision zz99"), "{e}");
        assert!(e.message().contains("ahead"), "{e}");
    }

    #[test]
    fn an_in_memory_database_is_refused() {
        let g = graph();
        let mut attempt = MigratedAttempt {
            target: &Target::SqliteMemory,
            migrations: &g,
            airflow: "3.3.2",
        };
        let e = attempt.attempt(Duration::from_secs(1)).unwrap_err();
        assert_eq!(e.kind(), Kind::Rejected);
        assert!(e.message().contains("in-memory"), "{e}");
    }
}

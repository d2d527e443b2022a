//! SQLAlchemy-compatible URL parsing and native protocol readiness probes (PostgreSQL,
//! MySQL/MariaDB, Redis, AMQP, TCP, SQLite).
//!
//! * [`dburl`] parses database URLs exactly like SQLAlchemy's `make_url` and masks passwords.
//! * [`target`] turns a database or Celery broker URL into what to wait for, with Airflow's
//!   defaults (ports, `localhost`, `BACKEND`/`DB_HOST`/`DB_PORT` overrides).
//! * [`probe`] makes one protocol-level attempt: no client libraries, no async runtime.
//! * [`migrations`] reads the migration graph of an installed Airflow from its files and says
//!   how far a database's `alembic_version` is from its head.
//! * [`metadata`] reads `alembic_version` and the running jobs' heartbeats from the metadata
//!   database over the probes' connections, or from a SQLite file through [`sqlite_file`].
//! * [`sqlite_file`] reads a table of a SQLite database file (and its WAL) natively, read-only.
//! * [`migrated`] is one attempt of a wait for the database to be migrated for this Airflow.
//! * [`wait`] retries within `CONNECTION_CHECK_MAX_COUNT` × `CONNECTION_CHECK_SLEEP_TIME`,
//!   polling quickly at first, and stops at once when the server rejects the credentials.
//!
//! ```no_run
//! use hangar_probe::{dburl::DbUrl, target::Target, wait::{Budget, wait_for}};
//! let url = DbUrl::parse("postgresql+psycopg2://airflow:secret@postgres/airflow")?;
//! let target = Target::for_database(&url)?;
//! let budget = Budget::from_vars(None, None)?;
//! wait_for(&target, &budget, &mut |event| eprintln!("{event:?}"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod dburl;
pub mod metadata;
pub mod migrated;
pub mod migrations;
pub mod probe;
pub mod sqlite_file;
pub mod target;
pub mod tls;
mod urlsplit;
pub mod wait;

//! Real database and broker servers on loopback for integration tests: PostgreSQL 15,
//! MariaDB, Redis and RabbitMQ from Debian's packages.
//!
//! Every server runs as a child process of the test, on a free port of its own, with its
//! data in a temporary directory. It is stopped when its guard is dropped, and it dies with
//! the test process even when that is killed (`PR_SET_PDEATHSIG`; children are spawned from
//! one long-lived thread so the signal is not sent early when a test thread ends).
//!
//! ```no_run
//! use hangar_testkit::servers::{PgAuth, PgOptions, Postgres, Redis, RedisOptions};
//! let pg = Postgres::start(PgOptions { auth: PgAuth::Md5, ..PgOptions::default() });
//! println!("{} on port {}", pg.url(), pg.port()); // postgresql+psycopg2://airflow:…@127.0.0.1:PORT/airflow
//! let redis = Redis::start(RedisOptions::default()); // requirepass + an ACL user
//! // Started late: prepare (port reserved, data initialised), start from another thread.
//! let late = Postgres::prepare(PgOptions::default());
//! let url = late.url();
//! let handle = late.start_after(std::time::Duration::from_secs(1)); // JoinHandle<Postgres>
//! // ... wait for `url` here ...
//! let mut pg2 = handle.join().unwrap();
//! pg2.stop();    // and pg2.run() starts it again on the same port and data
//! ```
//!
//! Every type has the same life cycle: `prepare(opts)` (initialised, not running),
//! `start(opts)` (= prepare + run), `run()`, `stop()`, `restart()`, `is_running()`,
//! `start_after(delay)`, and `Drop` stops it. `run()` returns when the server logs that it is
//! ready (panicking with the log's tail if it exits or takes longer than 90 s).
//!
//! Special states for readiness tests: `PgOptions::start_in_recovery` + [`Postgres::promote`]
//! (SQLSTATE 57P03 until promoted), [`Postgres::enable_tls`], [`Postgres::set_max_connections`]
//! and [`MariaDb::set_max_connections`] (fill the slots with real clients to get "too many
//! connections"), [`Redis::seed_slow_dataset`] (`-LOADING` for a few seconds).
//!
//! TLS with a fresh test CA and a server certificate it signs for `localhost` and
//! `127.0.0.1` ([`crate::certs`]): [`Postgres::enable_tls`], [`MariaDb::require_tls`],
//! [`Redis::enable_tls`] (TLS only, `rediss://` URLs) and [`RabbitMq::enable_tls`] (AMQPS on a
//! second port). Each server's `tls_ca()` is the CA file to give clients.
//!
//! Default credentials: user `airflow` (PostgreSQL, MariaDB, RabbitMQ), password
//! [`DEFAULT_PASSWORD`] (contains `@`, `/` and `:`, so URLs must percent-encode it: the `url()`
//! methods do), database `airflow`; Redis has `requirepass` [`DEFAULT_PASSWORD`] and the ACL
//! user `celery` / `celery-pw`.
//!
//! A missing server binary panics with the `apt-get install` command that provides it.

pub(crate) mod common;
mod mariadb;
mod postgres;
mod rabbitmq;
mod redis;

pub use common::{DEFAULT_PASSWORD, encode, free_port};
pub use mariadb::{MariaDb, MariaDbOptions};
pub use postgres::{PgAuth, PgOptions, Postgres};
pub use rabbitmq::{RabbitMq, RabbitMqOptions};
pub use redis::{Redis, RedisOptions};

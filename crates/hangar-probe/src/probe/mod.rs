//! One readiness attempt against a [`Target`], speaking just enough of each protocol.
//!
//! | Target | Ready when | Not ready (keep waiting) | Rejected (stop at once) |
//! |---|---|---|---|
//! | PostgreSQL | `AuthenticationOk` + `ReadyForQuery` (with a password), any auth request (without) | `57P03` starting up / shutting down, `53300` too many connections | `28P01` wrong password, `28000` unknown role / no `pg_hba.conf` entry, `3D000` unknown database |
//! | MySQL/MariaDB | OK after `HandshakeResponse41` (with a user), the greeting (without) | ERR 1040 too many connections, 1053 shutdown, … | ERR 1045 access denied, 1044, 1049 unknown database, 1129/1130 host blocked/not allowed |
//! | Redis | `+PONG` (after `AUTH` when credentials are given) | `-LOADING`, `-BUSY`, `-MASTERDOWN`, … | `-WRONGPASS`, `-NOAUTH`, `-NOPERM`, not RESP |
//! | AMQP 0-9-1 | `Connection.Start` | | another protocol header or frame |
//! | TCP | TCP connect | | |
//! | SQLite | the file's directory exists and is writable | missing or read-only directory | |
//!
//! TLS (rustls, see [`crate::tls`]): `rediss`, `amqps`, PostgreSQL's `sslmode=require`/
//! `verify-*` (and `prefer` against a server that refuses plain connections) and MySQL/MariaDB
//! servers that offer it (over TCP) run the same exchange over TLS. A refused certificate is a
//! rejection.
//!
//! One module opens the connection (and the TLS session) that every protocol but SQLite runs
//! over (`conn`); each protocol's exchange lives in a module of its own.

use std::time::{Duration, Instant};

use crate::target::{Endpoint, Secret, Target};

mod amqp;
mod conn;
mod error;
mod mysql;
mod postgres;
#[cfg(test)]
mod reason_tests;
mod redis;
mod sqlite;

pub use error::{Detail, Kind, ProbeError, Reason};

/// Who a PostgreSQL target logs in as (nobody in particular for the other targets).
fn pg_login(target: &Target) -> postgres::Login<'_> {
    match target {
        Target::Postgres {
            user,
            password,
            database,
            ..
        } => postgres::Login {
            user: user.as_deref(),
            password: password.as_ref(),
            database: database.as_deref(),
        },
        _ => postgres::Login {
            user: None,
            password: None,
            database: None,
        },
    }
}

/// One row of a query's result: each column as text, `None` for NULL.
pub type Row = Vec<Option<String>>;

/// Who a MySQL/MariaDB target logs in as (nobody for the other targets).
fn my_login(target: &Target) -> mysql::Login<'_> {
    match target {
        Target::Mysql {
            endpoint,
            user,
            password,
            database,
        } => mysql::Login {
            host: match endpoint {
                Endpoint::Tcp { host, .. } => Some(host.as_str()),
                Endpoint::Unix { .. } => None,
            },
            user: user.as_deref(),
            password: password.as_ref(),
            database: database.as_deref(),
        },
        _ => mysql::Login {
            host: None,
            user: None,
            password: None,
            database: None,
        },
    }
}

/// Runs `sql` on a PostgreSQL or MySQL/MariaDB target over the probe's own connection,
/// logging in all the way (a password is needed when the server asks for one): the rows, or
/// `None` when a table the query reads does not exist. Other targets are refused: they are
/// not SQL servers (SQLite files are read with [`crate::sqlite_file`]).
///
/// # Errors
/// The server cannot be reached or logged in to, or the query fails.
pub fn query(
    target: &Target,
    sql: &str,
    timeout: Duration,
) -> Result<Option<Vec<Row>>, ProbeError> {
    let deadline = Instant::now() + timeout;
    let what = target.describe();
    match target {
        Target::Postgres {
            endpoint,
            tls,
            tls_options,
            ..
        } => postgres::query_rows(
            endpoint,
            &pg_login(target),
            (*tls, tls_options),
            deadline,
            &what,
            sql,
        ),
        Target::Mysql { endpoint, .. } => {
            let conn = conn::connect(endpoint, None, deadline, &what)?;
            mysql::query_rows(conn, &my_login(target), sql).map_err(|e| e.with_context(&what))
        }
        _ => Err(ProbeError::rejected(
            Reason::Unsupported,
            format!("{what} is not a SQL server: only PostgreSQL and MySQL/MariaDB are queried"),
        )),
    }
}

/// Makes one attempt to check that `target` is ready, spending at most about `timeout`.
pub fn probe(target: &Target, timeout: Duration) -> Result<(), ProbeError> {
    let deadline = Instant::now() + timeout;
    let what = target.describe();
    let what = what.as_str();
    let tcp = |host: &str, port: u16| Endpoint::Tcp {
        host: host.to_owned(),
        port,
    };
    match target {
        Target::Postgres {
            endpoint,
            tls,
            tls_options,
            ..
        } => postgres::probe(
            endpoint,
            &pg_login(target),
            *tls,
            tls_options,
            deadline,
            what,
        ),
        Target::Mysql { endpoint, .. } => {
            let conn = conn::connect(endpoint, None, deadline, what)?;
            mysql::exchange(conn, &my_login(target)).map_err(|e| e.with_context(what))
        }
        Target::Redis {
            host,
            port,
            tls,
            username,
            password,
        } => {
            let mut conn = conn::connect(&tcp(host, *port), tls.as_ref(), deadline, what)?;
            redis::exchange(&mut conn, username.as_deref(), password.as_ref())
                .map_err(|e| e.with_context(what))
        }
        Target::Amqp {
            host,
            port,
            tls,
            username,
            password,
            vhost,
        } => {
            let mut conn = conn::connect(&tcp(host, *port), tls.as_ref(), deadline, what)?;
            let login = username.as_deref().map(|u| {
                (
                    u,
                    password.as_ref().map_or("", Secret::expose),
                    vhost.as_str(),
                )
            });
            amqp::exchange(&mut conn, login).map_err(|e| e.with_context(what))
        }
        Target::Tcp { host, port } => {
            conn::connect(&tcp(host, *port), None, deadline, what).map(drop)
        }
        Target::SqliteFile { path } => sqlite::check(path),
        Target::SqliteMemory => Ok(()),
    }
}

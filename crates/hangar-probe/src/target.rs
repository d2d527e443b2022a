//! What to wait for: a database, a Celery broker or a plain TCP port, with host, port and
//! credentials already defaulted the way Airflow's image entrypoint does.

use std::fmt;
use std::path::PathBuf;

use crate::dburl::{DbUrl, UrlError, redact, unquote};
use crate::tls::{TlsOptions, TlsVerify};
pub use crate::urlsplit::SplitError;
use crate::urlsplit::SplitUrl;

/// A secret string (password). `Debug` prints `***`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A host name or IP literal (IPv6 without brackets) and a port. Names are resolved at
    /// every attempt.
    Tcp {
        /// Host name or IP literal.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A unix domain socket.
    Unix {
        /// Path of the socket file.
        path: PathBuf,
    },
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "{}", host_port(host, *port)),
            Endpoint::Unix { path } => write!(f, "unix socket {}", path.display()),
        }
    }
}

/// `host:port`, with brackets around an IPv6 literal.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// PostgreSQL's `sslmode`, reduced to what the probe does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgTls {
    /// `disable`: a plain connection only.
    Plain,
    /// `allow`, `prefer` or unset (libpq's default): a plain connection, and when the server
    /// refuses it with SQLSTATE 28000 (pg_hba.conf has `hostssl` lines only), what
    /// [`PgTls::Required`] does, since libpq would connect with TLS.
    Prefer,
    /// `require`, `verify-ca`, `verify-full`: `SSLRequest`, the TLS handshake, then the
    /// startup exchange and authentication over TLS (TCP only: libpq does not use TLS on unix
    /// sockets).
    Required,
}

/// What to wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// PostgreSQL: startup exchange, authentication when a password is known.
    Postgres {
        /// TCP address or the unix socket `DIR/.s.PGSQL.PORT`.
        endpoint: Endpoint,
        /// The role; `None` when the URL names none (the probe then uses `$PGUSER`, `$USER`
        /// or `postgres` and treats any answer but "starting up" as ready, like `pg_isready`).
        user: Option<String>,
        /// Password from the URL (or its `password` query parameter).
        password: Option<Secret>,
        /// Database; defaults to the user name like libpq.
        database: Option<String>,
        /// `sslmode` handling.
        tls: PgTls,
        /// The certificate check when TLS is used (`sslmode`, `sslrootcert`).
        tls_options: TlsOptions,
    },
    /// MySQL or MariaDB: server greeting, and authentication with `mysql_native_password`
    /// (or `caching_sha2_password`'s fast path) when a user is known.
    Mysql {
        /// TCP address or `?unix_socket=` path.
        endpoint: Endpoint,
        /// User; without one only the server greeting is read.
        user: Option<String>,
        /// Password.
        password: Option<Secret>,
        /// Database to connect to.
        database: Option<String>,
    },
    /// Redis: optional `AUTH`, then `PING` → `PONG`, over TLS for `rediss`.
    Redis {
        /// Host name or IP literal.
        host: String,
        /// Port.
        port: u16,
        /// `rediss://`: TLS, checked per `ssl_cert_reqs`, `ssl_ca_certs`, `ssl_check_hostname`.
        tls: Option<TlsOptions>,
        /// ACL user name (Redis 6+).
        username: Option<String>,
        /// Password (`requirepass` or the ACL user's).
        password: Option<Secret>,
    },
    /// AMQP 0-9-1 broker (RabbitMQ): protocol header → `Connection.Start`; with credentials
    /// the probe logs in (PLAIN), opens the virtual host and closes the connection politely.
    /// Over TLS for `amqps`.
    Amqp {
        /// Host name or IP literal.
        host: String,
        /// Port.
        port: u16,
        /// `amqps://`: TLS, checked per `ssl_cert_reqs`, `ssl_ca_certs`, `ssl_check_hostname`.
        tls: Option<TlsOptions>,
        /// User name from the URL; without one the probe stops at `Connection.Start`.
        username: Option<String>,
        /// Password from the URL.
        password: Option<Secret>,
        /// Virtual host: the URL path without its first `/`, percent-decoded; `/` when empty.
        vhost: String,
    },
    /// A TCP port that must accept connections (mssql, unknown broker schemes, `tcp://`).
    Tcp {
        /// Host name or IP literal.
        host: String,
        /// Port.
        port: u16,
    },
    /// A SQLite database file: ready when its directory exists and is writable.
    SqliteFile {
        /// The database file (it may not exist yet).
        path: PathBuf,
    },
    /// An in-memory SQLite database: always ready.
    SqliteMemory,
}

/// Environment overrides of the broker check, as in Airflow's entrypoint: `BACKEND`,
/// `DB_HOST`, `DB_PORT`. An empty value counts as unset (bash `:=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrokerOverrides {
    /// `BACKEND`: replaces the URL's scheme (which also picks the default port and protocol).
    pub backend: Option<String>,
    /// `DB_HOST`: replaces the host.
    pub host: Option<String>,
    /// `DB_PORT`: replaces the port.
    pub port: Option<String>,
}

impl BrokerOverrides {
    /// Reads `BACKEND`, `DB_HOST` and `DB_PORT` from the process environment.
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok();
        BrokerOverrides {
            backend: get("BACKEND"),
            host: get("DB_HOST"),
            port: get("DB_PORT"),
        }
    }
}

/// Why no target can be built from a URL. The `Display` never contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The port does not fit in 16 bits.
    #[error("the port {port} in `{url}` is out of range: use a TCP port between 1 and 65535")]
    PortOutOfRange {
        /// The port as written.
        port: String,
        /// The URL, password masked.
        url: String,
    },
    /// The host contains `@`: an unencoded `@` in the password.
    #[error(
        "the host of `{url}` contains `@`: the password probably contains an unencoded `@`. \
         Percent-encode it as `%40` (SQLAlchemy ends the password at the first `@`)"
    )]
    AtInHost {
        /// The URL, password masked.
        url: String,
    },
    /// A database backend the probes do not know and whose port cannot be guessed.
    #[error(
        "cannot wait for `{url}`: unknown database backend `{backend}` and no port in the URL. \
         Add the port, or set HANGAR_WAIT_FOR_DB=never to skip the wait"
    )]
    UnknownBackend {
        /// The backend name.
        backend: String,
        /// The URL, password masked.
        url: String,
    },
    /// A broker or `tcp://` URL that does not split into scheme, host and port.
    #[error("cannot wait for `{url}`: {source}")]
    Split {
        /// The URL, password masked.
        url: String,
        /// What is wrong with its syntax.
        #[source]
        source: SplitError,
    },
    /// A URL or override that cannot be used.
    #[error("cannot wait for `{url}`: {reason}")]
    Invalid {
        /// The URL, password masked.
        url: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// Airflow's default port for a backend, by prefix (`postgres*`, `mysql*`, `mssql*`,
/// `redis*`, `amqp*`), plus `mariadb` and `pyamqp`.
pub fn default_port(backend: &str) -> Option<u16> {
    let b = backend.to_ascii_lowercase();
    if b.starts_with("postgres") {
        Some(5432)
    } else if b.starts_with("mysql") || b.starts_with("mariadb") {
        Some(3306)
    } else if b.starts_with("mssql") {
        Some(1433)
    } else if b.starts_with("redis") {
        Some(6379)
    } else if b.starts_with("amqp") || b == "pyamqp" || b == "librabbitmq" {
        Some(5672)
    } else {
        None
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

fn port16(port: u32, url: &str) -> Result<u16, TargetError> {
    u16::try_from(port)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| TargetError::PortOutOfRange {
            port: port.to_string(),
            url: redact(url),
        })
}

impl Target {
    /// The target for the metadata database at `url` (SQLAlchemy URL).
    pub fn for_database(url: &DbUrl) -> Result<Target, TargetError> {
        let shown = url.redacted();
        if let Some((_, after)) = url.host.as_deref().and_then(|h| h.rsplit_once('@')) {
            // The part before the `@` is probably the end of the password: mask it too.
            let mut masked = url.clone();
            masked.host = Some(format!("***@{after}"));
            return Err(TargetError::AtInHost {
                url: masked.redacted(),
            });
        }
        let backend = url.backend().to_ascii_lowercase();
        let host = || {
            non_empty(url.host.as_deref())
                .unwrap_or("localhost")
                .to_owned()
        };
        let port = |dflt: u16| -> Result<u16, TargetError> {
            url.port.map_or(Ok(dflt), |p| port16(p, &shown))
        };
        let password = url.password.clone().map(Secret);
        if backend.starts_with("postgres") {
            // psycopg2/psycopg pass query parameters to libpq: `host`, `port`, `user`,
            // `password`, `dbname` there override or complete the URL.
            let first = |k: &str| {
                non_empty(url.query_value(k)).map(|v| v.split(',').next().unwrap_or(v).to_owned())
            };
            let port = match first("port") {
                Some(p) => {
                    let n = p.trim().parse::<u32>().map_err(|_| TargetError::Invalid {
                        url: shown.clone(),
                        reason: format!(
                            "the query parameter port={p} is not a number; write e.g. `?port=5432`"
                        ),
                    })?;
                    port16(n, &shown)?
                }
                None => port(5432)?,
            };
            let endpoint =
                match first("host").or_else(|| non_empty(url.host.as_deref()).map(str::to_owned)) {
                    Some(h) if h.starts_with('/') => Endpoint::Unix {
                        path: PathBuf::from(h).join(format!(".s.PGSQL.{port}")),
                    },
                    Some(h) => Endpoint::Tcp { host: h, port },
                    None => Endpoint::Tcp {
                        host: "localhost".into(),
                        port,
                    },
                };
            let user = non_empty(url.username.as_deref())
                .or_else(|| non_empty(url.query_value("user")))
                .map(str::to_owned);
            let password = password.or_else(|| url.query_value("password").map(Secret::new));
            let database = non_empty(url.database.as_deref())
                .or_else(|| non_empty(url.query_value("dbname")))
                .map(str::to_owned);
            let sslmode = url.query_value("sslmode");
            let tls = match sslmode {
                Some("require" | "verify-ca" | "verify-full") => PgTls::Required,
                Some("disable") => PgTls::Plain,
                _ => PgTls::Prefer,
            };
            let tls_options = TlsOptions {
                verify: match sslmode {
                    Some("verify-ca") => TlsVerify::Chain,
                    Some("verify-full") => TlsVerify::Full,
                    _ => TlsVerify::None,
                },
                ca_file: non_empty(url.query_value("sslrootcert"))
                    .filter(|f| *f != "system")
                    .map(PathBuf::from),
            };
            return Ok(Target::Postgres {
                endpoint,
                user,
                password,
                database,
                tls,
                tls_options,
            });
        }
        if backend.starts_with("mysql") || backend.starts_with("mariadb") {
            let endpoint = match non_empty(url.query_value("unix_socket")) {
                Some(path) => Endpoint::Unix { path: path.into() },
                None => Endpoint::Tcp {
                    host: host(),
                    port: port(3306)?,
                },
            };
            return Ok(Target::Mysql {
                endpoint,
                user: non_empty(url.username.as_deref()).map(str::to_owned),
                password,
                database: non_empty(url.database.as_deref()).map(str::to_owned),
            });
        }
        if backend.starts_with("mssql") {
            return Ok(Target::Tcp {
                host: host(),
                port: port(1433)?,
            });
        }
        if backend == "sqlite" {
            let db = url.database.as_deref().unwrap_or("");
            let memory = db.is_empty()
                || db == ":memory:"
                || (db.starts_with("file:") && url.query_value("mode") == Some("memory"));
            if memory {
                return Ok(Target::SqliteMemory);
            }
            let path = match db.strip_prefix("file:") {
                Some(p) if url.query_value("uri") == Some("true") => {
                    p.split('?').next().unwrap_or(p).to_owned()
                }
                _ => db.to_owned(),
            };
            return Ok(Target::SqliteFile { path: path.into() });
        }
        match (url.host.as_deref(), url.port) {
            (Some(h), Some(p)) if !h.is_empty() => Ok(Target::Tcp {
                host: h.to_owned(),
                port: port16(p, &shown)?,
            }),
            _ => Err(TargetError::UnknownBackend {
                backend: url.backend().to_owned(),
                url: shown,
            }),
        }
    }

    /// The target for a Celery broker URL, following Airflow's entrypoint: the scheme (or
    /// `BACKEND`) picks the protocol and default port, host defaults to `localhost`, `DB_HOST`
    /// and `DB_PORT` override. Redis and AMQP get protocol checks, anything else a TCP connect.
    /// `Ok(None)` when no port can be determined (e.g. `sqla+postgresql://h/db`,
    /// `filesystem://`): the caller skips the wait and says so. Only the first of several
    /// `;`-separated failover URLs is checked.
    pub fn for_broker(url: &str, ov: &BrokerOverrides) -> Result<Option<Target>, TargetError> {
        let url = url.split(';').next().unwrap_or(url).trim();
        let parts = split(url)?;
        let backend = non_empty(ov.backend.as_deref())
            .unwrap_or(&parts.scheme)
            .to_ascii_lowercase();
        // Unix-socket transports have no host or port to check unless overridden.
        let socket_scheme = matches!(backend.as_str(), "redis+socket" | "unix" | "socket");
        if socket_scheme
            && non_empty(ov.host.as_deref()).is_none()
            && non_empty(ov.port.as_deref()).is_none()
        {
            return Ok(None);
        }
        let host = non_empty(ov.host.as_deref())
            .map(str::to_owned)
            .or_else(|| parts.hostname.clone().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "localhost".to_owned());
        let port = match non_empty(ov.port.as_deref()) {
            Some(p) => Some(
                p.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| TargetError::Invalid {
                        url: redact(url),
                        reason: format!("DB_PORT={p} is not a TCP port; set it to a number between 1 and 65535 or unset it"),
                    })?,
            ),
            None => parts.port.or_else(|| default_port(&backend)),
        };
        let Some(port) = port else {
            return Ok(None);
        };
        let username = parts
            .username
            .as_deref()
            .map(unquote)
            .filter(|s| !s.is_empty());
        let password = parts
            .password
            .as_deref()
            .map(unquote)
            .filter(|s| !s.is_empty())
            .map(Secret);
        let tls =
            matches!(backend.as_str(), "rediss" | "amqps").then(|| broker_tls_options(&parts));
        Ok(Some(match backend.as_str() {
            "redis" | "rediss" => Target::Redis {
                host,
                port,
                tls,
                username,
                password,
            },
            "amqp" | "amqps" | "pyamqp" | "librabbitmq" => Target::Amqp {
                host,
                port,
                tls,
                username,
                password,
                vhost: kombu_vhost(&parts),
            },
            _ => Target::Tcp { host, port },
        }))
    }

    /// The target for `hangar wait URL`: a SQLAlchemy database URL, a broker URL (`redis`,
    /// `rediss`, `amqp`, `amqps`, `pyamqp`) or `tcp://host:port`.
    pub fn from_url(url: &str) -> Result<Target, TargetError> {
        let scheme = url.split("://").next().unwrap_or("").to_ascii_lowercase();
        match scheme.as_str() {
            "tcp" => {
                let parts = split(url)?;
                match (parts.hostname, parts.port) {
                    (Some(host), Some(port)) if !host.is_empty() => Ok(Target::Tcp { host, port }),
                    _ => Err(TargetError::Invalid {
                        url: redact(url),
                        reason: "a tcp:// URL needs a host and a port, e.g. `tcp://db:5432`".into(),
                    }),
                }
            }
            "redis" | "rediss" | "amqp" | "amqps" | "pyamqp" => {
                Target::for_broker(url, &BrokerOverrides::default())?.ok_or_else(|| {
                    TargetError::Invalid {
                        url: redact(url),
                        reason: "no port could be determined".into(),
                    }
                })
            }
            _ => Target::for_database(&DbUrl::parse(url)?),
        }
    }

    /// A one-line description without secrets, e.g.
    /// `PostgreSQL at 127.0.0.1:5432 as user airflow`.
    pub fn describe(&self) -> String {
        match self {
            Target::Postgres {
                endpoint,
                user,
                database,
                tls,
                ..
            } => {
                let mut s = format!("PostgreSQL at {endpoint}");
                if let Some(u) = user {
                    s.push_str(&format!(" as user {u}"));
                }
                if let Some(d) = database {
                    s.push_str(&format!(", database {d}"));
                }
                if *tls == PgTls::Required {
                    s.push_str(" over TLS");
                }
                s
            }
            Target::Mysql {
                endpoint,
                user,
                database,
                ..
            } => {
                let mut s = format!("MySQL/MariaDB at {endpoint}");
                if let Some(u) = user {
                    s.push_str(&format!(" as user {u}"));
                }
                if let Some(d) = database {
                    s.push_str(&format!(", database {d}"));
                }
                s
            }
            Target::Redis {
                host,
                port,
                tls,
                username,
                ..
            } => {
                let mut s = format!("Redis at {}", host_port(host, *port));
                if let Some(u) = username {
                    s.push_str(&format!(" as user {u}"));
                }
                if tls.is_some() {
                    s.push_str(" over TLS");
                }
                s
            }
            Target::Amqp {
                host,
                port,
                tls,
                username,
                vhost,
                ..
            } => {
                let mut s = format!("AMQP broker at {}", host_port(host, *port));
                if let Some(u) = username {
                    s.push_str(&format!(" as user {u}, virtual host {vhost}"));
                }
                if tls.is_some() {
                    s.push_str(" over TLS");
                }
                s
            }
            Target::Tcp { host, port } => format!("TCP port {}", host_port(host, *port)),
            Target::SqliteFile { path } => format!("SQLite database {}", path.display()),
            Target::SqliteMemory => "in-memory SQLite database".to_owned(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The certificate check of a `rediss`/`amqps` URL, with the parameters Celery reads:
/// `ssl_cert_reqs` (`none`/`CERT_NONE`, `optional`: no check; `required`, the default:
/// the chain), `ssl_check_hostname=true` (also the host name), `ssl_ca_certs` (roots).
fn broker_tls_options(parts: &SplitUrl) -> TlsOptions {
    let reqs = parts
        .query_value("ssl_cert_reqs")
        .unwrap_or("required")
        .to_ascii_lowercase();
    let verify = match reqs.trim_start_matches("cert_") {
        "none" | "optional" => TlsVerify::None,
        _ if parts
            .query_value("ssl_check_hostname")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")) =>
        {
            TlsVerify::Full
        }
        _ => TlsVerify::Chain,
    };
    TlsOptions {
        verify,
        ca_file: non_empty(parts.query_value("ssl_ca_certs")).map(PathBuf::from),
    }
}

/// kombu's virtual host: the URL path without its first `/`, decoded, `/` when empty.
fn kombu_vhost(parts: &SplitUrl) -> String {
    let p = parts.path.strip_prefix('/').unwrap_or(&parts.path);
    let v = unquote(p);
    if v.is_empty() { "/".to_owned() } else { v }
}

/// Splits a broker or `tcp://` URL like `urlsplit`; an error shows the URL password masked.
fn split(url: &str) -> Result<SplitUrl, TargetError> {
    SplitUrl::parse(url).map_err(|source| TargetError::Split {
        url: redact(url),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(s: &str) -> Target {
        Target::for_database(&DbUrl::parse(s).unwrap()).unwrap()
    }

    #[test]
    fn tls_options_from_urls() {
        let redis_tls = |url: &str| match Target::from_url(url).unwrap() {
            Target::Redis { tls, .. } | Target::Amqp { tls, .. } => tls,
            other => panic!("{other:?}"),
        };
        let opts = |verify, ca: Option<&str>| {
            Some(TlsOptions {
                verify,
                ca_file: ca.map(PathBuf::from),
            })
        };
        assert_eq!(redis_tls("redis://h:6379/0"), None);
        assert_eq!(redis_tls("rediss://h:6380/0"), opts(TlsVerify::Chain, None));
        assert_eq!(
            redis_tls("rediss://h/0?ssl_cert_reqs=CERT_NONE"),
            opts(TlsVerify::None, None)
        );
        assert_eq!(
            redis_tls("rediss://h/0?ssl_cert_reqs=optional"),
            opts(TlsVerify::None, None)
        );
        assert_eq!(
            redis_tls(
                "rediss://h/0?ssl_cert_reqs=required&ssl_ca_certs=/ca.pem&ssl_check_hostname=true"
            ),
            opts(TlsVerify::Full, Some("/ca.pem"))
        );
        assert_eq!(
            redis_tls("amqps://u:p@h//?ssl_ca_certs=/ca.pem"),
            opts(TlsVerify::Chain, Some("/ca.pem"))
        );
        let pg = |url: &str| match db(url) {
            Target::Postgres {
                tls, tls_options, ..
            } => (tls, tls_options),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            pg("postgresql://u@h/d?sslmode=verify-full&sslrootcert=/root.crt"),
            (
                PgTls::Required,
                TlsOptions {
                    verify: TlsVerify::Full,
                    ca_file: Some("/root.crt".into())
                }
            )
        );
        assert_eq!(
            pg("postgresql://u@h/d?sslmode=verify-ca&sslrootcert=system").1,
            TlsOptions {
                verify: TlsVerify::Chain,
                ca_file: None
            }
        );
        assert_eq!(
            pg("postgresql://u@h/d?sslmode=require").1,
            TlsOptions::unverified()
        );
    }

    #[test]
    fn postgres_defaults_and_socket() {
        assert_eq!(
            db("postgresql+psycopg2://u:p%40ss@h/airflow"),
            Target::Postgres {
                endpoint: Endpoint::Tcp {
                    host: "h".into(),
                    port: 5432
                },
                user: Some("u".into()),
                password: Some(Secret::new("p@ss")),
                database: Some("airflow".into()),
                tls: PgTls::Prefer,
                tls_options: TlsOptions::unverified(),
            }
        );
        match db("postgresql://u:p@/db?host=/var/run/postgresql&port=5433") {
            Target::Postgres { endpoint, .. } => assert_eq!(
                endpoint,
                Endpoint::Unix {
                    path: "/var/run/postgresql/.s.PGSQL.5433".into()
                }
            ),
            other => panic!("{other:?}"),
        }
        match db("postgres://[::1]:6543/x?sslmode=require") {
            Target::Postgres { endpoint, tls, .. } => {
                assert_eq!(
                    endpoint,
                    Endpoint::Tcp {
                        host: "::1".into(),
                        port: 6543
                    }
                );
                assert_eq!(tls, PgTls::Required);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_backends() {
        assert!(matches!(
            db("mysql+mysqldb://u:p@db/a"),
            Target::Mysql {
                endpoint: Endpoint::Tcp { port: 3306, .. },
                ..
            }
        ));
        assert_eq!(
            db("mssql+pyodbc://u:p@db/a"),
            Target::Tcp {
                host: "db".into(),
                port: 1433
            }
        );
        assert_eq!(db("sqlite://"), Target::SqliteMemory);
        assert_eq!(db("sqlite:///:memory:"), Target::SqliteMemory);
        assert_eq!(
            db("sqlite:////opt/airflow/airflow.db"),
            Target::SqliteFile {
                path: "/opt/airflow/airflow.db".into()
            }
        );
        let err = Target::for_database(&DbUrl::parse("postgresql://u:pw@xyzzy@h/db").unwrap())
            .unwrap_err();
        assert!(matches!(err, TargetError::AtInHost { .. }));
        assert!(!err.to_string().contains("xyzzy"), "{err}");
        let err = Target::for_database(&DbUrl::parse("postgresql://u:secret@h:70000/db").unwrap())
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn broker_urls() {
        let none = BrokerOverrides::default();
        assert_eq!(
            Target::for_broker("redis://:p%40ss@Redis:6380/0", &none).unwrap(),
            Some(Target::Redis {
                host: "redis".into(),
                port: 6380,
                tls: None,
                username: None,
                password: Some(Secret::new("p@ss"))
            })
        );
        assert_eq!(
            Target::for_broker("amqp://guest:guest@rabbitmq//", &none).unwrap(),
            Some(Target::Amqp {
                host: "rabbitmq".into(),
                port: 5672,
                tls: None,
                username: Some("guest".into()),
                password: Some(Secret::new("guest")),
                vhost: "/".into(),
            })
        );
        assert_eq!(
            Target::for_broker("sqla+postgresql://u:p@h/db", &none).unwrap(),
            None
        );
        assert_eq!(
            Target::for_broker("sqla+postgresql://u:p@h:5432/db", &none).unwrap(),
            Some(Target::Tcp {
                host: "h".into(),
                port: 5432
            })
        );
        assert_eq!(Target::for_broker("filesystem://", &none).unwrap(), None);
        assert_eq!(
            Target::for_broker("redis+socket:///run/redis/redis.sock", &none).unwrap(),
            None
        );
        let ov = BrokerOverrides {
            backend: Some("redis".into()),
            host: Some("other".into()),
            port: Some("7000".into()),
        };
        assert_eq!(
            Target::for_broker("filesystem://", &ov).unwrap(),
            Some(Target::Redis {
                host: "other".into(),
                port: 7000,
                tls: None,
                username: None,
                password: None
            })
        );
        let empty = BrokerOverrides {
            backend: Some(String::new()),
            host: Some(String::new()),
            port: Some(String::new()),
        };
        assert_eq!(
            Target::for_broker("rediss://u:pw@[::1]", &empty).unwrap(),
            Some(Target::Redis {
                host: "::1".into(),
                port: 6379,
                tls: Some(TlsOptions {
                    verify: TlsVerify::Chain,
                    ca_file: None
                }),
                username: Some("u".into()),
                password: Some(Secret::new("pw"))
            })
        );
        let bad = BrokerOverrides {
            port: Some("x".into()),
            ..BrokerOverrides::default()
        };
        let err = Target::for_broker("redis://:secret@h", &bad).unwrap_err();
        assert!(err.to_string().contains("DB_PORT"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn amqp_virtual_hosts() {
        let vhost = |u: &str| match Target::from_url(u).unwrap() {
            Target::Amqp { vhost, .. } => vhost,
            other => panic!("{other:?}"),
        };
        assert_eq!(vhost("amqp://u:p@h//"), "/");
        assert_eq!(vhost("amqp://u:p@h/"), "/");
        assert_eq!(vhost("amqp://u:p@h"), "/");
        assert_eq!(vhost("amqp://u:p@h/prod"), "prod");
        assert_eq!(vhost("amqp://u:p@h/%2Fprod?x=1"), "/prod");
    }

    #[test]
    fn from_url_schemes() {
        assert_eq!(
            Target::from_url("tcp://db:1234").unwrap(),
            Target::Tcp {
                host: "db".into(),
                port: 1234
            }
        );
        assert!(Target::from_url("tcp://db").is_err());
        assert!(matches!(
            Target::from_url("pyamqp://h").unwrap(),
            Target::Amqp { port: 5672, .. }
        ));
        assert!(matches!(
            Target::from_url("postgresql://h/db").unwrap(),
            Target::Postgres { .. }
        ));
        assert!(Target::from_url("nonsense").is_err());
    }

    #[test]
    fn split_errors_keep_their_cause_and_mask_the_password() {
        use std::error::Error;
        let err = Target::from_url("redis://:secret@h:6x/0").unwrap_err();
        assert!(
            matches!(
                err,
                TargetError::Split {
                    source: SplitError::PortNotNumber,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .ends_with(": the port is not a number; write e.g. `host:6379`"),
            "{err}"
        );
        assert!(!err.to_string().contains("secret"), "{err}");
        assert_eq!(
            err.source().map(ToString::to_string),
            Some(SplitError::PortNotNumber.to_string())
        );
    }
}

//! PostgreSQL 15 on loopback for integration tests.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use nix::unistd::{User, chown};
use tempfile::TempDir;

use crate::{require_program, run_checked};

use super::common::*;

/// How PostgreSQL authenticates the application user (`pg_hba.conf` method and how the
/// password is stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgAuth {
    /// No password needed.
    Trust,
    /// Cleartext password exchange.
    Password,
    /// MD5 (password stored as an MD5 hash).
    Md5,
    /// SCRAM-SHA-256 (password stored as a SCRAM verifier).
    Scram,
}

/// Options of [`Postgres`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Application user (created with `password`). Default `airflow`.
    pub user: String,
    /// Its password. Default [`DEFAULT_PASSWORD`].
    pub password: String,
    /// Database owned by `user`. Default `airflow`.
    pub database: String,
    /// Authentication method for every connection but the `postgres` superuser over the unix
    /// socket (which is trusted). Default SCRAM.
    pub auth: PgAuth,
    /// Start as a standby with `hot_standby = off`: the server listens but answers every
    /// connection with SQLSTATE 57P03 ("not yet accepting connections") until
    /// [`Postgres::promote`] is called. Default false.
    pub start_in_recovery: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            user: "airflow".into(),
            password: DEFAULT_PASSWORD.into(),
            database: "airflow".into(),
            auth: PgAuth::Scram,
            start_in_recovery: false,
        }
    }
}

/// A PostgreSQL 15 server (`postgres` from `/usr/lib/postgresql/15/bin`), run as the
/// `postgres` system user when the tests run as root. Listens on 127.0.0.1 and ::1 and on a
/// unix socket in [`Postgres::socket_dir`].
pub struct Postgres {
    opts: PgOptions,
    port: u16,
    dir: TempDir,
    bin: PathBuf,
    user: Option<User>,
    proc: Option<Proc>,
    tls: bool,
    max_connections: u32,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl Postgres {
    /// Initialises a cluster (initdb, user, database, `pg_hba.conf`) on a reserved port
    /// without starting it. Call [`Postgres::run`] (or [`Postgres::start_after`]) later.
    pub fn prepare(opts: PgOptions) -> Postgres {
        let bin = require_program("postgres", "postgresql", &[PG_BIN]);
        let bin_dir = bin.parent().unwrap().to_path_buf();
        let initdb = require_program("initdb", "postgresql", &[PG_BIN]);
        let dir = tempfile::Builder::new()
            .prefix("hangar-pg-")
            .tempdir()
            .expect("temp dir");
        let user = if is_root() {
            Some(
                User::from_name("postgres")
                    .ok()
                    .flatten()
                    .expect("the `postgres` system user is missing: apt-get install -y postgresql"),
            )
        } else {
            None
        };
        fs::create_dir(dir.path().join("sock")).unwrap();
        if let Some(u) = &user {
            chown_tree(dir.path(), u);
        }
        let data = dir.path().join("data");
        let as_pg = |cmd: &mut Command| {
            use std::os::unix::process::CommandExt;
            if let Some(u) = &user {
                cmd.uid(u.uid.as_raw()).gid(u.gid.as_raw());
            }
            cmd.current_dir(dir.path()).env("LC_ALL", "C");
        };
        let mut c = Command::new(&initdb);
        c.args(["-D"]).arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-N",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        as_pg(&mut c);
        run_checked("initdb", &mut c);

        let method = match opts.auth {
            PgAuth::Trust => "trust",
            PgAuth::Password => "password",
            PgAuth::Md5 => "md5",
            PgAuth::Scram => "scram-sha-256",
        };
        let hba = format!(
            "local all postgres trust\nlocal all all {method}\nhost all all 127.0.0.1/32 {method}\n\
             host all all ::1/128 {method}\n"
        );
        fs::write(data.join("pg_hba.conf"), hba).unwrap();

        let encryption = if opts.auth == PgAuth::Md5 {
            "md5"
        } else {
            "scram-sha-256"
        };
        let script = format!(
            "CREATE ROLE {} LOGIN PASSWORD {};\nCREATE DATABASE {} OWNER {};\n",
            sql_ident(&opts.user, '"'),
            sql_literal(&opts.password),
            sql_ident(&opts.database, '"'),
            sql_ident(&opts.user, '"'),
        );
        let mut c = Command::new(bin_dir.join("postgres"));
        c.arg("--single")
            .arg("-D")
            .arg(&data)
            .args([
                "-c",
                &format!("password_encryption={encryption}"),
                "postgres",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        as_pg(&mut c);
        let mut child = c.spawn().expect("postgres --single");
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(script.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("ERROR"),
            "creating the PostgreSQL role failed:\n{stderr}"
        );
        Postgres {
            opts,
            port: free_port(),
            dir,
            bin,
            user,
            proc: None,
            tls: false,
            max_connections: 30,
        }
    }

    /// Sets `max_connections` for the next [`Postgres::run`] (default 30; at least 2). Up to 3
    /// of them (one less than the total) stay reserved for superusers; once the others are
    /// taken the server answers SQLSTATE 53300 "sorry, too many clients already".
    pub fn set_max_connections(&mut self, n: u32) {
        self.max_connections = n.max(2);
    }

    /// Makes the next [`Postgres::run`] accept TLS (`ssl = on`) with a fresh certificate from
    /// a test CA ([`Postgres::tls_ca`]). Plain connections keep working.
    pub fn enable_tls(&mut self) {
        let data = self.data_dir();
        let certs = crate::certs::make(&data);
        use std::os::unix::fs::PermissionsExt;
        for path in [&certs.key, &certs.cert] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
            if let Some(u) = &self.user {
                chown(path, Some(u.uid), Some(u.gid)).unwrap();
            }
        }
        self.tls = true;
    }

    /// The CA of the certificate [`Postgres::enable_tls`] made (clients' `sslrootcert`).
    pub fn tls_ca(&self) -> PathBuf {
        self.data_dir().join("ca.pem")
    }

    /// Makes TCP clients use TLS: `pg_hba.conf`'s `host` lines become `hostssl`, so the server
    /// refuses plain TCP connections with SQLSTATE 28000. Call after [`Postgres::enable_tls`].
    pub fn require_tls_over_tcp(&mut self) {
        assert!(self.tls, "require_tls_over_tcp needs enable_tls first");
        let hba = self.data_dir().join("pg_hba.conf");
        let text = fs::read_to_string(&hba).unwrap();
        let text: String = text
            .lines()
            .map(|l| match l.strip_prefix("host ") {
                Some(rest) => format!("hostssl {rest}\n"),
                None => format!("{l}\n"),
            })
            .collect();
        fs::write(&hba, text).unwrap();
    }

    /// Prepares and runs a server.
    pub fn start(opts: PgOptions) -> Postgres {
        let mut pg = Postgres::prepare(opts);
        pg.run();
        pg
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the server and waits until it accepts connections (or, with
    /// `start_in_recovery`, until it has entered standby mode).
    pub fn run(&mut self) {
        assert!(self.proc.is_none(), "PostgreSQL is already running");
        let mut args = vec![
            "-D".to_owned(),
            self.data_dir().display().to_string(),
            "-p".into(),
            self.port.to_string(),
            "-k".into(),
            self.socket_dir().display().to_string(),
        ];
        for setting in [
            "listen_addresses=127.0.0.1,::1",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "shared_buffers=16MB",
            "logging_collector=off",
        ] {
            args.push("-c".into());
            args.push(setting.into());
        }
        args.push("-c".into());
        args.push(format!("max_connections={}", self.max_connections));
        args.push("-c".into());
        args.push(format!(
            "superuser_reserved_connections={}",
            3.min(self.max_connections.saturating_sub(1))
        ));
        if self.tls {
            for setting in [
                "ssl=on",
                "ssl_cert_file=server.crt",
                "ssl_key_file=server.key",
            ] {
                args.push("-c".into());
                args.push(setting.into());
            }
        }
        let needle = if self.opts.start_in_recovery {
            fs::write(self.data_dir().join("standby.signal"), "").unwrap();
            if let Some(u) = &self.user {
                let _ = chown(
                    &self.data_dir().join("standby.signal"),
                    Some(u.uid),
                    Some(u.gid),
                );
            }
            args.push("-c".into());
            args.push("hot_standby=off".into());
            "entering standby mode"
        } else {
            "database system is ready to accept connections"
        };
        let mut cmd = Command::new(&self.bin);
        cmd.args(&args)
            .current_dir(self.dir.path())
            .env("LC_ALL", "C");
        if let Some(u) = &self.user {
            use std::os::unix::process::CommandExt;
            cmd.uid(u.uid.as_raw()).gid(u.gid.as_raw());
        }
        let log = self.log_path();
        let from = log_len(&log);
        let mut proc = Proc::spawn("PostgreSQL", cmd, &log, Signal::SIGINT);
        proc.wait_for_log(from, needle);
        self.proc = Some(proc);
    }

    /// Ends recovery of a server started with `start_in_recovery` and waits until it accepts
    /// connections.
    pub fn promote(&mut self) {
        let log = self.log_path();
        let from = log_len(&log);
        let pg_ctl = self.bin.parent().unwrap().join("pg_ctl");
        let mut c = Command::new(pg_ctl);
        c.arg("promote").arg("-D").arg(self.data_dir()).arg("-W");
        if let Some(u) = &self.user {
            use std::os::unix::process::CommandExt;
            c.uid(u.uid.as_raw()).gid(u.gid.as_raw());
        }
        run_checked("pg_ctl promote", &mut c);
        self.opts.start_in_recovery = false;
        self.proc
            .as_mut()
            .expect("PostgreSQL is not running")
            .wait_for_log(from, "database system is ready to accept connections");
    }

    /// TCP port on 127.0.0.1 and ::1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Directory holding the unix socket `.s.PGSQL.<port>`.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// The server log (stdout and stderr).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// Options the server was created with (user, password, database, auth).
    pub fn options(&self) -> &PgOptions {
        &self.opts
    }

    /// `postgresql+psycopg2://USER:PASSWORD@127.0.0.1:PORT/DATABASE`, percent-encoded.
    pub fn url(&self) -> String {
        self.url_with("127.0.0.1", &self.opts.password)
    }

    /// Like [`Postgres::url`] with another host (e.g. `[::1]`, `localhost`) and password.
    pub fn url_with(&self, host: &str, password: &str) -> String {
        format!(
            "postgresql+psycopg2://{}:{}@{host}:{}/{}",
            encode(&self.opts.user),
            encode(password),
            self.port,
            encode(&self.opts.database)
        )
    }

    /// The URL over the unix socket: `postgresql://USER:PASSWORD@/DB?host=DIR&port=PORT`.
    pub fn socket_url(&self) -> String {
        format!(
            "postgresql://{}:{}@/{}?host={}&port={}",
            encode(&self.opts.user),
            encode(&self.opts.password),
            encode(&self.opts.database),
            self.socket_dir().display(),
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

lifecycle!(Postgres);

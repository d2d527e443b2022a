//! MariaDB on loopback for integration tests.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::{require_program, run_checked};

use super::common::*;

/// Options of [`MariaDb`].
#[derive(Debug, Clone)]
pub struct MariaDbOptions {
    /// Application user, allowed from any host, `mysql_native_password`. Default `airflow`.
    pub user: String,
    /// Its password. Default [`DEFAULT_PASSWORD`].
    pub password: String,
    /// Database the user may use. Default `airflow`.
    pub database: String,
}

impl Default for MariaDbOptions {
    fn default() -> Self {
        MariaDbOptions {
            user: "airflow".into(),
            password: DEFAULT_PASSWORD.into(),
            database: "airflow".into(),
        }
    }
}

/// A MariaDB server (`mariadbd`) on 127.0.0.1 and a unix socket, data initialised with
/// `mariadb-install-db`; the user and database are created by an init file at every start.
pub struct MariaDb {
    opts: MariaDbOptions,
    port: u16,
    dir: TempDir,
    bin: PathBuf,
    proc: Option<Proc>,
    max_connections: u32,
    tls_only: bool,
}

impl MariaDb {
    /// Initialises the data directory on a reserved port without starting the server.
    pub fn prepare(opts: MariaDbOptions) -> MariaDb {
        let bin = require_program("mariadbd", "mariadb-server", &["/usr/sbin"]);
        let install = require_program("mariadb-install-db", "mariadb-server", &[]);
        let dir = tempfile::Builder::new()
            .prefix("hangar-mariadb-")
            .tempdir()
            .expect("temp dir");
        // Each server gets its own tmpdir: at start-up mariadbd deletes every `#sql-temptable-*`
        // file it finds there, which breaks other servers initialising at the same time.
        let tmp = dir.path().join("tmp");
        fs::create_dir_all(&tmp).expect("mariadb tmpdir");
        let mut c = Command::new(install);
        c.arg("--no-defaults")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-log-file-size=4M",
                "--innodb-buffer-pool-size=16M",
            ]);
        if is_root() {
            c.arg("--user=root");
        }
        run_checked("mariadb-install-db", &mut c);
        let init = format!(
            "CREATE DATABASE IF NOT EXISTS {db};\nCREATE USER IF NOT EXISTS {u}@'%' IDENTIFIED BY {pw};\n\
             GRANT ALL PRIVILEGES ON {db}.* TO {u}@'%';\n",
            db = sql_ident(&opts.database, '`'),
            u = sql_literal(&opts.user),
            pw = sql_literal(&opts.password),
        );
        fs::write(dir.path().join("init.sql"), init).unwrap();
        MariaDb {
            opts,
            port: free_port(),
            dir,
            bin,
            proc: None,
            max_connections: 30,
            tls_only: false,
        }
    }

    /// Makes the next [`MariaDb::run`] accept TLS with a fresh certificate from a test CA
    /// and refuse every connection without it (`require_secure_transport`).
    pub fn require_tls(&mut self) {
        crate::certs::make(self.dir.path());
        self.tls_only = true;
    }

    /// Sets `max_connections` for the next [`MariaDb::run`] (default 30; MariaDB raises values
    /// below 10 to 10). Once that many clients (plus one, kept for an administrator) have
    /// logged in, the server answers ERR 1040 "Too many connections".
    pub fn set_max_connections(&mut self, n: u32) {
        self.max_connections = n;
    }

    /// Prepares and runs a server.
    pub fn start(opts: MariaDbOptions) -> MariaDb {
        let mut m = MariaDb::prepare(opts);
        m.run();
        m
    }

    /// Starts the server and waits until it is ready for connections.
    pub fn run(&mut self) {
        assert!(self.proc.is_none(), "MariaDB is already running");
        let d = self.dir.path();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg(format!("--tmpdir={}", d.join("tmp").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", self.socket_path().display()))
            .arg(format!("--pid-file={}", d.join("mariadb.pid").display()))
            .arg(format!("--init-file={}", d.join("init.sql").display()))
            .args([
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-log-file-size=4M",
                "--innodb-buffer-pool-size=16M",
                "--innodb-flush-log-at-trx-commit=0",
            ])
            .arg(format!("--max-connections={}", self.max_connections));
        if self.tls_only {
            cmd.arg(format!("--ssl-cert={}", d.join("server.crt").display()))
                .arg(format!("--ssl-ca={}", d.join("ca.pem").display()))
                .arg(format!("--ssl-key={}", d.join("server.key").display()))
                .arg("--require-secure-transport=ON");
        }
        if is_root() {
            cmd.arg("--user=root");
        }
        let log = self.log_path();
        let from = log_len(&log);
        let mut proc = Proc::spawn("MariaDB", cmd, &log, Signal::SIGTERM);
        proc.wait_for_log(from, "ready for connections");
        self.proc = Some(proc);
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The unix socket.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("mariadb.sock")
    }

    /// The server log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("mariadb.log")
    }

    /// Options the server was created with.
    pub fn options(&self) -> &MariaDbOptions {
        &self.opts
    }

    /// `mysql+mysqldb://USER:PASSWORD@127.0.0.1:PORT/DATABASE`, percent-encoded.
    pub fn url(&self) -> String {
        self.url_with("mysql+mysqldb", &self.opts.password)
    }

    /// Like [`MariaDb::url`] with another drivername (e.g. `mysql+pymysql`) and password.
    pub fn url_with(&self, drivername: &str, password: &str) -> String {
        format!(
            "{drivername}://{}:{}@127.0.0.1:{}/{}",
            encode(&self.opts.user),
            encode(password),
            self.port,
            encode(&self.opts.database)
        )
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

lifecycle!(MariaDb);

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

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User, chown};
use tempfile::TempDir;

use crate::require_program;

const READY_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// The password every server uses unless told otherwise. Contains URL-special characters on
/// purpose (`@`, `/`, `:`), so URLs must percent-encode it.
pub const DEFAULT_PASSWORD: &str = "s3cr@t/pw:x";

/// Percent-encodes a user name or password for a URL (everything but unreserved characters).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A free TCP port on 127.0.0.1, never handed out twice in this process.
pub fn free_port() -> u16 {
    static USED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let used = USED.get_or_init(Default::default);
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a port on 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        // Keep the port away from the Erlang distribution port (port + 1) of RabbitMQ too.
        if used.lock().unwrap().insert(port) {
            return port;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Spawns `cmd` in its own process group with `PR_SET_PDEATHSIG = SIGKILL`, from a thread
/// that lives as long as the test process (the death signal fires when the *thread* that
/// forked exits).
fn spawn_child(mut cmd: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("hangar-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("cannot start the spawner thread");
        Mutex::new(tx)
    });
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // SAFETY: the closure runs between fork and exec and only makes one prctl system call,
    // which is async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.lock()
        .unwrap()
        .send((cmd, reply_tx))
        .expect("spawner thread is gone");
    reply_rx.recv().expect("spawner thread is gone")
}

/// A running child process group with its log file.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    /// Signal asking the server to shut down cleanly.
    stop_signal: Signal,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command, log: &Path, stop_signal: Signal) -> Proc {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open log {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file");
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = spawn_child(cmd).unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
            stop_signal,
        }
    }

    /// Waits until the log (from byte `from` on) contains `needle`.
    fn wait_for_log(&mut self, from: u64, needle: &str) {
        let start = Instant::now();
        loop {
            let text = fs::read(&self.log).unwrap_or_default();
            let tail = &text[(from as usize).min(text.len())..];
            if String::from_utf8_lossy(tail).contains(needle) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before it was ready; log {}:\n{}",
                    self.name,
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            if start.elapsed() > READY_TIMEOUT {
                panic!(
                    "{} was not ready after {:?}; log {}:\n{}",
                    self.name,
                    READY_TIMEOUT,
                    self.log.display(),
                    log_tail(&self.log)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks the process group to stop, then kills it after [`STOP_TIMEOUT`].
    fn stop(mut self) {
        let pgid = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(pgid, self.stop_signal);
        let start = Instant::now();
        while start.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(_)) = self.child.try_wait() {
                // Stragglers in the group (e.g. erl_child_setup) go too.
                let _ = killpg(pgid, Signal::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(pgid, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn log_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Runs a one-off command to completion, panicking with its output on failure.
fn run_checked(what: &str, cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn require_file(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.is_file(),
        "`{path}` is required by this test and was not found. Install it with: \
         apt-get update && apt-get install -y {package}"
    );
    p
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Hands `dir` (recursively) to `user` when running as root.
fn chown_tree(dir: &Path, user: &User) {
    let _ = chown(dir, Some(user.uid), Some(user.gid));
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                chown_tree(&p, user);
            } else {
                let _ = chown(&p, Some(user.uid), Some(user.gid));
            }
        }
    }
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

fn sql_ident(s: &str, quote: char) -> String {
    let q = quote.to_string();
    format!("{quote}{}{quote}", s.replace(quote, &(q.clone() + &q)))
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

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

// ---------------------------------------------------------------------------------------------
// MariaDB

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

// ---------------------------------------------------------------------------------------------
// Redis

/// Options of [`Redis`].
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `requirepass` (the default user's password); `None` for an open server. Default
    /// [`DEFAULT_PASSWORD`].
    pub password: Option<String>,
    /// ACL users `(name, password)` with all permissions. Default `[("celery", "celery-pw")]`.
    pub acl_users: Vec<(String, String)>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            password: Some(DEFAULT_PASSWORD.into()),
            acl_users: vec![("celery".into(), "celery-pw".into())],
        }
    }
}

/// A Redis server (`redis-server`) on 127.0.0.1 and ::1, no persistence.
pub struct Redis {
    opts: RedisOptions,
    port: u16,
    dir: TempDir,
    bin: PathBuf,
    proc: Option<Proc>,
    slow_loading: bool,
    tls: bool,
}

impl Redis {
    /// Writes the configuration on a reserved port without starting the server.
    pub fn prepare(opts: RedisOptions) -> Redis {
        let bin = require_program("redis-server", "redis-server", &[]);
        let dir = tempfile::Builder::new()
            .prefix("hangar-redis-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let mut conf = format!(
            "port {port}\nbind 127.0.0.1 -::1\nsave \"\"\nappendonly no\ndaemonize no\n\
             logfile \"\"\ndir {}\ndbfilename dump.rdb\nenable-debug-command local\n",
            dir.path().display()
        );
        if let Some(pw) = &opts.password {
            let _ = writeln!(conf, "requirepass {}", redis_quote(pw));
        }
        for (name, pw) in &opts.acl_users {
            let _ = writeln!(conf, "user {name} on >{pw} ~* &* +@all");
        }
        fs::write(dir.path().join("redis.conf"), conf).unwrap();
        Redis {
            opts,
            port,
            dir,
            bin,
            proc: None,
            slow_loading: false,
            tls: false,
        }
    }

    /// Makes the next [`Redis::run`] serve TLS only on [`Redis::port`] (plain connections are
    /// not answered) with a fresh certificate from a test CA ([`Redis::tls_ca`]); clients
    /// need no certificate of their own. Passwords and ACL users stay as they are; use
    /// [`Redis::tls_url`] and [`Redis::acl_tls_url`].
    pub fn enable_tls(&mut self) {
        crate::certs::make(self.dir.path());
        self.tls = true;
    }

    /// Gives a prepared (not running) server a dataset of `keys` keys (`DEBUG POPULATE`, saved
    /// to its RDB file by a throwaway server) that every later start loads with
    /// `key-load-delay` = `key_load_delay_us`: the server listens but answers `-LOADING` for
    /// a while (the delay is coarse: 20 000 keys at 50 µs take a few seconds).
    /// [`Redis::run`] then returns as soon as loading has begun.
    pub fn seed_slow_dataset(&mut self, keys: u32, key_load_delay_us: u32) {
        assert!(self.proc.is_none(), "stop Redis before seeding a dataset");
        let d = self.dir.path();
        let base = format!(
            "port {}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndaemonize no\nlogfile \"\"\n\
             dir {}\ndbfilename dump.rdb\nenable-debug-command local\n",
            self.port,
            d.display()
        );
        fs::write(d.join("seed.conf"), base).unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.arg(d.join("seed.conf"));
        let mut seed = Proc::spawn("Redis (dataset)", cmd, &d.join("seed.log"), Signal::SIGTERM);
        seed.wait_for_log(0, "Ready to accept connections");
        redis_command(self.port, &["DEBUG", "POPULATE", &keys.to_string()]);
        redis_command(self.port, &["SAVE"]);
        seed.stop();
        // Answer clients (with -LOADING) while loading, not only every 2 MB of RDB.
        let mut conf = fs::read_to_string(d.join("redis.conf")).unwrap();
        let _ = writeln!(
            conf,
            "key-load-delay {key_load_delay_us}\nloading-process-events-interval-bytes 1024"
        );
        fs::write(d.join("redis.conf"), conf).unwrap();
        self.slow_loading = key_load_delay_us > 0;
    }

    /// Prepares and runs a server.
    pub fn start(opts: RedisOptions) -> Redis {
        let mut r = Redis::prepare(opts);
        r.run();
        r
    }

    /// Starts the server and waits until it accepts connections.
    pub fn run(&mut self) {
        assert!(self.proc.is_none(), "Redis is already running");
        let d = self.dir.path();
        let mut cmd = Command::new(&self.bin);
        cmd.arg(d.join("redis.conf"));
        if self.tls {
            // Command-line options override the file's `port`.
            cmd.args(["--port", "0", "--tls-port", &self.port.to_string()])
                .arg("--tls-cert-file")
                .arg(d.join("server.crt"))
                .arg("--tls-key-file")
                .arg(d.join("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(self.tls_ca())
                .args(["--tls-auth-clients", "no"]);
        }
        let log = self.log_path();
        let from = log_len(&log);
        let mut proc = Proc::spawn("Redis", cmd, &log, Signal::SIGTERM);
        let needle = if self.slow_loading {
            "Loading RDB produced"
        } else {
            "Ready to accept connections"
        };
        proc.wait_for_log(from, needle);
        self.proc = Some(proc);
    }

    /// TCP port on 127.0.0.1 and ::1 (TLS only after [`Redis::enable_tls`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// The test CA (PEM) of the certificate [`Redis::enable_tls`] made, usable as the
    /// clients' CA bundle.
    pub fn tls_ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Options the server was created with.
    pub fn options(&self) -> &RedisOptions {
        &self.opts
    }

    /// `redis://:PASSWORD@127.0.0.1:PORT/0` (or without credentials for an open server).
    pub fn url(&self) -> String {
        self.url_with_scheme("redis")
    }

    /// `redis://USER:PASSWORD@127.0.0.1:PORT/0` for an ACL user.
    pub fn acl_url(&self, user: &str, password: &str) -> String {
        self.acl_url_with_scheme("redis", user, password)
    }

    /// Like [`Redis::url`] with scheme `rediss://`, for a server with [`Redis::enable_tls`].
    pub fn tls_url(&self) -> String {
        self.url_with_scheme("rediss")
    }

    /// Like [`Redis::acl_url`] with scheme `rediss://`, for a server with
    /// [`Redis::enable_tls`].
    pub fn acl_tls_url(&self, user: &str, password: &str) -> String {
        self.acl_url_with_scheme("rediss", user, password)
    }

    fn url_with_scheme(&self, scheme: &str) -> String {
        match &self.opts.password {
            Some(pw) => format!("{scheme}://:{}@127.0.0.1:{}/0", encode(pw), self.port),
            None => format!("{scheme}://127.0.0.1:{}/0", self.port),
        }
    }

    fn acl_url_with_scheme(&self, scheme: &str, user: &str, password: &str) -> String {
        format!(
            "{scheme}://{}:{}@127.0.0.1:{}/0",
            encode(user),
            encode(password),
            self.port
        )
    }
}

/// Sends one command to an open Redis on 127.0.0.1:`port` and panics unless it succeeds.
fn redis_command(port: u16, args: &[&str]) {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to Redis");
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        let _ = write!(req, "${}\r\n{a}\r\n", a.len());
    }
    stream.write_all(req.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    assert!(line.starts_with('+'), "Redis {args:?} failed: {line}");
}

fn redis_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ

/// Options of [`RabbitMq`].
#[derive(Debug, Clone)]
pub struct RabbitMqOptions {
    /// Default user (administrator, vhost `/`). Default `airflow`.
    pub user: String,
    /// Its password. Default [`DEFAULT_PASSWORD`].
    pub password: String,
}

impl Default for RabbitMqOptions {
    fn default() -> Self {
        RabbitMqOptions {
            user: "airflow".into(),
            password: DEFAULT_PASSWORD.into(),
        }
    }
}

/// A RabbitMQ node (`/usr/lib/rabbitmq/bin/rabbitmq-server`, run directly as the current
/// user) with its own `epmd` on a free port, Erlang distribution bound to 127.0.0.1, host
/// lookups from `/etc/hosts` only. Starting takes about 10 s.
pub struct RabbitMq {
    opts: RabbitMqOptions,
    port: u16,
    dist_port: u16,
    epmd_port: u16,
    dir: TempDir,
    bin: PathBuf,
    epmd: Option<Proc>,
    proc: Option<Proc>,
    tls_port: Option<u16>,
}

impl RabbitMq {
    /// Writes the configuration on reserved ports without starting the node.
    pub fn prepare(opts: RabbitMqOptions) -> RabbitMq {
        let bin = require_file("/usr/lib/rabbitmq/bin/rabbitmq-server", "rabbitmq-server");
        require_program("epmd", "erlang-base", &[]);
        let dir = tempfile::Builder::new()
            .prefix("hangar-rabbitmq-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let dist_port = free_port();
        let epmd_port = free_port();
        for sub in ["home", "mnesia", "log"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let conf = format!(
            "listeners.tcp.default = 127.0.0.1:{port}\ndefault_user = {}\ndefault_pass = {}\n\
             loopback_users = none\n",
            opts.user, opts.password
        );
        fs::write(dir.path().join("rabbitmq.conf"), conf).unwrap();
        fs::write(
            dir.path().join("inetrc"),
            "{lookup, [file]}.\n{hosts_file, \"/etc/hosts\"}.\n",
        )
        .unwrap();
        fs::write(dir.path().join("enabled_plugins"), "[].\n").unwrap();
        RabbitMq {
            opts,
            port,
            dist_port,
            epmd_port,
            dir,
            bin,
            epmd: None,
            proc: None,
            tls_port: None,
        }
    }

    /// Makes the next [`RabbitMq::run`] also listen with TLS (AMQPS) on 127.0.0.1 on a second
    /// free port ([`RabbitMq::tls_port`]), with a fresh certificate
    /// from a test CA ([`RabbitMq::tls_ca`]); clients need no certificate of their own
    /// (`verify_none`). The plain AMQP port keeps working.
    pub fn enable_tls(&mut self) {
        let d = self.dir.path();
        // The node runs as the current user, who owns the key openssl writes.
        let certs = crate::certs::make(d);
        if self.tls_port.is_none() {
            let port = free_port();
            let mut conf = fs::read_to_string(d.join("rabbitmq.conf")).unwrap();
            let _ = write!(
                conf,
                "listeners.ssl.default = 127.0.0.1:{port}\n\
                 ssl_options.certfile = {cert}\nssl_options.keyfile = {key}\n\
                 ssl_options.cacertfile = {ca}\nssl_options.verify = verify_none\n\
                 ssl_options.fail_if_no_peer_cert = false\n",
                cert = certs.cert.display(),
                key = certs.key.display(),
                ca = certs.ca.display(),
            );
            fs::write(d.join("rabbitmq.conf"), conf).unwrap();
            self.tls_port = Some(port);
        }
    }

    /// Prepares and runs a node.
    pub fn start(opts: RabbitMqOptions) -> RabbitMq {
        let mut r = RabbitMq::prepare(opts);
        r.run();
        r
    }

    /// Starts `epmd` and the node, and waits until the node has started its listeners.
    pub fn run(&mut self) {
        assert!(self.proc.is_none(), "RabbitMQ is already running");
        let d = self.dir.path();
        if self.epmd.is_none() {
            let mut cmd = Command::new("epmd");
            cmd.args([
                "-port",
                &self.epmd_port.to_string(),
                "-address",
                "127.0.0.1",
            ]);
            let epmd = Proc::spawn("epmd", cmd, &d.join("epmd.log"), Signal::SIGTERM);
            // epmd needs a moment to listen; the node retries its registration anyway.
            let start = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", self.epmd_port)).is_err()
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            self.epmd = Some(epmd);
        }
        let mut cmd = Command::new(&self.bin);
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C.UTF-8")
            .env("HOME", d.join("home"))
            .env("ERL_INETRC", d.join("inetrc"))
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env(
                "RABBITMQ_NODENAME",
                format!("hangar{}@localhost", self.port),
            )
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_PLUGINS_EXPAND_DIR", d.join("plugins-expand"))
            .env("RABBITMQ_LOGS", "-")
            .env(
                "RABBITMQ_SERVER_START_ARGS",
                "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
            )
            .current_dir(d);
        let log = self.log_path();
        let from = log_len(&log);
        let mut proc = Proc::spawn("RabbitMQ", cmd, &log, Signal::SIGTERM);
        proc.wait_for_log(from, "Server startup complete");
        self.proc = Some(proc);
    }

    /// AMQP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// AMQPS (TLS) port on 127.0.0.1. Panics unless [`RabbitMq::enable_tls`] was called.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
            .expect("RabbitMq::tls_port needs RabbitMq::enable_tls first")
    }

    /// The test CA (PEM) of the certificate [`RabbitMq::enable_tls`] made, usable as the
    /// clients' CA bundle.
    pub fn tls_ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The node's log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("rabbitmq.log")
    }

    /// Options the node was created with.
    pub fn options(&self) -> &RabbitMqOptions {
        &self.opts
    }

    /// `amqp://USER:PASSWORD@127.0.0.1:PORT//` (vhost `/`).
    pub fn url(&self) -> String {
        format!(
            "amqp://{}:{}@127.0.0.1:{}//",
            encode(&self.opts.user),
            encode(&self.opts.password),
            self.port
        )
    }

    /// `amqps://USER:PASSWORD@127.0.0.1:TLSPORT//` (vhost `/`). Panics unless
    /// [`RabbitMq::enable_tls`] was called.
    pub fn tls_url(&self) -> String {
        format!(
            "amqps://{}:{}@127.0.0.1:{}//",
            encode(&self.opts.user),
            encode(&self.opts.password),
            self.tls_port()
        )
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        self.stop();
        if let Some(p) = self.epmd.take() {
            p.stop();
        }
    }
}

/// The life-cycle methods every server shares: each keeps its running process in
/// `self.proc` and defines its own `run`.
macro_rules! lifecycle {
    ($server:ident) => {
        impl $server {
            /// Stops the server. Data and port are kept for a later `run`.
            pub fn stop(&mut self) {
                if let Some(p) = self.proc.take() {
                    p.stop();
                }
            }

            /// Stops and starts again.
            pub fn restart(&mut self) {
                self.stop();
                self.run();
            }

            /// Whether the server process runs.
            pub fn is_running(&self) -> bool {
                self.proc.is_some()
            }

            /// Process id of the running server (also its process group id).
            pub fn pid(&self) -> Option<u32> {
                self.proc.as_ref().map(|p| p.child.id())
            }

            /// Runs the server after `delay` on another thread; join the handle to get it back.
            pub fn start_after(mut self, delay: Duration) -> JoinHandle<$server> {
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    self.run();
                    self
                })
            }
        }
    };
}

lifecycle!(Postgres);
lifecycle!(MariaDb);
lifecycle!(Redis);
lifecycle!(RabbitMq);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_escapes_url_specials() {
        assert_eq!(encode(DEFAULT_PASSWORD), "s3cr%40t%2Fpw%3Ax");
        assert_eq!(encode("a-b_c.d~"), "a-b_c.d~");
    }

    #[test]
    fn free_ports_are_unique() {
        let a = free_port();
        let b = free_port();
        assert_ne!(a, b);
    }
}

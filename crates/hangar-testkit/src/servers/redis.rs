//! Redis on loopback for integration tests.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::require_program;

use super::common::*;

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

lifecycle!(Redis);

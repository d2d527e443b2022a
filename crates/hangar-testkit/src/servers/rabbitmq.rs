//! RabbitMQ on loopback for integration tests.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::require_program;

use super::common::*;

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

lifecycle!(RabbitMq);

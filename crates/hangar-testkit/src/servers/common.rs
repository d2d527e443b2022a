//! What the servers share: free ports, URL encoding, child processes with their logs, data
//! directories and the life-cycle methods.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, User, chown};

pub(super) const READY_TIMEOUT: Duration = Duration::from_secs(90);
pub(super) const STOP_TIMEOUT: Duration = Duration::from_secs(15);

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
pub(crate) fn spawn_child(mut cmd: Command) -> std::io::Result<Child> {
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

/// Starts `cmd` with [`spawn_child`] (its own process group, killed with the test process),
/// stdin closed, stdout and stderr appended to `log`. Panics naming `name` when it cannot.
pub(crate) fn spawn_logged(name: &str, mut cmd: Command, log: &Path) -> Child {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("cannot open log {}: {e}", log.display()));
    let err = out.try_clone().expect("clone log file");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    spawn_child(cmd).unwrap_or_else(|e| panic!("cannot start {name}: {e}"))
}

/// A running child process group with its log file.
pub(super) struct Proc {
    name: String,
    pub(super) child: Child,
    log: PathBuf,
    /// Signal asking the server to shut down cleanly.
    stop_signal: Signal,
}

impl Proc {
    pub(super) fn spawn(name: &str, cmd: Command, log: &Path, stop_signal: Signal) -> Proc {
        Proc {
            name: name.to_owned(),
            child: spawn_logged(name, cmd, log),
            log: log.to_owned(),
            stop_signal,
        }
    }

    /// Waits until the log (from byte `from` on) contains `needle`.
    pub(super) fn wait_for_log(&mut self, from: u64, needle: &str) {
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
    pub(super) fn stop(mut self) {
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

pub(super) fn log_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

pub(super) fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

pub(super) fn require_file(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.is_file(),
        "`{path}` is required by this test and was not found. Install it with: \
         apt-get update && apt-get install -y {package}"
    );
    p
}

pub(super) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Hands `dir` (recursively) to `user` when running as root.
pub(super) fn chown_tree(dir: &Path, user: &User) {
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

pub(super) fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

pub(super) fn sql_ident(s: &str, quote: char) -> String {
    let q = quote.to_string();
    format!("{quote}{}{quote}", s.replace(quote, &(q.clone() + &q)))
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
            pub fn start_after(
                mut self,
                delay: std::time::Duration,
            ) -> std::thread::JoinHandle<$server> {
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    self.run();
                    self
                })
            }
        }
    };
}

pub(super) use lifecycle;

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

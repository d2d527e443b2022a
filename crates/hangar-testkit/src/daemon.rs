//! Long-running commands a test starts itself (`airflow scheduler`, `airflow triggerer`, …),
//! each in a process group of its own with its output in a log file.
//!
//! The whole group is killed when the [`Daemon`] is dropped, and it dies with the test process
//! even when that is killed (`PR_SET_PDEATHSIG`, as for the servers).
//!
//! ```no_run
//! let mut cmd = std::process::Command::new("sleep");
//! cmd.arg("600");
//! let log = std::env::temp_dir().join("sleep.log");
//! let mut d = hangar_testkit::daemon::Daemon::spawn("sleep", cmd, &log);
//! d.terminate(); // SIGTERM to the main process only, as docker stop does to PID 1
//! let status = d.wait_exit(std::time::Duration::from_secs(5));
//! # let _ = status;
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::servers::common::spawn_logged;

/// A running command in its own process group.
pub struct Daemon {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `cmd` (stdin closed, stdout and stderr appended to `log`) in a new process group.
    pub fn spawn(name: &str, cmd: Command, log: &Path) -> Daemon {
        Daemon {
            name: name.to_owned(),
            child: spawn_logged(name, cmd, log),
            log: log.to_owned(),
        }
    }

    /// The main process's id (also the process group's id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last 40 lines of the log, for assertion messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("{} log {}:\n{tail}", self.name, self.log.display())
    }

    /// The exit status when the main process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends SIGTERM to the main process only.
    pub fn terminate(&self) {
        let _ = kill(self.group(), Signal::SIGTERM);
    }

    /// Kills the whole process group with SIGKILL and reaps the main process: nothing in it
    /// gets to clean up.
    pub fn kill(&mut self) {
        let _ = killpg(self.group(), Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Waits up to `timeout` for the main process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn group(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits in i32"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Stragglers of an exited main process (workers, log servers) go too.
        self.kill();
    }
}

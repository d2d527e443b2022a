//! PID 1 duties: run the command as a child, forward signals, reap zombies, pass exit codes.
//!
//! [`Supervisor`] is a small init in the spirit of tini and dumb-init, used by
//! `hangar entrypoint` and by the standalone `hangar init`:
//!
//! - **Signals.** [`Supervisor::new`] blocks every signal except the synchronous fault signals
//!   (`SIGSEGV`, `SIGBUS`, `SIGFPE`, `SIGILL`, `SIGTRAP`, `SIGABRT`, `SIGSYS`) and receives them
//!   through a `signalfd`, so PID 1 never dies of a default disposition. While a command runs,
//!   every received signal except `SIGCHLD` is forwarded to it: `TERM INT HUP QUIT USR1 USR2
//!   WINCH CONT ALRM PIPE PWR URG IO PROF VTALRM XCPU XFSZ STKFLT`, the real-time signals, and the
//!   job-control signals `TSTP TTIN TTOU`. hangar itself is never stopped by the latter (it
//!   blocks them), unlike dumb-init, which suspends itself too: PID 1 of a container should stay
//!   responsive. `SIGKILL` and `SIGSTOP` cannot be caught.
//! - **Sessions** (`DUMB_INIT_SETSID`, see [`setsid_from_env`]). With setsid (the default) the
//!   command starts in a session and process group of its own, takes stdin's terminal as its
//!   controlling terminal when it can, and signals go to the whole group (`kill(-pgid)`). Without
//!   setsid the command gets a process group of its own (and the terminal's foreground, so Ctrl-C
//!   reaches it once), but signals go to the command's pid only: what Celery needs for a warm
//!   shutdown, since its pool processes must not see the TERM.
//! - **Zombies.** On every `SIGCHLD` all terminated children are reaped with
//!   `waitpid(-1, WNOHANG)` until none is left, including orphans the kernel reparents to hangar:
//!   as PID 1 that is automatic; otherwise [`Supervisor::new`] makes hangar a child subreaper.
//!   While a command runs, its end is also checked for once a second, so a lost `SIGCHLD`
//!   delays the return by at most that. A parent's `SIG_IGN` for `SIGCHLD` is undone (it
//!   would let the kernel discard the exit status).
//! - **Exit.** [`Outcome::code`] is the command's exit code, `128 + n` when signal `n` killed it,
//!   127 when the program does not exist and 126 when it cannot be executed. When the command
//!   ends in setsid mode, whatever is left of its process group gets a `SIGTERM`, as dumb-init
//!   does; hangar does not wait for those processes (as PID 1, its own exit ends them all).
//!   Processes that left the group (their own `setsid`) are the command's responsibility.
//! - **Stop requests.** `TERM`, `INT` or `QUIT` received while a command runs, or those and `HUP`
//!   received while none runs (for example during the entrypoint's database wait), are stop
//!   requests: they are forwarded if there is a command, and every later [`Supervisor::run`]
//!   returns `128 + n` at once without starting anything, so a container that is being stopped
//!   does not go on to its next step. [`Supervisor::sleep`] lets a waiting caller notice them.
//!   Other signals received while no command runs have no one to go to and are dropped.
//!
//! hangar writes nothing to stdout; its own messages go to stderr prefixed with `hangar:`.

/// A message on stderr (the library never prints to stdout: the command's stdout is its own).
/// A failed write to stderr is ignored: there is nowhere else to report it.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod error;
mod linux;
mod sys;

use std::ffi::{OsStr, OsString};
use std::time::{Duration, Instant};

pub use error::InitError;
use nix::errno::Errno;
use sys::{ChildStatus, Event, Sys};

/// The command the supervisor runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSpec {
    /// The program, looked up in the `PATH` of [`ChildSpec::env`] when it has no slash.
    pub program: OsString,
    /// Its arguments (without `argv[0]`).
    pub args: Vec<OsString>,
    /// The child's complete environment (nothing is inherited implicitly).
    pub env: Vec<(OsString, OsString)>,
}

impl ChildSpec {
    /// `program args...` with the complete environment `env` (copied; anything that converts
    /// by reference into the list of pairs, such as a slice of them).
    pub fn new<I, S, E>(program: impl Into<OsString>, args: I, env: &E) -> ChildSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
        E: ?Sized,
        for<'a> &'a E: Into<Vec<(OsString, OsString)>>,
    {
        ChildSpec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: env.into(),
        }
    }

    /// A command with the current process's environment.
    pub fn inheriting_env(program: impl Into<OsString>, args: Vec<OsString>) -> ChildSpec {
        ChildSpec {
            program: program.into(),
            args,
            env: std::env::vars_os().collect(),
        }
    }

    /// The command line for messages (callers pass no secrets in arguments they print).
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How the supervisor runs commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitOptions {
    /// Run the command in its own session and signal its whole process group.
    pub setsid: bool,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions { setsid: true }
    }
}

/// Parses `DUMB_INIT_SETSID`: unset, empty or `1` mean setsid mode, `0` means signal the child
/// only; anything else is an error naming the variable.
pub fn setsid_from_env(value: Option<&OsStr>) -> Result<bool, InitError> {
    match value.map(|v| v.as_encoded_bytes()) {
        None | Some(b"" | b"1") => Ok(true),
        Some(b"0") => Ok(false),
        Some(_) => Err(InitError::InvalidSetsid {
            value: value.unwrap_or_default().to_string_lossy().into_owned(),
        }),
    }
}

/// How a supervised command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code hangar should exit with: the command's own, `128 + n` when signal `n`
    /// killed it, 127 when the program was not found and 126 when it could not be executed.
    pub code: u8,
}

impl Outcome {
    fn from_status(status: ChildStatus) -> Outcome {
        match status {
            ChildStatus::Exited(code) => Outcome { code },
            ChildStatus::Signaled(signal) => Outcome::killed_by(signal),
        }
    }

    fn killed_by(signal: i32) -> Outcome {
        Outcome {
            code: u8::try_from(128 + signal).unwrap_or(u8::MAX),
        }
    }
}

/// How often a running command's end is checked for even without a SIGCHLD (as tini does).
const RECHECK: Duration = Duration::from_secs(1);

/// The init: runs commands one after another as children, forwards signals, reaps zombies.
pub struct Supervisor {
    sys: Box<dyn Sys>,
    setsid: bool,
    /// The first stop request (signal number), sticky; see the module documentation.
    stop: Option<i32>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("setsid", &self.setsid)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Takes over signal handling: blocks all catchable signals in the calling thread (so PID 1
    /// never dies of a default disposition) and receives them through a `signalfd`; when not
    /// PID 1, becomes a child subreaper so orphans are reparented to hangar.
    ///
    /// Call it early, from the main thread, before any other thread exists: threads started
    /// earlier keep their own signal mask and a signal delivered to them would act with its
    /// default disposition. Threads started afterwards inherit the blocked mask.
    pub fn new(opts: InitOptions) -> Result<Supervisor, InitError> {
        let sys = linux::LinuxSys::new(opts.setsid)?;
        Ok(Supervisor::with_sys(Box::new(sys), opts))
    }

    fn with_sys(sys: Box<dyn Sys>, opts: InitOptions) -> Supervisor {
        Supervisor {
            sys,
            setsid: opts.setsid,
            stop: None,
        }
    }

    /// Runs the command until it exits, forwarding every signal received meanwhile and reaping
    /// every zombie; see the module documentation. May be called several times in sequence.
    pub fn run(&mut self, spec: &ChildSpec) -> Result<Outcome, InitError> {
        self.supervise(spec, false).map(|(outcome, _)| outcome)
    }

    /// Like [`Supervisor::run`], but returns what the command wrote to stdout (stderr is
    /// inherited). Output written by processes that outlive the command is not waited for.
    pub fn run_capture(&mut self, spec: &ChildSpec) -> Result<(Outcome, Vec<u8>), InitError> {
        self.supervise(spec, true)
    }

    /// Sleeps for `duration` while reaping zombies and watching for stop requests. Returns the
    /// outcome hangar should exit with when a stop request arrived (now or earlier).
    pub fn sleep(&mut self, duration: Duration) -> Result<Option<Outcome>, InitError> {
        let deadline = Instant::now() + duration;
        while self.stop.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event("(waiting)", Some(left))? {
                Event::Timeout => break,
                event => self.handle_idle(event, "(waiting)")?,
            }
        }
        Ok(self.stop_requested())
    }

    /// The outcome to exit with if a stop request (TERM, INT, QUIT; HUP while idle) was received.
    pub fn stop_requested(&self) -> Option<Outcome> {
        self.stop.map(Outcome::killed_by)
    }

    fn supervise(
        &mut self,
        spec: &ChildSpec,
        capture: bool,
    ) -> Result<(Outcome, Vec<u8>), InitError> {
        if spec.program.is_empty() {
            return Err(InitError::EmptyCommand);
        }
        let program = spec.program.to_string_lossy().into_owned();
        self.drain_pending(&program)?;
        if let Some(signal) = self.stop {
            note!(
                "hangar: not starting `{program}`: {} was received (the container is stopping)",
                signal_name(signal)
            );
            return Ok((Outcome::killed_by(signal), Vec::new()));
        }

        let pid = match self.sys.spawn(spec, self.setsid, capture) {
            Ok(pid) => pid,
            Err(err) => {
                return match exec_failure_code(&err) {
                    Some(code) => {
                        note!("hangar: cannot run `{program}`: {err}");
                        Ok((Outcome { code }, Vec::new()))
                    }
                    None => Err(InitError::Spawn {
                        program,
                        source: err,
                    }),
                };
            }
        };

        let mut output = Vec::new();
        let mut output_open = capture;
        let status = loop {
            match self.next_event(&program, Some(RECHECK))? {
                Event::Signal(libc::SIGCHLD) => {
                    if let Some(status) = self.reap_all(&program, Some(pid))? {
                        break status;
                    }
                }
                Event::Signal(signal) => {
                    self.forward(pid, signal);
                    if is_stop_while_running(signal) {
                        self.stop.get_or_insert(signal);
                    }
                }
                Event::Output(bytes) => output.extend_from_slice(&bytes),
                Event::OutputClosed => output_open = false,
                // A SIGCHLD can be lost (another thread of the process consumed it, or the
                // caller ignored SIGCHLD once): look for the command's end anyway.
                Event::Timeout => {
                    if let Some(status) = self.reap_all(&program, Some(pid))? {
                        break status;
                    }
                }
            }
        };

        if self.setsid {
            // Like dumb-init: what is left of the command's process group is asked to stop.
            match self.sys.kill(-pid, libc::SIGTERM) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(err) => note!(
                    "hangar: warning: cannot send SIGTERM to the processes left by `{program}`: {err}"
                ),
            }
        }
        // Collect output still buffered in the pipe, and whatever zombies exist now.
        while output_open {
            match self.next_event(&program, Some(Duration::ZERO))? {
                Event::Output(bytes) => output.extend_from_slice(&bytes),
                Event::OutputClosed | Event::Timeout => output_open = false,
                event => self.handle_idle(event, &program)?,
            }
        }
        self.reap_all(&program, None)?;
        Ok((Outcome::from_status(status), output))
    }

    /// Handles whatever arrived while no command ran.
    fn drain_pending(&mut self, program: &str) -> Result<(), InitError> {
        loop {
            match self.next_event(program, Some(Duration::ZERO))? {
                Event::Timeout => return Ok(()),
                event => self.handle_idle(event, program)?,
            }
        }
    }

    fn handle_idle(&mut self, event: Event, program: &str) -> Result<(), InitError> {
        match event {
            Event::Signal(libc::SIGCHLD) => {
                self.reap_all(program, None)?;
            }
            Event::Signal(signal) if is_stop_while_idle(signal) => {
                self.stop.get_or_insert(signal);
            }
            // Nobody to forward to; stray output of an earlier command is discarded.
            Event::Signal(_) | Event::Output(_) | Event::OutputClosed | Event::Timeout => {}
        }
        Ok(())
    }

    /// Reaps every terminated child; returns the status of `main` if it was among them.
    fn reap_all(
        &mut self,
        program: &str,
        main: Option<i32>,
    ) -> Result<Option<ChildStatus>, InitError> {
        let mut main_status = None;
        while let Some((pid, status)) = self.sys.reap_one().map_err(|source| InitError::Wait {
            program: program.to_owned(),
            what: "reaping children",
            source,
        })? {
            if Some(pid) == main {
                main_status = Some(status);
            }
        }
        Ok(main_status)
    }

    fn forward(&mut self, pid: i32, signal: i32) {
        let target = if self.setsid { -pid } else { pid };
        let result = match self.sys.kill(target, signal) {
            // The group can be missing for an instant before the child's setsid(): send it to
            // the child itself.
            Err(Errno::ESRCH) if self.setsid => self.sys.kill(pid, signal),
            other => other,
        };
        match result {
            // The command already exited; its SIGCHLD is on the way.
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(err) => note!(
                "hangar: warning: cannot forward {} to pid {target}: {err}",
                signal_name(signal)
            ),
        }
    }

    fn next_event(&mut self, program: &str, timeout: Option<Duration>) -> Result<Event, InitError> {
        self.sys
            .next_event(timeout)
            .map_err(|source| InitError::Wait {
                program: program.to_owned(),
                what: "waiting for signals",
                source,
            })
    }
}

fn is_stop_while_running(signal: i32) -> bool {
    matches!(signal, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT)
}

fn is_stop_while_idle(signal: i32) -> bool {
    is_stop_while_running(signal) || signal == libc::SIGHUP
}

/// Shell conventions: 127 for a missing program, 126 for one that cannot be executed.
fn exec_failure_code(err: &std::io::Error) -> Option<u8> {
    match err.raw_os_error()? {
        libc::ENOENT | libc::ENOTDIR => Some(127),
        libc::EACCES | libc::ENOEXEC | libc::EISDIR | libc::EPERM => Some(126),
        _ => None,
    }
}

/// `SIGTERM`-style name of a signal number (`SIGRTMIN+n` for real-time signals).
pub fn signal_name(signal: i32) -> String {
    match nix::sys::signal::Signal::try_from(signal) {
        Ok(named) => named.as_str().to_owned(),
        Err(_) if signal >= libc::SIGRTMIN() => format!("SIGRTMIN+{}", signal - libc::SIGRTMIN()),
        Err(_) => format!("signal {signal}"),
    }
}

#[cfg(test)]
mod tests;

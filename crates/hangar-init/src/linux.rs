//! The real [`Sys`]: signals received through a `signalfd`, children started with `std`'s
//! `Command` plus an async-signal-safe `pre_exec` hook, reaping with `waitpid(-1, WNOHANG)`.
//!
//! The unsafe code here is confined to the calls `nix` does not wrap for raw (real-time) signal
//! numbers and to the `pre_exec` hook that runs between `fork` and `exec`.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{getpid, getsid};

use super::InitError;
use super::sys::{ChildStatus, Event, Sys};
use crate::ChildSpec;

/// Signals that report a fault of the thread that receives them. They are never blocked: a bug
/// in hangar must crash it rather than spin, and they make no sense to forward.
const SYNCHRONOUS: [Signal; 7] = [
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
];

/// Every signal hangar takes over: all of them (real-time ones included) except the
/// synchronous ones. `SIGKILL` and `SIGSTOP` are in the set but the kernel never blocks them.
pub(crate) fn supervised_signals() -> SigSet {
    let mut set = SigSet::all();
    for signal in SYNCHRONOUS {
        set.remove(signal);
    }
    set
}

/// The real operating system.
pub(crate) struct LinuxSys {
    signals: SignalFd,
    /// Read end of the captured child's stdout, while it is open.
    capture: Option<std::fs::File>,
    /// Signals read early (while detaching from the terminal) and not yet reported.
    queued: VecDeque<Event>,
    /// Highest signal number, computed before any `fork` so the child hook does not have to.
    sigrtmax: i32,
}

impl LinuxSys {
    /// Takes over signal handling in the calling thread; see [`super::Supervisor::new`].
    pub(crate) fn new(setsid: bool) -> Result<Self, InitError> {
        let set = supervised_signals();
        set.thread_block().map_err(|source| InitError::Signals {
            what: "blocking signals",
            source,
        })?;
        // A parent that ignored SIGCHLD would make the kernel reap hangar's children itself,
        // hiding the command's exit status.
        // SAFETY: installs the default disposition, no handler code involved.
        unsafe { nix::sys::signal::signal(Signal::SIGCHLD, nix::sys::signal::SigHandler::SigDfl) }
            .map_err(|source| InitError::Signals {
                what: "restoring the default SIGCHLD disposition",
                source,
            })?;
        let signals = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|source| InitError::Signals {
                what: "opening a signalfd",
                source,
            })?;
        let mut sys = LinuxSys {
            signals,
            capture: None,
            queued: VecDeque::new(),
            sigrtmax: libc::SIGRTMAX(),
        };
        if getpid().as_raw() != 1
            && let Err(err) = nix::sys::prctl::set_child_subreaper(true)
        {
            note!(
                "hangar: warning: cannot become a child subreaper ({err}); processes orphaned by \
                 the command will not be reaped by hangar. Run hangar as PID 1 to avoid this."
            );
        }
        if setsid {
            sys.release_terminal()?;
        }
        Ok(sys)
    }

    /// In setsid mode the child's new session takes over stdin's terminal as its controlling
    /// terminal, which is only possible once hangar's own session lets go of it. When hangar leads
    /// the session owning the terminal (as PID 1 under `docker run -t`), detaching makes the kernel
    /// send SIGHUP and SIGCONT to the foreground group, hangar included: those two are kernel
    /// side effects, not requests, and are dropped rather than forwarded.
    fn release_terminal(&mut self) -> Result<(), InitError> {
        // SAFETY: isatty and ioctl(TIOCNOTTY) only inspect/modify the calling process's
        // terminal association; no memory is passed.
        let is_tty = unsafe { libc::isatty(libc::STDIN_FILENO) } == 1;
        if !is_tty || getsid(None).ok() != Some(getpid()) {
            return Ok(());
        }
        // SAFETY: see above.
        if unsafe { libc::ioctl(libc::STDIN_FILENO, libc::TIOCNOTTY) } != 0 {
            return Ok(());
        }
        let (mut hup, mut cont) = (false, false);
        while let Some(info) = self.read_signal().map_err(|source| InitError::Signals {
            what: "reading signals after detaching from the terminal",
            source,
        })? {
            match info {
                libc::SIGHUP if !hup => hup = true,
                libc::SIGCONT if !cont => cont = true,
                other => self.queued.push_back(Event::Signal(other)),
            }
        }
        Ok(())
    }

    fn read_signal(&self) -> Result<Option<i32>, Errno> {
        loop {
            match self.signals.read_signal() {
                Ok(Some(info)) => return Ok(i32::try_from(info.ssi_signo).ok()),
                Ok(None) => return Ok(None),
                Err(Errno::EINTR) => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// One non-blocking read of the captured output.
    fn read_capture(&mut self) -> Result<Option<Event>, Errno> {
        let Some(file) = self.capture.as_mut() else {
            return Ok(None);
        };
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => {
                    self.capture = None;
                    return Ok(Some(Event::OutputClosed));
                }
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(Some(Event::Output(buf)));
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(err) => return Err(Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO))),
            }
        }
    }
}

impl Sys for LinuxSys {
    fn spawn(&mut self, spec: &ChildSpec, setsid: bool, capture: bool) -> io::Result<i32> {
        // Output of an earlier command, still held open by its leftovers, is no one's anymore.
        self.capture = None;
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        if capture {
            command.stdout(Stdio::piped());
        }
        let sigrtmax = self.sigrtmax;
        // SAFETY: the hook only makes async-signal-safe system calls and does not allocate.
        unsafe {
            command.pre_exec(move || prepare_child(setsid, sigrtmax));
        }
        let mut child = command.spawn()?;
        if let Some(stdout) = child.stdout.take() {
            let fd = OwnedFd::from(stdout);
            let flags = fcntl(&fd, FcntlArg::F_GETFL)?;
            fcntl(
                &fd,
                FcntlArg::F_SETFL(OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK),
            )?;
            self.capture = Some(std::fs::File::from(fd));
        }
        // The child is reaped by `reap_one` (waitpid(-1)), not through std's handle.
        let pid = child.id();
        drop(child);
        i32::try_from(pid).map_err(|_| io::Error::other("child pid out of range"))
    }

    fn kill(&mut self, pid: i32, signal: i32) -> Result<(), Errno> {
        // SAFETY: kill takes plain integers.
        let rc = unsafe { libc::kill(pid, signal) };
        Errno::result(rc).map(drop)
    }

    fn reap_one(&mut self) -> Result<Option<(i32, ChildStatus)>, Errno> {
        let mut status = 0;
        loop {
            // SAFETY: waitpid writes the status into a local integer.
            let pid = unsafe { libc::waitpid(-1, &raw mut status, libc::WNOHANG) };
            match pid {
                0 => return Ok(None),
                -1 => match Errno::last() {
                    Errno::EINTR => {}
                    Errno::ECHILD => return Ok(None),
                    err => return Err(err),
                },
                pid if libc::WIFEXITED(status) => {
                    let code = u8::try_from(libc::WEXITSTATUS(status) & 0xff).unwrap_or(u8::MAX);
                    return Ok(Some((pid, ChildStatus::Exited(code))));
                }
                pid if libc::WIFSIGNALED(status) => {
                    return Ok(Some((pid, ChildStatus::Signaled(libc::WTERMSIG(status)))));
                }
                // Stopped/continued reports are not requested (no WUNTRACED); ignore defensively.
                _ => {}
            }
        }
    }

    fn next_event(&mut self, timeout: Option<Duration>) -> Result<Event, Errno> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Ok(event);
            }
            if let Some(signal) = self.read_signal()? {
                return Ok(Event::Signal(signal));
            }
            if let Some(event) = self.read_capture()? {
                return Ok(event);
            }
            let wait = match deadline {
                None => PollTimeout::NONE,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    // Round up so a sub-millisecond remainder does not busy-loop.
                    let millis = left.as_micros().div_ceil(1000);
                    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
                }
            };
            let ready = {
                let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
                if let Some(file) = &self.capture {
                    fds.push(PollFd::new(file.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, wait) {
                    Ok(n) => n,
                    Err(Errno::EINTR) => continue,
                    Err(err) => return Err(err),
                }
            };
            if ready == 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Event::Timeout);
            }
        }
    }
}

/// The kernel's `struct sigaction` for `rt_sigaction` (handler, flags, restorer, 64-bit mask on
/// x86-64 and arm64). All zeroes is `SIG_DFL` with no flags and an empty mask.
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// Runs in the child between `fork` and `exec`. Only async-signal-safe calls, no allocation.
fn prepare_child(setsid: bool, sigrtmax: i32) -> io::Result<()> {
    // SAFETY (whole function): plain system calls on integers and stack-local signal sets.
    unsafe {
        // Default dispositions for everything: SIG_IGN survives exec (hangar itself installs no
        // handlers, it only blocks). The raw system call also resets glibc's internal signals
        // 32 and 33, which glibc's posix_spawn leaves ignored in children of threaded programs
        // and which glibc's own sigaction refuses to touch.
        let default = KernelSigaction::default();
        for signal in 1..=sigrtmax {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    &raw const default,
                    std::ptr::null_mut::<KernelSigaction>(),
                    std::mem::size_of::<u64>(),
                );
            }
        }
        // Keep terminal-stop signals blocked while taking over the terminal: tcsetpgrp from a
        // background group would otherwise stop us with SIGTTOU.
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&raw mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &raw const all, std::ptr::null_mut());

        if setsid {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::isatty(libc::STDIN_FILENO) == 1 {
                // Become the terminal's controlling process (fails harmlessly when another
                // session still owns it).
                libc::ioctl(libc::STDIN_FILENO, libc::TIOCSCTTY, 0);
            }
        } else {
            if libc::setpgid(0, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::isatty(libc::STDIN_FILENO) == 1 {
                // Foreground on the terminal so Ctrl-C reaches the command, not hangar
                // (which would forward it a second time). ENOTTY/ENXIO/EPERM are tolerated.
                libc::tcsetpgrp(libc::STDIN_FILENO, libc::getpid());
            }
        }

        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &raw const none, std::ptr::null_mut()) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

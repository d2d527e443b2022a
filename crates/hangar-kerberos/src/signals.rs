//! Sleeping until a deadline while staying responsive to signals and `--exit-when`.
//!
//! SIGTERM, SIGINT, SIGQUIT and SIGHUP are blocked for the whole process at start and
//! collected synchronously with `sigtimedwait(2)`: no handler runs in the middle of a libkrb5
//! call, and the loop sees the signal at its next wait (a KDC call is bounded by libkrb5's own
//! timeouts). This also works when the refresher is PID 1, where unhandled SIGTERM is ignored.
#![allow(unsafe_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The deadline passed.
    Deadline,
    /// SIGTERM, SIGINT or SIGQUIT: exit cleanly.
    Terminate(i32),
    /// SIGHUP: refresh now.
    RefreshNow,
    /// The `--exit-when` file appeared.
    ExitFile,
}

/// Blocks the signals and waits for them.
#[derive(Debug)]
pub struct Waiter {
    set: libc::sigset_t,
    exit_when: Option<PathBuf>,
}

const SIGNALS: [i32; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP];

/// How often the `--exit-when` path is polled.
const POLL: Duration = Duration::from_millis(500);

impl Waiter {
    /// Blocks the signals in the calling thread (call before starting any thread).
    pub fn new(exit_when: Option<PathBuf>) -> std::io::Result<Waiter> {
        // SAFETY: sigset_t is plain data initialised by sigemptyset; pthread_sigmask with a
        // valid set and a null old-set pointer.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in SIGNALS {
                libc::sigaddset(&mut set, s);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(std::io::Error::from_raw_os_error(rc));
            }
            Ok(Waiter { set, exit_when })
        }
    }

    /// True when the `--exit-when` file exists.
    pub fn exit_file_present(&self) -> bool {
        self.exit_when.as_ref().is_some_and(|p| p.exists())
    }

    /// A signal already pending, without waiting.
    pub fn poll(&self) -> Option<Wake> {
        self.wait_for(Duration::ZERO)
    }

    /// Waits until `deadline`, a signal, or the exit file.
    pub fn wait_until(&self, deadline: Instant) -> Wake {
        loop {
            if self.exit_file_present() {
                return Wake::ExitFile;
            }
            let now = Instant::now();
            if now >= deadline {
                return self.poll().unwrap_or(Wake::Deadline);
            }
            let mut step = deadline - now;
            if self.exit_when.is_some() {
                step = step.min(POLL);
            }
            if let Some(w) = self.wait_for(step) {
                return w;
            }
        }
    }

    fn wait_for(&self, d: Duration) -> Option<Wake> {
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(d.subsec_nanos()),
        };
        // SAFETY: valid set and timespec; a null siginfo pointer is allowed.
        let sig = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
        match sig {
            s if s == libc::SIGHUP => Some(Wake::RefreshNow),
            s if s > 0 => Some(Wake::Terminate(s)),
            _ => None, // EAGAIN (timeout) or EINTR
        }
    }
}

/// The name of a signal number, for logs.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

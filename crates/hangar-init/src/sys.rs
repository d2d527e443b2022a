//! The operating-system calls the supervisor makes, behind a trait so that the forwarding and
//! reaping decisions can be unit-tested without real processes. [`linux::LinuxSys`] is the real
//! implementation; the tests in `super::tests` use a scripted fake.
//!
//! [`linux::LinuxSys`]: super::linux::LinuxSys

use std::io;
use std::time::Duration;

use nix::errno::Errno;

use super::ChildSpec;

/// How a reaped process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildStatus {
    /// It called `exit` with this code.
    Exited(u8),
    /// It was killed by this signal.
    Signaled(i32),
}

/// Something the supervisor has to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A signal was delivered to hangar (by number, real-time signals included).
    Signal(i32),
    /// The captured child's stdout produced these bytes.
    Output(Vec<u8>),
    /// The captured child's stdout reached end of file.
    OutputClosed,
    /// The timeout given to [`Sys::next_event`] passed without an event.
    Timeout,
}

/// The side effects of an init process.
pub(crate) trait Sys {
    /// Spawns the command: clean signal mask, default dispositions, its own session (`setsid`) or
    /// its own process group, the terminal's foreground when stdin is a terminal. With
    /// `capture`, its stdout becomes a pipe reported through [`Event::Output`]. Returns the pid.
    fn spawn(&mut self, spec: &ChildSpec, setsid: bool, capture: bool) -> io::Result<i32>;

    /// Sends `signal` to `pid` (a negative pid names a process group).
    fn kill(&mut self, pid: i32, signal: i32) -> Result<(), Errno>;

    /// Reaps one terminated child without blocking; `None` when no child has terminated
    /// (or there are no children at all).
    fn reap_one(&mut self) -> Result<Option<(i32, ChildStatus)>, Errno>;

    /// Waits for the next event; `None` waits without a time limit.
    fn next_event(&mut self, timeout: Option<Duration>) -> Result<Event, Errno>;
}

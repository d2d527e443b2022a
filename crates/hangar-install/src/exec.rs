//! Running commands: a pure [`Cmd`] description and the [`Exec`] trait that runs it, so unit
//! tests can record the exact argv instead of touching the build container.

use std::io;
use std::process::{Command, Stdio};

/// A command line with extra environment variables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Cmd {
    pub fn new(program: &str) -> Self {
        Self {
            program: program.to_owned(),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, it: I) -> Self {
        self.args.extend(it.into_iter().map(Into::into));
        self
    }

    #[must_use]
    pub fn envs(mut self, env: &[(String, String)]) -> Self {
        self.env.extend(env.iter().cloned());
        self
    }

    /// The argv as one string for logs (values are build args, never secrets).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(|a| {
                if a.contains(' ') || a.is_empty() {
                    format!("'{a}'")
                } else {
                    a.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished command reported.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Finished {
    /// Exit code (`-1` when killed by a signal).
    pub code: i32,
    /// Captured stdout (empty for streamed commands).
    pub stdout: String,
}

/// Runs commands. The real implementation streams output to the build log.
pub trait Exec {
    /// Runs `cmd` with its output going to the build log.
    fn run(&mut self, cmd: &Cmd) -> io::Result<Finished>;
    /// Runs `cmd` capturing stdout (stderr still goes to the build log).
    fn capture(&mut self, cmd: &Cmd) -> io::Result<Finished>;
}

/// Runs commands for real with `std::process::Command`.
#[derive(Debug, Default)]
pub struct RealExec;

impl RealExec {
    fn command(cmd: &Cmd) -> Command {
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args);
        for (k, v) in &cmd.env {
            c.env(k, v);
        }
        c
    }
}

/// One line of the install step's log, on stderr (the image build's output).
pub(crate) fn log(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    // Nothing useful can be done when the build's log is gone.
    let _ = writeln!(io::stderr().lock(), "hangar install: {line}");
}

impl Exec for RealExec {
    fn run(&mut self, cmd: &Cmd) -> io::Result<Finished> {
        log(format_args!("running {}", cmd.display()));
        let status = Self::command(cmd).status()?;
        Ok(Finished {
            code: status.code().unwrap_or(-1),
            stdout: String::new(),
        })
    }

    fn capture(&mut self, cmd: &Cmd) -> io::Result<Finished> {
        let out = Self::command(cmd)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()?;
        Ok(Finished {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        })
    }
}

/// A recording [`Exec`] for unit tests: every command is stored; replies are popped from
/// `replies` in order (default: success with empty output).
#[derive(Debug, Default)]
pub struct Recorder {
    pub commands: Vec<Cmd>,
    pub replies: std::collections::VecDeque<Finished>,
}

impl Exec for Recorder {
    fn run(&mut self, cmd: &Cmd) -> io::Result<Finished> {
        self.capture(cmd)
    }

    fn capture(&mut self, cmd: &Cmd) -> io::Result<Finished> {
        self.commands.push(cmd.clone());
        Ok(self.replies.pop_front().unwrap_or_default())
    }
}

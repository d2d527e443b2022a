//! Running the engine: no shell, output streamed line by line, progress shown either as a
//! live line on a terminal or as plain prefixed lines, and a failure reported with the step
//! that failed and the engine's last lines.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::Pid;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::Engine;

/// How many of the engine's last lines a failure report shows.
pub const TAIL_LINES: usize = 20;

/// The display chosen for this run (`auto` already resolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    Plain,
    Live,
}

/// Errors running the engine.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(
        "cannot start `{program}`: {source}. Install {hint}, or choose another engine with --engine"
    )]
    Spawn {
        program: String,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the build was interrupted by {signal}; {program} was stopped, nothing was tagged and the \
         temporary build context was removed"
    )]
    Interrupted { program: String, signal: Signal },
    #[error("{}", failure_message(.program, .status, .step.as_deref(), .tail))]
    Failed {
        program: String,
        status: ExitStatus,
        step: Option<String>,
        tail: Vec<String>,
    },
}

fn failure_message(
    program: &str,
    status: &ExitStatus,
    step: Option<&str>,
    tail: &[String],
) -> String {
    use std::fmt::Write as _;
    let mut m = format!("the build failed: {program} exited with {status}");
    match step {
        Some(s) => {
            let _ = write!(m, "\nfailing step: {s}");
        }
        None => m.push_str("\nfailing step: (before the first step)"),
    }
    if !tail.is_empty() {
        let _ = write!(m, "\nlast {} lines of {program}'s output:", tail.len());
        for l in tail {
            let _ = write!(m, "\n  | {l}");
        }
    }
    m.push_str("\nNo image was tagged. Fix the input named above and run the build again.");
    m
}

/// The signal received while the engine runs (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn remember_signal(sig: nix::libc::c_int) {
    RECEIVED.store(sig, Ordering::SeqCst);
}

/// While alive, SIGINT, SIGTERM and SIGHUP are caught instead of killing hangar, so that the
/// engine can be stopped and the temporary context removed. Restores the previous handlers
/// on drop. The engine starts with default handlers (exec resets caught signals).
struct SignalGuard {
    previous: Vec<(Signal, SigAction)>,
}

const CAUGHT: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

impl SignalGuard {
    #[allow(unsafe_code)]
    fn install() -> SignalGuard {
        RECEIVED.store(0, Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(remember_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let previous = CAUGHT
            .iter()
            .filter_map(|&sig| {
                // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
                unsafe { signal::sigaction(sig, &action) }
                    .ok()
                    .map(|prev| (sig, prev))
            })
            .collect();
        SignalGuard { previous }
    }

    fn received() -> Option<Signal> {
        Signal::try_from(RECEIVED.load(Ordering::SeqCst)).ok()
    }
}

impl Drop for SignalGuard {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        for (sig, prev) in &self.previous {
            // SAFETY: restores the handler that was installed before (default or the caller's).
            let _ = unsafe { signal::sigaction(*sig, prev) };
        }
    }
}

/// Recognises the step lines of an engine's output.
///
/// buildah/podman print `STEP 3/7: RUN …`, prefixed with `[2/3] ` in multi-stage builds;
/// `docker buildx --progress=plain` prints `#7 [build 3/5] RUN …`.
#[must_use]
pub fn step_of(engine: Engine, line: &str) -> Option<String> {
    let line = line.trim();
    match engine {
        Engine::Buildah | Engine::Podman => {
            let rest = match line.strip_prefix('[') {
                Some(r) => r.split_once("] ").map(|(_, r)| r)?,
                None => line,
            };
            // COMMIT is a step of its own: on slow storage drivers it takes minutes.
            (rest.starts_with("STEP ") || rest.starts_with("COMMIT")).then(|| line.to_owned())
        }
        Engine::Docker(_) => {
            let rest = line.strip_prefix('#')?;
            let (num, rest) = rest.split_once(' ')?;
            (num.chars().all(|c| c.is_ascii_digit())
                && rest.starts_with('[')
                && !rest.starts_with("[internal]"))
            .then(|| rest.to_owned())
        }
    }
}

/// Runs `argv` (program first) to completion, showing progress on stderr.
///
/// # Errors
/// The program cannot start, or it exits unsuccessfully (with the failing step and the last
/// lines of its output).
pub fn run(engine: Engine, argv: &[OsString], display: Display) -> Result<(), RunError> {
    let program = argv
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let signals = SignalGuard::install();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .envs(engine.environment().iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RunError::Spawn {
            program: program.clone(),
            hint: engine.package_hint(),
            source,
        })?;

    let (tx, rx) = mpsc::channel::<String>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let tx = tx.clone();
        std::thread::spawn(move || forward_lines(stream, &tx))
    })
    .collect();
    drop(tx);

    let started = Instant::now();
    let mut view = View::new(display, &program);
    let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
    let mut step: Option<String> = None;
    let mut forwarded: Option<Signal> = None;
    loop {
        if let (None, Some(sig)) = (forwarded, SignalGuard::received()) {
            // A terminal's Ctrl-C reaches the engine too; a signal sent to hangar alone is
            // passed on so that the engine stops and cleans up its working container.
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = signal::kill(Pid::from_raw(pid), sig);
            }
            view.notice(&format!("hangar: received {sig}, stopping {program}"));
            forwarded = Some(sig);
        }
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if let Some(s) = step_of(engine, &line) {
                    view.step(&s, started.elapsed());
                    step = Some(s);
                } else if line.starts_with("Successfully tagged") {
                    // buildah and podman then delete their working containers, which takes a
                    // while on copying storage drivers such as vfs.
                    view.status(&format!(
                        "{line}; {program} is removing its working containers"
                    ));
                }
                view.line(&line, started.elapsed());
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
            // The live view redraws itself (steady tick); only signals are checked here.
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child.wait().map_err(|source| RunError::Spawn {
        program: program.clone(),
        hint: engine.package_hint(),
        source,
    })?;
    view.finish();
    drop(signals);
    if let Some(signal) = forwarded {
        return Err(RunError::Interrupted { program, signal });
    }
    if status.success() {
        Ok(())
    } else {
        Err(RunError::Failed {
            program,
            status,
            step,
            tail: tail.into(),
        })
    }
}

fn forward_lines(stream: Box<dyn Read + Send>, tx: &mpsc::Sender<String>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                // Progress bars of RUN steps redraw with carriage returns: keep the last state.
                let line = text.trim_end_matches(['\n', '\r']);
                let line = line.rsplit('\r').next().unwrap_or(line);
                if tx.send(line.to_owned()).is_err() {
                    return;
                }
            }
        }
    }
}

enum View {
    Plain { program: String },
    Live { bar: ProgressBar },
}

impl View {
    fn new(display: Display, program: &str) -> View {
        match display {
            Display::Plain => View::Plain {
                program: program.to_owned(),
            },
            Display::Live => {
                // Drawn on stderr even when it is not a terminal: `auto` only picks this view
                // on a terminal, `--progress tty` asks for it explicitly.
                let target =
                    ProgressDrawTarget::term_like_with_hz(Box::new(console::Term::stderr()), 10);
                let bar = ProgressBar::with_draw_target(None, target);
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message("starting the engine");
                bar.enable_steady_tick(Duration::from_millis(120));
                View::Live { bar }
            }
        }
    }

    fn line(&mut self, line: &str, elapsed: Duration) {
        if let View::Plain { program } = self {
            let secs = elapsed.as_secs();
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "[{program} {:02}:{:02}] {line}", secs / 60, secs % 60);
        }
    }

    fn step(&mut self, step: &str, elapsed: Duration) {
        if let View::Live { bar } = self {
            let secs = elapsed.as_secs();
            bar.println(format!("[{:02}:{:02}] {step}", secs / 60, secs % 60));
            bar.set_message(step.to_owned());
        }
    }

    /// Replaces the live line's text (the plain view already shows every engine line).
    fn status(&mut self, text: &str) {
        if let View::Live { bar } = self {
            bar.set_message(text.to_owned());
        }
    }

    /// A message of hangar's own, shown in both views.
    fn notice(&mut self, text: &str) {
        match self {
            View::Plain { .. } => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
            View::Live { bar } => bar.println(text),
        }
    }

    fn finish(&mut self) {
        if let View::Live { bar } = self {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildah_steps() {
        let e = Engine::Buildah;
        assert_eq!(
            step_of(e, "STEP 2/3: RUN true").as_deref(),
            Some("STEP 2/3: RUN true")
        );
        assert_eq!(
            step_of(e, "[1/2] STEP 1/4: FROM localhost/base AS build").as_deref(),
            Some("[1/2] STEP 1/4: FROM localhost/base AS build")
        );
        assert_eq!(
            step_of(e, "COMMIT my:tag").as_deref(),
            Some("COMMIT my:tag")
        );
        assert_eq!(
            step_of(e, "[2/2] COMMIT my:tag").as_deref(),
            Some("[2/2] COMMIT my:tag")
        );
        assert_eq!(step_of(e, "Successfully tagged my:tag"), None);
        assert_eq!(step_of(e, "[notes] hello"), None);
        assert_eq!(
            step_of(Engine::Podman, "STEP 1/1: FROM x").as_deref(),
            Some("STEP 1/1: FROM x")
        );
    }

    #[test]
    fn buildkit_steps() {
        let e = Engine::Docker(crate::engine::DockerClient::Embedded);
        assert_eq!(
            step_of(e, "#7 [build 3/5] RUN pip install x").as_deref(),
            Some("[build 3/5] RUN pip install x")
        );
        assert_eq!(step_of(e, "#7 DONE 2.3s"), None);
        assert_eq!(
            step_of(e, "#1 [internal] load build definition from Dockerfile"),
            None
        );
        assert_eq!(step_of(e, "STEP 1/2: FROM x"), None);
    }

    #[test]
    fn runs_a_real_program_and_reports_its_failure() {
        let ok: Vec<OsString> = ["sh", "-c", "echo STEP 1/1: RUN true"]
            .iter()
            .map(Into::into)
            .collect();
        run(Engine::Buildah, &ok, Display::Plain).unwrap();

        // One stream (stderr joined to stdout): lines read from two pipes arrive in no fixed
        // order, and the test asserts on the order.
        let script = "exec 2>&1; for i in $(seq 1 30); do echo line $i; done; echo 'STEP 2/2: RUN false' >&2; echo boom >&2; exit 3";
        let bad: Vec<OsString> = ["sh", "-c", script].iter().map(Into::into).collect();
        let err = run(Engine::Buildah, &bad, Display::Plain).unwrap_err();
        let RunError::Failed {
            status, step, tail, ..
        } = &err
        else {
            panic!("unexpected error {err}");
        };
        assert_eq!(status.code(), Some(3));
        assert_eq!(step.as_deref(), Some("STEP 2/2: RUN false"));
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail.last().map(String::as_str), Some("boom"));
        assert!(!tail.contains(&"line 1".to_owned()));
        let msg = err.to_string();
        assert!(msg.contains("failing step: STEP 2/2: RUN false"), "{msg}");
        assert!(msg.contains("  | boom"), "{msg}");
    }

    #[test]
    fn missing_program_names_the_package() {
        let argv: Vec<OsString> = vec!["hangar-no-such-engine".into()];
        let err = run(Engine::Buildah, &argv, Display::Plain)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("hangar-no-such-engine") && err.contains("apt-get install buildah"),
            "{err}"
        );
    }
}

//! The library API of the supervisor against the real kernel: output capture, complete child
//! environments, commands in sequence, stop requests and `sleep`.
//!
//! This is a test target without libtest's harness (see Cargo.toml): libtest runs each test on
//! a thread of its own while the main thread keeps SIGCHLD unblocked, and the kernel would hand
//! process-wide signals to that thread instead of the supervisor's signalfd. Here everything
//! runs on the main thread, as in hangar. Run with `cargo test -p hangar-init --features full-tests --test
//! supervisor`.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::io::Write as _;
use std::time::{Duration, Instant};

use hangar_init::{ChildSpec, InitOptions, Outcome, Supervisor};

fn sh(script: &str) -> ChildSpec {
    ChildSpec::inheriting_env("sh", vec!["-c".into(), script.into()])
}

fn supervisor(setsid: bool) -> Supervisor {
    Supervisor::new(InitOptions { setsid }).expect("set up the supervisor")
}

fn capture_returns_stdout_only() {
    for setsid in [true, false] {
        let mut sup = supervisor(setsid);
        let (outcome, out) = sup
            .run_capture(&sh(
                "printf 'postgresql://db/airflow\\n'; echo noise >&2; exit 3",
            ))
            .unwrap();
        assert_eq!(outcome, Outcome { code: 3 });
        assert_eq!(out, b"postgresql://db/airflow\n");
    }
}

fn capture_handles_more_than_a_pipe_buffer() {
    let mut sup = supervisor(true);
    let (outcome, out) = sup
        .run_capture(&sh("head -c 300000 /dev/zero | tr '\\0' x"))
        .unwrap();
    assert_eq!(outcome.code, 0);
    assert_eq!(out.len(), 300_000);
    assert!(out.iter().all(|&b| b == b'x'));
}

fn capture_does_not_wait_for_processes_holding_stdout() {
    // Without setsid nobody stops the background sleep, which keeps the pipe open.
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let mut sup = supervisor(false);
    let start = Instant::now();
    let script = format!(
        "echo early; sleep 20 & echo $! > '{}'; exit 0",
        pid_file.display()
    );
    let (outcome, out) = sup.run_capture(&sh(&script)).unwrap();
    let elapsed = start.elapsed();
    let holder: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill with plain integers; the holder is our (subreaped) descendant.
    unsafe { libc::kill(holder, libc::SIGKILL) };
    assert_eq!(outcome.code, 0);
    assert_eq!(out, b"early\n");
    assert!(
        elapsed < Duration::from_secs(15),
        "run_capture waited for the background process ({elapsed:?})"
    );

    // A leftover writing late must not leak into the next capture.
    let late = format!(
        "(sleep 0.3; echo late) & echo $! > '{}'; exit 0",
        pid_file.display()
    );
    let (_, out) = sup.run_capture(&sh(&late)).unwrap();
    assert_eq!(out, b"");
    let (_, out) = sup.run_capture(&sh("sleep 0.6; echo second")).unwrap();
    assert_eq!(out, b"second\n", "output of the earlier command leaked");
}

fn child_gets_exactly_the_given_environment() {
    let mut sup = supervisor(true);
    let spec = ChildSpec {
        program: "env".into(),
        args: vec![],
        env: vec![
            (OsString::from("PATH"), OsString::from("/usr/bin:/bin")),
            (
                OsString::from("AIRFLOW_HOME"),
                OsString::from("/opt/airflow"),
            ),
        ],
    };
    let (outcome, out) = sup.run_capture(&spec).unwrap();
    assert_eq!(outcome.code, 0);
    let mut lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["AIRFLOW_HOME=/opt/airflow", "PATH=/usr/bin:/bin"]);
}

fn program_is_looked_up_in_the_child_path() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("only-here");
    std::fs::write(&tool, "#!/bin/sh\necho found\n").unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut sup = supervisor(true);
    let spec = ChildSpec {
        program: "only-here".into(),
        args: vec![],
        env: vec![(
            OsString::from("PATH"),
            OsString::from(format!("{}:/usr/bin:/bin", dir.path().display())),
        )],
    };
    let (outcome, out) = sup.run_capture(&spec).unwrap();
    assert_eq!((outcome.code, out.as_slice()), (0, b"found\n".as_slice()));
}

fn commands_run_in_sequence() {
    let mut sup = supervisor(true);
    assert_eq!(sup.run(&sh("exit 0")).unwrap().code, 0);
    assert_eq!(sup.run(&sh("exit 42")).unwrap().code, 42);
    assert_eq!(sup.run(&sh("kill -s KILL $$")).unwrap().code, 137);
    assert_eq!(
        sup.run(&ChildSpec::inheriting_env("/nonexistent/x", vec![]))
            .unwrap()
            .code,
        127
    );
    assert_eq!(sup.stop_requested(), None);
}

fn sleep_sleeps_and_wakes_on_a_stop_request() {
    let mut sup = supervisor(true);
    let start = Instant::now();
    assert_eq!(sup.sleep(Duration::from_millis(150)).unwrap(), None);
    assert!(start.elapsed() >= Duration::from_millis(150));

    // A thread created now inherits the blocked mask; its kill is process-directed.
    let sender = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(200));
        // SAFETY: kill with plain integers.
        unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
    });
    let start = Instant::now();
    let stop = sup.sleep(Duration::from_secs(60)).unwrap();
    sender.join().unwrap();
    assert_eq!(stop, Some(Outcome { code: 130 }));
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "sleep ignored SIGINT"
    );
}

fn a_stop_request_between_commands_prevents_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let mut sup = supervisor(true);
    assert_eq!(sup.run(&sh("exit 0")).unwrap().code, 0);
    // SAFETY: kill with plain integers.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    let outcome = sup
        .run(&sh(&format!("touch '{}'", marker.display())))
        .unwrap();
    assert_eq!(outcome.code, 143);
    assert!(!marker.exists(), "the command started despite SIGTERM");
    assert_eq!(sup.stop_requested(), Some(Outcome { code: 143 }));
}

fn main() {
    let checks: &[(&str, fn())] = &[
        ("capture_returns_stdout_only", capture_returns_stdout_only),
        (
            "capture_handles_more_than_a_pipe_buffer",
            capture_handles_more_than_a_pipe_buffer,
        ),
        (
            "capture_does_not_wait_for_processes_holding_stdout",
            capture_does_not_wait_for_processes_holding_stdout,
        ),
        (
            "child_gets_exactly_the_given_environment",
            child_gets_exactly_the_given_environment,
        ),
        (
            "program_is_looked_up_in_the_child_path",
            program_is_looked_up_in_the_child_path,
        ),
        ("commands_run_in_sequence", commands_run_in_sequence),
        (
            "sleep_sleeps_and_wakes_on_a_stop_request",
            sleep_sleeps_and_wakes_on_a_stop_request,
        ),
        (
            "a_stop_request_between_commands_prevents_the_next_one",
            a_stop_request_between_commands_prevents_the_next_one,
        ),
    ];
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut ran = 0;
    for (name, check) in checks {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let _ = writeln!(std::io::stderr(), "test {name} ...");
        check();
        let _ = writeln!(std::io::stderr(), "test {name} ... ok");
        ran += 1;
    }
    let _ = writeln!(std::io::stderr(), "test result: ok. {ran} passed");
}

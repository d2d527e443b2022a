//! `hangar init` as a real init: PID 1 of a fresh pid namespace (`unshare --pid --fork`), with
//! real signals, real orphans and real exit codes. Run as root: `cargo test -p hangar --features full-tests --test it init::`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hangar_testkit::require_program;

const HANGAR: &str = env!("CARGO_BIN_EXE_hangar");

/// Every signal `hangar init` must forward (names as in Python's `signal` module, without `SIG`).
const FORWARDED: &[&str] = &[
    "HUP", "INT", "QUIT", "USR1", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CONT", "TSTP", "TTIN",
    "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "RTMIN", "RTMIN+1",
    "RTMAX",
];

/// The command under test catches every forwarded signal, forks a grandchild (same process
/// group) that catches them too, and records each delivery as a file `<role>.<NAME>`.
const CATCHER: &str = r#"
import os, signal, sys, time
d, names = sys.argv[1], sys.argv[2].split(",")
def number(name):
    if name.startswith("RTMIN+"):
        return signal.SIGRTMIN + int(name[6:])
    return int(getattr(signal, "SIG" + name))
by_number = {number(n): n for n in names}
role = "child"
def caught(signum, frame):
    with open(os.path.join(d, "%s.%s" % (role, by_number[signum])), "w") as f:
        f.write(str(os.getpid()))
for n in by_number:
    signal.signal(n, caught)
pid = os.fork()
if pid == 0:
    role = "grandchild"
    open(os.path.join(d, "grandchild.ready"), "w").close()
    # A signal sent to the group before "finish" appeared has run its handler by the time the
    # loop sees the file, so the grandchild's exit ends what it can have received.
    while not os.path.exists(os.path.join(d, "finish")):
        time.sleep(0.02)
    sys.exit(0)
while not os.path.exists(os.path.join(d, "grandchild.ready")):
    time.sleep(0.01)
open(os.path.join(d, "ready"), "w").close()
while not os.path.exists(os.path.join(d, "finish")):
    time.sleep(0.02)
os.waitpid(pid, 0)
"#;

const KILLER: &str = r#"
import os, signal, sys
name = sys.argv[2]
n = signal.SIGRTMIN + int(name[6:]) if name.startswith("RTMIN+") else int(getattr(signal, "SIG" + name))
os.kill(int(sys.argv[1]), n)
"#;

/// Every command of these tests must end: a hang (say, a lost SIGCHLD) is a failure, not a
/// stuck test run.
const LIMIT: Duration = Duration::from_secs(60);

trait OutputWithin {
    /// Like `Command::output`, but kills the command and fails the test after [`LIMIT`].
    fn output_within(&mut self) -> Output;
}

impl OutputWithin for Command {
    fn output_within(&mut self) -> Output {
        let dir = tempfile::tempdir().expect("tempdir");
        let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
        let mut child = self
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("stdout file"))
            .stderr(fs::File::create(&err).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {self:?}: {e}"));
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if start.elapsed() > LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{self:?} did not finish within {LIMIT:?}");
            }
            thread::sleep(Duration::from_millis(5));
        };
        Output {
            status,
            stdout: fs::read(&out).expect("read stdout"),
            stderr: fs::read(&err).expect("read stderr"),
        }
    }
}

fn python() -> PathBuf {
    let system = Path::new("/usr/bin/python3");
    if system.is_file() {
        return system.to_path_buf();
    }
    require_program("python3", "python3", &[])
}

fn unshare() -> PathBuf {
    require_program("unshare", "util-linux", &["/usr/bin", "/bin"])
}

/// `hangar init ARGS...` as PID 1 of a new pid namespace (with its own /proc).
fn as_pid1(args: &[&str]) -> Command {
    let mut command = Command::new(unshare());
    command
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            HANGAR,
            "init",
        ])
        .args(args);
    command
}

/// A running `unshare` that is killed (and with it the whole namespace) when dropped.
struct Namespace {
    child: Child,
}

impl Namespace {
    fn spawn(mut command: Command) -> Namespace {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start unshare");
        Namespace { child }
    }

    /// Host pid of the namespace's PID 1 (hangar): the child of `unshare`.
    fn pid1(&self) -> u32 {
        let parent = self.child.id();
        wait_until(
            Duration::from_secs(30),
            "hangar to start under unshare",
            || children_of(parent).into_iter().next(),
        )
    }

    /// Waits (at most [`LIMIT`]) for the namespace to end.
    fn wait(mut self) -> Output {
        let start = Instant::now();
        while self.child.try_wait().expect("try_wait").is_none() {
            assert!(
                start.elapsed() < LIMIT,
                "hangar did not exit within {LIMIT:?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
        let child = std::mem::replace(
            &mut self.child,
            Command::new("true").spawn().expect("spawn true"),
        );
        let _ = self.child.wait();
        child.wait_with_output().expect("wait for unshare")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn children_of(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name, which is in parentheses and may contain spaces.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

fn wait_until<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for_file(path: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if path.exists() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    path.exists()
}

fn send(pid: u32, signal: &str) {
    let status = Command::new(python())
        .args(["-c", KILLER, &pid.to_string(), signal])
        .status()
        .expect("run python3 to send a signal");
    assert!(status.success(), "sending SIG{signal} to {pid} failed");
}

fn code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| panic!("unshare itself died: {status:?}"))
}

/// Sends `signal` to hangar (PID 1) while the catcher runs; returns a description of what went
/// wrong, if anything.
fn forward_case(setsid: bool, signal: &str) -> Option<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("catcher.py");
    fs::write(&script, CATCHER).expect("write catcher");
    let python = python();
    let mut command = as_pid1(&[
        "--",
        python.to_str().unwrap(),
        script.to_str().unwrap(),
        dir.path().to_str().unwrap(),
        &FORWARDED.join(","),
    ]);
    command.env("DUMB_INIT_SETSID", if setsid { "1" } else { "0" });
    let ns = Namespace::spawn(command);
    if !wait_for_file(&dir.path().join("ready"), Duration::from_secs(60)) {
        return Some(format!("SIG{signal}: the catcher never became ready"));
    }
    let pid1 = ns.pid1();
    send(pid1, signal);

    let child_got = wait_for_file(
        &dir.path().join(format!("child.{signal}")),
        Duration::from_secs(30),
    );
    let grandchild_marker = dir.path().join(format!("grandchild.{signal}"));
    if setsid {
        wait_for_file(&grandchild_marker, Duration::from_secs(30));
    }
    // Without setsid, a wrongly group-directed signal reached the grandchild when it reached
    // the child; the grandchild handles it before it sees "finish" and exits.
    fs::write(dir.path().join("finish"), "").expect("write finish marker");
    let output = ns.wait();
    let grandchild_got = grandchild_marker.exists();

    let mut problems = Vec::new();
    if !child_got {
        problems.push("the command did not receive it".to_owned());
    }
    match (setsid, grandchild_got) {
        (true, false) => problems.push("its process group did not receive it".to_owned()),
        (false, true) => {
            problems.push("the grandchild received it with DUMB_INIT_SETSID=0".to_owned())
        }
        _ => {}
    }
    if output.status.code() != Some(0) {
        problems.push(format!(
            "exit status {:?}, stderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    (!problems.is_empty()).then(|| format!("SIG{signal}: {}", problems.join("; ")))
}

fn forward_all(setsid: bool) {
    let mut failures = Vec::new();
    for chunk in FORWARDED.chunks(6) {
        let handles: Vec<_> = chunk
            .iter()
            .map(|signal| thread::spawn(move || forward_case(setsid, signal)))
            .collect();
        for handle in handles {
            failures.extend(handle.join().expect("case thread"));
        }
    }
    assert!(
        failures.is_empty(),
        "DUMB_INIT_SETSID={}: {} of {} signals not forwarded as expected:\n{}",
        u8::from(setsid),
        failures.len(),
        FORWARDED.len(),
        failures.join("\n")
    );
}

#[test]
fn pid1_forwards_every_signal_to_the_process_group_with_setsid() {
    forward_all(true);
}

#[test]
fn pid1_forwards_every_signal_to_the_child_only_without_setsid() {
    forward_all(false);
}

#[test]
fn pid1_passes_every_exit_code_through() {
    let mut wrong = Vec::new();
    for expected in 0..=255 {
        let output = as_pid1(&["--", "sh", "-c", &format!("exit {expected}")]).output_within();
        if code(output.status) != expected {
            wrong.push(format!("exit {expected} became {:?}", output.status));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn pid1_reports_death_by_signal_as_128_plus_n() {
    for (signal, expected) in [
        ("TERM", 143),
        ("KILL", 137),
        ("SEGV", 139),
        ("USR1", 138),
        ("INT", 130),
    ] {
        for setsid in ["1", "0"] {
            let output = as_pid1(&["--", "sh", "-c", &format!("kill -s {signal} $$")])
                .env("DUMB_INIT_SETSID", setsid)
                .output_within();
            assert_eq!(
                code(output.status),
                expected,
                "child killed by SIG{signal} (DUMB_INIT_SETSID={setsid}); stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn pid1_term_ends_a_command_that_does_not_catch_it_with_143() {
    for setsid in ["1", "0"] {
        let mut command = as_pid1(&["--", "sleep", "30"]);
        command.env("DUMB_INIT_SETSID", setsid);
        let ns = Namespace::spawn(command);
        let pid1 = ns.pid1();
        // Wait until hangar's child runs `sleep` before signalling.
        wait_until(Duration::from_secs(30), "sleep to start", || {
            children_of(pid1).into_iter().find(|pid| {
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
            })
        });
        send(pid1, "TERM");
        let output = ns.wait();
        assert_eq!(code(output.status), 143, "DUMB_INIT_SETSID={setsid}");
    }
}

#[test]
fn exec_failures_give_127_and_126() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_executable = dir.path().join("script.sh");
    fs::write(&not_executable, "#!/bin/sh\nexit 0\n").expect("write script");
    let missing = dir.path().join("missing");

    let output = as_pid1(&["--", missing.to_str().unwrap()]).output_within();
    assert_eq!(code(output.status), 127);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hangar: cannot run") && stderr.contains("missing"),
        "{stderr}"
    );

    let output = as_pid1(&["--", "definitely-not-a-program-on-path"]).output_within();
    assert_eq!(code(output.status), 127);

    let output = as_pid1(&["--", not_executable.to_str().unwrap()]).output_within();
    assert_eq!(code(output.status), 126);
    assert!(
        output.stdout.is_empty(),
        "nothing of hangar's own on stdout"
    );
}

#[test]
fn pid1_reaps_orphans() {
    // Twenty double-forked grandchildren are orphaned and reparented to PID 1 (hangar). The
    // command checks they really are hangar's, lets them exit, waits until they are gone (an
    // unreaped one stays a zombie and never goes), then lists every zombie in the namespace.
    let script = r#"
        d="$0"
        i=0
        while [ $i -lt 20 ]; do
            ( sh -c 'while [ ! -e "$0/go" ]; do sleep 0.02; done; exit 3' "$d" & echo $! >> "$d/orphans" )
            i=$((i + 1))
        done
        for pid in $(cat "$d/orphans"); do
            echo "orphan $pid ppid $(awk '{print $4}' /proc/$pid/stat)"
        done
        touch "$d/go"
        for pid in $(cat "$d/orphans"); do
            n=0
            while [ -e /proc/$pid ] && [ $n -lt 250 ]; do sleep 0.02; n=$((n + 1)); done
        done
        echo "zombies:$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "Z" {printf " %s", $1}')"
    "#;
    for setsid in ["1", "0"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = as_pid1(&["--", "sh", "-c", script, dir.path().to_str().unwrap()])
            .env("DUMB_INIT_SETSID", setsid)
            .output_within();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            code(output.status),
            0,
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let orphans: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("orphan "))
            .collect();
        assert_eq!(orphans.len(), 20, "{stdout}");
        assert!(
            orphans.iter().all(|l| l.ends_with(" ppid 1")),
            "orphans were not reparented to PID 1:\n{stdout}"
        );
        assert!(
            stdout.lines().any(|l| l == "zombies:"),
            "DUMB_INIT_SETSID={setsid}: zombies left:\n{stdout}"
        );
    }
}

#[test]
fn exit_status_survives_an_inherited_ignored_sigchld() {
    // With SIGCHLD ignored the kernel would reap hangar's children behind its back.
    let launcher = format!(
        "import os, signal; signal.signal(signal.SIGCHLD, signal.SIG_IGN); \
         os.execv('{HANGAR}', ['{HANGAR}', 'init', '--', 'sh', '-c', 'exit 5'])"
    );
    let output = Command::new(python())
        .args(["-c", &launcher])
        .output_within();
    assert_eq!(output.status.code(), Some(5), "{output:?}");
}

#[test]
fn child_starts_with_clean_signal_mask_and_default_dispositions() {
    // Launch hangar with signals ignored (as nohup or a careless parent would) and check the
    // command sees neither those nor hangar's own blocked mask.
    for (pid1, setsid) in [(true, "1"), (true, "0"), (false, "1"), (false, "0")] {
        let launcher = if pid1 {
            format!(
                "trap '' INT QUIT HUP TERM USR1; exec {} --pid --fork --mount-proc {HANGAR} init -- cat /proc/self/status",
                unshare().display()
            )
        } else {
            format!("trap '' INT QUIT HUP TERM USR1; exec {HANGAR} init -- cat /proc/self/status")
        };
        let output = Command::new("sh")
            .args(["-c", &launcher])
            .env("DUMB_INIT_SETSID", setsid)
            .output_within();
        assert!(output.status.success(), "{output:?}");
        let status = String::from_utf8_lossy(&output.stdout);
        for field in ["SigBlk", "SigIgn", "SigCgt"] {
            let line = status
                .lines()
                .find(|l| l.starts_with(&format!("{field}:")))
                .unwrap_or_else(|| panic!("no {field} in {status}"));
            assert!(
                line.ends_with("0000000000000000"),
                "{field} not clean (pid1={pid1}, DUMB_INIT_SETSID={setsid}): {line}"
            );
        }
    }
}

#[test]
fn setsid_modes_place_the_command_in_its_own_session_or_group() {
    let probe = "import os; print(os.getpid(), os.getpgrp(), os.getsid(0))";
    let python = python();
    for setsid in ["1", "0"] {
        let output = Command::new(HANGAR)
            .args(["init", "--", python.to_str().unwrap(), "-c", probe])
            .env("DUMB_INIT_SETSID", setsid)
            .output_within();
        assert!(output.status.success(), "{output:?}");
        let ids: Vec<u32> = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect();
        let (pid, pgid, sid) = (ids[0], ids[1], ids[2]);
        assert_eq!(pgid, pid, "the command leads its own process group");
        if setsid == "1" {
            assert_eq!(
                sid, pid,
                "DUMB_INIT_SETSID=1: the command leads its own session"
            );
        } else {
            assert_ne!(
                sid, pid,
                "DUMB_INIT_SETSID=0: the command stays in hangar's session"
            );
        }
    }
    // The flag wins over the variable.
    let output = Command::new(HANGAR)
        .args([
            "init",
            "--no-setsid",
            "--",
            python.to_str().unwrap(),
            "-c",
            probe,
        ])
        .env("DUMB_INIT_SETSID", "1")
        .output_within();
    let ids: Vec<u32> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_ne!(
        ids[2], ids[0],
        "--no-setsid keeps the command out of a new session"
    );
}

#[test]
fn invalid_dumb_init_setsid_is_rejected_by_name() {
    let output = Command::new(HANGAR)
        .args(["init", "--", "true"])
        .env("DUMB_INIT_SETSID", "yes")
        .output_within();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DUMB_INIT_SETSID") && stderr.contains("`yes`"),
        "{stderr}"
    );
}

#[test]
fn not_pid1_becomes_subreaper_and_reaps_orphans() {
    // The orphan must be reparented to hangar (not to the host's init) and be reaped by it
    // while the command still runs.
    let script = r#"
        ( sleep 0.2 & echo $! > "$0/orphan" )
        orphan=$(cat "$0/orphan")
        echo "ppid $(awk '{print $4}' /proc/$orphan/stat) hangar $PPID"
        sleep 0.6
        if [ -e /proc/$orphan ]; then echo "left: $(cat /proc/$orphan/stat)"; else echo reaped; fi
    "#;
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(HANGAR)
        .args([
            "init",
            "--",
            "sh",
            "-c",
            script,
            dir.path().to_str().unwrap(),
        ])
        .output_within();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let first = stdout.lines().next().unwrap_or_default();
    let fields: Vec<&str> = first.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "{stdout}");
    assert_eq!(
        fields[1], fields[3],
        "the orphan's parent is hangar: {stdout}"
    );
    assert!(stdout.contains("\nreaped"), "{stdout}");

    // The brief's one-liner: exits 0 with an orphan still running at the end.
    let output = Command::new(HANGAR)
        .args(["init", "--", "sh", "-c", "(sleep 0.2 &) ; exit 0"])
        .output_within();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn not_pid1_forwards_term() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("got-term");
    let script = format!(
        "trap 'echo > {m}; exit 7' TERM; echo > {m}.ready; while :; do sleep 0.05; done",
        m = marker.display()
    );
    let mut child = Command::new(HANGAR)
        .args(["init", "--", "sh", "-c", &script])
        .spawn()
        .expect("run hangar");
    assert!(wait_for_file(
        &dir.path().join("got-term.ready"),
        Duration::from_secs(30)
    ));
    send(child.id(), "TERM");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("hangar did not exit within {LIMIT:?} after SIGTERM");
        }
        thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(status.code(), Some(7));
    assert!(marker.exists());
}

#[test]
fn on_a_terminal_the_command_is_in_the_foreground_and_ctrl_c_reaches_it_once() {
    // `script` runs hangar on a fresh pseudo-terminal as the session leader, like `docker run
    // -it` does; a Ctrl-C typed on it must reach the command exactly once (from the terminal,
    // not a second time through hangar).
    let script_program = require_program("script", "bsdutils", &["/usr/bin"]);
    require_program("ps", "procps", &["/usr/bin", "/bin"]);
    let child = r#"
        n=0
        trap 'n=$((n + 1)); echo "int $n" >> "$0/ints"' INT
        trap ': > "$0/usr1"' USR1
        echo $PPID > "$0/hangar.pid"
        ps -o stat=,tty= -p $$ > "$0/ps"
        : > "$0/ready"
        i=0
        while [ ! -e "$0/finish" ] && [ $i -lt 1000 ]; do sleep 0.02; i=$((i + 1)); done
    "#;
    for setsid in ["1", "0"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner = format!(
            "exec {HANGAR} init -- sh -c '{}' {}",
            child.replace('\'', r"'\''"),
            dir.path().display()
        );
        let mut term = Command::new(&script_program)
            .args(["-qec", &inner, "/dev/null"])
            .env("DUMB_INIT_SETSID", setsid)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run script");
        assert!(
            wait_for_file(&dir.path().join("ready"), Duration::from_secs(60)),
            "DUMB_INIT_SETSID={setsid}: the command never started"
        );
        let mut keyboard = term.stdin.take().expect("stdin");
        std::io::Write::write_all(&mut keyboard, b"\x03").expect("type Ctrl-C");
        wait_for_file(&dir.path().join("ints"), Duration::from_secs(30));
        // A second Ctrl-C forwarded by hangar would reach the command before the SIGUSR1
        // sent to hangar now: hangar forwards in signal-number order, and the shell runs
        // its traps in that order too.
        let hangar_pid: u32 = fs::read_to_string(dir.path().join("hangar.pid"))
            .expect("hangar's pid")
            .trim()
            .parse()
            .expect("a pid");
        send(hangar_pid, "USR1");
        assert!(
            wait_for_file(&dir.path().join("usr1"), Duration::from_secs(30)),
            "DUMB_INIT_SETSID={setsid}: SIGUSR1 sent to hangar never reached the command"
        );
        fs::write(dir.path().join("finish"), "").expect("finish");
        let start = Instant::now();
        while term.try_wait().expect("try_wait").is_none() {
            if start.elapsed() > LIMIT {
                let _ = term.kill();
                panic!("script did not exit");
            }
            thread::sleep(Duration::from_millis(10));
        }
        drop(keyboard);

        let ps = fs::read_to_string(dir.path().join("ps")).unwrap_or_default();
        assert!(
            ps.split_whitespace()
                .next()
                .is_some_and(|stat| stat.contains('+'))
                && ps.contains("pts/"),
            "DUMB_INIT_SETSID={setsid}: the command is not the terminal's foreground: {ps:?}"
        );
        let ints = fs::read_to_string(dir.path().join("ints")).unwrap_or_default();
        assert_eq!(
            ints, "int 1\n",
            "DUMB_INIT_SETSID={setsid}: Ctrl-C must reach the command exactly once"
        );
    }
}

#[test]
fn with_setsid_the_leftovers_of_the_command_get_sigterm() {
    // As in dumb-init: when the command ends, whatever is left of its process group is asked to
    // stop; without setsid the leftovers are left alone (Celery's pool finishes its tasks).
    let leftover = r#"
        sh -c 'trap "echo term > \"$0/leftover\"; exit 0" TERM; : > "$0/armed"; i=0; while [ $i -lt 150 ]; do sleep 0.02; i=$((i + 1)); done; : > "$0/done"' "$0" &
        while [ ! -e "$0/armed" ]; do sleep 0.01; done
        exit 0
    "#;
    for (setsid, expect_term) in [("1", true), ("0", false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = Command::new(HANGAR)
            .args([
                "init",
                "--",
                "sh",
                "-c",
                leftover,
                dir.path().to_str().unwrap(),
            ])
            .env("DUMB_INIT_SETSID", setsid)
            .output_within();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let marker = dir.path().join("leftover");
        let got = if expect_term {
            wait_for_file(&marker, Duration::from_secs(30))
        } else {
            // The leftover runs its loop to the end unless a SIGTERM stops it first.
            assert!(
                wait_for_file(&dir.path().join("done"), Duration::from_secs(30)),
                "DUMB_INIT_SETSID={setsid}: the leftover neither got SIGTERM nor finished"
            );
            marker.exists()
        };
        assert_eq!(got, expect_term, "DUMB_INIT_SETSID={setsid}");
    }
}

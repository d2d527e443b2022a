//! Forwarding and reaping decisions, checked through a scripted [`Sys`].

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use super::*;

const CHILD: i32 = 4242;

#[derive(Default)]
struct State {
    /// Events returned by `next_event`, in order, each once at least that many commands were
    /// spawned; `Timeout` before (or when empty).
    events: VecDeque<(usize, Event)>,
    /// Results returned by `reap_one`, in order (`None` ends a batch); `None` when empty.
    reaps: VecDeque<Option<(i32, ChildStatus)>>,
    /// Errors `kill` returns for a target pid, once each.
    kill_errors: Vec<(i32, Errno)>,
    /// Timeouts returned in a row (a supervisor stuck in a loop fails the test).
    idle_timeouts: u32,
    /// The error `spawn` returns, if any.
    spawn_error: Option<i32>,
    spawned: Vec<(OsString, bool, bool)>,
    kills: Vec<(i32, i32)>,
}

struct FakeSys(Rc<RefCell<State>>);

impl Sys for FakeSys {
    fn spawn(&mut self, spec: &ChildSpec, setsid: bool, capture: bool) -> io::Result<i32> {
        let mut state = self.0.borrow_mut();
        if let Some(errno) = state.spawn_error {
            return Err(io::Error::from_raw_os_error(errno));
        }
        state.spawned.push((spec.program.clone(), setsid, capture));
        Ok(CHILD)
    }

    fn kill(&mut self, pid: i32, signal: i32) -> Result<(), Errno> {
        let mut state = self.0.borrow_mut();
        state.kills.push((pid, signal));
        if let Some(i) = state.kill_errors.iter().position(|(p, _)| *p == pid) {
            return Err(state.kill_errors.remove(i).1);
        }
        Ok(())
    }

    fn reap_one(&mut self) -> Result<Option<(i32, ChildStatus)>, Errno> {
        Ok(self.0.borrow_mut().reaps.pop_front().flatten())
    }

    fn next_event(&mut self, timeout: Option<Duration>) -> Result<Event, Errno> {
        let mut state = self.0.borrow_mut();
        let spawned = state.spawned.len();
        let next = match state.events.front() {
            Some((after, _)) if *after <= spawned => state.events.pop_front().map(|(_, e)| e),
            _ => None,
        };
        match next {
            Some(event) => {
                state.idle_timeouts = 0;
                Ok(event)
            }
            None if timeout.is_some() => {
                state.idle_timeouts += 1;
                assert!(
                    state.idle_timeouts < 1000,
                    "the supervisor keeps waiting: the script has no more events"
                );
                Ok(Event::Timeout)
            }
            None => panic!("the supervisor waited forever: the script has no more events"),
        }
    }
}

/// Events that arrive while no command runs.
fn script_idle(state: &Rc<RefCell<State>>, events: &[Event], reaps: &[(i32, ChildStatus)]) {
    script(state, &[], reaps);
    let mut state = state.borrow_mut();
    let now = state.spawned.len();
    state
        .events
        .extend(events.iter().cloned().map(|e| (now, e)));
}

fn supervisor(setsid: bool) -> (Supervisor, Rc<RefCell<State>>) {
    let state = Rc::new(RefCell::new(State::default()));
    let sup = Supervisor::with_sys(Box::new(FakeSys(state.clone())), InitOptions { setsid });
    (sup, state)
}

fn spec() -> ChildSpec {
    ChildSpec {
        program: "airflow".into(),
        args: vec!["scheduler".into()],
        env: vec![],
    }
}

/// Events for the next command (delivered once it is spawned) and the zombies its SIGCHLDs find.
fn script(state: &Rc<RefCell<State>>, events: &[Event], reaps: &[(i32, ChildStatus)]) {
    let mut state = state.borrow_mut();
    let after = state.spawned.len() + 1;
    state
        .events
        .extend(events.iter().cloned().map(|e| (after, e)));
    if !reaps.is_empty() {
        state.reaps.extend(reaps.iter().copied().map(Some));
        state.reaps.push_back(None);
    }
}

#[test]
fn setsid_forwards_every_signal_to_the_process_group() {
    let (mut sup, state) = supervisor(true);
    let signals = [
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGWINCH,
        libc::SIGTSTP,
        libc::SIGRTMIN() + 3,
    ];
    let mut events: Vec<Event> = signals.iter().map(|s| Event::Signal(*s)).collect();
    events.push(Event::Signal(libc::SIGCHLD));
    script(&state, &events, &[(CHILD, ChildStatus::Exited(0))]);

    let outcome = sup.run(&spec()).unwrap();

    assert_eq!(outcome, Outcome { code: 0 });
    let kills = state.borrow().kills.clone();
    let mut expected: Vec<(i32, i32)> = signals.iter().map(|s| (-CHILD, *s)).collect();
    // dumb-init's clean-up of the group once the command is gone.
    expected.push((-CHILD, libc::SIGTERM));
    assert_eq!(kills, expected);
    assert_eq!(
        state.borrow().spawned,
        vec![("airflow".into(), true, false)]
    );
}

#[test]
fn without_setsid_only_the_child_is_signalled() {
    let (mut sup, state) = supervisor(false);
    script(
        &state,
        &[
            Event::Signal(libc::SIGTERM),
            Event::Signal(libc::SIGINT),
            Event::Signal(libc::SIGCHLD),
        ],
        &[(CHILD, ChildStatus::Exited(0))],
    );

    sup.run(&spec()).unwrap();

    // No group clean-up either: Celery's pool processes must finish their tasks.
    assert_eq!(
        state.borrow().kills,
        vec![(CHILD, libc::SIGTERM), (CHILD, libc::SIGINT)]
    );
}

#[test]
fn sigchld_is_not_forwarded_and_coalesced_zombies_are_all_reaped() {
    let (mut sup, state) = supervisor(false);
    script(
        &state,
        &[Event::Signal(libc::SIGCHLD)],
        // One SIGCHLD for two orphans: both reaped, the command still runs.
        &[(77, ChildStatus::Exited(0)), (78, ChildStatus::Signaled(9))],
    );
    script(
        &state,
        &[Event::Signal(libc::SIGCHLD)],
        &[
            (79, ChildStatus::Exited(1)),
            (CHILD, ChildStatus::Exited(42)),
        ],
    );

    let outcome = sup.run(&spec()).unwrap();

    assert_eq!(outcome.code, 42);
    assert!(state.borrow().reaps.is_empty(), "every zombie was reaped");
    assert!(
        state.borrow().events.is_empty(),
        "the run waited for the second SIGCHLD"
    );
    assert!(
        state.borrow().kills.is_empty(),
        "SIGCHLD is never forwarded"
    );
}

#[test]
fn reaping_continues_past_the_command_and_collects_orphans() {
    let (mut sup, state) = supervisor(false);
    script(
        &state,
        &[Event::Signal(libc::SIGCHLD)],
        &[
            (77, ChildStatus::Exited(0)),
            (CHILD, ChildStatus::Exited(3)),
            (78, ChildStatus::Exited(0)),
        ],
    );

    let outcome = sup.run(&spec()).unwrap();

    assert_eq!(outcome.code, 3);
    assert!(state.borrow().reaps.is_empty(), "every zombie was reaped");
    assert!(
        state.borrow().kills.is_empty(),
        "SIGCHLD is never forwarded"
    );
}

#[test]
fn signal_deaths_map_to_128_plus_n() {
    for (signal, code) in [
        (libc::SIGTERM, 143),
        (libc::SIGKILL, 137),
        (libc::SIGINT, 130),
    ] {
        let (mut sup, state) = supervisor(true);
        script(
            &state,
            &[Event::Signal(libc::SIGCHLD)],
            &[(CHILD, ChildStatus::Signaled(signal))],
        );
        assert_eq!(sup.run(&spec()).unwrap().code, code);
    }
}

#[test]
fn exec_failures_become_127_and_126() {
    for (errno, code) in [
        (libc::ENOENT, 127),
        (libc::EACCES, 126),
        (libc::ENOEXEC, 126),
    ] {
        let (mut sup, state) = supervisor(true);
        state.borrow_mut().spawn_error = Some(errno);
        assert_eq!(sup.run(&spec()).unwrap().code, code);
    }
    let (mut sup, state) = supervisor(true);
    state.borrow_mut().spawn_error = Some(libc::EAGAIN);
    let err = sup.run(&spec()).unwrap_err();
    assert!(err.to_string().contains("cannot start `airflow`"), "{err}");
}

#[test]
fn a_stop_request_while_idle_prevents_the_next_command() {
    let (mut sup, state) = supervisor(true);
    script_idle(
        &state,
        &[Event::Signal(libc::SIGUSR1), Event::Signal(libc::SIGTERM)],
        &[],
    );

    let outcome = sup.run(&spec()).unwrap();

    assert_eq!(outcome.code, 143);
    assert!(state.borrow().spawned.is_empty(), "nothing was started");
    assert!(state.borrow().kills.is_empty(), "nothing to forward to");
    assert_eq!(sup.stop_requested(), Some(Outcome { code: 143 }));
}

#[test]
fn hup_is_a_stop_request_only_while_idle() {
    let (mut sup, state) = supervisor(false);
    script(
        &state,
        &[Event::Signal(libc::SIGHUP), Event::Signal(libc::SIGCHLD)],
        &[(CHILD, ChildStatus::Exited(0))],
    );
    sup.run(&spec()).unwrap();
    assert_eq!(
        sup.stop_requested(),
        None,
        "a reload request for a running command"
    );
    assert_eq!(state.borrow().kills, vec![(CHILD, libc::SIGHUP)]);

    script_idle(&state, &[Event::Signal(libc::SIGHUP)], &[]);
    assert_eq!(sup.run(&spec()).unwrap().code, 128 + libc::SIGHUP as u8);
    assert_eq!(state.borrow().spawned.len(), 1);
}

#[test]
fn a_term_forwarded_to_one_command_stops_the_sequence() {
    let (mut sup, state) = supervisor(false);
    // The pre-step traps TERM and exits 0; the next step must still not start.
    script(
        &state,
        &[Event::Signal(libc::SIGTERM), Event::Signal(libc::SIGCHLD)],
        &[(CHILD, ChildStatus::Exited(0))],
    );
    assert_eq!(sup.run(&spec()).unwrap().code, 0);
    assert_eq!(sup.run(&spec()).unwrap().code, 143);
    assert_eq!(state.borrow().spawned.len(), 1);
}

#[test]
fn group_not_there_yet_falls_back_to_the_child() {
    let (mut sup, state) = supervisor(true);
    state.borrow_mut().kill_errors.push((-CHILD, Errno::ESRCH));
    script(
        &state,
        &[Event::Signal(libc::SIGUSR2), Event::Signal(libc::SIGCHLD)],
        &[(CHILD, ChildStatus::Exited(0))],
    );
    sup.run(&spec()).unwrap();
    assert_eq!(
        state.borrow().kills[..2],
        [(-CHILD, libc::SIGUSR2), (CHILD, libc::SIGUSR2)]
    );
}

#[test]
fn capture_collects_output_until_after_the_exit() {
    let (mut sup, state) = supervisor(true);
    script(
        &state,
        &[
            Event::Output(b"post".to_vec()),
            Event::Signal(libc::SIGCHLD),
            Event::Output(b"gres".to_vec()),
            Event::OutputClosed,
        ],
        &[(CHILD, ChildStatus::Exited(0))],
    );
    let (outcome, out) = sup.run_capture(&spec()).unwrap();
    assert_eq!(outcome.code, 0);
    assert_eq!(out, b"postgres");
    assert_eq!(state.borrow().spawned, vec![("airflow".into(), true, true)]);
}

#[test]
fn sleep_returns_early_on_a_stop_request_and_reaps_meanwhile() {
    let (mut sup, state) = supervisor(true);
    script_idle(
        &state,
        &[Event::Signal(libc::SIGCHLD), Event::Signal(libc::SIGINT)],
        &[(99, ChildStatus::Exited(0))],
    );
    let stop = sup.sleep(Duration::from_secs(3600)).unwrap();
    assert_eq!(stop, Some(Outcome { code: 130 }));
    assert!(state.borrow().reaps.is_empty());

    let (mut quiet, _) = supervisor(true);
    assert_eq!(quiet.sleep(Duration::from_millis(1)).unwrap(), None);
}

#[test]
fn empty_command_is_an_error() {
    let (mut sup, _) = supervisor(true);
    let err = sup
        .run(&ChildSpec {
            program: OsString::new(),
            args: vec![],
            env: vec![],
        })
        .unwrap_err();
    assert!(matches!(err, InitError::EmptyCommand));
}

#[test]
fn dumb_init_setsid_values() {
    assert!(setsid_from_env(None).unwrap());
    assert!(setsid_from_env(Some(OsStr::new(""))).unwrap());
    assert!(setsid_from_env(Some(OsStr::new("1"))).unwrap());
    assert!(!setsid_from_env(Some(OsStr::new("0"))).unwrap());
    for bad in ["true", "yes", "2", " 0"] {
        let err = setsid_from_env(Some(OsStr::new(bad))).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("DUMB_INIT_SETSID") && msg.contains(bad),
            "{msg}"
        );
    }
}

#[test]
fn signal_names() {
    assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
    assert_eq!(signal_name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
}

#[test]
fn the_command_end_is_noticed_without_a_sigchld() {
    let (mut sup, state) = supervisor(true);
    // No SIGCHLD at all: the periodic check (a timeout) finds the exited command.
    script(
        &state,
        &[Event::Timeout],
        &[(CHILD, ChildStatus::Exited(9))],
    );
    assert_eq!(sup.run(&spec()).unwrap().code, 9);
}

#[test]
fn a_command_that_never_ends_keeps_the_supervisor_waiting() {
    let (mut sup, state) = supervisor(true);
    script(&state, &[Event::Signal(libc::SIGWINCH)], &[]);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sup.run(&spec())));
    assert!(
        result.is_err(),
        "run returned although the command never exited"
    );
    assert_eq!(state.borrow().kills, vec![(-CHILD, libc::SIGWINCH)]);
}

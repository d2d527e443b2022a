//! The refresher's state machine under fake time and a fake KDC.

use super::*;
use crate::krb5::Times;
use std::cell::{Cell, RefCell};

/// Fake time: waits return at once, advancing both clocks to the deadline; after
/// `waits_left` waits it reports SIGTERM.
struct FakeClock {
    base: Instant,
    wall0: i64,
    elapsed: Cell<Duration>,
    waits: RefCell<Vec<Duration>>,
    waits_left: Cell<u32>,
}

impl FakeClock {
    fn new(waits_left: u32) -> FakeClock {
        FakeClock {
            base: Instant::now(),
            wall0: 1_000_000,
            elapsed: Cell::new(Duration::ZERO),
            waits: RefCell::new(Vec::new()),
            waits_left: Cell::new(waits_left),
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> i64 {
        self.wall0 + i64::try_from(self.elapsed.get().as_secs()).unwrap()
    }
    fn instant(&self) -> Instant {
        self.base + self.elapsed.get()
    }
    fn wait_until(&self, deadline: Instant) -> Wake {
        let d = deadline.saturating_duration_since(self.instant());
        self.waits.borrow_mut().push(d);
        self.elapsed.set(self.elapsed.get() + d);
        if self.waits_left.get() == 0 {
            return Wake::Terminate(libc::SIGTERM);
        }
        self.waits_left.set(self.waits_left.get() - 1);
        Wake::Deadline
    }
    fn exit_file_present(&self) -> bool {
        false
    }
}

/// A fake KDC: tickets of `lifetime`, renewable for `renew_life`; the attempts for which
/// `down` returns true fail as an outage. Records (method, time) of every attempt.
struct FakeKdc<'a> {
    clock: &'a FakeClock,
    lifetime: i64,
    renew_life: i64,
    down: Box<dyn Fn(usize) -> Option<FailureKind> + 'a>,
    calls: RefCell<Vec<(Method, i64)>>,
    ticket: Cell<Option<Times>>,
}

impl Attempt for FakeKdc<'_> {
    fn attempt(&self, method: Method) -> Result<Current, Failure> {
        let now = self.clock.now();
        let n = self.calls.borrow().len();
        self.calls.borrow_mut().push((method, now));
        if let Some(kind) = (self.down)(n) {
            return Err(Failure {
                kind,
                reason: "KDC unreachable".to_owned(),
                cache_error: None,
            });
        }
        let times = match (method, self.ticket.get()) {
            (Method::Renew, Some(t)) => Times {
                start: now,
                end: (now + self.lifetime).min(t.renew_till),
                renew_till: t.renew_till,
            },
            _ => Times {
                start: now,
                end: now + self.lifetime,
                renew_till: now + self.renew_life,
            },
        };
        self.ticket.set(Some(times));
        Ok(Current {
            times,
            renewable: true,
            last_keytab: if method == Method::Keytab { now } else { 0 },
        })
    }
}

fn options(exit_on_error: bool) -> RunOptions {
    RunOptions {
        settings: Settings {
            principal: "airflow@EXAMPLE.COM".to_owned(),
            keytab: "/etc/airflow.keytab".to_owned(),
            keytab_source: "[kerberos] keytab".to_owned(),
            ccache: CacheName::Other("MEMORY:test".to_owned()),
            reinit_frequency: 3600,
            init: Default::default(),
        },
        one_time: false,
        exit_on_error,
        exit_when: None,
        write: WriteOptions::default(),
        policy: Policy {
            margin: None,
            reinit_every: 3600,
            renew: true,
        },
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(60),
        logger: Logger {
            min: Level::Error,
            format: crate::log::Format::default(),
        },
    }
}

fn run_fake(
    opts: &RunOptions,
    clock: &FakeClock,
    kdc: &FakeKdc<'_>,
    jitter: fn() -> f64,
) -> Result<(), KerberosError> {
    Refresher {
        opts,
        name: opts.settings.principal.clone(),
        krb: kdc,
        clock,
        jitter,
        sink: &opts.logger,
    }
    .run()
}

fn kdc<'a>(
    clock: &'a FakeClock,
    lifetime: i64,
    renew_life: i64,
    down: impl Fn(usize) -> Option<FailureKind> + 'a,
) -> FakeKdc<'a> {
    FakeKdc {
        clock,
        lifetime,
        renew_life,
        down: Box::new(down),
        calls: RefCell::new(Vec::new()),
        ticket: Cell::new(None),
    }
}

fn methods(kdc: &FakeKdc<'_>) -> Vec<Method> {
    kdc.calls.borrow().iter().map(|c| c.0).collect()
}

#[test]
fn renews_while_renewable_then_reinits_after_renew_until() {
    let clock = FakeClock::new(4);
    // 600 s tickets renewable for 1000 s: refresh 400 s after issue (a third left).
    let kdc = kdc(&clock, 600, 1000, |_| None);
    run_fake(&options(false), &clock, &kdc, || 0.5).unwrap();
    let calls = kdc.calls.borrow();
    let m: Vec<Method> = calls.iter().map(|c| c.0).collect();
    assert_eq!(
        m,
        [
            Method::Keytab,
            Method::Renew,
            Method::Keytab,
            Method::Renew,
            Method::Keytab
        ]
    );
    let at: Vec<i64> = calls.iter().map(|c| c.1 - clock.wall0).collect();
    assert_eq!(at, [0, 400, 800, 1200, 1600]);
}

#[test]
fn reinit_frequency_is_the_longest_interval() {
    let clock = FakeClock::new(3);
    // 10 h tickets: by expiry the refresh would be due after 6 h 40; reinit_every is 1 h.
    let kdc = kdc(&clock, 36_000, 360_000, |_| None);
    run_fake(&options(false), &clock, &kdc, || 0.5).unwrap();
    assert_eq!(methods(&kdc), [Method::Keytab; 4]);
    for w in clock.waits.borrow().iter() {
        assert_eq!(*w, Duration::from_secs(3600));
    }
}

#[test]
fn outage_backs_off_exponentially_within_jitter_bounds() {
    let clock = FakeClock::new(7);
    // Up at start, then down for six attempts, then up again.
    let kdc = kdc(&clock, 600, 0, |n| {
        (1..=6).contains(&n).then_some(FailureKind::Transient)
    });
    run_fake(&options(false), &clock, &kdc, || 0.999).unwrap();
    let waits = clock.waits.borrow();
    // waits[0] is the normal refresh interval; then the retries: base 1, 2, 4, ..., jitter
    // drawn from [base/2, base].
    assert_eq!(waits[0], Duration::from_secs(400));
    for (i, w) in waits[1..7].iter().enumerate() {
        let base = Duration::from_secs(1 << i);
        assert!(*w >= base / 2 && *w <= base, "retry {i}: {w:?}");
    }
    // A non-renewable ticket is refreshed from the keytab throughout, and after recovery
    // the normal schedule resumes.
    assert_eq!(methods(&kdc), [Method::Keytab; 8]);
    assert_eq!(waits[7], Duration::from_secs(400));
}

#[test]
fn jitter_changes_the_retry_delay_within_half_to_full() {
    for (jitter, want_ms) in [(|| 0.0) as fn() -> f64, || 0.5]
        .into_iter()
        .zip([1000, 1500])
    {
        let clock = FakeClock::new(3);
        let kdc = kdc(&clock, 600, 0, |n| {
            (1..=2).contains(&n).then_some(FailureKind::Transient)
        });
        run_fake(&options(false), &clock, &kdc, jitter).unwrap();
        // Second retry: base 2 s, drawn from [1 s, 2 s].
        assert_eq!(clock.waits.borrow()[2], Duration::from_millis(want_ms));
    }
}

#[test]
fn outage_retries_renew_while_the_last_ticket_is_renewable() {
    let clock = FakeClock::new(3);
    let kdc = kdc(&clock, 600, 10_000, |n| {
        (n == 1 || n == 2).then_some(FailureKind::Transient)
    });
    run_fake(&options(false), &clock, &kdc, || 0.5).unwrap();
    // Renew fails, falls back to the keytab, which fails too; the retry renews the
    // last good ticket again (it was never replaced), and succeeds.
    assert_eq!(
        methods(&kdc),
        [
            Method::Keytab,
            Method::Renew,
            Method::Keytab,
            Method::Renew,
            Method::Renew
        ]
    );
    assert_eq!(kdc.ticket.get().unwrap().renew_till, clock.wall0 + 10_000);
}

#[test]
fn exit_on_error_gives_up_on_the_first_transient_failure() {
    let clock = FakeClock::new(5);
    let kdc = kdc(&clock, 600, 0, |n| {
        (n == 1).then_some(FailureKind::Transient)
    });
    let err = run_fake(&options(true), &clock, &kdc, || 0.5).unwrap_err();
    assert_eq!(err.exit_code(), hangar_exit::code::FAILURE);
    assert_eq!(methods(&kdc), [Method::Keytab, Method::Keytab]);
}

#[test]
fn without_exit_on_error_a_transient_failure_at_start_is_retried() {
    let clock = FakeClock::new(1);
    let kdc = kdc(&clock, 600, 0, |n| {
        (n == 0).then_some(FailureKind::Transient)
    });
    run_fake(&options(false), &clock, &kdc, || 0.5).unwrap();
    assert_eq!(methods(&kdc), [Method::Keytab, Method::Keytab]);
}

#[test]
fn permanent_failure_at_start_is_fatal() {
    let clock = FakeClock::new(5);
    let kdc = kdc(&clock, 600, 0, |_| Some(FailureKind::PrincipalUnknown));
    let err = run_fake(&options(false), &clock, &kdc, || 0.5).unwrap_err();
    assert_eq!(err.exit_code(), hangar_exit::kerberos::PRINCIPAL_UNKNOWN);
    assert!(clock.waits.borrow().is_empty());
}

/// Records the events the loop logs.
#[derive(Default)]
struct Events(RefCell<Vec<Event>>);

/// Level, event name, fields.
type Event = (Level, String, Vec<(String, String)>);

impl LogSink for Events {
    fn log(&self, level: Level, event: &str, fields: &[(&str, String)]) {
        let fields = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        self.0.borrow_mut().push((level, event.to_owned(), fields));
    }
}

#[test]
fn outage_is_warned_once_and_recovery_logged_with_its_length() {
    let clock = FakeClock::new(6);
    let kdc = kdc(&clock, 600, 0, |n| {
        (1..=4).contains(&n).then_some(FailureKind::Transient)
    });
    let events = Events::default();
    let opts = options(false);
    Refresher {
        opts: &opts,
        name: opts.settings.principal.clone(),
        krb: &kdc,
        clock: &clock,
        jitter: || 0.5,
        sink: &events,
    }
    .run()
    .unwrap();
    let ev = events.0.borrow();
    let failed: Vec<Level> = ev
        .iter()
        .filter(|e| e.1 == "refresh_failed")
        .map(|e| e.0)
        .collect();
    assert_eq!(
        failed,
        [Level::Warn, Level::Debug, Level::Debug, Level::Debug]
    );
    // During the outage the last good ticket's expiry is reported: it was not replaced.
    let first_ok = clock.wall0 + 600;
    for e in ev.iter().filter(|e| e.1 == "refresh_failed") {
        let expires = e.2.iter().find(|f| f.0 == "cache_expires").unwrap();
        assert_eq!(expires.1, rfc3339(first_ok));
    }
    let recovered: Vec<_> = ev.iter().filter(|e| e.1 == "recovered").collect();
    assert_eq!(recovered.len(), 1);
    let field = |k: &str| recovered[0].2.iter().find(|f| f.0 == k).unwrap().1.clone();
    assert_eq!(field("failures"), "4");
    // Retries of 0.75, 1.5, 3 and 6 s (truncated to whole seconds of fake wall time).
    let outage: i64 = field("outage_seconds").parse().unwrap();
    assert!((9..=12).contains(&outage), "{outage}");
    assert_eq!(ev.last().unwrap().1, "exiting");
}

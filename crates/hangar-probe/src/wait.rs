//! Waiting for a target within Airflow's retry budget, polling quickly at first.

use std::time::{Duration, Instant};

use crate::probe::{Kind, ProbeError, probe};
use crate::target::Target;

/// How long to wait: `CONNECTION_CHECK_MAX_COUNT` × `CONNECTION_CHECK_SLEEP_TIME`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Number of upstream-style attempts; 0 disables every wait.
    pub max_count: u32,
    /// Upstream's pause between attempts; also the cap of the back-off.
    pub sleep: Duration,
}

/// A budget variable that is not a number. Names the variable and the bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// `CONNECTION_CHECK_MAX_COUNT` is not a non-negative integer.
    #[error(
        "CONNECTION_CHECK_MAX_COUNT={0:?} is not a whole number: set it to the number of connection \
         checks (default 20; 0 disables the waits) or unset it"
    )]
    MaxCount(String),
    /// `CONNECTION_CHECK_SLEEP_TIME` is not a non-negative number of seconds.
    #[error(
        "CONNECTION_CHECK_SLEEP_TIME={0:?} is not a number of seconds: set it to e.g. 3 or 0.5 \
         (default 3) or unset it"
    )]
    Sleep(String),
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_count: 20,
            sleep: Duration::from_secs(3),
        }
    }
}

impl Budget {
    /// Builds the budget from the values of `CONNECTION_CHECK_MAX_COUNT` (default 20) and
    /// `CONNECTION_CHECK_SLEEP_TIME` (default 3 s, integer or decimal seconds). Unset or empty
    /// means the default (bash `${VAR:=default}`); surrounding blanks are ignored.
    pub fn from_vars(max_count: Option<&str>, sleep: Option<&str>) -> Result<Budget, BudgetError> {
        let dflt = Budget::default();
        let max_count = match max_count.map(str::trim).filter(|s| !s.is_empty()) {
            None => dflt.max_count,
            Some(s) => s
                .parse::<u32>()
                .map_err(|_| BudgetError::MaxCount(max_count.unwrap_or_default().to_owned()))?,
        };
        let sleep = match sleep.map(str::trim).filter(|s| !s.is_empty()) {
            None => dflt.sleep,
            Some(s) => {
                let ok = s.chars().all(|c| c.is_ascii_digit() || c == '.')
                    && s.chars().filter(|&c| c == '.').count() <= 1
                    && s.chars().any(|c| c.is_ascii_digit());
                let secs = s.parse::<f64>().ok().filter(|v| ok && v.is_finite());
                match secs.and_then(|v| Duration::try_from_secs_f64(v).ok()) {
                    Some(d) => d,
                    None => return Err(BudgetError::Sleep(sleep.unwrap_or_default().to_owned())),
                }
            }
        };
        Ok(Budget { max_count, sleep })
    }

    /// Reads `CONNECTION_CHECK_MAX_COUNT` and `CONNECTION_CHECK_SLEEP_TIME` from the
    /// environment.
    pub fn from_env() -> Result<Budget, BudgetError> {
        let a = std::env::var("CONNECTION_CHECK_MAX_COUNT").ok();
        let b = std::env::var("CONNECTION_CHECK_SLEEP_TIME").ok();
        Budget::from_vars(a.as_deref(), b.as_deref())
    }

    /// `true` when `max_count` is 0: no wait at all.
    pub fn is_disabled(&self) -> bool {
        self.max_count == 0
    }

    /// The whole time the wait may take: `max_count` × `sleep`.
    pub fn total(&self) -> Duration {
        self.sleep.saturating_mul(self.max_count)
    }
}

/// Progress of [`wait_for`], for the caller to report.
#[derive(Debug)]
pub enum Event<'a> {
    /// An attempt failed and another will follow.
    Retrying {
        /// Attempts made so far.
        attempt: u32,
        /// Time since the wait began.
        elapsed: Duration,
        /// Why the attempt failed.
        error: &'a ProbeError,
    },
    /// The target is ready.
    Ready {
        /// Attempts made.
        attempts: u32,
        /// Time since the wait began.
        elapsed: Duration,
    },
}

/// Why a wait failed. The `Display` never contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The budget ran out; `last` is the last attempt's error.
    #[error(
        "gave up after {attempts} attempts in {:.1} s: {last}. Raise CONNECTION_CHECK_MAX_COUNT or \
         CONNECTION_CHECK_SLEEP_TIME to wait longer",
        elapsed.as_secs_f64()
    )]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last error.
        last: ProbeError,
    },
    /// The server answered with an error that waiting cannot fix (wrong password, unknown
    /// user or database, another protocol).
    #[error("{0}")]
    Rejected(ProbeError),
}

/// First pause between attempts; doubled after each failure.
const FIRST_DELAY: Duration = Duration::from_millis(10);
/// Longest pause after any failure while the wait is young: cheap for everyone, so the wait
/// proceeds within about 50 ms of the server starting to listen or becoming ready.
const EARLY_CAP: Duration = Duration::from_millis(50);
/// Longest pause after "connection refused" and the like once nothing has listened for
/// [`PATIENCE`]: a server that is not up by then is restarting or being scheduled elsewhere.
const UNREACHABLE_CAP: Duration = Duration::from_millis(250);
/// Longest pause after a server answered "not ready" once it has done so for [`PATIENCE`]:
/// each such attempt may be logged by the server (PostgreSQL logs a FATAL line per refused
/// connection during recovery), so long recoveries are polled gently.
const NOT_READY_CAP: Duration = Duration::from_millis(500);
/// How long one kind of failure is polled at the early caps (start-up windows are short).
const PATIENCE: Duration = Duration::from_secs(10);

/// The longest pause after a failed attempt: short while the failure is young, longer once
/// the same kind of failure (nothing listening, or "not ready") has lasted for [`PATIENCE`].
fn pause_cap(not_ready: bool, failing_for: Duration) -> Duration {
    match (failing_for > PATIENCE, not_ready) {
        (false, _) => EARLY_CAP,
        (true, false) => UNREACHABLE_CAP,
        (true, true) => NOT_READY_CAP,
    }
}
/// Shortest time one attempt may take before it is abandoned.
const MIN_ATTEMPT: Duration = Duration::from_secs(2);

/// A monotonic clock that can pause: the seam [`wait_with`] measures and sleeps through.
pub trait Clock {
    /// The current instant; never goes backwards.
    fn now(&self) -> Instant;
    /// Pauses for `pause`.
    fn sleep(&mut self, pause: Duration);
}

/// The real clock: [`Instant::now`] and [`std::thread::sleep`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&mut self, pause: Duration) {
        std::thread::sleep(pause);
    }
}

/// One readiness attempt that spends at most about `timeout`: the seam [`wait_with`] retries.
pub trait Attempt {
    /// Makes one attempt.
    fn attempt(&mut self, timeout: Duration) -> Result<(), ProbeError>;
}

/// The real attempt: one [`probe`] of the target.
#[derive(Debug, Clone, Copy)]
pub struct ProbeAttempt<'a>(pub &'a Target);

impl Attempt for ProbeAttempt<'_> {
    fn attempt(&mut self, timeout: Duration) -> Result<(), ProbeError> {
        probe(self.0, timeout)
    }
}

impl<F: FnMut(Duration) -> Result<(), ProbeError>> Attempt for F {
    fn attempt(&mut self, timeout: Duration) -> Result<(), ProbeError> {
        self(timeout)
    }
}

/// Probes `target` until it is ready, the budget's total time is spent
/// ([`WaitError::Exhausted`]) or the server rejects the probe ([`WaitError::Rejected`]).
///
/// Pauses start at 10 ms and double, capped at `budget.sleep` and at 50 ms; once the same kind
/// of failure has lasted more than 10 s in a row, at 250 ms while nothing listens and 500 ms
/// while the server answers "not ready". So the wait proceeds within about 50 ms of a server
/// that becomes ready soon, and backs off from one that does not. At least one attempt is
/// made. Each
/// attempt may take at most `max(sleep, 2 s)`, and no longer than what remains of the budget
/// (but at least 200 ms). A disabled budget (`max_count` 0) returns `Ok` without probing.
pub fn wait_for(
    target: &Target,
    budget: &Budget,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(), WaitError> {
    wait_with(
        &mut ProbeAttempt(target),
        &mut SystemClock,
        budget,
        on_event,
    )
}

/// [`wait_for`] with the attempt and the clock given: the same schedule, whatever makes the
/// attempts and measures the time.
pub fn wait_with(
    attempt: &mut dyn Attempt,
    clock: &mut dyn Clock,
    budget: &Budget,
    on_event: &mut dyn FnMut(Event<'_>),
) -> Result<(), WaitError> {
    if budget.is_disabled() {
        return Ok(());
    }
    let start = clock.now();
    let since_start = |clock: &dyn Clock| clock.now().saturating_duration_since(start);
    let total = budget.total();
    let per_attempt = budget.sleep.max(MIN_ATTEMPT);
    let mut delay = FIRST_DELAY;
    let mut attempts = 0u32;
    // The kind of the current run of failures ("not ready" or not) and when it began.
    let mut failing: Option<(bool, Instant)> = None;
    loop {
        let remaining = total.saturating_sub(since_start(clock));
        let timeout = per_attempt.min(remaining.max(Duration::from_millis(200)));
        attempts += 1;
        let err = match attempt.attempt(timeout) {
            Ok(()) => {
                on_event(Event::Ready {
                    attempts,
                    elapsed: since_start(clock),
                });
                return Ok(());
            }
            Err(e) if e.kind() == Kind::Rejected => return Err(WaitError::Rejected(e)),
            Err(e) => e,
        };
        let elapsed = since_start(clock);
        if elapsed >= total {
            return Err(WaitError::Exhausted {
                attempts,
                elapsed,
                last: err,
            });
        }
        on_event(Event::Retrying {
            attempt: attempts,
            elapsed,
            error: &err,
        });
        let not_ready = err.kind() == Kind::NotReady;
        let since = match failing {
            Some((kind, since)) if kind == not_ready => since,
            _ => failing.insert((not_ready, clock.now())).1,
        };
        let cap = pause_cap(not_ready, clock.now().saturating_duration_since(since));
        let pause = delay.min(cap).min(budget.sleep).min(total - elapsed);
        clock.sleep(pause);
        delay = delay.saturating_mul(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_defaults_and_errors() {
        assert_eq!(Budget::from_vars(None, None).unwrap(), Budget::default());
        assert_eq!(
            Budget::from_vars(Some(""), Some("")).unwrap(),
            Budget::default()
        );
        let b = Budget::from_vars(Some("5"), Some("0.5")).unwrap();
        assert_eq!(b.max_count, 5);
        assert_eq!(b.sleep, Duration::from_millis(500));
        assert_eq!(b.total(), Duration::from_millis(2500));
        assert!(Budget::from_vars(Some("0"), None).unwrap().is_disabled());
        let e = Budget::from_vars(Some("many"), None).unwrap_err();
        assert!(
            e.to_string()
                .contains("CONNECTION_CHECK_MAX_COUNT=\"many\""),
            "{e}"
        );
        let e = Budget::from_vars(None, Some("3s")).unwrap_err();
        assert!(
            e.to_string().contains("CONNECTION_CHECK_SLEEP_TIME=\"3s\""),
            "{e}"
        );
        assert!(Budget::from_vars(None, Some("-1")).is_err());
        assert!(Budget::from_vars(None, Some("inf")).is_err());
        assert!(Budget::from_vars(Some("-1"), None).is_err());
    }

    #[test]
    fn pauses_are_short_while_a_failure_is_young_and_back_off_after() {
        let young = Duration::from_secs(3);
        let old = Duration::from_secs(11);
        assert_eq!(pause_cap(false, young), Duration::from_millis(50));
        assert_eq!(pause_cap(true, young), Duration::from_millis(50));
        assert_eq!(pause_cap(false, old), Duration::from_millis(250));
        assert_eq!(pause_cap(true, old), Duration::from_millis(500));
    }

    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    use crate::probe::{Kind, Reason};

    /// A clock that moves only when slept on (or when a fake attempt spends time), and
    /// records every pause.
    #[derive(Clone)]
    struct FakeClock {
        origin: Instant,
        offset: Rc<Cell<Duration>>,
        pauses: Rc<RefCell<Vec<Duration>>>,
    }

    impl FakeClock {
        fn new() -> FakeClock {
            FakeClock {
                origin: Instant::now(),
                offset: Rc::default(),
                pauses: Rc::default(),
            }
        }

        fn advance(&self, d: Duration) {
            self.offset.set(self.offset.get() + d);
        }

        fn pauses(&self) -> Vec<Duration> {
            self.pauses.borrow().clone()
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.origin + self.offset.get()
        }

        fn sleep(&mut self, pause: Duration) {
            self.pauses.borrow_mut().push(pause);
            self.advance(pause);
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn fail(kind: Kind) -> ProbeError {
        ProbeError::new(kind, Reason::Connect, format!("{kind:?}"))
    }

    /// What one run of [`wait_with`] did.
    struct Run {
        result: Result<(), WaitError>,
        pauses: Vec<Duration>,
        timeouts: Vec<Duration>,
        /// (attempt, elapsed) of each `Retrying`, then of `Ready`.
        retrying: Vec<(u32, Duration)>,
        ready: Option<(u32, Duration)>,
    }

    /// Runs [`wait_with`] on a fake clock; `outcome(n, timeout, clock)` answers attempt `n`
    /// (from 1) and may spend time on `clock`.
    fn run(
        budget: Budget,
        mut outcome: impl FnMut(u32, Duration, &FakeClock) -> Result<(), ProbeError>,
    ) -> Run {
        let clock = FakeClock::new();
        let mut timeouts = Vec::new();
        let mut n = 0;
        let mut retrying = Vec::new();
        let mut ready = None;
        let attempt_clock = clock.clone();
        let mut attempt = |timeout: Duration| {
            n += 1;
            timeouts.push(timeout);
            outcome(n, timeout, &attempt_clock)
        };
        let result = wait_with(
            &mut attempt,
            &mut clock.clone(),
            &budget,
            &mut |e| match e {
                Event::Retrying {
                    attempt, elapsed, ..
                } => retrying.push((attempt, elapsed)),
                Event::Ready { attempts, elapsed } => ready = Some((attempts, elapsed)),
            },
        );
        Run {
            result,
            pauses: clock.pauses(),
            timeouts,
            retrying,
            ready,
        }
    }

    /// 10, 20, 40 ms, then `n` pauses of 50 ms.
    fn young_schedule(n: usize) -> Vec<Duration> {
        let mut v = vec![ms(10), ms(20), ms(40)];
        v.extend(std::iter::repeat_n(ms(50), n));
        v
    }

    #[test]
    fn nothing_listening_is_polled_every_50_ms_for_10_s_then_every_250_ms() {
        let budget = Budget {
            max_count: 20,
            sleep: Duration::from_secs(3),
        };
        let r = run(budget, |_, _, _| Err(fail(Kind::Unreachable)));
        // Pauses are decided at 0, 10, 30, 70, 120, … ms; the last 50 ms pause starts at
        // 9970 ms, the first 250 ms one at 10020 ms (failing for more than 10 s), and the
        // last is cut to the 230 ms left of the 60 s budget.
        let mut expected = young_schedule(199);
        expected.extend(std::iter::repeat_n(ms(250), 199));
        expected.push(ms(230));
        assert_eq!(r.pauses, expected);
        assert_eq!(r.pauses.iter().sum::<Duration>(), Duration::from_secs(60));
        match r.result {
            Err(WaitError::Exhausted {
                attempts,
                elapsed,
                last,
            }) => {
                assert_eq!(attempts, 403);
                assert_eq!(elapsed, Duration::from_secs(60));
                assert_eq!(last.kind(), Kind::Unreachable);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            r.retrying.len(),
            402,
            "every failure but the last is reported"
        );
        assert_eq!(r.retrying[3], (4, ms(70)));
        assert!(r.ready.is_none());
    }

    #[test]
    fn not_ready_is_polled_every_50_ms_for_10_s_then_every_500_ms() {
        let budget = Budget {
            max_count: 4,
            sleep: Duration::from_secs(3),
        };
        let r = run(budget, |_, _, _| Err(fail(Kind::NotReady)));
        // 10020 ms after 202 pauses; then 500 ms pauses up to 11520 ms and the 480 ms left.
        let mut expected = young_schedule(199);
        expected.extend([ms(500), ms(500), ms(500), ms(480)]);
        assert_eq!(r.pauses, expected);
        assert!(matches!(
            r.result,
            Err(WaitError::Exhausted { attempts: 207, .. })
        ));
    }

    #[test]
    fn another_kind_of_failure_is_young_again() {
        let budget = Budget {
            max_count: 20,
            sleep: Duration::from_secs(3),
        };
        // Nothing listens for 205 attempts (into the 250 ms back-off), then the server
        // answers "not ready" twice, then it is ready.
        let r = run(budget, |n, _, _| match n {
            1..=205 => Err(fail(Kind::Unreachable)),
            206 | 207 => Err(fail(Kind::NotReady)),
            _ => Ok(()),
        });
        let mut expected = young_schedule(199);
        expected.extend([ms(250), ms(250), ms(250)]);
        expected.extend([ms(50), ms(50)]);
        assert_eq!(r.pauses, expected);
        r.result.unwrap();
        let elapsed = r.pauses.iter().sum::<Duration>();
        assert_eq!(elapsed, ms(10_870));
        assert_eq!(r.ready, Some((208, elapsed)));
        assert_eq!(r.retrying.len(), 207);
    }

    #[test]
    fn pauses_never_exceed_the_budget_sleep() {
        let budget = Budget {
            max_count: 10,
            sleep: ms(15),
        };
        let r = run(budget, |_, _, _| Err(fail(Kind::Unreachable)));
        // 150 ms in all: 10, then 15 ms pauses, the last one cut to what is left.
        let mut expected = vec![ms(10)];
        expected.extend(std::iter::repeat_n(ms(15), 9));
        expected.push(ms(5));
        assert_eq!(r.pauses, expected);
        assert!(matches!(
            r.result,
            Err(WaitError::Exhausted { attempts: 12, .. })
        ));
    }

    #[test]
    fn attempts_are_limited_to_what_is_left_of_the_budget() {
        let budget = Budget {
            max_count: 5,
            sleep: Duration::from_secs(1),
        };
        // A server that accepts connections but never answers: each attempt takes its whole
        // timeout, at most max(sleep, 2 s), no more than what is left (but at least 200 ms).
        let r = run(budget, |_, timeout, clock| {
            clock.advance(timeout);
            Err(fail(Kind::NotReady))
        });
        assert_eq!(
            r.timeouts,
            [Duration::from_secs(2), Duration::from_secs(2), ms(970)]
        );
        assert_eq!(r.pauses, [ms(10), ms(20)]);
        match r.result {
            Err(WaitError::Exhausted {
                attempts, elapsed, ..
            }) => {
                assert_eq!(attempts, 3);
                assert_eq!(elapsed, Duration::from_secs(5));
            }
            other => panic!("{other:?}"),
        }

        // The short budget's end: an attempt still gets 200 ms.
        let budget = Budget {
            max_count: 3,
            sleep: ms(100),
        };
        let r = run(budget, |_, _, _| Err(fail(Kind::Unreachable)));
        assert_eq!(
            r.pauses,
            young_schedule(4)
                .into_iter()
                .chain([ms(30)])
                .collect::<Vec<_>>()
        );
        assert_eq!(r.timeouts[0], ms(300));
        assert_eq!(r.timeouts[4], ms(200), "120 ms in, 180 ms left");
        assert_eq!(r.timeouts.last(), Some(&ms(200)));
        assert!(matches!(
            r.result,
            Err(WaitError::Exhausted { attempts: 9, .. })
        ));
    }

    #[test]
    fn an_attempt_past_the_deadline_ends_the_wait_without_pausing() {
        let budget = Budget {
            max_count: 1,
            sleep: ms(500),
        };
        let r = run(budget, |_, timeout, clock| {
            clock.advance(timeout);
            Err(fail(Kind::Unreachable))
        });
        assert_eq!(r.timeouts, [Duration::from_secs(2).min(ms(500))]);
        assert!(r.pauses.is_empty());
        assert!(r.retrying.is_empty());
        assert!(matches!(
            r.result,
            Err(WaitError::Exhausted { attempts: 1, .. })
        ));
    }

    #[test]
    fn a_rejection_ends_the_wait_at_once() {
        let budget = Budget::default();
        let r = run(budget, |_, _, _| {
            Err(ProbeError::new(
                Kind::Rejected,
                Reason::Sqlstate("28P01".into()),
                "wrong password",
            ))
        });
        assert!(r.pauses.is_empty());
        assert_eq!(r.timeouts.len(), 1);
        assert!(r.retrying.is_empty() && r.ready.is_none());
        match r.result {
            Err(WaitError::Rejected(e)) => {
                assert_eq!(e.reason(), &Reason::Sqlstate("28P01".into()));
                assert_eq!(e.to_string(), "wrong password");
            }
            other => panic!("{other:?}"),
        }

        // After failures that waiting could fix: no pause after the rejection either.
        let r = run(budget, |n, _, _| match n {
            1..=3 => Err(fail(Kind::NotReady)),
            _ => Err(fail(Kind::Rejected)),
        });
        assert_eq!(r.pauses, [ms(10), ms(20), ms(40)]);
        assert_eq!(r.timeouts.len(), 4);
        assert_eq!(r.retrying.len(), 3);
        assert!(matches!(r.result, Err(WaitError::Rejected(_))));
    }

    #[test]
    fn ready_at_once_does_not_pause() {
        let r = run(Budget::default(), |_, _, clock| {
            clock.advance(ms(7));
            Ok(())
        });
        r.result.unwrap();
        assert!(r.pauses.is_empty() && r.retrying.is_empty());
        assert_eq!(r.timeouts, [Duration::from_secs(3)]);
        assert_eq!(r.ready, Some((1, ms(7))));
    }

    #[test]
    fn disabled_budget_does_not_probe() {
        let target = Target::Tcp {
            host: "127.0.0.1".into(),
            port: 1,
        };
        let budget = Budget {
            max_count: 0,
            sleep: Duration::from_secs(3),
        };
        let mut events = 0;
        wait_for(&target, &budget, &mut |_| events += 1).unwrap();
        assert_eq!(events, 0);
        let r = run(budget, |_, _, _| panic!("a disabled budget must not probe"));
        r.result.unwrap();
        assert!(r.timeouts.is_empty() && r.pauses.is_empty() && r.ready.is_none());
    }
}

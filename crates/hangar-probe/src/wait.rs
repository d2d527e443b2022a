//! Waiting for a target within Airflow's retry budget, polling quickly at first.

use std::time::{Duration, Instant};

use crate::probe::{ProbeError, probe};
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
    if budget.is_disabled() {
        return Ok(());
    }
    let start = Instant::now();
    let total = budget.total();
    let per_attempt = budget.sleep.max(MIN_ATTEMPT);
    let mut delay = FIRST_DELAY;
    let mut attempts = 0u32;
    // The kind of the current run of failures ("not ready" or not) and when it began.
    let mut failing: Option<(bool, Instant)> = None;
    loop {
        let remaining = total.saturating_sub(start.elapsed());
        let timeout = per_attempt.min(remaining.max(Duration::from_millis(200)));
        attempts += 1;
        let err = match probe(target, timeout) {
            Ok(()) => {
                on_event(Event::Ready {
                    attempts,
                    elapsed: start.elapsed(),
                });
                return Ok(());
            }
            Err(e @ ProbeError::Rejected(_)) => return Err(WaitError::Rejected(e)),
            Err(e) => e,
        };
        let elapsed = start.elapsed();
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
        let not_ready = matches!(err, ProbeError::NotReady(_));
        let since = match failing {
            Some((kind, since)) if kind == not_ready => since,
            _ => failing.insert((not_ready, Instant::now())).1,
        };
        let cap = pause_cap(not_ready, since.elapsed());
        let pause = delay.min(cap).min(budget.sleep).min(total - elapsed);
        std::thread::sleep(pause);
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

    #[test]
    fn nothing_listening_is_polled_less_often_after_the_patience() {
        // A port nothing listens on, for 12.5 s: about 200 attempts at the early 50 ms cap
        // (plus connect time) for the first 10 s, then about 10 at 250 ms.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let target = Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        let budget = Budget {
            max_count: 5,
            sleep: Duration::from_millis(2500),
        };
        let mut early = 0u32;
        let mut late = 0u32;
        let err = wait_for(&target, &budget, &mut |e| {
            if let Event::Retrying { elapsed, .. } = e {
                if elapsed <= PATIENCE {
                    early += 1;
                } else {
                    late += 1;
                }
            }
        })
        .unwrap_err();
        assert!(matches!(err, WaitError::Exhausted { .. }), "{err}");
        assert!(early >= 100, "polled quickly at first: {early} attempts");
        assert!(
            (2..=14).contains(&late),
            "backed off to about 4 attempts a second: {late} attempts in the last 2.5 s"
        );
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
    }
}

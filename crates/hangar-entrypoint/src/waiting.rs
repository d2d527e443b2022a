//! Waiting for a service with the shared budget, with progress on stderr.

use std::time::Duration;

use hangar_probe::target::Target;
use hangar_probe::wait::{Attempt, Budget, Event, ProbeAttempt, SystemClock, WaitError, wait_with};

use crate::error::EntrypointError;
use crate::os::System;

/// `CONNECTION_CHECK_MAX_COUNT` / `CONNECTION_CHECK_SLEEP_TIME` from the environment.
pub fn budget(env: &crate::env::ChildEnv) -> Result<Budget, EntrypointError> {
    for var in ["CONNECTION_CHECK_MAX_COUNT", "CONNECTION_CHECK_SLEEP_TIME"] {
        if env.get_os(var).is_some() && env.get(var).is_none() {
            return Err(EntrypointError::bad_input(
                var,
                "the value is not valid UTF-8; use a number",
            ));
        }
    }
    Ok(Budget::from_vars(
        env.get("CONNECTION_CHECK_MAX_COUNT"),
        env.get("CONNECTION_CHECK_SLEEP_TIME"),
    )?)
}

/// Waits until `target` is ready. `what` names the service ("the metadata database"),
/// `origin` says where its URL came from (for messages; never the URL's password).
///
/// A pending TERM/INT/QUIT/HUP (the container is being stopped) ends the wait with 128+n.
pub fn wait(
    sys: &dyn System,
    what: &str,
    origin: &str,
    target: &Target,
    budget: &Budget,
) -> Result<(), EntrypointError> {
    wait_until(
        sys,
        what,
        origin,
        &target.describe(),
        &mut ProbeAttempt(target),
        budget,
    )
}

/// Like [`wait`], with the attempt given: `describe` names what it checks, e.g. the target
/// and what it must be (`…, migrated for Airflow 3.3.2`).
pub fn wait_until(
    sys: &dyn System,
    what: &str,
    origin: &str,
    describe: &str,
    attempt: &mut dyn Attempt,
    budget: &Budget,
) -> Result<(), EntrypointError> {
    let describe = describe.to_owned();
    let mut announced = false;
    let mut next_report = Duration::ZERO;
    let mut on_event = |event: Event<'_>| match event {
        Event::Retrying {
            attempt,
            elapsed,
            error,
        } => {
            if let Some(sig) = sys.pending_stop_signal() {
                crate::warn(&format!(
                    "stopped by signal {sig} while waiting for {what}; not starting the command"
                ));
                std::process::exit(128 + sig);
            }
            if !announced {
                announced = true;
                crate::info(&format!(
                    "waiting for {what}: {describe} (from {origin}); up to {:.0?} \
                     (CONNECTION_CHECK_MAX_COUNT × CONNECTION_CHECK_SLEEP_TIME)",
                    budget.total()
                ));
                next_report = budget.sleep.max(Duration::from_secs(1));
            } else if elapsed >= next_report {
                crate::info(&format!(
                    "still waiting for {what} after {:.1}s (attempt {attempt}): {error}",
                    elapsed.as_secs_f64()
                ));
                next_report = elapsed + budget.sleep.max(Duration::from_secs(1));
            }
        }
        Event::Ready { attempts, elapsed } => {
            if attempts > 1 {
                crate::info(&format!(
                    "{what} is ready after {:.2}s ({attempts} attempts)",
                    elapsed.as_secs_f64()
                ));
            }
        }
    };
    match wait_with(attempt, &mut SystemClock, budget, &mut on_event) {
        Ok(()) => Ok(()),
        Err(WaitError::Exhausted {
            attempts,
            elapsed,
            last,
        }) => Err(EntrypointError::NotReady {
            what: what.to_owned(),
            describe,
            origin: origin.to_owned(),
            attempts,
            elapsed,
            last: Box::new(last),
        }),
        Err(WaitError::Rejected(source)) => Err(EntrypointError::Rejected {
            what: what.to_owned(),
            describe,
            origin: origin.to_owned(),
            source: Box::new(source),
        }),
    }
}

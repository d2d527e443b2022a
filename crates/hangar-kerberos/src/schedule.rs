//! When to refresh, how, and how long to back off after a failure. Pure functions of the
//! ticket's times and the clock, so every rule is unit-tested without a KDC.

use std::time::Duration;

use crate::krb5::Times;

/// The refresh policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Refresh when less than this much lifetime remains; `None`: a third of the ticket's
    /// lifetime (so a 30 s ticket is refreshed 20 s after it was issued, a 10 h one after 6 h 40).
    pub margin: Option<u64>,
    /// Upper bound between two refreshes (`[kerberos] reinit_frequency`); reaching it
    /// re-initialises from the keytab, as `airflow kerberos` does every period.
    pub reinit_every: u64,
    /// Renew (TGS) while the ticket is renewable instead of always using the keytab.
    pub renew: bool,
}

/// How to refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `kinit -R`: renew the TGT in the cache.
    Renew,
    /// `kinit -k -t`: a new AS exchange with the keytab.
    Keytab,
}

impl Method {
    /// Name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Renew => "renew",
            Method::Keytab => "keytab",
        }
    }
}

/// What the refresher knows about the ticket it last wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    /// The TGT's times.
    pub times: Times,
    /// The TGT carries the renewable flag.
    pub renewable: bool,
    /// When it was last obtained from the keytab.
    pub last_keytab: i64,
}

/// The margin in seconds for a ticket with these times (at least 1 s).
pub fn margin_for(times: &Times, policy: &Policy) -> i64 {
    let lifetime = (times.end - times.start).max(0);
    let m = policy
        .margin
        .map_or(lifetime / 3, |m| i64::try_from(m).unwrap_or(i64::MAX));
    m.max(1)
}

/// When the next refresh is due, and which method the due time calls for.
pub fn next_refresh(cur: &Current, policy: &Policy) -> (i64, Method) {
    let by_expiry = cur.times.end - margin_for(&cur.times, policy);
    let by_reinit = cur
        .last_keytab
        .saturating_add(i64::try_from(policy.reinit_every).unwrap_or(i64::MAX));
    if by_reinit <= by_expiry {
        (by_reinit, Method::Keytab)
    } else {
        let method = if can_renew(cur, by_expiry, policy) {
            Method::Renew
        } else {
            Method::Keytab
        };
        (by_expiry, method)
    }
}

/// Renewal is worth it when the ticket is renewable, still valid at `at`, and its renew-until
/// leaves more than one margin of new lifetime; otherwise only the keytab helps.
pub fn can_renew(cur: &Current, at: i64, policy: &Policy) -> bool {
    policy.renew
        && cur.renewable
        && cur.times.end > at
        && cur.times.renew_till - at > margin_for(&cur.times, policy)
}

/// Jittered exponential backoff: attempt 0 waits about `initial`, doubling up to `max`;
/// the wait is drawn from [base/2, base] (`unit` is a random number in [0, 1)).
pub fn backoff(attempt: u32, initial: Duration, max: Duration, unit: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(20));
    let base = initial.saturating_mul(factor).min(max);
    let half = base / 2;
    let jitter = half.mul_f64(unit.clamp(0.0, 1.0));
    (half + jitter).max(Duration::from_millis(100))
}

/// A random number in [0, 1) from the standard library's randomly keyed hasher.
pub fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    #[allow(clippy::cast_precision_loss)]
    let x = (h.finish() >> 11) as f64;
    #[allow(clippy::cast_precision_loss)]
    let scale = (1u64 << 53) as f64;
    x / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(start: i64, end: i64, renew_till: i64, renewable: bool) -> Current {
        Current {
            times: Times {
                start,
                end,
                renew_till,
            },
            renewable,
            last_keytab: start,
        }
    }

    const DEFAULT: Policy = Policy {
        margin: None,
        reinit_every: 3600,
        renew: true,
    };

    #[test]
    fn refresh_at_two_thirds_of_the_lifetime_by_renewal() {
        let c = cur(1000, 1030, 1300, true);
        assert_eq!(next_refresh(&c, &DEFAULT), (1020, Method::Renew));
    }

    #[test]
    fn reinit_frequency_bounds_the_interval_and_uses_the_keytab() {
        let c = cur(0, 36_000, 7 * 86_400, true);
        assert_eq!(next_refresh(&c, &DEFAULT), (3600, Method::Keytab));
    }

    #[test]
    fn near_renew_until_the_keytab_is_used() {
        // Renewed ticket would last only 5 s past the refresh: not worth it.
        let c = cur(1000, 1030, 1025, true);
        assert_eq!(next_refresh(&c, &DEFAULT).1, Method::Keytab);
        let c = cur(1000, 1030, 1030, true);
        assert_eq!(next_refresh(&c, &DEFAULT).1, Method::Keytab);
        let c = cur(1000, 1030, 1031, true);
        assert_eq!(next_refresh(&c, &DEFAULT).1, Method::Renew);
    }

    #[test]
    fn non_renewable_or_disabled_renewal_uses_the_keytab() {
        assert_eq!(
            next_refresh(&cur(0, 30, 0, false), &DEFAULT).1,
            Method::Keytab
        );
        let no_renew = Policy {
            renew: false,
            ..DEFAULT
        };
        assert_eq!(
            next_refresh(&cur(0, 30, 300, true), &no_renew).1,
            Method::Keytab
        );
    }

    #[test]
    fn an_expired_ticket_is_never_renewed() {
        let c = cur(0, 30, 300, true);
        assert!(!can_renew(&c, 31, &DEFAULT));
        assert!(can_renew(&c, 25, &DEFAULT));
    }

    #[test]
    fn explicit_margin_and_minimum_of_one_second() {
        let p = Policy {
            margin: Some(5),
            ..DEFAULT
        };
        assert_eq!(next_refresh(&cur(0, 30, 300, true), &p).0, 25);
        assert_eq!(
            margin_for(
                &Times {
                    start: 0,
                    end: 2,
                    renew_till: 0
                },
                &DEFAULT
            ),
            1
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let i = Duration::from_secs(1);
        let m = Duration::from_secs(8);
        assert_eq!(backoff(0, i, m, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(0, i, m, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(2, i, m, 1.0), Duration::from_secs(4));
        assert_eq!(backoff(10, i, m, 1.0), m);
        assert_eq!(backoff(u32::MAX, i, m, 0.5), Duration::from_secs(6));
        for a in 0..30 {
            let d = backoff(a, i, m, random_unit());
            assert!(d <= m && d >= Duration::from_millis(100), "{d:?}");
        }
    }

    #[test]
    fn random_unit_is_in_range_and_varies() {
        let xs: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.windows(2).any(|w| (w[0] - w[1]).abs() > f64::EPSILON));
    }
}

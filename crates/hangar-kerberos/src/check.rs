//! `hangar kerberos check`: is there a TGT in the cache valid for long enough? Reads the cache
//! only (no KDC traffic), for startup, readiness and liveness probes.

use crate::cache::CacheName;
use crate::krb5::{Context, ContextError};
use crate::log::rfc3339;

/// The result of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A TGT valid for at least the requested time.
    Valid {
        /// Client principal.
        principal: String,
        /// Expiry (epoch seconds).
        end: i64,
        /// Seconds left.
        remaining: i64,
    },
    /// No cache, or it cannot be read.
    Missing {
        /// Why.
        reason: String,
    },
    /// The cache holds no ticket-granting ticket for its principal.
    NoTgt,
    /// The TGT has expired (or was marked invalid).
    Expired {
        /// Client principal.
        principal: String,
        /// Expiry (epoch seconds).
        end: i64,
    },
    /// Valid, but for less than the requested time.
    TooShort {
        /// Client principal.
        principal: String,
        /// Seconds left.
        remaining: i64,
        /// Seconds requested.
        wanted: u64,
    },
}

impl Outcome {
    /// Exit codes: 0 valid, 10 cache missing or unreadable, 11 no TGT, 12 expired, 13 too short.
    pub fn exit_code(&self) -> u8 {
        use hangar_exit::{code, kerberos};
        match self {
            Outcome::Valid { .. } => code::OK,
            Outcome::Missing { .. } => kerberos::CHECK_MISSING,
            Outcome::NoTgt => kerberos::CHECK_NO_TGT,
            Outcome::Expired { .. } => kerberos::CHECK_EXPIRED,
            Outcome::TooShort { .. } => kerberos::CHECK_TOO_SHORT,
        }
    }

    /// One line for the probe's output.
    pub fn describe(&self, cache: &CacheName) -> String {
        match self {
            Outcome::Valid {
                principal,
                end,
                remaining,
            } => {
                format!(
                    "{cache}: TGT for {principal} valid for {remaining} s more (until {})",
                    rfc3339(*end)
                )
            }
            Outcome::Missing { reason } => format!("{cache}: no usable ticket cache: {reason}"),
            Outcome::NoTgt => format!("{cache}: the cache holds no ticket-granting ticket"),
            Outcome::Expired { principal, end } => {
                format!(
                    "{cache}: the TGT for {principal} expired at {}",
                    rfc3339(*end)
                )
            }
            Outcome::TooShort {
                principal,
                remaining,
                wanted,
            } => {
                format!(
                    "{cache}: the TGT for {principal} is valid for only {remaining} s, less than the {wanted} s required"
                )
            }
        }
    }
}

impl hangar_exit::ExitStatus for Outcome {
    fn exit_code(&self) -> u8 {
        Outcome::exit_code(self)
    }
}

/// Checks `cache` at time `now` (epoch seconds). Errors only when libkrb5 cannot be used.
pub fn check(cache: &CacheName, min_remaining: u64, now: i64) -> Result<Outcome, ContextError> {
    if let CacheName::File(path) = cache
        && let Err(e) = std::fs::metadata(path)
    {
        return Ok(Outcome::Missing {
            reason: e.to_string(),
        });
    }
    let ctx = Context::new()?;
    let creds = match ctx
        .ccache(&cache.krb5_name())
        .and_then(|cc| cc.credentials())
    {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::Missing { reason: e.message }),
    };
    let Some(tgt) = creds
        .iter()
        .filter(|c| c.is_local_tgt)
        .max_by_key(|c| c.times.end)
    else {
        return Ok(Outcome::NoTgt);
    };
    let remaining = tgt.times.end - now;
    let principal = tgt.client.clone();
    if remaining <= 0 || tgt.invalid() {
        return Ok(Outcome::Expired {
            principal,
            end: tgt.times.end,
        });
    }
    if remaining < i64::try_from(min_remaining).unwrap_or(i64::MAX) {
        return Ok(Outcome::TooShort {
            principal,
            remaining,
            wanted: min_remaining,
        });
    }
    Ok(Outcome::Valid {
        principal,
        end: tgt.times.end,
        remaining,
    })
}

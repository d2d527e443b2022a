//! The refresher loop: obtain a TGT from the keytab, write it, and keep it fresh.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cache::{self, CacheName, FileOps, RealFileOps, WriteOptions};
use crate::krb5::{Context, ContextError, Krb5Error};
use crate::log::{Level, Logger, rfc3339};
use crate::schedule::{self, Current, Method, Policy};
use crate::settings::Settings;
use crate::signals::{Waiter, Wake, signal_name};
use crate::{FailureKind, KerberosError};

/// Everything `hangar kerberos` needs to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Resolved settings (principal, keytab, cache, request options).
    pub settings: Settings,
    /// Obtain one ticket and exit (`-o/--one-time`).
    pub one_time: bool,
    /// Exit on the first failure instead of retrying (k5start's `-x`).
    pub exit_on_error: bool,
    /// Exit cleanly once this file exists.
    pub exit_when: Option<PathBuf>,
    /// Owner, group, mode, config stripping for the written cache.
    pub write: WriteOptions,
    /// When and how to refresh.
    pub policy: Policy,
    /// First retry delay after a failure.
    pub retry_initial: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Log output.
    pub logger: Logger,
}

/// Runs the refresher until a signal, the exit file, one-time completion, or a fatal error,
/// which is also logged as `giving_up` (at start as well as later).
pub fn run(opts: &RunOptions) -> Result<(), KerberosError> {
    let result = run_until_done(opts);
    if let Err(e) = &result {
        opts.logger.log(
            Level::Error,
            "giving_up",
            &[
                ("principal", opts.settings.principal.clone()),
                ("reason", e.to_string()),
            ],
        );
    }
    result
}

fn run_until_done(opts: &RunOptions) -> Result<(), KerberosError> {
    let waiter = Waiter::new(opts.exit_when.clone()).map_err(KerberosError::Signals)?;
    let log = opts.logger;
    let s = &opts.settings;
    if s.keytab.trim().is_empty() {
        log.log(
            Level::Warn,
            "no_keytab",
            &[(
                "message",
                format!(
                    "no keytab configured ({} is empty); nothing to refresh",
                    s.keytab_source
                ),
            )],
        );
        return Ok(());
    }
    preflight_krb5_config()?;
    preflight_keytab(&s.keytab, &s.keytab_source)?;
    // Validate everything once at start (permanent errors exit here), then let go of the
    // context: each refresh uses a fresh one, so krb5.conf changes are picked up and the
    // preauth plugins libkrb5 loads for an exchange do not stay mapped while the refresher sleeps.
    let principal_name = {
        let ctx = Context::new().map_err(|e| match e {
            ContextError::Init { files, source } => KerberosError::Krb5Conf(format!(
                "cannot use the Kerberos configuration ({files}): {}; fix the file's syntax (see krb5.conf(5)) or \
                 point KRB5_CONFIG at a valid one",
                source.message
            )),
            load @ ContextError::Load { .. } => KerberosError::Load(load),
        })?;
        let principal = ctx
            .parse_name(&s.principal)
            .map_err(|e| KerberosError::BadPrincipal {
                principal: s.principal.clone(),
                source_name: "the principal setting".to_owned(),
                message: e.message,
            })?;
        let keytab = ctx.keytab(&s.keytab).map_err(|e| KerberosError::Kerberos {
            kind: FailureKind::KeytabInvalid,
            message: format!(
                "cannot open the keytab {} ({}): {}",
                s.keytab, s.keytab_source, e.message
            ),
        })?;
        let name = principal.unparse().unwrap_or_else(|_| s.principal.clone());
        // Read the keytab now, so that a wrong principal or a malformed keytab ends the start
        // even while the KDC is unreachable (the AS exchange would report the outage first).
        keytab.has_key_for(&principal).map_err(|e| {
            let kind = match FailureKind::of(e.code) {
                FailureKind::PrincipalUnknown => FailureKind::PrincipalUnknown,
                _ => FailureKind::KeytabInvalid,
            };
            KerberosError::Kerberos {
                kind,
                message: format!(
                    "the keytab {} ({}) has no usable key for {name}: {}; {}",
                    s.keytab,
                    s.keytab_source,
                    e.message,
                    fix_for(kind)
                ),
            }
        })?;
        name
    };
    let krb = Krb5Attempt {
        opts,
        ops: &RealFileOps,
    };
    let clock = SystemClock { waiter: &waiter };
    let r = Refresher {
        opts,
        name: principal_name,
        krb: &krb,
        clock: &clock,
        jitter: schedule::random_unit,
        sink: &opts.logger,
    };
    r.run()
}

/// Fails early when `KRB5_CONFIG` names a file that does not exist (libkrb5 would silently
/// ignore it and fall back to a configuration without the realm).
fn preflight_krb5_config() -> Result<(), KerberosError> {
    let Ok(list) = std::env::var("KRB5_CONFIG") else {
        return Ok(());
    };
    for file in list.split(':').filter(|f| !f.is_empty()) {
        if let Err(e) = std::fs::metadata(file) {
            return Err(KerberosError::Krb5Conf(format!(
                "KRB5_CONFIG names {file}, which cannot be read: {e}; mount the krb5.conf there or fix KRB5_CONFIG"
            )));
        }
    }
    Ok(())
}

/// The keytab's file path, for the types stored in files.
fn keytab_path(name: &str) -> Option<&Path> {
    match name.split_once(':') {
        Some((kind, rest))
            if kind.eq_ignore_ascii_case("FILE") || kind.eq_ignore_ascii_case("WRFILE") =>
        {
            Some(Path::new(rest))
        }
        Some((kind, _)) if kind.len() > 1 && !kind.contains('/') => None,
        _ => Some(Path::new(name)),
    }
}

fn preflight_keytab(name: &str, source_name: &str) -> Result<(), KerberosError> {
    let Some(path) = keytab_path(name) else {
        return Ok(());
    };
    std::fs::File::open(path)
        .map(drop)
        .map_err(|source| KerberosError::KeytabUnreadable {
            path: path.to_path_buf(),
            source_name: source_name.to_owned(),
            source,
            uid: nix::unistd::geteuid().as_raw(),
        })
}

/// What the user can do about a failure of this kind.
fn fix_for(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Transient => {
            "check that the KDC named in krb5.conf for this realm is running and reachable"
        }
        FailureKind::Krb5Conf => {
            "fix krb5.conf (KRB5_CONFIG): the realm needs a [realms] entry or DNS SRV records"
        }
        FailureKind::KeytabInvalid => {
            "re-export the keytab (e.g. `kadmin -q \"ktadd -k FILE PRINCIPAL\"`): it is malformed, empty, or its keys no longer match the KDC"
        }
        FailureKind::PrincipalUnknown => {
            "check the principal name (positional argument or [kerberos] principal) against `klist -k KEYTAB`"
        }
        FailureKind::Refused => "see the KDC's reason above",
    }
}

/// Time as the refresher loop needs it: wall time for ticket times, monotonic time and a wait
/// that returns early on a signal or the exit file.
trait Clock {
    /// Wall time, epoch seconds.
    fn now(&self) -> i64;
    /// Monotonic time.
    fn instant(&self) -> Instant;
    /// Waits until `deadline`, a signal or the exit file.
    fn wait_until(&self, deadline: Instant) -> Wake;
    /// The exit file exists.
    fn exit_file_present(&self) -> bool;
}

/// The real clock: the system's time and the signal waiter.
struct SystemClock<'a> {
    waiter: &'a Waiter,
}

impl Clock for SystemClock<'_> {
    fn now(&self) -> i64 {
        now()
    }
    fn instant(&self) -> Instant {
        Instant::now()
    }
    fn wait_until(&self, deadline: Instant) -> Wake {
        self.waiter.wait_until(deadline)
    }
    fn exit_file_present(&self) -> bool {
        self.waiter.exit_file_present()
    }
}

/// One refresh by `method` (renew the cached TGT or obtain one from the keytab), the new
/// ticket written to the cache; on success the new TGT's state.
trait Attempt {
    fn attempt(&self, method: Method) -> Result<Current, Failure>;
}

/// The real attempt: a fresh libkrb5 context each time, so krb5.conf changes are picked up.
struct Krb5Attempt<'a> {
    opts: &'a RunOptions,
    ops: &'a dyn FileOps,
}

struct Refresher<'a> {
    opts: &'a RunOptions,
    name: String,
    krb: &'a dyn Attempt,
    clock: &'a dyn Clock,
    /// A number in [0, 1) for the backoff's jitter.
    jitter: fn() -> f64,
    /// Where the loop's events go (the options' logger).
    sink: &'a dyn LogSink,
}

/// Receives the refresher loop's log events.
trait LogSink {
    fn log(&self, level: Level, event: &str, fields: &[(&str, String)]);
}

impl LogSink for Logger {
    fn log(&self, level: Level, event: &str, fields: &[(&str, String)]) {
        Logger::log(self, level, event, fields);
    }
}

/// A failed refresh attempt.
#[derive(Debug)]
struct Failure {
    kind: FailureKind,
    reason: String,
    cache_error: Option<cache::CacheError>,
}

impl Failure {
    fn from_krb5(e: &Krb5Error) -> Failure {
        Failure {
            kind: FailureKind::of(e.code),
            reason: e.message.clone(),
            cache_error: None,
        }
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn instant_at(clock: &dyn Clock, epoch_secs: i64) -> Instant {
    let delta = epoch_secs - clock.now();
    clock.instant() + Duration::from_secs(u64::try_from(delta).unwrap_or(0))
}

impl Krb5Attempt<'_> {
    fn cache(&self) -> &CacheName {
        &self.opts.settings.ccache
    }
}

impl Attempt for Krb5Attempt<'_> {
    fn attempt(&self, method: Method) -> Result<Current, Failure> {
        let s = &self.opts.settings;
        let ctx = Context::new().map_err(|e| Failure {
            kind: FailureKind::Krb5Conf,
            reason: e.to_string(),
            cache_error: None,
        })?;
        let ctx = &ctx;
        let principal = ctx
            .parse_name(&s.principal)
            .map_err(|e| Failure::from_krb5(&e))?;
        let fresh = match method {
            Method::Keytab => ctx
                .keytab(&s.keytab)
                .and_then(|keytab| ctx.init_from_keytab(&principal, &keytab, &s.init)),
            Method::Renew => ctx.ccache(&self.cache().krb5_name()).and_then(|current| {
                let renewed = ctx.renew(&principal, &current)?;
                if !self.opts.write.strip_config {
                    // Keep libkrb5's cache configuration entries, which `kinit -R` would drop.
                    current.copy_config_into(&renewed)?;
                }
                Ok(renewed)
            }),
        }
        .map_err(|e| Failure::from_krb5(&e))?;
        let tgt = fresh
            .credentials()
            .map_err(|e| Failure::from_krb5(&e))?
            .into_iter()
            .find(|c| c.is_local_tgt)
            .ok_or_else(|| Failure {
                kind: FailureKind::Refused,
                reason: "the KDC reply holds no ticket-granting ticket".to_owned(),
                cache_error: None,
            })?;
        cache::write_cache(
            ctx,
            &fresh,
            &principal,
            self.cache(),
            &self.opts.write,
            self.ops,
        )
        .map_err(|e| Failure {
            kind: FailureKind::Refused,
            reason: e.to_string(),
            cache_error: Some(e),
        })?;
        let last_keytab = match method {
            Method::Keytab => now(),
            Method::Renew => 0, // replaced by the caller with the previous value
        };
        Ok(Current {
            times: tgt.times,
            renewable: tgt.renewable(),
            last_keytab,
        })
    }
}

impl Refresher<'_> {
    fn cache(&self) -> &CacheName {
        &self.opts.settings.ccache
    }

    fn log(&self, level: Level, event: &str, mut fields: Vec<(&str, String)>) {
        fields.insert(0, ("principal", self.name.clone()));
        self.sink.log(level, event, &fields);
    }

    fn fatal(&self, method: Method, f: Failure) -> KerberosError {
        if let Some(e) = f.cache_error {
            return KerberosError::Cache(e);
        }
        let s = &self.opts.settings;
        let hint = fix_for(f.kind);
        KerberosError::Kerberos {
            kind: f.kind,
            message: format!(
                "cannot obtain a ticket for {} ({}, keytab {} from {}): {}; {hint}",
                self.name,
                method.as_str(),
                s.keytab,
                s.keytab_source,
                f.reason
            ),
        }
    }

    fn log_success(&self, method: Method, cur: &Current, next: i64) {
        self.log(
            Level::Info,
            "ticket_refreshed",
            vec![
                ("method", method.as_str().to_owned()),
                ("cache", self.cache().to_string()),
                ("expires", rfc3339(cur.times.end)),
                (
                    "renew_until",
                    if cur.renewable {
                        rfc3339(cur.times.renew_till)
                    } else {
                        "-".to_owned()
                    },
                ),
                ("next_refresh", rfc3339(next)),
            ],
        );
    }

    fn run(&self) -> Result<(), KerberosError> {
        let clock = self.clock;
        let o = self.opts;
        self.log(
            Level::Info,
            "starting",
            vec![
                (
                    "mode",
                    if o.one_time { "one-time" } else { "daemon" }.to_owned(),
                ),
                ("cache", self.cache().to_string()),
                ("keytab", o.settings.keytab.clone()),
            ],
        );
        let mut current: Option<Current> = None;
        let mut method = Method::Keytab;
        let mut failures: u32 = 0;
        let mut last_reason = String::new();
        let mut outage_start = 0;
        loop {
            if clock.exit_file_present() {
                self.log(
                    Level::Info,
                    "exiting",
                    vec![("reason", "exit file present".to_owned())],
                );
                return Ok(());
            }
            let mut result = self.krb.attempt(method);
            if method == Method::Renew
                && let Err(f) = &result
            {
                self.log(
                    Level::Debug,
                    "renew_failed",
                    vec![
                        ("reason", f.reason.clone()),
                        ("fallback", "keytab".to_owned()),
                    ],
                );
                method = Method::Keytab;
                result = self.krb.attempt(method);
            }
            let wake = match result {
                Ok(mut cur) => {
                    if method == Method::Renew {
                        cur.last_keytab = current.map_or(clock.now(), |c| c.last_keytab);
                    }
                    if failures > 0 {
                        self.log(
                            Level::Info,
                            "recovered",
                            vec![
                                ("failures", failures.to_string()),
                                ("outage_seconds", (clock.now() - outage_start).to_string()),
                            ],
                        );
                    }
                    failures = 0;
                    last_reason.clear();
                    current = Some(cur);
                    let (at, next_method) = schedule::next_refresh(&cur, &o.policy);
                    self.log_success(method, &cur, at);
                    if o.one_time {
                        return Ok(());
                    }
                    method = next_method;
                    clock.wait_until(instant_at(clock, at))
                }
                Err(f) => {
                    let startup = current.is_none();
                    if o.one_time
                        || o.exit_on_error
                        || (startup && f.kind != FailureKind::Transient)
                    {
                        return Err(self.fatal(method, f));
                    }
                    if failures == 0 {
                        outage_start = clock.now();
                    }
                    let delay =
                        schedule::backoff(failures, o.retry_initial, o.retry_max, (self.jitter)());
                    failures = failures.saturating_add(1);
                    let level = if f.reason == last_reason {
                        Level::Debug
                    } else {
                        Level::Warn
                    };
                    self.log(
                        level,
                        "refresh_failed",
                        vec![
                            ("method", method.as_str().to_owned()),
                            ("reason", f.reason.clone()),
                            ("attempt", failures.to_string()),
                            ("retry_in_ms", delay.as_millis().to_string()),
                            (
                                "cache_expires",
                                current.map_or_else(|| "-".to_owned(), |c| rfc3339(c.times.end)),
                            ),
                        ],
                    );
                    last_reason = f.reason;
                    let retry_at = clock.instant() + delay;
                    method = match current {
                        Some(c)
                            if schedule::can_renew(
                                &c,
                                clock.now() + i64::try_from(delay.as_secs()).unwrap_or(0),
                                &o.policy,
                            ) =>
                        {
                            Method::Renew
                        }
                        _ => Method::Keytab,
                    };
                    clock.wait_until(retry_at)
                }
            };
            match wake {
                Wake::Deadline => {}
                Wake::RefreshNow => {
                    self.log(
                        Level::Info,
                        "refresh_requested",
                        vec![("signal", "SIGHUP".to_owned())],
                    );
                    method = Method::Keytab;
                }
                Wake::Terminate(sig) => {
                    self.log(
                        Level::Info,
                        "exiting",
                        vec![("reason", signal_name(sig).to_owned())],
                    );
                    return Ok(());
                }
                Wake::ExitFile => {
                    self.log(
                        Level::Info,
                        "exiting",
                        vec![("reason", "exit file present".to_owned())],
                    );
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod state_tests;

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn keytab_paths() {
        assert_eq!(
            keytab_path("FILE:/etc/a.keytab"),
            Some(Path::new("/etc/a.keytab"))
        );
        assert_eq!(
            keytab_path("/etc/a.keytab"),
            Some(Path::new("/etc/a.keytab"))
        );
        assert_eq!(
            keytab_path("airflow.keytab"),
            Some(Path::new("airflow.keytab"))
        );
        assert_eq!(keytab_path("MEMORY:kt"), None);
    }

    #[test]
    fn unreadable_keytab_names_file_and_fix() {
        let err = preflight_keytab("/nonexistent/airflow.keytab", "AIRFLOW__KERBEROS__KEYTAB")
            .unwrap_err();
        assert_eq!(err.exit_code(), 5);
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/airflow.keytab")
                && msg.contains("AIRFLOW__KERBEROS__KEYTAB"),
            "{msg}"
        );
    }
}

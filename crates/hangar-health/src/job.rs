//! `hangar health scheduler|triggerer|dag-processor`: the answer of `airflow jobs check`
//! without Python. The running jobs of the component's type (on one host with `--local` or
//! `--hostname`), most recent heartbeat first, at most `limit` of them, are read from the
//! metadata database; those whose heartbeat is younger than Airflow's threshold are alive.
//! None alive is unhealthy, and so is more than one unless `allow_multiple`.

use std::time::{Duration, SystemTime};

use hangar_config::AirflowConfig;
use hangar_entrypoint::db::{self, MetadataDb};
use hangar_entrypoint::env::ChildEnv;
use hangar_probe::metadata::{RunningJob, running_jobs};

use crate::HealthError;
use crate::hostname::{self, HostNames};
use crate::threshold::{self, Threshold};

/// A component whose liveness is its job's heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// `airflow scheduler`: `SchedulerJob`.
    Scheduler,
    /// `airflow triggerer`: `TriggererJob`.
    Triggerer,
    /// `airflow dag-processor`: `DagProcessorJob`.
    DagProcessor,
}

impl Component {
    /// The `job_type` Airflow records.
    #[must_use]
    pub fn job_type(self) -> &'static str {
        match self {
            Self::Scheduler => "SchedulerJob",
            Self::Triggerer => "TriggererJob",
            Self::DagProcessor => "DagProcessorJob",
        }
    }

    /// The command's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Scheduler => "scheduler",
            Self::Triggerer => "triggerer",
            Self::DagProcessor => "dag-processor",
        }
    }
}

/// Which jobs count, as `airflow jobs check`'s options say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobQuery {
    /// The component.
    pub component: Component,
    /// Only jobs on this host (`--local` resolves it, `--hostname` gives it).
    pub host: Host,
    /// At most this many of the most recent jobs are looked at (0: all). Airflow's default 1.
    pub limit: usize,
    /// More than one alive job is healthy too.
    pub allow_multiple: bool,
}

/// The host the jobs must run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// Any host.
    Any,
    /// This host, named as Airflow's `hostname_callable` names it.
    Local,
    /// The host of this name.
    Named(String),
}

/// The answer: healthy or not, and why in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Exit 0 when true.
    pub healthy: bool,
    /// One line for people.
    pub message: String,
}

/// Checks the component's jobs in the metadata database configured in `env`, at `now`.
///
/// # Errors
/// The configuration or the database cannot be read: no answer either way.
pub fn check(
    query: &JobQuery,
    env: &ChildEnv,
    names: &dyn HostNames,
    now: SystemTime,
) -> Result<Verdict, HealthError> {
    let cfg = AirflowConfig::load(&env.to_config_env())?;
    let host = match &query.host {
        Host::Any => None,
        Host::Local => Some(hostname::local(&cfg, names)?),
        Host::Named(h) => Some(h.clone()),
    };
    let airflow = hangar_entrypoint::airflow_install::find(env, std::path::Path::new("/"))
        .ok()
        .map(|i| i.version);
    let threshold = threshold::for_component(&cfg, query.component, airflow.as_deref())?;
    let (url, origin) = match db::resolve(&cfg)? {
        MetadataDb::Url { url, origin } => (url, origin),
        MetadataDb::Secret { origin } => {
            return Err(HealthError::Db(
                hangar_entrypoint::error::EntrypointError::BadInput {
                    var: origin,
                    problem: "only Airflow's secrets backend can read this metadata database \
                              URL, so hangar cannot check jobs natively; use `airflow jobs \
                              check` for this deployment, or give the URL another way"
                        .to_owned(),
                },
            ));
        }
    };
    let target = db::target(&url, &origin)?;
    let jobs = running_jobs(
        &target,
        query.component.job_type(),
        host.as_deref(),
        query.limit,
        Duration::from_secs(10),
    )?;
    Ok(judge(
        query,
        host.as_deref(),
        &jobs.unwrap_or_default(),
        &threshold,
        now,
    ))
}

/// The verdict on the jobs read, as `Job.is_alive` and `airflow jobs check` decide it.
#[must_use]
pub fn judge(
    query: &JobQuery,
    host: Option<&str>,
    jobs: &[RunningJob],
    threshold: &Threshold,
    now: SystemTime,
) -> Verdict {
    let c = query.component;
    let on = host.map_or(String::new(), |h| format!(" on host {h}"));
    let age = |j: &RunningJob| {
        j.latest_heartbeat.map(|t| {
            now.duration_since(t)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64()
        })
    };
    let alive: Vec<&RunningJob> = jobs
        .iter()
        .filter(|j| age(j).is_some_and(|a| a < threshold.seconds))
        .collect();
    let limits = format!("threshold {} s, {}", threshold.seconds, threshold.source);
    match (alive.as_slice(), jobs.first()) {
        ([], None) => Verdict {
            healthy: false,
            message: format!(
                "{}: not alive: no running {} in the metadata database{on}",
                c.name(),
                c.job_type()
            ),
        },
        ([], Some(last)) => Verdict {
            healthy: false,
            message: format!(
                "{}: not alive: the last heartbeat of {} on host {} {} ({limits})",
                c.name(),
                c.job_type(),
                last.hostname,
                age(last).map_or("never came".to_owned(), |a| format!("was {a:.1} s ago")),
            ),
        },
        ([one], _) => Verdict {
            healthy: true,
            message: format!(
                "{}: alive: {} on host {}, last heartbeat {:.1} s ago ({limits})",
                c.name(),
                c.job_type(),
                one.hostname,
                age(one).unwrap_or_default()
            ),
        },
        (many, _) => Verdict {
            healthy: query.allow_multiple,
            message: if query.allow_multiple {
                format!(
                    "{}: alive: {} {} jobs{on} ({limits})",
                    c.name(),
                    many.len(),
                    c.job_type()
                )
            } else {
                format!(
                    "{}: {} alive {} jobs{on}, expected one (--allow-multiple accepts several)",
                    c.name(),
                    many.len(),
                    c.job_type()
                )
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn q(limit: usize, allow_multiple: bool) -> JobQuery {
        JobQuery {
            component: Component::Scheduler,
            host: Host::Any,
            limit,
            allow_multiple,
        }
    }

    fn job(host: &str, secs_ago: Option<u64>, now: SystemTime) -> RunningJob {
        RunningJob {
            hostname: host.into(),
            latest_heartbeat: secs_ago.map(|s| now - Duration::from_secs(s)),
        }
    }

    fn threshold() -> Threshold {
        Threshold {
            seconds: 30.0,
            source: "[scheduler] scheduler_health_check_threshold".into(),
        }
    }

    #[test]
    fn a_recent_heartbeat_is_alive_and_an_old_one_is_not() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let v = judge(
            &q(1, false),
            None,
            &[job("h1", Some(3), now)],
            &threshold(),
            now,
        );
        assert!(v.healthy, "{v:?}");
        assert!(
            v.message
                .contains("alive: SchedulerJob on host h1, last heartbeat 3.0 s ago")
        );
        let v = judge(
            &q(1, false),
            None,
            &[job("h1", Some(45), now)],
            &threshold(),
            now,
        );
        assert!(!v.healthy);
        assert!(
            v.message.contains("was 45.0 s ago (threshold 30 s"),
            "{v:?}"
        );
        let v = judge(
            &q(1, false),
            None,
            &[job("h1", None, now)],
            &threshold(),
            now,
        );
        assert!(!v.healthy);
        assert!(v.message.contains("never came"), "{v:?}");
        // Exactly the threshold is too old, as `<` in Airflow.
        let v = judge(
            &q(1, false),
            None,
            &[job("h1", Some(30), now)],
            &threshold(),
            now,
        );
        assert!(!v.healthy);
        // A heartbeat from a clock slightly ahead is alive.
        let ahead = RunningJob {
            hostname: "h1".into(),
            latest_heartbeat: Some(now + Duration::from_secs(2)),
        };
        assert!(judge(&q(1, false), None, &[ahead], &threshold(), now).healthy);
    }

    #[test]
    fn no_job_and_several_jobs() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let v = judge(&q(1, false), Some("w1"), &[], &threshold(), now);
        assert!(!v.healthy);
        assert!(
            v.message
                .contains("no running SchedulerJob in the metadata database on host w1")
        );
        let two = [job("h1", Some(1), now), job("h2", Some(2), now)];
        let v = judge(&q(0, false), None, &two, &threshold(), now);
        assert!(!v.healthy);
        assert!(
            v.message
                .contains("2 alive SchedulerJob jobs, expected one"),
            "{v:?}"
        );
        assert!(judge(&q(0, true), None, &two, &threshold(), now).healthy);
    }
}

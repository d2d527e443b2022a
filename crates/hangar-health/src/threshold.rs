//! How old a heartbeat may be, as Airflow's `Job.is_alive` decides it, from Airflow's
//! configuration read natively.
//!
//! | Job | Threshold |
//! |---|---|
//! | `SchedulerJob` | `[scheduler] scheduler_health_check_threshold` (30) |
//! | `TriggererJob` | `[triggerer] triggerer_health_check_threshold` (30) |
//! | `DagProcessorJob` | `[dag_processor] health_check_threshold` (30) on Airflow ≥ 3.2; before, 2.1 × `[scheduler] job_heartbeat_sec` (5) |

use hangar_config::AirflowConfig;

use crate::HealthError;
use crate::job::Component;

/// A threshold in seconds and the option it comes from (for messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// Seconds.
    pub seconds: f64,
    /// `[section] key`, or how it was derived.
    pub source: String,
}

/// Airflow's threshold for `component`; `airflow` is the installed Airflow's version when
/// known (it decides the dag-processor's rule).
///
/// # Errors
/// An option cannot be read or is not a number.
pub fn for_component(
    cfg: &AirflowConfig,
    component: Component,
    airflow: Option<&str>,
) -> Result<Threshold, HealthError> {
    match component {
        Component::Scheduler => option(cfg, "scheduler", "scheduler_health_check_threshold", 30.0),
        Component::Triggerer => option(cfg, "triggerer", "triggerer_health_check_threshold", 30.0),
        Component::DagProcessor => {
            if cfg
                .get("dag_processor", "health_check_threshold")?
                .is_some()
                || airflow.is_none_or(at_least_3_2)
            {
                return option(cfg, "dag_processor", "health_check_threshold", 30.0);
            }
            let beat = option(cfg, "scheduler", "job_heartbeat_sec", 5.0)?;
            Ok(Threshold {
                seconds: beat.seconds * 2.1,
                source: format!("2.1 × {}", beat.source),
            })
        }
    }
}

/// `[section] key` as seconds, `default` when unset.
fn option(
    cfg: &AirflowConfig,
    section: &str,
    key: &str,
    default: f64,
) -> Result<Threshold, HealthError> {
    let name = format!("[{section}] {key}");
    let seconds = match cfg.get(section, key)? {
        None => default,
        Some(r) => r
            .value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| HealthError::BadThreshold {
                option: name.clone(),
                value: r.value.clone(),
            })?,
    };
    Ok(Threshold {
        seconds,
        source: name,
    })
}

/// Airflow 3.2 or newer (when `[dag_processor] health_check_threshold` exists).
fn at_least_3_2(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (3, 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_config::Env;

    fn cfg(vars: &[(&str, &str)]) -> AirflowConfig {
        let mut env: Env = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.insert("AIRFLOW_CONFIG".into(), "/nonexistent/airflow.cfg".into());
        AirflowConfig::load(&env).unwrap()
    }

    #[test]
    fn defaults_follow_airflow() {
        let c = cfg(&[]);
        let t = |comp, v| for_component(&c, comp, v).unwrap();
        assert_eq!(t(Component::Scheduler, Some("3.3.2")).seconds, 30.0);
        assert_eq!(t(Component::Triggerer, Some("2.10.5")).seconds, 30.0);
        assert_eq!(t(Component::DagProcessor, Some("3.3.2")).seconds, 30.0);
        let old = t(Component::DagProcessor, Some("2.10.5"));
        assert!((old.seconds - 10.5).abs() < 1e-9, "{old:?}");
        assert_eq!(old.source, "2.1 × [scheduler] job_heartbeat_sec");
        assert_eq!(t(Component::DagProcessor, None).seconds, 30.0);
    }

    #[test]
    fn options_come_from_the_configuration_and_bad_ones_are_named() {
        let c = cfg(&[
            ("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD", "12"),
            (
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD",
                "7.5",
            ),
            ("AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC", "2"),
        ]);
        let s = for_component(&c, Component::Scheduler, None).unwrap();
        assert_eq!(
            (s.seconds, s.source.as_str()),
            (12.0, "[scheduler] scheduler_health_check_threshold")
        );
        assert_eq!(
            for_component(&c, Component::Triggerer, None)
                .unwrap()
                .seconds,
            7.5
        );
        let d = for_component(&c, Component::DagProcessor, Some("3.1.0")).unwrap();
        assert!((d.seconds - 4.2).abs() < 1e-9, "{d:?}");
        let bad = cfg(&[(
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD",
            "soon",
        )]);
        let e = for_component(&bad, Component::Scheduler, None).unwrap_err();
        assert!(
            e.to_string()
                .contains("[scheduler] scheduler_health_check_threshold = \"soon\""),
            "{e}"
        );
    }
}

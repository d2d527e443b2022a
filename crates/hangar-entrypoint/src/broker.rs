//! The Celery broker: whether the executor uses Celery, the broker URL, and its target.

use hangar_config::{AirflowConfig, ConfigError};
use hangar_init::ChildSpec;
use hangar_probe::target::{BrokerOverrides, Target};

use crate::env::ChildEnv;
use crate::error::EntrypointError;
use crate::run::Runner;

/// Celery's default broker in Airflow's `[celery] broker_url`.
pub const DEFAULT_BROKER_URL: &str = "redis://redis:6379/0";

/// True when an executor setting uses Celery: `CeleryExecutor` or `CeleryKubernetesExecutor`
/// as a plain name, a dotted class path, or one entry (optionally `alias:path`) of a
/// comma-separated multi-executor list.
pub fn uses_celery(executor: &str) -> bool {
    executor.split(',').any(|entry| {
        let path = entry.trim();
        let path = path.rsplit_once(':').map_or(path, |(_, p)| p);
        let class = path.rsplit('.').next().unwrap_or(path).trim();
        matches!(class, "CeleryExecutor" | "CeleryKubernetesExecutor")
    })
}

/// A setting read natively, or through `airflow config get-value` when only Airflow's secrets
/// backend can read it (`_SECRET`). Returns the value and where it came from.
pub(crate) fn setting(
    cfg: &AirflowConfig,
    runner: &mut dyn Runner,
    env: &ChildEnv,
    section: &str,
    key: &str,
) -> Result<Option<(String, String)>, EntrypointError> {
    match cfg.get(section, key) {
        Ok(r) => Ok(r.map(|r| (r.value, r.source.to_string()))),
        Err(ConfigError::NeedsSecretsBackend { source_name }) => {
            let cmd = ChildSpec::new("airflow", ["config", "get-value", section, key], env);
            let (code, out) = runner.run_capture(&cmd)?;
            if code != 0 {
                return Err(EntrypointError::CmdFailed {
                    var: source_name,
                    status: format!("`{}` exited {code}", cmd.display()),
                });
            }
            Ok(Some((
                String::from_utf8_lossy(&out).trim().to_owned(),
                format!("{source_name} (through Airflow's secrets backend)"),
            )))
        }
        Err(e) => Err(EntrypointError::from(e)),
    }
}

/// The executor setting (empty when unset: Airflow's defaults never use Celery).
pub fn executor(
    cfg: &AirflowConfig,
    runner: &mut dyn Runner,
    env: &ChildEnv,
) -> Result<String, EntrypointError> {
    Ok(setting(cfg, runner, env, "core", "executor")?
        .map(|(v, _)| v)
        .unwrap_or_default())
}

/// The broker to wait for: `Ok(None)` when host/port cannot be determined (a message says the
/// wait is skipped). The second value names where the URL came from.
pub fn target(
    cfg: &AirflowConfig,
    runner: &mut dyn Runner,
    env: &ChildEnv,
) -> Result<Option<(Target, String)>, EntrypointError> {
    let (url, origin) = setting(cfg, runner, env, "celery", "broker_url")?.unwrap_or_else(|| {
        (
            DEFAULT_BROKER_URL.to_owned(),
            "Airflow's default [celery] broker_url".to_owned(),
        )
    });
    let ov = BrokerOverrides {
        backend: env.non_empty("BACKEND").map(str::to_owned),
        host: env.non_empty("DB_HOST").map(str::to_owned),
        port: env.non_empty("DB_PORT").map(str::to_owned),
    };
    match Target::for_broker(url.trim(), &ov) {
        Ok(Some(t)) => Ok(Some((t, origin))),
        Ok(None) => Ok(None),
        Err(source) => Err(EntrypointError::CannotWaitFor {
            origin,
            what: format!("the Celery broker {}", hangar_probe::dburl::redact(&url)),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::uses_celery;

    #[test]
    fn celery_executor_detection() {
        for yes in [
            "CeleryExecutor",
            "CeleryKubernetesExecutor",
            "airflow.providers.celery.executors.celery_executor.CeleryExecutor",
            "LocalExecutor,CeleryExecutor",
            "KubernetesExecutor, CeleryExecutor",
            "fast:airflow.providers.celery.executors.celery_executor.CeleryExecutor",
        ] {
            assert!(uses_celery(yes), "{yes}");
        }
        for no in [
            "",
            "LocalExecutor",
            "KubernetesExecutor,LocalExecutor",
            "MyCeleryExecutorX",
        ] {
            assert!(!uses_celery(no), "{no}");
        }
    }
}

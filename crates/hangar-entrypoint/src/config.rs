//! The Airflow configuration, loaded once and only when a step needs it (a command that
//! neither waits for the database nor for the broker never reads it).

use hangar_config::AirflowConfig;

use crate::env::ChildEnv;
use crate::error::EntrypointError;

/// Loads the Airflow configuration on first use and keeps it.
#[derive(Debug, Default)]
pub(crate) struct LazyConfig(Option<AirflowConfig>);

impl LazyConfig {
    /// The configuration, loaded from `env` the first time.
    pub(crate) fn get(&mut self, env: &ChildEnv) -> Result<&AirflowConfig, EntrypointError> {
        let cfg = match self.0.take() {
            Some(cfg) => cfg,
            None => AirflowConfig::load(&env.to_config_env())?,
        };
        Ok(self.0.insert(cfg))
    }
}

//! `hangar wait db | broker | URL...`: the entrypoint's checks on their own, for compose
//! healthchecks and init containers. Same budget variables; Ok when everything is ready.

use hangar_config::AirflowConfig;
use hangar_probe::target::Target;

use crate::env::ChildEnv;
use crate::error::EntrypointError;
use crate::os::System;
use crate::run::Runner;
use crate::{broker, db, waiting};

/// Waits for each item in turn: `db` (the metadata DB), `broker` (the Celery broker), or a
/// URL (`postgresql://…`, `mysql://…`, `redis://…`, `amqp://…`, `tcp://host:port`, …).
pub fn run(
    items: &[String],
    env: &ChildEnv,
    sys: &dyn System,
    runner: &mut dyn Runner,
) -> Result<(), EntrypointError> {
    let budget = waiting::budget(env)?;
    if items.is_empty() {
        return Err(EntrypointError::bad_input(
            "hangar wait",
            "nothing to wait for; give `db`, `broker` or URLs",
        ));
    }
    // Validate every URL before waiting for anything.
    let mut urls = Vec::new();
    for item in items {
        if item != "db" && item != "broker" {
            let t = Target::from_url(item).map_err(|e| {
                EntrypointError::bad_input(
                    "hangar wait",
                    format!("{}: {e}", hangar_probe::dburl::redact(item)),
                )
            })?;
            urls.push(t);
        }
    }
    if budget.is_disabled() {
        crate::info("CONNECTION_CHECK_MAX_COUNT=0: waiting is disabled");
        return Ok(());
    }
    let cfg = if items.iter().any(|i| i == "db" || i == "broker") {
        Some(AirflowConfig::load(&env.to_config_env())?)
    } else {
        None
    };
    let mut urls = urls.into_iter();
    for item in items {
        match item.as_str() {
            "db" => {
                let mdb = db::resolve(cfg.as_ref().expect("loaded for db"))?;
                db::wait(sys, runner, env, &mdb, &budget)?;
            }
            "broker" => {
                let c = cfg.as_ref().expect("loaded for broker");
                let Some((t, origin)) = broker::target(c, runner, env)? else {
                    return Err(EntrypointError::bad_input(
                        "AIRFLOW__CELERY__BROKER_URL",
                        "the broker's host and port cannot be determined from its URL",
                    ));
                };
                waiting::wait(sys, "the Celery broker", &origin, &t, &budget)?;
            }
            url => {
                let t = urls.next().expect("validated above");
                let shown = hangar_probe::dburl::redact(url);
                waiting::wait(sys, &shown, "the command line", &t, &budget)?;
            }
        }
    }
    Ok(())
}

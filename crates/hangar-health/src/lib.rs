//! Liveness probes of Airflow's components without starting Python: `hangar health`.
//!
//! * [`job`]: a scheduler, triggerer or dag-processor is alive when a running job of its type
//!   (on this host with `--local`) has a heartbeat newer than Airflow's threshold: the answer
//!   of `airflow jobs check`, from the metadata database read natively.
//! * [`threshold`]: those thresholds, from Airflow's configuration read natively.
//! * [`hostname`]: this host's name as Airflow's `hostname_callable` gives it, for `--local`.
//! * [`http`]: the api-server's (or Airflow 2 webserver's) health endpoint over HTTP.

pub mod hostname;
pub mod http;
pub mod job;
pub mod threshold;

mod error;

pub use error::HealthError;

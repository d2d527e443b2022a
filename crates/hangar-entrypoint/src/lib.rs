//! The image's PID 1: init duties (`init`) and Airflow's entrypoint contract.

pub mod init;

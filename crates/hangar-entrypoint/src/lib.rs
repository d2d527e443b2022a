//! The image's PID 1: init duties and Airflow's entrypoint contract.

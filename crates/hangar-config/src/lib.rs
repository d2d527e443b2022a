//! Airflow configuration, resolved natively (no Python) in Airflow's own precedence.

//! Real-Airflow tests of the generated project (being written).

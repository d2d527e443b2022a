//! (owned by the airflow work; filled in by its tests' author)

//! `hangar health` and `hangar wait db --migrated` against real Airflow metadata databases.

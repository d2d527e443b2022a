//! The final image's layers: `ADDITIONAL_PYTHON_DEPS` as its own layer over an unchanged Airflow layer.

//! Real image build with `AIRFLOW_USE_UV=false`: the build stage installs with pip.

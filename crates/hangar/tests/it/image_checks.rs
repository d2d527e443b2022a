//! Checks of a built Airflow image shared by the buildah/podman and Docker tests.

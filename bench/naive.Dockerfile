# Benchmark baseline only: the same inputs as the root Dockerfile installed in ONE stage,
# compilers and dev packages left in. bench/build.sh compares its size with the real image.
ARG PYTHON_BASE_IMAGE="python:3.12-slim-bookworm"
FROM ${PYTHON_BASE_IMAGE}
ARG PYTHON_MAJOR_MINOR_VERSION AIRFLOW_VERSION AIRFLOW_EXTRAS INSTALL_MYSQL_CLIENT="true" INSTALL_MSSQL_CLIENT="true" \
    INSTALL_POSTGRES_CLIENT="true" DOCKER_CONTEXT_FILES="Dockerfile" AIRFLOW_CONSTRAINTS_LOCATION="" \
    ADDITIONAL_PYTHON_DEPS="" ADDITIONAL_RUNTIME_APT_DEPS=""
COPY --chmod=0755 .hangar/hangar /usr/local/bin/hangar
RUN --mount=type=secret,id=hangar-ca --mount=type=bind,source=${DOCKER_CONTEXT_FILES},target=/docker-context-files \
    hangar install apt dev && hangar install apt runtime && hangar install airflow && hangar install additional \
    && hangar install finalize
USER 50000
ENTRYPOINT ["/entrypoint"]

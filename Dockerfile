# Production image of Apache Airflow, built by `hangar build` or by any engine directly:
#   docker buildx build . --build-arg AIRFLOW_VERSION=3.3.2   (or DOCKER_BUILDKIT=1 docker build)
#   buildah bud --build-arg HANGAR_BINARY_SOURCE=build .   (buildah/podman: always pass it)
#
# Stages:
#   hangar-from-build    compiles hangar from this repository in RUST_IMAGE (plain engine builds)
#   hangar-from-context  copies the prebuilt .hangar/${TARGETARCH}/hangar from the context
#   hangar-bin           FROM hangar-from-${HANGAR_BINARY_SOURCE}. buildah 1.28 resolves this
#                        stage name only when HANGAR_BINARY_SOURCE is given with --build-arg.
#   docker-context-files the DOCKER_CONTEXT_FILES folder, mounted into the install steps (its
#                        debs/dev and debs/runtime, when present, replace apt's network)
#   airflow-build-image  compilers + dev apt packages; Airflow installed into ~airflow/.local
#   airflow-additional   ADDITIONAL_PYTHON_DEPS on top; what they changed exported to /hangar-layer
#   main                 runtime apt packages, the venv (Airflow layer + additional layer) and
#                        hangar as /entrypoint
#
# Every build arg is documented in docs/build-args.md. Secrets are never build args: mount a
# CA bundle with `--secret id=hangar-ca,src=FILE`, apt sources replacing the base's Debian ones
# with `--secret id=apt-sources,src=FILE`, a private index config with
# `--secret id=pip-conf,src=pip.conf`, credentials with `--secret id=netrc,src=FILE`, index
# URLs (which may carry a token) with `--secret id=pip-index-url` / `id=pip-extra-index-url`
# (files holding the URLs); they are used by the build-stage steps and reach no layer. pip's and uv's downloads (and the pinned uv
# itself, when AIRFLOW_USE_UV=true) live in a build cache mount keyed per Python version and
# architecture, so rebuilds download nothing twice and no cache reaches a layer. Works on
# buildah 1.28 and BuildKit: no heredocs, no COPY --link, no SHELL; the logic lives in
# `hangar install <step>`.

ARG PYTHON_BASE_IMAGE="python:3.12-slim-bookworm"
ARG PYTHON_MAJOR_MINOR_VERSION="3.12"
ARG RUST_IMAGE="rust:1-slim-bookworm"
ARG HANGAR_BINARY_SOURCE="build"
ARG AIRFLOW_VERSION="3.3.2"
ARG AIRFLOW_EXTRAS="aiobotocore,amazon,async,celery,cncf-kubernetes,common-io,common-messaging,docker,elasticsearch,fab,ftp,git,google,google-auth,graphviz,grpc,hashicorp,http,ldap,microsoft-azure,mysql,odbc,openlineage,opensearch,pandas,postgres,redis,sendgrid,sftp,slack,snowflake,ssh,statsd,uv"
ARG ADDITIONAL_AIRFLOW_EXTRAS=""
ARG AIRFLOW_HOME="/opt/airflow"
ARG AIRFLOW_UID="50000"
ARG AIRFLOW_GID="0"
ARG AIRFLOW_USER_HOME_DIR="/home/airflow"
ARG INSTALL_MYSQL_CLIENT="true"
ARG INSTALL_POSTGRES_CLIENT="true"
ARG INSTALL_MSSQL_CLIENT="true"

FROM ${RUST_IMAGE} AS hangar-from-build
WORKDIR /src
# hangar build embeds the Dockerfile, so it is part of the sources.
COPY Cargo.toml Cargo.lock rustfmt.toml Dockerfile ./
COPY crates ./crates
# The CA bundle secret (if any) also lets cargo reach the crate registry through a proxy.
RUN --mount=type=secret,id=hangar-ca \
    set -eu; if [ -s /run/secrets/hangar-ca ]; then export CARGO_HTTP_CAINFO=/run/secrets/hangar-ca; fi; \
    cargo build --release --locked -p hangar; cp target/release/hangar /hangar

FROM scratch AS hangar-from-context
ARG TARGETARCH
COPY --chmod=0755 .hangar/${TARGETARCH}/hangar /hangar

FROM hangar-from-${HANGAR_BINARY_SOURCE} AS hangar-bin

# The DOCKER_CONTEXT_FILES folder (or, by default, a stand-in file), bind-mounted from this stage
# into the install steps: RUN --mount sources cannot name a build arg on Docker 20.10's embedded
# frontend, COPY can.
FROM scratch AS docker-context-files
ARG DOCKER_CONTEXT_FILES="Dockerfile"
COPY ${DOCKER_CONTEXT_FILES} /docker-context-files

############################## build stage ##############################
# Few instructions on purpose: with --layers every instruction is a cached image, and on
# storage drivers such as vfs each one costs seconds even when cached. hangar itself is
# bind-mounted from hangar-bin, never copied into this stage (note: buildah 1.28 does not
# key cached layers on bind-mount contents; a new hangar reuses this stage's layers).
FROM ${PYTHON_BASE_IMAGE} AS airflow-build-image
ARG INSTALL_MYSQL_CLIENT INSTALL_POSTGRES_CLIENT INSTALL_MSSQL_CLIENT DEV_APT_DEPS="" ADDITIONAL_DEV_APT_DEPS="" \
    DEV_APT_COMMAND="" ADDITIONAL_DEV_APT_COMMAND="" ADDITIONAL_DEV_APT_ENV="" ADDITIONAL_DEV_ENV_VARS=""
RUN --mount=type=bind,from=hangar-bin,source=/hangar,target=/usr/local/bin/hangar \
    --mount=type=secret,id=hangar-ca --mount=type=secret,id=apt-sources \
    --mount=type=bind,from=docker-context-files,source=/docker-context-files,target=/docker-context-files \
    hangar install apt dev

ARG PYTHON_MAJOR_MINOR_VERSION AIRFLOW_VERSION AIRFLOW_EXTRAS ADDITIONAL_AIRFLOW_EXTRAS AIRFLOW_USER_HOME_DIR \
    AIRFLOW_INSTALLATION_METHOD="apache-airflow" INSTALL_AIRFLOW_VIA_PIP="true" AIRFLOW_INSTALL_SOURCES="" \
    AIRFLOW_INSTALL_VERSION="" AIRFLOW_REPO="apache/airflow" AIRFLOW_BRANCH="main" \
    AIRFLOW_CONSTRAINTS_REFERENCE="" AIRFLOW_CONSTRAINTS_LOCATION="" ADDITIONAL_PIP_INSTALL_FLAGS="" \
    DOCKER_CONTEXT_FILES="Dockerfile" INSTALL_DISTRIBUTIONS_FROM_CONTEXT="false" AIRFLOW_LOCAL_PIP_WHEELS="false" \
    AIRFLOW_PRE_CACHED_PIP_PACKAGES="false" CASS_DRIVER_BUILD_CONCURRENCY="8" SLUGIFY_USES_TEXT_UNIDECODE="" \
    AIRFLOW_WWW="" AIRFLOW_SOURCES_FROM="Dockerfile" AIRFLOW_SOURCES_TO="/Dockerfile" AIRFLOW_USE_UV="true" TARGETARCH \
    SOURCE_DATE_EPOCH
COPY ${AIRFLOW_SOURCES_FROM} ${AIRFLOW_SOURCES_TO}
RUN --mount=type=bind,from=hangar-bin,source=/hangar,target=/usr/local/bin/hangar \
    --mount=type=secret,id=hangar-ca --mount=type=secret,id=pip-conf --mount=type=secret,id=netrc \
    --mount=type=secret,id=pip-index-url --mount=type=secret,id=pip-extra-index-url \
    --mount=type=bind,from=docker-context-files,source=/docker-context-files,target=/docker-context-files \
    --mount=type=cache,id=hangar-downloads-${PYTHON_MAJOR_MINOR_VERSION}-${TARGETARCH},target=/var/cache/hangar \
    hangar install airflow

# The cache mounts target /var/cache/hangar, not root's home: buildah 1.28 empties the whole
# root filesystem when it cleans up a cache mount under a 0700 /root.

# ADDITIONAL_PYTHON_DEPS and the context requirements.txt over the venv above, in a stage of
# their own: changing them reuses the Airflow install, and what they changed in the airflow
# user's home (with the list of what they removed) is exported to /hangar-layer, which the
# final image copies as a small layer over the unchanged Airflow layer.
FROM airflow-build-image AS airflow-additional
ARG PYTHON_MAJOR_MINOR_VERSION AIRFLOW_USER_HOME_DIR ADDITIONAL_PIP_INSTALL_FLAGS="" AIRFLOW_USE_UV="true" \
    CASS_DRIVER_BUILD_CONCURRENCY="8" TARGETARCH ADDITIONAL_PYTHON_DEPS="" SOURCE_DATE_EPOCH
RUN --mount=type=bind,from=hangar-bin,source=/hangar,target=/usr/local/bin/hangar \
    --mount=type=secret,id=hangar-ca --mount=type=secret,id=pip-conf --mount=type=secret,id=netrc \
    --mount=type=secret,id=pip-index-url --mount=type=secret,id=pip-extra-index-url \
    --mount=type=bind,from=docker-context-files,source=/docker-context-files,target=/docker-context-files \
    --mount=type=cache,id=hangar-downloads-${PYTHON_MAJOR_MINOR_VERSION}-${TARGETARCH},target=/var/cache/hangar \
    hangar install additional --layer /hangar-layer

############################## final image ##############################
FROM ${PYTHON_BASE_IMAGE} AS main
ARG AIRFLOW_HOME AIRFLOW_UID AIRFLOW_GID AIRFLOW_USER_HOME_DIR AIRFLOW_VERSION PYTHON_MAJOR_MINOR_VERSION \
    INSTALL_MYSQL_CLIENT INSTALL_POSTGRES_CLIENT INSTALL_MSSQL_CLIENT RUNTIME_APT_DEPS="" ADDITIONAL_RUNTIME_APT_DEPS="" \
    RUNTIME_APT_COMMAND="" ADDITIONAL_RUNTIME_APT_COMMAND="" ADDITIONAL_RUNTIME_APT_ENV="" \
    ADDITIONAL_RUNTIME_ENV_VARS="" INSTALL_APT_SOURCES_IN_IMAGE="false"
ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 AIRFLOW_HOME=${AIRFLOW_HOME} AIRFLOW_UID=${AIRFLOW_UID} \
    AIRFLOW_USER_HOME_DIR=${AIRFLOW_USER_HOME_DIR} AIRFLOW_VERSION=${AIRFLOW_VERSION} \
    PYTHON_MAJOR_MINOR_VERSION=${PYTHON_MAJOR_MINOR_VERSION} VIRTUAL_ENV=${AIRFLOW_USER_HOME_DIR}/.local \
    PATH=${AIRFLOW_USER_HOME_DIR}/.local/bin:${PATH} DUMB_INIT_SETSID=1 PIP_NO_CACHE_DIR=1
# Runtime packages, then the airflow user (UID, group 0), AIRFLOW_HOME, g=u permissions and
# /entrypoint -> /usr/local/bin/hangar.
RUN --mount=type=bind,from=hangar-bin,source=/hangar,target=/run/hangar-bin \
    --mount=type=secret,id=hangar-ca --mount=type=secret,id=apt-sources \
    --mount=type=bind,from=docker-context-files,source=/docker-context-files,target=/docker-context-files \
    /run/hangar-bin install apt runtime && /run/hangar-bin install finalize
WORKDIR ${AIRFLOW_HOME}
USER ${AIRFLOW_UID}
ENTRYPOINT ["/entrypoint"]
CMD []
# The venv as Airflow's install left it, then what the additional requirements changed, then
# the removal of what they replaced: one venv, and a rebuild for other additional requirements
# reuses the large first layer. `settle` also pins the installed Airflow in ~/constraints.txt.
COPY --from=airflow-build-image --chown=${AIRFLOW_UID}:0 ${AIRFLOW_USER_HOME_DIR} ${AIRFLOW_USER_HOME_DIR}
COPY --from=airflow-additional --chown=${AIRFLOW_UID}:0 /hangar-layer/ ${AIRFLOW_USER_HOME_DIR}/
RUN --mount=type=bind,from=hangar-bin,source=/hangar,target=/run/hangar-bin /run/hangar-bin install settle
# Copied, not bind-mounted: buildah 1.28 does not key its layer cache on bind-mount contents.
COPY --from=hangar-bin --chmod=0755 /hangar /usr/local/bin/hangar

# Last, so that a new creation date or revision only relabels the image.
ARG AIRFLOW_IMAGE_DATE_CREATED="" COMMIT_SHA="" AIRFLOW_IMAGE_SOURCE="https://github.com/apache/airflow" AIRFLOW_IMAGE_SBOM=""
LABEL org.opencontainers.image.title="Apache Airflow" org.opencontainers.image.version="${AIRFLOW_VERSION}" \
      org.opencontainers.image.created="${AIRFLOW_IMAGE_DATE_CREATED}" \
      org.opencontainers.image.source="${AIRFLOW_IMAGE_SOURCE}" org.opencontainers.image.revision="${COMMIT_SHA}" \
      org.apache.airflow.python.version="${PYTHON_MAJOR_MINOR_VERSION}" org.apache.airflow.uid="${AIRFLOW_UID}" \
      io.hangar.sbom="${AIRFLOW_IMAGE_SBOM}"

//! Small PostgreSQL and Redis images for compose tests, built from Debian's packages on a
//! Debian base image inside a test's own [`Dockerd`] (no image can be pulled here).
//!
//! They stand in for the official `postgres` and `redis` images as far as a compose file
//! uses them:
//!
//! - [`POSTGRES_IMAGE`]: runs as the `postgres` user; on an empty `$PGDATA`
//!   (`/var/lib/postgresql/data`, a volume) it creates a cluster whose superuser is
//!   `$POSTGRES_USER` with `$POSTGRES_PASSWORD` (SCRAM over TCP) and the database
//!   `$POSTGRES_DB`; then `postgres ARGS…` runs the server with the given arguments
//!   (`-p PORT -c listen_addresses=127.0.0.1`). Stops on SIGINT (fast shutdown), like the
//!   official image. `pg_isready` and `psql` are in it.
//! - [`REDIS_IMAGE`]: `redis-server ARGS…` as the `redis` user; `redis-cli` is in it.
//! - [`RABBITMQ_IMAGE`] ([`build_rabbitmq`]): RabbitMQ 3.10 as the `rabbitmq` user, with the
//!   official image's `RABBITMQ_DEFAULT_USER`/`RABBITMQ_DEFAULT_PASS`/`RABBITMQ_NODE_PORT`;
//!   with `RABBITMQ_NODE_IP_ADDRESS` set, epmd and Erlang distribution bind that address too
//!   (ports from `ERL_EPMD_PORT` and `RABBITMQ_DIST_PORT`).
//!
//! ```no_run
//! let daemon = hangar_testkit::docker::Dockerd::start();
//! daemon.load_from_buildah(hangar_testkit::images::BASE_IMAGE);
//! hangar_testkit::service_images::build(&daemon, hangar_testkit::images::BASE_IMAGE);
//! ```

use std::fs;

use crate::docker::Dockerd;

/// The PostgreSQL 15 image's tag.
pub const POSTGRES_IMAGE: &str = "hangar-test/postgres:15";
/// The Redis 7 image's tag.
pub const REDIS_IMAGE: &str = "hangar-test/redis:7";
/// The RabbitMQ image's tag.
pub const RABBITMQ_IMAGE: &str = "hangar-test/rabbitmq:3";

const RABBITMQ_DOCKERFILE: &str = r#"ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rabbitmq-server \
    && rm -rf /var/lib/apt/lists/*
COPY --chmod=0755 rabbitmq-entrypoint.sh /usr/local/bin/rabbitmq-entrypoint
ENV HOME=/var/lib/rabbitmq RABBITMQ_NODENAME=rabbit@localhost
USER rabbitmq
ENTRYPOINT ["/usr/local/bin/rabbitmq-entrypoint"]
"#;

const RABBITMQ_ENTRYPOINT: &str = r#"#!/bin/bash
# The official rabbitmq image's variables as far as compose files use them, then the server.
set -euo pipefail
addr="${RABBITMQ_NODE_IP_ADDRESS:-}"
conf=/var/lib/rabbitmq/hangar-rabbitmq.conf
{
    echo "listeners.tcp.default = ${addr:+$addr:}${RABBITMQ_NODE_PORT:-5672}"
    echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
    echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
    echo "loopback_users = none"
} > "$conf"
export RABBITMQ_CONFIG_FILE="$conf" RABBITMQ_LOGS=-
unset RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS
if [ -n "$addr" ]; then
    export ERL_EPMD_ADDRESS="$addr"
    erl_addr="{${addr//./,}}"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface $erl_addr"
fi
exec rabbitmq-server
"#;

const DOCKERFILE: &str = r#"ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS packages
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       postgresql-15 redis-server \
    && rm -rf /var/lib/apt/lists/*

FROM packages AS postgres
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 0700 "$PGDATA"
COPY --chmod=0755 postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
USER postgres
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
CMD ["postgres"]

FROM packages AS redis
USER redis
WORKDIR /var/lib/redis
CMD ["redis-server", "--save", ""]
"#;

const POSTGRES_ENTRYPOINT: &str = r#"#!/bin/bash
# The official postgres image's entrypoint as far as compose files use it: on an empty
# $PGDATA, a cluster with superuser $POSTGRES_USER (password $POSTGRES_PASSWORD, SCRAM over
# TCP from anywhere) and the database $POSTGRES_DB; then `postgres ARGS...` runs the server.
set -euo pipefail
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
    pw=$(mktemp)
    printf '%s' "$POSTGRES_PASSWORD" > "$pw"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pw" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pw"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "unix_socket_directories = '/tmp'" >> "$PGDATA/postgresql.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" \
            | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
    echo "postgres-entrypoint: initialised $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)" >&2
fi
if [ "${1:-}" = postgres ]; then
    shift
    exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
"#;

/// Builds [`POSTGRES_IMAGE`] and [`REDIS_IMAGE`] in `daemon` on `base` (a Debian bookworm
/// image the daemon has, e.g. [`crate::images::BASE_IMAGE`] after
/// [`Dockerd::load_from_buildah`]) with Debian's client and the daemon's BuildKit, RUN steps on
/// the host's network (apt reaches the Debian mirror). About 20 s; the two images share the
/// package layer.
pub fn build(daemon: &Dockerd, base: &str) {
    let ctx = tempfile::Builder::new()
        .prefix("hangar-service-images-")
        .tempdir()
        .expect("cannot create the service images' context");
    fs::write(ctx.path().join("Dockerfile"), DOCKERFILE).expect("write the Dockerfile");
    fs::write(
        ctx.path().join("postgres-entrypoint.sh"),
        POSTGRES_ENTRYPOINT,
    )
    .expect("write the postgres entrypoint");
    for (target, tag) in [("postgres", POSTGRES_IMAGE), ("redis", REDIS_IMAGE)] {
        daemon.build_on(
            &format!("the {target} service image"),
            base,
            &["--target", target, "-t", tag],
            ctx.path(),
        );
    }
}

/// Builds [`RABBITMQ_IMAGE`] on `base` in `daemon`.
///
/// # Panics
/// The build fails.
pub fn build_rabbitmq(daemon: &Dockerd, base: &str) {
    let ctx = tempfile::Builder::new()
        .prefix("hangar-rabbitmq-image-")
        .tempdir()
        .expect("cannot create the RabbitMQ image's context");
    fs::write(ctx.path().join("Dockerfile"), RABBITMQ_DOCKERFILE).expect("write the Dockerfile");
    fs::write(
        ctx.path().join("rabbitmq-entrypoint.sh"),
        RABBITMQ_ENTRYPOINT,
    )
    .expect("write the RabbitMQ entrypoint");
    daemon.build_on(
        "the RabbitMQ service image",
        base,
        &["-t", RABBITMQ_IMAGE],
        ctx.path(),
    );
}

#!/usr/bin/env bash
# Image build benchmark: `hangar build` of Airflow VERSION [postgres,celery,redis] on the tests'
# Debian base, side by side in one run on buildah (overlay storage, chroot isolation) and on
# Docker's embedded BuildKit (overlay2, a daemon of its own). Per engine:
#   1. cold build installing with pip (AIRFLOW_USE_UV=false),
#   2. cold build installing with uv (the default),
#      both with no layer cache and an empty download cache (build cache mounts),
#   3. rebuild where only ADDITIONAL_PYTHON_DEPS changed (layers and downloads cached),
#   4. sizes: final image against the payload = base image + runtime-package layer + venv layers.
# Goals: uv cold <= 50 % of pip cold; rebuild <= 10 % of the uv cold build; final <= 105 % of
# payload. Every figure is printed, met or not.
# Needs: buildah podman runc docker.io (dockerd), the base image in the tests' store (run
# `cargo test -p hangar --features full-tests --test it build_image::` once), PyPI access.
# Builds in a store of its own (BENCH_STORAGE, default /var/tmp/hangar-bench-store).
# Usage: [BENCH_ENGINES="buildah docker"] bench/build.sh [AIRFLOW_VERSION]
set -euo pipefail
VERSION=${1:-3.3.2}
EXTRAS=postgres,celery,redis
BASE=localhost/python-base:bookworm
ENGINES=${BENCH_ENGINES:-buildah docker}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${HANGAR_TEST_CACHE:-$HOME/.cache/hangar-tests}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export BUILDAH_ISOLATION=chroot
# A store of the benchmark's own (overlay), so that nothing else pruning the tests' store can
# touch its builds; the base image is copied in from the tests' store once.
TESTS_CONF=$CACHE/images/storage.conf
S=${BENCH_STORAGE:-/var/tmp/hangar-bench-store}
mkdir -p "$S" /run/hangar-bench
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "/run/hangar-bench"\n' "$S" >"$S/storage.conf"
export CONTAINERS_STORAGE_CONF=$S/storage.conf
if ! buildah images --format '{{.Name}}:{{.Tag}}' | grep -qx "$BASE"; then
  CONTAINERS_STORAGE_CONF=$TESTS_CONF buildah images --format '{{.Name}}:{{.Tag}}' | grep -qx "$BASE" \
    || { echo "missing $BASE: run the image tests once" >&2; exit 1; }
  CONTAINERS_STORAGE_CONF=$TESTS_CONF buildah push -q "$BASE" \
    "containers-storage:[overlay@$S/graph+/run/hangar-bench]$BASE" >/dev/null
fi
CONS=$CACHE/image-constraints/constraints-$VERSION-${EXTRAS//,/_}.txt
[ -f "$CONS" ] || { echo "missing $CONS: run the image tests once" >&2; exit 1; }

# Short: dockerd's and containerd's sockets live below it.
WORK=$(mktemp -d /tmp/hb.XXXXXX)
DOCKERD_PID=""
TAG=localhost/hangar-bench
cleanup() {
  for t in pip uv rebuild; do buildah rmi -f "$TAG:$t" >/dev/null 2>&1 || true; done
  buildah rmi --prune >/dev/null 2>&1 || true
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- "-$DOCKERD_PID" 2>/dev/null || true
    grep " $WORK/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release -q -p hangar --manifest-path "$ROOT/Cargo.toml"
HANGAR=$CARGO_TARGET_DIR/release/hangar

start_docker() {
  export DOCKER_HOST=unix://$WORK/docker.sock
  # Debian's client (20.10) builds with the daemon's embedded BuildKit; a newer client without
  # the buildx plugin cannot, so it goes first on PATH.
  mkdir -p "$WORK/bin" && ln -sf /usr/bin/docker "$WORK/bin/docker" && export PATH=$WORK/bin:$PATH
  setsid dockerd --data-root "$WORK/docker" --exec-root "$WORK/exec" --host "$DOCKER_HOST" \
    --pidfile "$WORK/dockerd.pid" --storage-driver overlay2 --iptables=false --ip6tables=false \
    --bridge=none --ip-forward=false --ip-masq=false >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
  docker version >/dev/null || { tail "$WORK/dockerd.log" >&2; exit 1; }
  buildah push -q "$BASE" "docker-archive:$WORK/base.tar:$BASE" >/dev/null
  docker load -q -i "$WORK/base.tar" >/dev/null
  rm -f "$WORK/base.tar"
}

# Drops every cached layer and download of the engine: the next build is cold.
forget() {
  case $1 in
    buildah)
      for t in pip uv rebuild; do buildah rmi -f "$TAG:$t" >/dev/null 2>&1 || true; done
      buildah rmi --prune >/dev/null 2>&1 || true
      # buildah keeps cache mounts in $TMPDIR/buildah-cache-<uid>: a new TMPDIR is an empty cache.
      export TMPDIR=$WORK/tmp.$RANDOM; mkdir -p "$TMPDIR" ;;
    docker)
      docker image rm -f "$TAG:pip" "$TAG:uv" "$TAG:rebuild" >/dev/null 2>&1 || true
      docker builder prune -af >/dev/null ;;
  esac
}

# build ENGINE NAME hangar-build-args…: prints the seconds `hangar build` took; the log's lines
# are stamped with epoch seconds for the slowest-steps summary.
build() {
  local engine=$1 name=$2; shift 2
  local extra=() log=$WORK/$engine-$name.log t0
  [ "$engine" = docker ] && extra=(--engine-arg=--network=host)
  t0=$(date +%s.%N)
  "$HANGAR" build --engine "$engine" --progress plain --python 3.11 --python-base-image "$BASE" \
    --install-airflow-version "$VERSION" --extras "$EXTRAS" --disable-mysql-client-installation \
    --build-arg INSTALL_MSSQL_CLIENT=false --constraints-location "$CONS" \
    --ca-bundle /etc/ssl/certs/ca-certificates.crt "${extra[@]}" -t "$TAG:$name" "$@" </dev/null 2>&1 \
    | while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done >"$log"
  [ "${PIPESTATUS[0]}" = 0 ] || { tail -30 "$log" >&2; exit 1; }
  awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }'
}

# The slowest steps of a build log: seconds from each step line to the next (hangar prefixes
# the engine's lines with "[engine mm:ss] ").
slowest_steps() {
  awk '{ rest = $0; sub(/^[^ ]+ /, "", rest); sub(/^\[[a-z]+ [0-9:]+\] /, "", rest) }
       rest ~ /^(\[[0-9]+\/[0-9]+\] )?STEP / || rest ~ /^COMMIT/ || rest ~ /^#[0-9]+ \[/ || rest ~ /^#[0-9]+ (DONE|CACHED)/ {
         if (name != "") printf "%6.1f s  %s\n", $1 - t, name
         t = $1; name = substr(rest, 1, 90) }' "$1" | sort -rn | head -5
}

size() {
  case $1 in
    buildah) podman image inspect --format '{{.Size}}' "$2" ;;
    docker) docker image inspect --format '{{.Size}}' "$2" ;;
  esac
}

# Bytes and creating instruction of each layer (podman 4.3 prints "347 MB" even with
# --human=false; docker prints bytes).
layer_sizes() {
  local cmd=(podman)
  [ "$1" = docker ] && cmd=(docker)
  "${cmd[@]}" history --no-trunc --human=false --format '{{.Size}}	{{.CreatedBy}}' "$2" | awk -F'\t' '{
    n = split($1, p, " "); m = (p[2] == "kB") ? 1e3 : (p[2] == "MB") ? 1e6 : (p[2] == "GB") ? 1e9 : 1
    printf "%d\t%s\n", p[1] * m, $2 }'
}

mb() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1000000 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }

echo "hangar image build benchmark: Airflow $VERSION [$EXTRAS], base $BASE, $(nproc) cores"
for engine in $ENGINES; do
  [ "$engine" = docker ] && start_docker
  forget "$engine"
  pip=$(build "$engine" pip --additional-python-deps cowsay==6.1 --build-arg AIRFLOW_USE_UV=false \
        --engine-arg=--no-cache)
  forget "$engine"
  uv=$(build "$engine" uv --additional-python-deps cowsay==6.1 --engine-arg=--no-cache)
  rebuild=$(build "$engine" rebuild --additional-python-deps cowsay==6.0)
  final=$(size "$engine" "$TAG:rebuild")
  base=$(size "$engine" "$BASE")
  runtime=$(layer_sizes "$engine" "$TAG:rebuild" | awk -F'\t' '/install apt runtime/ {s+=$1} END {print s+0}')
  # The venv layers: the Airflow layer, the additional layer and the removals (buildah records
  # COPY sources as "dir:<digest>", BuildKit the paths).
  venv=$(layer_sizes "$engine" "$TAG:rebuild" \
    | awk -F'\t' '/COPY dir:/ || (/COPY/ && /\/home\/airflow/) || /install removals/ {s+=$1} END {print s+0}')
  payload=$((base + runtime + venv))
  echo "[$engine]
cold build, pip         ${pip%.*} s
cold build, uv          ${uv%.*} s   = $(pct "$uv" "$pip") % of pip (goal <= 50 %)
rebuild (deps changed)  ${rebuild%.*} s   = $(pct "$rebuild" "$uv") % of the uv cold build (goal <= 10 %)
final image             $(mb "$final") MB
payload                 $(mb "$payload") MB  (base $(mb "$base") + runtime packages $(mb "$runtime") + venv $(mb "$venv"))
final / payload         $(pct "$final" "$payload") % (goal <= 105 %)
layers of the rebuilt image (bytes, instruction):
$(layer_sizes "$engine" "$TAG:rebuild" | cut -c1-110)
slowest steps of the pip cold build:
$(slowest_steps "$WORK/$engine-pip.log" | head -3)
slowest steps of the uv cold build:
$(slowest_steps "$WORK/$engine-uv.log" | head -3)
slowest steps of the rebuild:
$(slowest_steps "$WORK/$engine-rebuild.log")"
  forget "$engine"
done

#!/usr/bin/env bash
# Image build benchmark (buildah, chroot; vfs storage, or overlay with BENCH_DRIVER=overlay; Debian
# base made by the tests' debootstrap recipe).
#   1. cold build of the root Dockerfile (--no-cache; its layers are kept for step 2),
#   2. warm rebuild where only ADDITIONAL_PYTHON_DEPS changed (goal: <= 20% of cold),
#   3. a naive single-stage build of the same inputs with compilers left in (bench/naive.Dockerfile),
#   4. sizes: final image, naive image, payload = base image + runtime-package layer + venv layer
#      (goal: final within 5% of payload).
# Needs: buildah, podman, runc; the base image localhost/python-base:bookworm (run
# `cargo test -p hangar --features full-tests --test it build_image::` once, or see test-machine notes); PyPI access.
# Usage: [BENCH_DRIVER=overlay] bench/build.sh [AIRFLOW_VERSION]
#        (prints a summary with the slowest steps of the warm rebuild; removes what it built)
set -euo pipefail
VERSION=${1:-3.3.2}
EXTRAS=postgres,celery,redis
BASE=localhost/python-base:bookworm
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# BENCH_DRIVER=overlay measures with the storage driver Docker and podman use by default, in
# storage of its own (BENCH_STORAGE), the base image copied there from the tests' vfs storage.
DRIVER=${BENCH_DRIVER:-vfs}
STORE=""
if [ "$DRIVER" != vfs ]; then
  S=${BENCH_STORAGE:-/var/tmp/hangar-bench-$DRIVER}
  STORE="--root $S/root --runroot $S/run"
fi
B="buildah --storage-driver $DRIVER $STORE"
WORK=$(mktemp -d /var/tmp/hangar-bench.XXXXXX)
CONF=$WORK/containers.conf
mkdir -p "$WORK/static"
printf '[containers]\ndefault_ulimits = []\npids_limit = 0\n[engine]\nstatic_dir = "%s"\n' "$WORK/static" > "$CONF"
P="env CONTAINERS_CONF=$CONF podman --storage-driver $DRIVER $STORE"
TAGS=(localhost/hangar-bench:cold localhost/hangar-bench:warm localhost/hangar-bench:naive)
cleanup() { for t in "${TAGS[@]}"; do $B rmi -f "$t" >/dev/null 2>&1 || true; done; $B rmi --prune >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

if [ "$DRIVER" != vfs ] && ! $B images --format '{{.Name}}:{{.Tag}}' | grep -qx "$BASE"; then
  buildah --storage-driver vfs push -q "$BASE" "containers-storage:[$DRIVER@$S/root+$S/run]$BASE" >/dev/null
fi
$B images --format '{{.Name}}:{{.Tag}}' | grep -qx "$BASE" || { echo "missing $BASE: run the image tests once" >&2; exit 1; }
cargo build --release -q -p hangar --manifest-path "$ROOT/Cargo.toml"
HANGAR=$CARGO_TARGET_DIR/release/hangar

# Constraints: pip freeze of a host venv with the same extras (upstream's are on GitHub).
CONS=$WORK/ctx/docker-context-files/constraints.txt
mkdir -p "$WORK/ctx/.hangar" "$WORK/ctx/docker-context-files"
CACHED=${HANGAR_TEST_CACHE:-$HOME/.cache/hangar-tests}/image-constraints/constraints-$VERSION-${EXTRAS//,/_}.txt
if [ -f "$CACHED" ]; then cp "$CACHED" "$CONS"; else
  /usr/bin/python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q --disable-pip-version-check "apache-airflow[$EXTRAS]==$VERSION"
  "$WORK/venv/bin/pip" freeze --exclude-editable | grep -iv '^apache-airflow==' > "$CONS"
fi
cp "$ROOT/Dockerfile" "$ROOT/bench/naive.Dockerfile" "$WORK/ctx/"
cp "$HANGAR" "$WORK/ctx/.hangar/hangar"

ARGS=(--build-arg HANGAR_BINARY_SOURCE=context --build-arg PYTHON_BASE_IMAGE=$BASE
      --build-arg PYTHON_MAJOR_MINOR_VERSION=3.11 --build-arg AIRFLOW_VERSION=$VERSION
      --build-arg AIRFLOW_EXTRAS=$EXTRAS --build-arg INSTALL_MYSQL_CLIENT=false --build-arg INSTALL_MSSQL_CLIENT=false
      --build-arg DOCKER_CONTEXT_FILES=docker-context-files
      --build-arg AIRFLOW_CONSTRAINTS_LOCATION=/docker-context-files/constraints.txt
      --secret id=hangar-ca,src=/etc/ssl/certs/ca-certificates.crt)
build() { # FILE TAG extra-args… ; prints seconds; the log's lines are stamped with epoch seconds
  local file=$1 tag=$2; shift 2
  local t0=$(date +%s.%N) log=$WORK/$(basename "$tag").log
  $B bud --isolation chroot --layers --format docker "${ARGS[@]}" "$@" -t "$tag" -f "$WORK/ctx/$file" "$WORK/ctx" 2>&1 \
    | while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done > "$log" \
    || { tail -30 "$log" >&2; exit 1; }
  awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }'
}
# The slowest steps of a build: seconds from each STEP line to the next line that starts a
# step or ends the build.
slowest_steps() {
  awk '{ rest = $0; sub(/^[^ ]+ /, "", rest) }
       rest ~ /^(\[[0-9]+\/[0-9]+\] )?STEP / || rest ~ /^COMMIT/ {
         if (name != "") printf "%6.1f s  %s\n", $1 - t, name
         t = $1; name = substr(rest, 1, 90) }' "$WORK/$(basename "$1").log" | sort -rn | head -6
}
size() { $P image inspect --format '{{.Size}}' "$1"; }
# Layer sizes in bytes (podman 4.3 prints "347 MB" even with --human=false).
layer_sizes() {
  $P history --no-trunc --format '{{.Size}}	{{.CreatedBy}}' "$1" | awk -F'\t' '{
    split($1, p, " "); m = (p[2] == "kB") ? 1e3 : (p[2] == "MB") ? 1e6 : (p[2] == "GB") ? 1e9 : 1
    printf "%d\t%s\n", p[1] * m, $2 }'
}

cold=$(build Dockerfile localhost/hangar-bench:cold --no-cache --build-arg ADDITIONAL_PYTHON_DEPS=cowsay==6.1)
warm=$(build Dockerfile localhost/hangar-bench:warm --build-arg ADDITIONAL_PYTHON_DEPS=cowsay==6.0)
naive=$(build naive.Dockerfile localhost/hangar-bench:naive --no-cache --build-arg ADDITIONAL_PYTHON_DEPS=cowsay==6.1)

final_size=$(size localhost/hangar-bench:cold)
naive_size=$(size localhost/hangar-bench:naive)
base_size=$(size $BASE)
runtime_layer=$(layer_sizes localhost/hangar-bench:cold | awk -F'\t' '/install apt runtime/ {s+=$1} END {print s+0}')
venv_layer=$(layer_sizes localhost/hangar-bench:cold | awk -F'\t' '/COPY dir:/ {s+=$1} END {print s+0}')
payload=$((base_size + runtime_layer + venv_layer))
mb() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1000000 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
cat <<SUMMARY
hangar image build benchmark (Airflow $VERSION [$EXTRAS], base $BASE, buildah $DRIVER)
cold build              ${cold%.*} s
warm rebuild (deps)     ${warm%.*} s   = $(pct "$warm" "$cold") % of cold (goal <= 20 %)
naive single-stage      ${naive%.*} s
final image             $(mb "$final_size") MB
naive image             $(mb "$naive_size") MB
payload                 $(mb "$payload") MB  (base $(mb "$base_size") + runtime packages $(mb "$runtime_layer") + venv $(mb "$venv_layer"))
final / payload         $(pct "$final_size" "$payload") % (goal <= 105 %)
slowest steps of the warm rebuild:
$(slowest_steps localhost/hangar-bench:warm)
SUMMARY

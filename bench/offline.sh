#!/usr/bin/env bash
# Air-gapped build benchmark: the same image (Airflow VERSION [postgres,celery,redis] on the
# tests' Debian base, buildah with overlay storage and chroot isolation), built side by side in
# one run:
#   online   `hangar build` from PyPI and the Debian mirror (the machine's CA bundle as secret),
#   offline  `hangar download --debs` once, then `unshare -n hangar build --add-local-pip-wheels`
#            from the downloaded folder with no network interface at all.
# Both builds run with --no-cache and an empty build cache (a new TMPDIR: buildah keeps cache
# mounts in $TMPDIR/buildah-cache-<uid>), RUNS times each, alternating. Prints the download's
# time and size and every build's seconds.
# Needs: root, buildah podman runc, python3-pip, the tests' base image and constraints (run
# `cargo test -p hangar --features full-tests --test it offline::` once), PyPI and the mirror.
# Usage: [RUNS=1] bench/offline.sh [AIRFLOW_VERSION]
set -euo pipefail
VERSION=${1:-3.3.2}
RUNS=${RUNS:-1}
EXTRAS=postgres,celery,redis
BASE=localhost/python-base:bookworm
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${HANGAR_TEST_CACHE:-$HOME/.cache/hangar-tests}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export BUILDAH_ISOLATION=chroot
export CONTAINERS_STORAGE_CONF=$CACHE/images/storage.conf
buildah images --format '{{.Name}}:{{.Tag}}' | grep -qx "$BASE" \
  || { echo "missing $BASE: run the offline test once" >&2; exit 1; }
CONS=$CACHE/image-constraints/constraints-$VERSION-${EXTRAS//,/_}.txt
[ -f "$CONS" ] || { echo "missing $CONS: run the offline test once" >&2; exit 1; }

WORK=$(mktemp -d /var/tmp/hangar-bench-offline.XXXXXX)
TAG=localhost/hangar-bench-offline
cleanup() {
  for t in online offline; do buildah rmi -f "$TAG:$t" >/dev/null 2>&1 || true; done
  buildah rmi --prune >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release -q -p hangar --manifest-path "$ROOT/Cargo.toml"
HANGAR=$CARGO_TARGET_DIR/release/hangar
COMMON=(--engine buildah --progress plain --python 3.11 --python-base-image "$BASE"
  --install-airflow-version "$VERSION" --extras "$EXTRAS" --disable-mysql-client-installation
  --build-arg INSTALL_MSSQL_CLIENT=false --engine-arg --no-cache)

t0=$(date +%s.%N)
"$HANGAR" download --engine buildah --host-python /usr/bin/python3 --airflow-version "$VERSION" \
  --python 3.11 --extras "$EXTRAS" --constraints-location "$CONS" \
  --build-arg INSTALL_MYSQL_CLIENT=false --build-arg INSTALL_MSSQL_CLIENT=false \
  --debs --python-base-image "$BASE" -o "$WORK/folder" 2>"$WORK/download.log"
download_s=$(echo "$(date +%s.%N) - $t0" | bc)
download_mb=$(du -sm "$WORK/folder" | cut -f1)

# build NAME [wrapper…] -- hangar-build-args…: prints the seconds the build took.
build() {
  local name=$1 t0 wrapper=(); shift
  while [ "$1" != -- ]; do wrapper+=("$1"); shift; done; shift
  export TMPDIR=$WORK/tmp.$RANDOM; mkdir -p "$TMPDIR"
  buildah rmi -f "$TAG:$name" >/dev/null 2>&1 || true
  buildah rmi --prune >/dev/null 2>&1 || true
  t0=$(date +%s.%N)
  "${wrapper[@]}" "$HANGAR" build "${COMMON[@]}" "$@" -t "$TAG:$name" >"$WORK/$name.log" 2>&1 \
    || { tail -20 "$WORK/$name.log" >&2; exit 1; }
  echo "$(date +%s.%N) - $t0" | bc
}

online=() offline=()
for _ in $(seq "$RUNS"); do
  online+=("$(build online env -- --constraints-location "$CONS" \
    --ca-bundle /etc/ssl/certs/ca-certificates.crt)")
  offline+=("$(build offline unshare -n -- --context-files "$WORK/folder" --add-local-pip-wheels)")
done
printf 'hangar download --debs: %.0f s, %s MB (%s)\n' "$download_s" "$download_mb" \
  "$(grep -o '[0-9]* wheels, [0-9]* + [0-9]* apt packages' "$WORK/download.log")"
printf 'online build  (PyPI + mirror, --no-cache, empty cache): %s s\n' \
  "$(printf '%.0f ' "${online[@]}")"
printf 'offline build (unshare -n, --no-cache, empty cache):    %s s\n' \
  "$(printf '%.0f ' "${offline[@]}")"

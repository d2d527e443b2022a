#!/usr/bin/env bash
# Extend-route benchmark, on buildah (overlay, chroot isolation), in one run:
#   1. a customized base image (hangar build: Airflow VERSION [postgres,celery,redis]);
#   2. the same base customized with the project's content instead (jq, tree, pyjokes as
#      runtime apt and additional Python deps), the route upstream compares extending with;
#   3. `hangar new` + `hangar build --extend` of that project FROM the base: first build;
#   4. the same after a change of one DAG file only.
# Prints the DAG-only rebuild time against the first extend build, and the extended image's
# size against the customized one with the same content. Every figure is printed.
# Needs: buildah podman runc, the tests' base image and constraints (run the image tests once),
# PyPI access. Builds in a store of its own (BENCH_STORAGE, default /var/tmp/hangar-bench-store).
# Usage: bench/extend.sh [AIRFLOW_VERSION]
set -euo pipefail
VERSION=${1:-3.3.2}
EXTRAS=postgres,celery,redis
BASE=localhost/python-base:bookworm
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${HANGAR_TEST_CACHE:-$HOME/.cache/hangar-tests}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export BUILDAH_ISOLATION=chroot
S=${BENCH_STORAGE:-/var/tmp/hangar-bench-store}
mkdir -p "$S" /run/hangar-bench
printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "/run/hangar-bench"\n' "$S" >"$S/storage.conf"
export CONTAINERS_STORAGE_CONF=$S/storage.conf
if ! buildah images --format '{{.Name}}:{{.Tag}}' | grep -qx "$BASE"; then
  CONTAINERS_STORAGE_CONF=$CACHE/images/storage.conf buildah push -q "$BASE" \
    "containers-storage:[overlay@$S/graph+/run/hangar-bench]$BASE" >/dev/null \
    || { echo "missing $BASE in the tests' store: run the image tests once" >&2; exit 1; }
fi
CONS=$CACHE/image-constraints/constraints-$VERSION-${EXTRAS//,/_}.txt
[ -f "$CONS" ] || { echo "missing $CONS: run the image tests once" >&2; exit 1; }

WORK=$(mktemp -d /tmp/hx.XXXXXX)
TAG=localhost/hangar-bench-extend
cleanup() {
  for t in base custom ext ext-dags; do buildah rmi -f "$TAG:$t" >/dev/null 2>&1 || true; done
  buildah rmi --prune >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cargo build --release -q -p hangar --manifest-path "$ROOT/Cargo.toml"
HANGAR=$CARGO_TARGET_DIR/release/hangar

# timed NAME hangar-args…: runs `hangar build …`, prints its seconds; the log is kept in WORK.
timed() {
  local name=$1 t0; shift
  t0=$(date +%s.%N)
  "$HANGAR" build --engine buildah --progress plain --ca-bundle /etc/ssl/certs/ca-certificates.crt \
    -t "$TAG:$name" "$@" </dev/null >"$WORK/$name.log" 2>&1 || { tail -30 "$WORK/$name.log" >&2; exit 1; }
  awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }'
}
customize=(--python 3.11 --python-base-image "$BASE" --install-airflow-version "$VERSION" --extras "$EXTRAS"
  --disable-mysql-client-installation --build-arg INSTALL_MSSQL_CLIENT=false --constraints-location "$CONS")
size() { podman image inspect --format '{{.Size}}' "$TAG:$1"; }
mb() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1000000 }'; }

echo "hangar extend benchmark: Airflow $VERSION [$EXTRAS] on $BASE, buildah, $(nproc) cores"
t_base=$(timed base "${customize[@]}")
t_custom=$(timed custom "${customize[@]}" --additional-runtime-apt-deps "jq tree" --additional-python-deps pyjokes==0.8.3)
"$HANGAR" new "$WORK/project" >/dev/null
printf 'jq\ntree\n' >"$WORK/project/packages.txt"
printf 'pyjokes==0.8.3\n' >"$WORK/project/requirements.txt"
t_ext=$(timed ext --extend "$TAG:base" --project "$WORK/project")
printf '\n# changed\n' >>"$WORK/project/dags/example_dag.py"
t_dags=$(timed ext-dags --extend "$TAG:base" --project "$WORK/project")
cached=$(grep -c 'Using cache' "$WORK/ext-dags.log" || true)

printf 'builds (s): base %s, customized with the content %s, extended: first %s, DAG-only change %s (%s%% of the first; %s cached steps)\n' \
  "$t_base" "$t_custom" "$t_ext" "$t_dags" "$(awk -v a="$t_dags" -v b="$t_ext" 'BEGIN { printf "%.0f", 100 * a / b }')" "$cached"
printf 'sizes (MB): base %s, customized with the content %s, extended %s (%s%% of customized)\n' \
  "$(mb "$(size base)")" "$(mb "$(size custom)")" "$(mb "$(size ext)")" \
  "$(awk -v a="$(size ext)" -v b="$(size custom)" 'BEGIN { printf "%.1f", 100 * a / b }')"

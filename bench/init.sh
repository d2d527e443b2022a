#!/usr/bin/env bash
# Startup cost of `hangar init` as a process wrapper: `hangar init -- true` against plain
# `true`, and against dumb-init and tini when they are installed (apt-get install -y dumb-init
# tini). Then the same as PID 1 of a fresh pid namespace (needs root and unshare).
#
# Usage: bench/init.sh            (builds hangar with --release first)
#        HANGAR=/path/to/hangar bench/init.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hyperfine >/dev/null; then
    echo "bench/init.sh needs hyperfine: apt-get install -y hyperfine" >&2
    exit 1
fi
if [ -z "${HANGAR:-}" ]; then
    cargo build --release --quiet -p hangar
    HANGAR="${CARGO_TARGET_DIR:-target}/release/hangar"
fi
TRUE="$(command -v true)"
RUNS="${RUNS:-500}"

wrappers=("$TRUE" "$HANGAR init -- $TRUE" "env DUMB_INIT_SETSID=0 $HANGAR init -- $TRUE")
command -v dumb-init >/dev/null && wrappers+=("$(command -v dumb-init) $TRUE")
command -v tini >/dev/null && wrappers+=("$(command -v tini) -s -- $TRUE")

echo "== as a wrapper (not PID 1)"
hyperfine -N --warmup 50 --runs "$RUNS" "${wrappers[@]}"

if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    ns="unshare --pid --fork --mount-proc"
    pid1=("$ns $TRUE" "$ns $HANGAR init -- $TRUE")
    command -v dumb-init >/dev/null && pid1+=("$ns $(command -v dumb-init) $TRUE")
    command -v tini >/dev/null && pid1+=("$ns $(command -v tini) -- $TRUE")
    echo "== as PID 1 of a new pid namespace"
    hyperfine -N --warmup 20 --runs "$RUNS" "${pid1[@]}"
fi

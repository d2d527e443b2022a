#!/usr/bin/env bash
# Benchmark of `hangar entrypoint` against upstream's mechanism, with a real PostgreSQL up.
#
#  1. Start-up cost: hyperfine, in one run (each command started through `env VAR=…`), of
#       - `bash -c true`                                   (baseline: the command alone)
#       - `hangar entrypoint bash -c true` as upstream runs it today (no DB wait for bash)
#       - `hangar entrypoint bash -c true` with the DB wait forced (HANGAR_WAIT_FOR_DB=always),
#         i.e. a native PostgreSQL startup + SCRAM authentication, then the command
#       - `airflow db check && bash -c true`               (upstream's DB check, real Airflow)
#     hangar's overhead = its mean - the baseline's mean.
#  2. Reaction delay: the entrypoint waits for a PostgreSQL that starts ~2 s later; the delay is
#     the time between PostgreSQL logging "ready to accept connections" (epoch ms, log_line_prefix
#     %n) and the command recording its start (date +%s.%N).
#
# Usage: bench/entrypoint.sh [AIRFLOW_VENV]   (run as root; needs hyperfine, postgresql-15)
# AIRFLOW_VENV defaults to the tests' cached Airflow 3 venv (build it with
# `cargo test -p hangar --features full-tests --test it entrypoint::airflow_version`). Builds hangar in release mode.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
pgbin=/usr/lib/postgresql/15/bin
venv="${1:-${HANGAR_TEST_CACHE:-$HOME/.cache/hangar-tests}/airflow-venvs/3.3.2-postgres}"
runs="${RUNS:-30}"

for p in hyperfine "$pgbin/postgres"; do
    command -v "$p" >/dev/null || { echo "missing $p: apt-get install -y hyperfine postgresql-15" >&2; exit 1; }
done
[[ -x "$venv/bin/airflow" ]] || { echo "no Airflow venv at $venv" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
(cd "$here" && cargo build --release -p hangar -q)
hangar="$CARGO_TARGET_DIR/release/hangar"

work="$(mktemp -d)"
chmod 755 "$work"
pg_pid=""
cleanup() {
    if [[ -n "$pg_pid" ]]; then kill "$pg_pid" 2>/dev/null || true; wait "$pg_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
pw="bench-pw"
mkdir "$work/pg"; chown postgres: "$work/pg"
printf '%s\n' "$pw" > "$work/pwfile"; chmod 644 "$work/pwfile"
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -U airflow --pwfile="$work/pwfile" \
    --auth-host=scram-sha-256 --auth-local=trust >/dev/null
start_pg() {
    runuser -u postgres -- "$pgbin/postgres" -D "$work/pg/data" -p "$port" -k "$work/pg" \
        -c listen_addresses=127.0.0.1 -c "log_line_prefix=%n " -c logging_collector=off \
        2>>"$work/pg/log" &
    pg_pid=$!
}
stop_pg() { kill "$pg_pid"; wait "$pg_pid" 2>/dev/null || true; pg_pid=""; }

url="postgresql+psycopg2://airflow:$pw@127.0.0.1:$port/postgres"
export AIRFLOW_HOME="$work/airflow-home" AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$url"
export AIRFLOW__CORE__LOAD_EXAMPLES=false PATH="$venv/bin:$PATH"
mkdir -p "$AIRFLOW_HOME"

start_pg
"$hangar" wait db
echo "== start-up cost with PostgreSQL up (runs: $runs)"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/hf.json" \
    -n baseline "env HANGAR_WAIT_FOR_DB=always bash -c true" \
    -n hangar-nowait "env HANGAR_WAIT_FOR_DB=auto $hangar entrypoint bash -c true" \
    -n hangar "env HANGAR_WAIT_FOR_DB=always $hangar entrypoint bash -c true" \
    -n upstream "bash -c 'airflow db check >/dev/null 2>&1 && bash -c true'" >&2 || true
python3 - "$work/hf.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
def ms(k, f): return r[k][f] * 1000
for f in ("mean", "median", "min"):
    b, n, h, u = (ms(k, f) for k in ("baseline", "hangar-nowait", "hangar", "upstream"))
    print(f"[{f}] bash -c true {b:.2f} ms | hangar, no wait {n:.2f} ms (+{n - b:.2f}) | "
          f"hangar, DB wait {h:.2f} ms (+{h - b:.2f}; goal +5) | airflow db check + bash "
          f"{u:.0f} ms ({u / h:.0f}x hangar; goal 100x)")
PY
stop_pg

echo "== reaction delay: PostgreSQL starts ~2 s after the entrypoint begins waiting"
for i in 1 2 3 4 5; do
    : > "$work/pg/log"
    rm -f "$work/started"
    HANGAR_WAIT_FOR_DB=always CONNECTION_CHECK_MAX_COUNT=30 CONNECTION_CHECK_SLEEP_TIME=1 \
        "$hangar" entrypoint bash -c "date +%s.%N > $work/started" 2>/dev/null &
    ep=$!
    sleep 2
    start_pg
    wait "$ep"
    ready="$(grep -m1 'ready to accept connections' "$work/pg/log" | cut -d' ' -f1)"
    python3 -c "import sys; print(f'run $i: reaction {(float(sys.argv[2]) - float(sys.argv[1])) * 1000:.1f} ms (goal <= 100 ms)')" \
        "$ready" "$(cat "$work/started")"
    stop_pg
done

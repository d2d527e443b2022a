#!/usr/bin/env bash
# Deployment benchmark: hangar's native waits and probes against upstream's (`airflow db check`
# loops, `airflow db check-migrations`, `airflow jobs check` health checks), in one run.
#
#  1. Per-probe cost, against a real PostgreSQL 15 migrated by real Airflow 3.3.2 and a real
#     `airflow scheduler` heartbeating into it: RUNS runs each (bench/rusage.py: wall, user+sys
#     CPU from wait4's rusage at µs resolution, peak RSS from GNU time's %M) of
#       hangar health scheduler       vs  airflow jobs check --job-type SchedulerJob
#       hangar wait db --migrated     vs  airflow db check-migrations
#       hangar wait db                vs  airflow db check
#     plus hyperfine's wall-time means of the same pairs side by side, and the harness's floor
#     (`true` measured the same way: GNU time's own start-up, counted in every CPU figure).
#  2. The stack twice: deploy/compose/celery.yaml on a dockerd of the bench's own (host network,
#     bench/compose-host.yaml), once as shipped (the entrypoint's native waits, `hangar health`
#     checks) and once with bench/compose-upstream.yaml on top (the entrypoint's waits off; each
#     component runs `until airflow db check; do sleep 1; done; airflow db check-migrations`
#     before its command, and the health checks are `airflow jobs check … --local` and Celery's
#     `inspect ping`, curl for the api-server). Per run: seconds from `docker-compose up -d` to
#     the init service's exit, to the first scheduler heartbeat (the SchedulerJob row's
#     start_date) and to the success of a DAG run (bench/deploy_dag.py, an @once DAG the
#     scheduler runs as soon as the DAG is parsed; dag_run.end_date), read from the job and
#     dag_run tables, and the CPU seconds of every container until then, health checks and the
#     exited init service included (cgroup v1 cpuacct of a cgroup parent of the bench's
#     dockerd). STACK_RUNS runs of each, alternating.
#  3. A summary of both parts.
#
# Usage: bench/deploy.sh             (root; Debian 12)
#   RUNS=20 (probe runs), STACK_RUNS=1, BENCH_PARTS="probes stack", AIRFLOW_VENV=…,
#   HEALTHCHECK_INTERVAL=10s (the shipped default), BENCH_DOCKER=/var/tmp/hangar-bench-docker
#   (the bench's dockerd data root: the images built there are kept for the next run; remove the
#   directory to free the disk).
# Needs: postgresql-15, hyperfine, python3, docker.io, docker-compose, postgresql-client,
#   the tests' Airflow 3.3.2 venv (`cargo test -p hangar --features full-tests --test it
#   entrypoint::airflow_version` makes it), and for part 2 the tests' Debian base image and the
#   compose constraints (`cargo test -p hangar --features full-tests --test it
#   deploy_compose::celery_stack_runs_end_to_end_on_two_workers` makes both once) and PyPI
#   access for the first image build (about 3 min; later runs reuse the images).
# Builds hangar in release mode (CARGO_TARGET_DIR, default target/).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${HANGAR_TEST_CACHE:-$HOME/.cache/hangar-tests}"
PGBIN=/usr/lib/postgresql/15/bin
VENV="${AIRFLOW_VENV:-$CACHE/airflow-venvs/3.3.2-postgres}"
RUNS="${RUNS:-20}"
STACK_RUNS="${STACK_RUNS:-1}"
PARTS="${BENCH_PARTS:-probes stack}"
BENCH_DOCKER="${BENCH_DOCKER:-/var/tmp/hangar-bench-docker}"
BASE=localhost/python-base:bookworm
AIRFLOW_VERSION=3.3.2
EXTRAS=postgres,celery,redis

need() { # need PROGRAM PACKAGE
    command -v "$1" >/dev/null || { echo "missing $1: apt-get install -y $2" >&2; exit 1; }
}
need hyperfine hyperfine
need python3 python3
need "$PGBIN/postgres" postgresql-15
need psql postgresql-client
need /usr/bin/time time
[[ -x "$VENV/bin/airflow" ]] || {
    echo "no Airflow $AIRFLOW_VERSION venv at $VENV: make it with" \
        "\`cargo test -p hangar --features full-tests --test it entrypoint::airflow_version\`" >&2
    exit 1
}
if [[ " $PARTS " == *" stack "* ]]; then
    need dockerd docker.io
    need /usr/bin/docker docker.io
    need docker-compose docker-compose
    need buildah buildah
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release -q -p hangar)
HANGAR="$CARGO_TARGET_DIR/release/hangar"

# Short: dockerd's and containerd's unix sockets live below it.
WORK="$(mktemp -d /tmp/hdb.XXXXXX)"
chmod 755 "$WORK"
PG_PID="" SCHED_PID="" DOCKERD_PID="" PROJECT="" CGROUP=""
cleanup() {
    set +e
    if [[ -n "$PROJECT" ]]; then compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1; fi
    if [[ -n "$DOCKERD_PID" ]]; then
        kill "$DOCKERD_PID" 2>/dev/null
        for _ in $(seq 200); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 -- "-$DOCKERD_PID" 2>/dev/null
        grep -E " ($WORK|$BENCH_DOCKER)/" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount -l 2>/dev/null
        if [[ -n "$CGROUP" ]]; then
            # Each controller keeps the (empty) per-container directories below it: deepest first.
            for d in /sys/fs/cgroup/*/"$CGROUP"; do
                [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
            done
        fi
    fi
    if [[ -n "$SCHED_PID" ]]; then
        kill -- "-$SCHED_PID" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$SCHED_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 -- "-$SCHED_PID" 2>/dev/null
    fi
    if [[ -n "$PG_PID" ]]; then kill "$PG_PID" 2>/dev/null; wait "$PG_PID" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

SUMMARY="$WORK/summary.txt"
: >"$SUMMARY"

# ---------------------------------------------------------------------------------------------
# Part 1: the cost of one probe

# measure NAME CMD…: RUNS runs through bench/rusage.py (wall, user+sys CPU and peak RSS of the
# child from wait4's rusage); one line "NAME wall cpu maxrss_kib" per run in $WORK/probe.tsv.
# Every run must succeed (a probe that fails measures nothing).
measure() {
    local name=$1; shift
    python3 "$ROOT/bench/rusage.py" "$name" "$RUNS" "$WORK/probe.log" "$@" >>"$WORK/probe.tsv"
}

part_probes() {
    local port pw url
    port="$(free_port)"
    pw="$(rand_hex 12)"
    mkdir "$WORK/pg"; chown postgres: "$WORK/pg"
    printf '%s\n' "$pw" >"$WORK/pg/pwfile"; chown postgres: "$WORK/pg/pwfile"; chmod 600 "$WORK/pg/pwfile"
    runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg/data" -U airflow --pwfile="$WORK/pg/pwfile" \
        --auth-host=scram-sha-256 --auth-local=trust >/dev/null
    runuser -u postgres -- "$PGBIN/postgres" -D "$WORK/pg/data" -p "$port" -k "$WORK/pg" \
        -c listen_addresses=127.0.0.1 -c logging_collector=off 2>>"$WORK/pg/log" &
    PG_PID=$!

    url="postgresql+psycopg2://airflow:$pw@127.0.0.1:$port/postgres"
    export AIRFLOW_HOME="$WORK/airflow-home" AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$url"
    export AIRFLOW__CORE__LOAD_EXAMPLES=false AIRFLOW__CORE__EXECUTOR=LocalExecutor
    export AIRFLOW__CORE__PARALLELISM=2 AIRFLOW__API_AUTH__JWT_SECRET="$(rand_hex 16)"
    export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
    mkdir -p "$AIRFLOW_HOME/dags"
    "$HANGAR" wait db >/dev/null
    echo "== part 1: migrating PostgreSQL with Airflow $AIRFLOW_VERSION, starting the scheduler" >&2
    airflow db migrate >"$WORK/migrate.log" 2>&1 || { tail -20 "$WORK/migrate.log" >&2; exit 1; }
    setsid airflow scheduler >"$WORK/scheduler.log" 2>&1 &
    SCHED_PID=$!
    local t
    for t in $(seq 120); do
        "$HANGAR" health scheduler >/dev/null 2>&1 && break
        kill -0 "$SCHED_PID" 2>/dev/null || { tail -30 "$WORK/scheduler.log" >&2; exit 1; }
        sleep 1
    done
    "$HANGAR" health scheduler >&2 || { tail -30 "$WORK/scheduler.log" >&2; exit 1; }

    echo "== part 1: $RUNS runs of each probe (wait4 rusage), scheduler running" >&2
    : >"$WORK/probe.tsv"
    measure floor true
    measure hangar-health "$HANGAR" health scheduler
    measure airflow-jobs-check airflow jobs check --job-type SchedulerJob
    measure hangar-wait-migrated "$HANGAR" wait db --migrated
    measure airflow-check-migrations airflow db check-migrations
    measure hangar-wait-db "$HANGAR" wait db
    measure airflow-db-check airflow db check

    echo "== part 1: hyperfine, wall time side by side" >&2
    hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$WORK/hf.json" --style basic \
        -n "hangar health scheduler" "$HANGAR health scheduler" \
        -n "airflow jobs check --job-type SchedulerJob" "airflow jobs check --job-type SchedulerJob" \
        -n "hangar wait db --migrated" "$HANGAR wait db --migrated" \
        -n "airflow db check-migrations" "airflow db check-migrations" \
        -n "hangar wait db" "$HANGAR wait db" \
        -n "airflow db check" "airflow db check" >&2

    python3 - "$WORK/probe.tsv" "$WORK/hf.json" <<'PY' | tee -a "$SUMMARY"
import json, statistics as st, sys
runs = {}
for line in open(sys.argv[1]):
    name, wall, cpu, rss = line.split()
    runs.setdefault(name, []).append((float(wall), float(cpu), int(rss) / 1024))
hf = {r["command"]: r for r in json.load(open(sys.argv[2]))["results"]}
pairs = [
    ("scheduler liveness", "hangar-health", "hangar health scheduler",
     "airflow-jobs-check", "airflow jobs check --job-type SchedulerJob"),
    ("migration check", "hangar-wait-migrated", "hangar wait db --migrated",
     "airflow-check-migrations", "airflow db check-migrations"),
    ("database check", "hangar-wait-db", "hangar wait db",
     "airflow-db-check", "airflow db check"),
]
def stats(k):
    r = runs[k]
    return (st.mean(x[0] for x in r), st.mean(x[1] for x in r), max(x[2] for x in r))
n = len(next(iter(runs.values())))
print(f"Part 1: one probe, {n} runs each, scheduler running (mean wall; mean user+sys CPU from "
      f"wait4, GNU time's start-up included; max peak RSS, GNU time %M; hyperfine: mean wall ± sd)")
print(f"{'probe':44} {'wall ms':>9} {'CPU ms':>9} {'RSS MiB':>8} {'hyperfine ms':>16}")
fw, fc, fm = stats("floor")
print(f"{'harness floor: /usr/bin/time true':44} {fw * 1000:9.1f} {fc * 1000:9.1f} {fm:8.1f}")
for title, hk, hn, ak, an in pairs:
    rows = []
    for k, label in ((hk, hn), (ak, an)):
        w, c, m = stats(k)
        h = hf[label]
        rows.append((w, c, m))
        print(f"{label:44} {w * 1000:9.1f} {c * 1000:9.1f} {m:8.1f} "
              f"{h['mean'] * 1000:9.1f} ± {h['stddev'] * 1000:5.1f}")
    (hw, hc, hm), (aw, ac, am) = rows
    hw_hf = hf[hn]["mean"]; aw_hf = hf[an]["mean"]
    print(f"  {title}: upstream / hangar = wall {aw_hf / hw_hf:.0f}x (hyperfine), "
          f"CPU {ac / hc:.0f}x (goal >= 100x; {(ac - fc) / max(hc - fc, 1e-4):.0f}x net of the floor), "
          f"peak RSS {am / hm:.0f}x")
PY
    kill -- "-$SCHED_PID" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$SCHED_PID" 2>/dev/null || break; sleep 0.1; done
    SCHED_PID=""
    kill "$PG_PID"; wait "$PG_PID" 2>/dev/null || true; PG_PID=""
    unset AIRFLOW_HOME AIRFLOW__DATABASE__SQL_ALCHEMY_CONN VIRTUAL_ENV
}

# ---------------------------------------------------------------------------------------------
# Part 2: the stack twice

start_docker() {
    export DOCKER_HOST="unix://$WORK/docker.sock"
    # Debian's client (20.10) builds with the daemon's embedded BuildKit and is the one
    # docker-compose's docker-py talks to the same way; it goes first on PATH.
    mkdir -p "$WORK/bin" "$BENCH_DOCKER" && ln -sf /usr/bin/docker "$WORK/bin/docker"
    export PATH="$WORK/bin:$PATH"
    # The containers' cgroups below a parent of the bench's own: its cpuacct counts the stack's
    # CPU, exited containers and health check processes included, and nothing else.
    CGROUP="hangar-bench-$$"
    setsid dockerd --data-root "$BENCH_DOCKER/root" --exec-root "$WORK/exec" --host "$DOCKER_HOST" \
        --cgroup-parent "/$CGROUP" \
        --pidfile "$WORK/dockerd.pid" --storage-driver overlay2 --iptables=false --ip6tables=false \
        --bridge=none --ip-forward=false --ip-masq=false >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 300); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
    docker version >/dev/null || { tail "$WORK/dockerd.log" >&2; exit 1; }
}

# The images, built in the bench's dockerd when missing: the Debian base from the tests' buildah
# store, PostgreSQL and Redis from Debian's packages (the test kit's Dockerfile, read from
# crates/hangar-testkit/src/service_images.rs), Airflow by `hangar build --engine docker`, tagged
# with the hangar binary's digest (BuildKit reuses every layer but hangar's on a new binary).
AIRFLOW_IMAGE="" POSTGRES_IMAGE=hangar-bench/postgres:15 REDIS_IMAGE=hangar-bench/redis:7
ensure_images() {
    local digest cons
    if ! docker image inspect "$BASE" >/dev/null 2>&1; then
        CONTAINERS_STORAGE_CONF="$CACHE/images/storage.conf" buildah push -q "$BASE" \
            "docker-archive:$WORK/base.tar:$BASE" >/dev/null 2>&1 || {
            echo "missing $BASE in the tests' store ($CACHE/images): run" \
                "\`cargo test -p hangar --features full-tests --test it deploy_compose::\` once" >&2
            exit 1
        }
        docker load -q -i "$WORK/base.tar" >/dev/null && rm -f "$WORK/base.tar"
    fi
    if ! docker image inspect "$POSTGRES_IMAGE" "$REDIS_IMAGE" >/dev/null 2>&1; then
        echo "== part 2: building the PostgreSQL and Redis images" >&2
        mkdir -p "$WORK/svc"
        python3 - "$ROOT/crates/hangar-testkit/src/service_images.rs" "$WORK/svc" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
for const, name in (("DOCKERFILE", "Dockerfile"), ("POSTGRES_ENTRYPOINT", "postgres-entrypoint.sh")):
    m = re.search(r'const %s: &str = r#"(.*?)"#;' % const, src, re.S)
    if not m:
        sys.exit(f"{const} not found in {sys.argv[1]}")
    open(f"{sys.argv[2]}/{name}", "w").write(m.group(1))
PY
        local target tag
        for target in postgres redis; do
            tag=$POSTGRES_IMAGE; [[ $target = redis ]] && tag=$REDIS_IMAGE
            DOCKER_BUILDKIT=1 docker build -q --network host --build-arg "BASE_IMAGE=$BASE" \
                --target "$target" -t "$tag" "$WORK/svc" >/dev/null
        done
    fi
    digest="$(sha256sum "$HANGAR" | cut -c1-12)"
    AIRFLOW_IMAGE="hangar-bench/airflow:$AIRFLOW_VERSION-$digest"
    if ! docker image inspect "$AIRFLOW_IMAGE" >/dev/null 2>&1; then
        cons="$CACHE/compose-constraints/constraints-$AIRFLOW_VERSION-postgres_celery_redis-celery56.txt"
        [[ -f "$cons" ]] || {
            echo "missing $cons: run \`cargo test -p hangar --features full-tests --test it" \
                "deploy_compose::celery_stack_runs_end_to_end_on_two_workers\` once" >&2
            exit 1
        }
        echo "== part 2: hangar build of $AIRFLOW_IMAGE (engine docker)" >&2
        mkdir -p "$WORK/build/tmp"
        local t0=$SECONDS
        (cd "$WORK/build" && TMPDIR="$WORK/build/tmp" "$HANGAR" build --engine docker --progress plain \
            --python 3.11 --python-base-image "$BASE" --ca-bundle /etc/ssl/certs/ca-certificates.crt \
            --build-arg INSTALL_MSSQL_CLIENT=false --install-airflow-version "$AIRFLOW_VERSION" \
            --extras "$EXTRAS" --disable-mysql-client-installation --constraints-location "$cons" \
            --engine-arg=--network=host -t "$AIRFLOW_IMAGE" </dev/null >"$WORK/build.log" 2>&1) \
            || { tail -40 "$WORK/build.log" >&2; exit 1; }
        echo "   built in $((SECONDS - t0)) s" >&2
        # Older builds of this bench (other hangar binaries) are not needed any more.
        docker images --format '{{.Repository}}:{{.Tag}}' | grep '^hangar-bench/airflow:' \
            | grep -vx "$AIRFLOW_IMAGE" | xargs -r docker rmi -f >/dev/null 2>&1 || true
        docker image prune -f >/dev/null 2>&1 || true
    fi
}

# The compose project of one run: the shipped celery.yaml, the bench's host-network override and,
# for the upstream variant, bench/compose-upstream.yaml.
STACK_DIR="" STACK_FILES=()
compose() {
    local f files=()
    for f in "${STACK_FILES[@]}"; do files+=(-f "$f"); done
    env -i PATH="$PATH" HOME="$STACK_DIR/home" DOCKER_HOST="$DOCKER_HOST" \
        docker-compose --project-name "$PROJECT" --project-directory "$STACK_DIR" \
        "${files[@]}" --env-file "$STACK_DIR/.env" "$@"
}
sql() {
    PGPASSWORD="$PG_PW" PGCONNECT_TIMEOUT=3 psql -X -A -t -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PG_PORT" -U airflow -d airflow -c "$1" 2>/dev/null
}

# The CPU nanoseconds every container of the bench's dockerd has used (cgroup v1 cpuacct of
# their common parent; 0 when it does not exist yet).
stack_cpu_ns() {
    cat "/sys/fs/cgroup/cpuacct/$CGROUP/cpuacct.usage" 2>/dev/null || echo 0
}

# run_stack VARIANT: one `up -d` to DAG success; appends "VARIANT heartbeat_s success_s cpu_s".
run_stack() {
    local variant=$1 t0 hb ok state cpu cpu0 deadline init health
    STACK_DIR="$WORK/stack-$variant-$RANDOM"
    mkdir -p "$STACK_DIR/dags" "$STACK_DIR/plugins" "$STACK_DIR/home"
    cp "$ROOT/bench/deploy_dag.py" "$STACK_DIR/dags/"
    PG_PORT="$(free_port)" PG_PW="$(rand_hex 16)"
    # The values celery.yaml reads (see deploy/compose/.env.example), on 127.0.0.1 and free ports.
    cat >"$STACK_DIR/.env" <<EOF
AIRFLOW_IMAGE=$AIRFLOW_IMAGE
POSTGRES_IMAGE=$POSTGRES_IMAGE
REDIS_IMAGE=$REDIS_IMAGE
AIRFLOW_UID=51234
AIRFLOW_PROJ_DIR=$STACK_DIR
POSTGRES_PASSWORD=$PG_PW
BROKER_PASSWORD=$(rand_hex 16)
AIRFLOW_FERNET_KEY=$(head -c32 /dev/urandom | base64 | tr '+/' '-_')
AIRFLOW_API_SECRET_KEY=$(rand_hex 32)
AIRFLOW_JWT_SECRET=$(rand_hex 32)
_AIRFLOW_WWW_USER_PASSWORD=$(rand_hex 8)
AIRFLOW_AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
AIRFLOW_API_HOST=127.0.0.1
AIRFLOW_API_SERVER_HOST=127.0.0.1
AIRFLOW_API_PORT=$(free_port)
POSTGRES_HOST=127.0.0.1
POSTGRES_PORT=$PG_PORT
POSTGRES_LISTEN_ADDRESSES=127.0.0.1
BROKER_HOST=127.0.0.1
BROKER_PORT=$(free_port)
REDIS_BIND=127.0.0.1
AIRFLOW_TRIGGER_LOG_SERVER_PORT=$(free_port)
AIRFLOW_WORKER_LOG_SERVER_PORT=$(free_port)
HEALTHCHECK_INTERVAL=${HEALTHCHECK_INTERVAL:-10s}
EOF
    PROJECT="hangar-bench-$variant-$$"
    STACK_FILES=("$ROOT/deploy/compose/celery.yaml" "$ROOT/bench/compose-host.yaml")
    [[ $variant = upstream ]] && STACK_FILES+=("$ROOT/bench/compose-upstream.yaml")
    compose config -q
    echo "== part 2: $variant: docker-compose up -d" >&2
    cpu0="$(stack_cpu_ns)"
    t0="$(date +%s.%N)"
    compose up -d >"$STACK_DIR/up.log" 2>&1 || { cat "$STACK_DIR/up.log" >&2; compose logs --tail 40 >&2; exit 1; }
    deadline=$((SECONDS + 400))
    state=""
    while [[ $state != success ]]; do
        if ((SECONDS > deadline)) || [[ $state = failed ]]; then
            echo "$variant: the DAG run did not succeed (state: ${state:-none})" >&2
            compose ps >&2; compose logs --no-color --tail 40 >&2; exit 1
        fi
        sleep 0.5
        state="$(sql "select state from dag_run where dag_id = 'bench_deploy'" || true)"
    done
    cpu="$(awk -v a="$(stack_cpu_ns)" -v b="$cpu0" 'BEGIN { printf "%.1f", (a - b) / 1e9 }')"
    init="$(date -d "$(docker inspect --format '{{.State.FinishedAt}}' "$(compose ps -q airflow-init)")" +%s.%N)"
    hb="$(sql "select extract(epoch from min(start_date)) from job where job_type = 'SchedulerJob'")"
    ok="$(sql "select extract(epoch from end_date) from dag_run where dag_id = 'bench_deploy'")"
    awk -v v="$variant" -v t0="$t0" -v init="$init" -v hb="$hb" -v ok="$ok" -v cpu="$cpu" \
        'BEGIN { printf "%s %.1f %.1f %.1f %s\n", v, init - t0, hb - t0, ok - t0, cpu }' | tee -a "$WORK/stack.tsv" >&2
    # The components' health checks at that moment (a misconfigured check would show unhealthy).
    health="$(docker ps --filter "label=com.docker.compose.project=$PROJECT" \
        --format '{{.Label "com.docker.compose.service"}}={{.Status}}' | sed 's/Up [^(]*//' | sort | tr '\n' ' ')"
    echo "   health at the run's success: $health" >&2
    compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1
    PROJECT=""
}

part_stack() {
    start_docker
    ensure_images
    : >"$WORK/stack.tsv"
    local i
    for ((i = 0; i < STACK_RUNS; i++)); do
        run_stack hangar
        run_stack upstream
    done
    python3 - "$WORK/stack.tsv" "${HEALTHCHECK_INTERVAL:-10s}" <<'PY' | tee -a "$SUMMARY"
import statistics as st, sys
r = {}
for line in open(sys.argv[1]):
    v, init, hb, ok, cpu = line.split()
    r.setdefault(v, []).append((float(init), float(hb), float(ok), float(cpu)))
n = len(r["hangar"])
print(f"Part 2: celery.yaml stack on host networking, seconds from `docker-compose up -d`, mean "
      f"of {n} run(s) each (health check interval {sys.argv[2]}); stack CPU = every container, "
      f"health checks included, until the DAG run's success")
print(f"{'variant':10} {'init exited s':>14} {'first scheduler heartbeat s':>28} "
      f"{'DAG run success s':>18} {'stack CPU s':>12}")
for v in ("hangar", "upstream"):
    init, hb, ok, cpu = (st.mean(x[i] for x in r[v]) for i in range(4))
    runs = " ".join(f"{x[1]:.1f}/{x[2]:.1f}" for x in r[v])
    print(f"{v:10} {init:14.1f} {hb:28.1f} {ok:18.1f} {cpu:12.1f}   runs (heartbeat/success): {runs}")
h = [st.mean(x[i] for x in r["hangar"]) for i in range(4)]
u = [st.mean(x[i] for x in r["upstream"]) for i in range(4)]
print(f"  hangar saves {u[1] - h[1]:.1f} s to the first heartbeat ({u[0] - h[0]:.1f} s of them before "
      f"the init service exits), {u[2] - h[2]:.1f} s to the DAG run's success, "
      f"{u[3] - h[3]:.1f} CPU s of the stack until then ({u[3] / h[3]:.1f}x)")
PY
}

for part in $PARTS; do
    case $part in
        probes) part_probes ;;
        stack) part_stack ;;
        *) echo "unknown part $part (probes, stack)" >&2; exit 64 ;;
    esac
done
echo
echo "==== summary ($(nproc) cores; Airflow $AIRFLOW_VERSION, PostgreSQL 15)"
cat "$SUMMARY"

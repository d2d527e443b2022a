#!/usr/bin/env bash
# Benchmark: `hangar kerberos` (the default build and the kerberos-only build the sidecar image
# carries) against k5start (Debian's kstart) and `airflow kerberos` doing the same job in the same
# run, and the size of the minimal sidecar image.
#
# Starts a throwaway MIT realm on loopback (30 s tickets), runs the refreshers side by side for
# DURATION seconds (default 90: several refresh cycles each; airflow with reinit_frequency=20 so it
# refreshes as often as hangar does with 30 s tickets; k5start wakes once a minute, its shortest
# interval), samples resident memory every second and reports peak/average RSS and PSS and total
# CPU time (including kinit children for airflow). Then builds
# deploy/sidecar/Dockerfile's `kerberos-sidecar` target with buildah, checks that the image
# obtains a ticket from the same KDC, and reports its uncompressed size.
#
# Needs (Debian 12, root): krb5-kdc krb5-admin-server krb5-user, kstart, python3-venv, buildah, podman,
# runc, debootstrap (once, to make the Debian base in the bench's own storage).
# Environment: DURATION, AIRFLOW_VERSION (3.3.2), AIRFLOW_VENV (reuse a venv), CARGO_TARGET_DIR,
#              HANGAR_TEST_CACHE, SKIP_RUN=1 (image only), SKIP_IMAGE=1,
#              BENCH_STORAGE (buildah/podman storage root; default under the test cache).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-90}
AIRFLOW_VERSION=${AIRFLOW_VERSION:-3.3.2}
CACHE=${HANGAR_TEST_CACHE:-$HOME/.cache/hangar-tests}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
W=$(mktemp -d "${TMPDIR:-/tmp}/hangar-kerberos-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
need() { command -v "$1" >/dev/null || { echo "missing $1: apt-get install -y $2" >&2; exit 1; }; }
need krb5kdc krb5-kdc; need kadmin.local krb5-admin-server; need kinit krb5-user; need k5start kstart

echo "== building hangar (release: all commands, and kerberos only)"
cargo build --release --locked -p hangar -q
HANGAR=$TARGET/release/hangar
cargo build --release --locked -p hangar -q --no-default-features --features kerberos \
  --target-dir "$TARGET/kerberos-only"
HANGAR_KRB=$TARGET/kerberos-only/release/hangar
for b in "$HANGAR" "$HANGAR_KRB"; do
  echo "$b: $(stat -c %s "$b") bytes; load-time libraries: $(ldd "$b" | awk '{print $1}' | tr '\n' ' ')"
done

echo "== throwaway realm"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REALM=BENCH.TEST
PRINC=airflow/worker.example.test@$REALM
printf '[libdefaults]\n default_realm = %s\n dns_lookup_kdc = false\n dns_lookup_realm = false\n rdns = false\n clockskew = 2\n[realms]\n %s = {\n  kdc = 127.0.0.1:%s\n }\n' \
  "$REALM" "$REALM" "$PORT" > "$W/krb5.conf"
printf '[kdcdefaults]\n kdc_listen = 127.0.0.1:%s\n kdc_tcp_listen = 127.0.0.1:%s\n[realms]\n %s = {\n  database_name = %s/principal\n  key_stash_file = %s/stash\n  acl_file = %s/kadm5.acl\n  max_life = 1h\n  max_renewable_life = 1d\n }\n[logging]\n kdc = FILE:%s/kdc.log\n' \
  "$PORT" "$PORT" "$REALM" "$W" "$W" "$W" "$W" > "$W/kdc.conf"
export KRB5_CONFIG=$W/krb5.conf KRB5_KDC_PROFILE=$W/kdc.conf
kdb5_util create -s -r "$REALM" -P "$(head -c 18 /dev/urandom | base64)" >/dev/null
kadmin.local -q "addprinc -randkey -maxlife 30s -maxrenewlife 10m $PRINC" >/dev/null 2>&1
kadmin.local -q "ktadd -k $W/airflow.keytab $PRINC" >/dev/null 2>&1
krb5kdc -n > "$W/kdc.stdout" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do ss -lnt | grep -q "127.0.0.1:$PORT " && break; sleep 0.1; done

if [ "${SKIP_RUN:-0}" != 1 ]; then
echo "== airflow $AIRFLOW_VERSION venv"
VENV=${AIRFLOW_VENV:-}
if [ -z "$VENV" ]; then
  for c in "$CACHE/airflow-venvs/$AIRFLOW_VERSION-postgres" "$CACHE/kerberos-bench-airflow-$AIRFLOW_VERSION"; do
    [ -x "$c/bin/airflow" ] && VENV=$c && break
  done
fi
if [ -z "$VENV" ]; then
  VENV=$CACHE/kerberos-bench-airflow-$AIRFLOW_VERSION
  rm -rf "$VENV.tmp"; /usr/bin/python3 -m venv "$VENV.tmp"
  "$VENV.tmp/bin/pip" install -q "apache-airflow==$AIRFLOW_VERSION"
  mv "$VENV.tmp" "$VENV"   # a venv names its path; it is only used from here
fi
export AIRFLOW_HOME=$W/airflow-home
mkdir -p "$AIRFLOW_HOME"
"$VENV/bin/airflow" db migrate >/dev/null 2>&1   # Airflow 3 refuses CLI commands before this

echo "== running the refreshers for ${DURATION}s"
NAMES=(); PIDS_R=(); CCS=()
start() { # name ccache command...
  local name=$1 cc=$2; shift 2
  "$@" > "$W/$name.log" 2>&1 &
  NAMES+=("$name"); PIDS_R+=($!); CCS+=("$cc"); PIDS+=($!)
}
export AIRFLOW__KERBEROS__INCLUDE_IP=false
start hangar "$W/hangar.ccache" "$HANGAR" kerberos "$PRINC" -k "$W/airflow.keytab" --ccache "FILE:$W/hangar.ccache"
start hangar-krb-only "$W/krbonly.ccache" "$HANGAR_KRB" kerberos "$PRINC" -k "$W/airflow.keytab" \
  --ccache "FILE:$W/krbonly.ccache"
# The kerberos-only build with libkrb5's SPAKE preauth plugin disabled (it loads libcrypto).
printf '[plugins]\n clpreauth = {\n  disable = spake\n }\n' > "$W/nospake.conf"
start hangar-krb-nospake "$W/nospake.ccache" env KRB5_CONFIG="$W/krb5.conf:$W/nospake.conf" \
  "$HANGAR_KRB" kerberos "$PRINC" -k "$W/airflow.keytab" --ccache "FILE:$W/nospake.ccache"
start k5start "$W/k5start.ccache" k5start -v -f "$W/airflow.keytab" -k "FILE:$W/k5start.ccache" -K 1 "$PRINC"
start airflow "$W/airflow.ccache" env AIRFLOW__KERBEROS__REINIT_FREQUENCY=20 \
  AIRFLOW__KERBEROS__CCACHE="$W/airflow.ccache" \
  "$VENV/bin/airflow" kerberos "$PRINC" -k "$W/airflow.keytab"
# `env` execs the program, so each pid is the refresher's own.

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
declare -a RSUM PSUM BAD
for i in "${!NAMES[@]}"; do RSUM[i]=0; PSUM[i]=0; BAD[i]=0; done
n=0
for _ in $(seq "$DURATION"); do
  sleep 1
  n=$((n + 1))
  for i in "${!NAMES[@]}"; do
    p=${PIDS_R[i]}
    RSUM[i]=$((RSUM[i] + $(rss "$p"))); PSUM[i]=$((PSUM[i] + $(pss "$p")))
    klist -s -c "FILE:${CCS[i]}" || BAD[i]=$((BAD[i] + 1))
  done
done
TCK=$(getconf CLK_TCK)
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for i in "${!NAMES[@]}"; do
  kill -0 "${PIDS_R[i]}" || { echo "${NAMES[i]} died:"; tail "$W/${NAMES[i]}.log"; exit 1; }
done
cycles() {
  case $1 in
    hangar*) grep -c 'event=ticket_refreshed' "$W/$1.log" || true ;;
    k5start) grep -c 'authenticating as' "$W/$1.log" || true ;;
    airflow) grep -c 'Re-initialising kerberos from keytab' "$W/$1.log" || true ;;
  esac
}
printf '\n%-20s %8s %12s %12s %12s %9s %8s\n' "" "cycles" "avg RSS KB" "peak RSS KB" "avg PSS KB" "CPU s" "no TGT s"
for i in "${!NAMES[@]}"; do
  p=${PIDS_R[i]}
  printf '%-20s %8s %12s %12s %12s %9s %8s\n' "${NAMES[i]}" "$(cycles "${NAMES[i]}")" \
    "$((RSUM[i] / n))" "$(hwm "$p")" "$((PSUM[i] / n))" "$(div "$(cpu_ticks "$p")" "$TCK")" "${BAD[i]}"
done
echo "(no TGT s: klist -s failures sampled once a second, including each tool's start-up;"
echo " k5start wakes once a minute at the most often, so 30 s tickets lapse between its wake-ups)"
echo "== where the kerberos-only hangar's resident memory is (smaps, KB)"
awk '/^[0-9a-f]+-[0-9a-f]+ / {name=$6; if (name=="") name="[anon]"} /^Rss:/ {r[name]+=$2} END {for (k in r) if (r[k] >= 100) printf "%8d %s\n", r[k], k}' \
  "/proc/${PIDS_R[1]}/smaps" | sort -rn
fi

if [ "${SKIP_IMAGE:-0}" = 1 ]; then exit 0; fi
need buildah buildah
echo "== sidecar image"
# A storage root of its own: no lock contention with other builds on the machine, and only the
# cached Debian base (made once with debootstrap) plus this image live in it.
STORE=${BENCH_STORAGE:-$CACHE/kerberos-sidecar-storage}   # shared with the sidecar image test
RUNROOT=/run/hangar-krb-test   # podman wants a short runroot path
mkdir -p "$STORE" "$RUNROOT"
B="buildah --storage-driver vfs --root $STORE --runroot $RUNROOT"
BASE=localhost/debian-base:bookworm
if [ -z "$($B images -q "$BASE" 2>/dev/null)" ]; then
  need debootstrap debootstrap
  echo "making $BASE with debootstrap (once)"
  MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  debootstrap --variant=minbase --include=libkrb5-3 bookworm "$W/rootfs" "$MIRROR" >/dev/null
  ctr=$($B from scratch); mnt=$($B mount "$ctr")
  cp -a "$W/rootfs/." "$mnt/"; $B umount "$ctr" >/dev/null
  $B commit -q "$ctr" "$BASE" >/dev/null; $B rm "$ctr" >/dev/null
  rm -rf "$W/rootfs"
fi
mkdir -p "$W/ctx/target/release"
cp "$HANGAR_KRB" "$W/ctx/target/release/hangar"   # the image takes the kerberos-only build
IMG=localhost/hangar-kerberos-sidecar:bench
$B bud -q --isolation chroot --pull-never --build-arg "BASE_IMAGE=$BASE" --target kerberos-sidecar \
  -f "$ROOT/deploy/sidecar/Dockerfile" -t "$IMG" "$W/ctx" >/dev/null
ctr=$($B from -q "$IMG"); mnt=$($B mount "$ctr")
size=$(du -sb "$mnt" | awk '{print $1}')
echo "files in the image: $(cd "$mnt" && find . -type f | sort | tr '\n' ' ')"
$B umount "$ctr" >/dev/null; $B rm "$ctr" >/dev/null
# The image must do the job: obtain a ticket from the bench KDC as uid 50000.
chmod 644 "$W/airflow.keytab"; chmod 755 "$W"
printf '[containers]\ndefault_ulimits = []\npids_limit = 0\n' > "$W/containers.conf"
mkdir -p "$W/cc"; chown 50000:0 "$W/cc"
CONTAINERS_CONF=$W/containers.conf podman --storage-driver vfs --root "$STORE" --runroot "$RUNROOT" run --rm --runtime runc --network host \
  -v "$W/krb5.conf:/etc/krb5.conf:ro" -v "$W/airflow.keytab:/etc/airflow.keytab:ro" -v "$W/cc:/var/kerberos-ccache" \
  -e AIRFLOW__KERBEROS__INCLUDE_IP=false "$IMG" kerberos -o -k /etc/airflow.keytab "$PRINC" 2>&1 | tail -1
klist -s -c "FILE:$W/cc/cache" && echo "image obtained a valid ticket: yes"
echo "sidecar image size (uncompressed): $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB)"
$B rmi "$IMG" >/dev/null 2>&1 || true

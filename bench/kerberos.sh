#!/usr/bin/env bash
# Benchmark: `hangar kerberos` against `airflow kerberos` doing the same job in the same run, and
# the size of the minimal sidecar image.
#
# Starts a throwaway MIT realm on loopback (30 s tickets), runs both refreshers side by side for
# DURATION seconds (default 90: several refresh cycles each; airflow with reinit_frequency=20 so it
# refreshes as often as hangar does with 30 s tickets), samples resident memory every second and
# reports peak/average RSS and total CPU time (including kinit children for airflow). Then builds
# deploy/sidecar/Dockerfile's `kerberos-sidecar` target with buildah, checks that the image
# obtains a ticket from the same KDC, and reports its uncompressed size.
#
# Needs (Debian 12, root): krb5-kdc krb5-admin-server krb5-user, python3-venv, buildah, podman,
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
need krb5kdc krb5-kdc; need kadmin.local krb5-admin-server; need kinit krb5-user

echo "== building hangar (release)"
cargo build --release --locked -p hangar -q
HANGAR=$TARGET/release/hangar
echo "binary: $(stat -c %s "$HANGAR") bytes; load-time libraries: $(ldd "$HANGAR" | awk '{print $1}' | tr '\n' ' ')"

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

echo "== running both refreshers for ${DURATION}s"
AIRFLOW__KERBEROS__INCLUDE_IP=false "$HANGAR" kerberos "$PRINC" -k "$W/airflow.keytab" \
  --ccache "FILE:$W/hangar.ccache" 2> "$W/hangar.log" &
HPID=$!; PIDS+=($HPID)
# The same with libkrb5's SPAKE preauth plugin disabled (it loads OpenSSL's libcrypto).
printf '[plugins]\n clpreauth = {\n  disable = spake\n }\n' > "$W/nospake.conf"
KRB5_CONFIG="$W/krb5.conf:$W/nospake.conf" AIRFLOW__KERBEROS__INCLUDE_IP=false "$HANGAR" kerberos "$PRINC" \
  -k "$W/airflow.keytab" --ccache "FILE:$W/hangar2.ccache" 2> "$W/hangar2.log" &
NPID=$!; PIDS+=($NPID)
AIRFLOW__KERBEROS__INCLUDE_IP=false AIRFLOW__KERBEROS__REINIT_FREQUENCY=20 \
  AIRFLOW__KERBEROS__CCACHE="$W/airflow.ccache" \
  "$VENV/bin/airflow" kerberos "$PRINC" -k "$W/airflow.keytab" > "$W/airflow.log" 2>&1 &
APID=$!; PIDS+=($APID)

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
hsum=0; asum=0; nsum=0; hpss=0; apss=0; npss=0; n=0; hbad=0; abad=0
for _ in $(seq "$DURATION"); do
  sleep 1
  h=$(rss $HPID); a=$(rss $APID)
  hsum=$((hsum + h)); asum=$((asum + a)); n=$((n + 1))
  hpss=$((hpss + $(pss $HPID))); apss=$((apss + $(pss $APID)))
  nsum=$((nsum + $(rss $NPID))); npss=$((npss + $(pss $NPID)))
  klist -s -c "FILE:$W/hangar.ccache" || hbad=$((hbad + 1))
  klist -s -c "FILE:$W/airflow.ccache" || abad=$((abad + 1))
done
TCK=$(getconf CLK_TCK)
hcpu=$(cpu_ticks $HPID); acpu=$(cpu_ticks $APID); hpeak=$(hwm $HPID); apeak=$(hwm $APID)
kill -0 $HPID && kill -0 $APID || { echo "a refresher died:"; tail "$W/hangar.log" "$W/airflow.log"; exit 1; }
hcycles=$(grep -c 'event=ticket_refreshed' "$W/hangar.log" || true)
acycles=$(grep -c 'Re-initialising kerberos from keytab' "$W/airflow.log" || true)

printf '\n%-22s %14s %14s\n' "" "hangar" "airflow"
printf '%-22s %14s %14s\n' "refresh cycles" "$hcycles" "$acycles"
printf '%-22s %11s KB %11s KB\n' "average RSS" "$((hsum / n))" "$((asum / n))"
printf '%-22s %11s KB %11s KB\n' "peak RSS (VmHWM)" "$hpeak" "$apeak"
printf '%-22s %11s KB %11s KB\n' "average PSS" "$((hpss / n))" "$((apss / n))"
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-22s %12s s %12s s\n' "CPU (user+sys)" "$(div "$hcpu" "$TCK")" "$(div "$acpu" "$TCK")"
printf '%-22s %14s %14s\n' "seconds without TGT" "$hbad" "$abad"
echo "RSS ratio (average): $(div "$asum" "$hsum")x"
echo "hangar with SPAKE preauth disabled in krb5.conf: average RSS $((nsum / n)) KB, PSS $((npss / n)) KB"
echo "(seconds without TGT: klist -s failures sampled once a second, including each tool's start-up)"
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
cp "$HANGAR" "$W/ctx/target/release/hangar"
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

